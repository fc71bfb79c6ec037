"""The fine-tuning method and its options.

The YAML stays flat (`method: {name: lora, r: 16, alpha: 32}`); `METHOD_OPTIONS` says which options
belong to which method, so an option set for the wrong method is an error that lists the right ones.
Each method module in `tunesmith.methods` registers under one of these names (a test keeps them equal).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from tunesmith.config.base import Section, nearest

METHOD_OPTIONS: dict[str, tuple[str, ...]] = {
    "full": ("model_dropout",),
    "lora": ("r", "alpha", "dropout", "target_modules"),
    "dora": ("r", "alpha", "dropout", "target_modules"),
    "qlora": ("r", "alpha", "dropout", "target_modules", "quant_type", "quant_compute_dtype"),
    "ia3": ("target_modules",),
    "prefix": ("num_virtual_tokens",),
    "prompt": ("num_virtual_tokens", "prompt_init_text"),
    "adapter": ("bottleneck_size", "dropout", "activation"),
}


class MethodConfig(Section):
    name: str = Field("lora", description="full, lora, dora, qlora (LoRA on a 4-bit base), ia3, prefix, "
                      "prompt or adapter (bottleneck).")
    r: int = Field(16, ge=1, description="LoRA/DoRA/QLoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA/DoRA/QLoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0,
                           description="Dropout on the adapter input (LoRA, DoRA, QLoRA, adapter).")
    model_dropout: float | None = Field(
        None, ge=0.0, lt=1.0, description="Full fine-tuning: dropout set on every dropout field of the model's "
        "config (attention, hidden, embedding, classifier: whichever the architecture has) while training; "
        "empty keeps the checkpoint's own values.")
    target_modules: str | list[str] = Field(
        "all-linear", description="Modules to adapt (LoRA/DoRA/QLoRA: 'all-linear' or names; IA3: 'all-linear' "
        "means the library's per-architecture default).")
    num_virtual_tokens: int = Field(20, ge=1, le=512, description="Prefix/prompt tuning: learned virtual tokens.")
    prompt_init_text: str | None = Field(None, description="Prompt tuning: start the soft prompt from this "
                                         "text's embeddings instead of random values.")
    quant_type: Literal["nf4", "fp4"] = Field(
        "nf4", description="QLoRA: 4-bit data type of the frozen base weights (nf4: NormalFloat, as in the "
        "QLoRA paper; fp4: plain 4-bit float).")
    quant_compute_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="QLoRA: dtype the 4-bit weights are dequantized to for each matmul; auto is "
        "bfloat16 on a CUDA GPU and float32 on CPU.")
    bottleneck_size: int = Field(64, ge=1, description="Bottleneck adapter: width of the down-projection.")
    activation: str = Field("gelu", description="Bottleneck adapter non-linearity: gelu, relu, silu or tanh.")

    @field_validator("name")
    @classmethod
    def _known_method(cls, name: str) -> str:
        if name not in METHOD_OPTIONS:
            guess = nearest(name, list(METHOD_OPTIONS))
            tip = f" Did you mean '{guess}'?" if guess else ""
            raise ValueError(f"unknown method '{name}'.{tip} Choose one of: {', '.join(METHOD_OPTIONS)}")
        return name

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: str) -> str:
        if value not in ("gelu", "relu", "silu", "tanh"):
            raise ValueError(f"unknown activation '{value}'; choose gelu, relu, silu or tanh")
        return value

    @model_validator(mode="after")
    def _options_belong_to_method(self) -> MethodConfig:
        # A stray option left at its default is harmless (e.g. after `--set method.name=full`).
        allowed = METHOD_OPTIONS[self.name]
        stray = sorted(k for k in self.model_fields_set if k != "name" and k not in allowed
                       and getattr(self, k) != type(self).model_fields[k].default)
        if stray:
            valid = ", ".join(allowed) or "none"
            raise ValueError(f"option(s) {', '.join(stray)} do not apply to method '{self.name}' "
                             f"(its options: {valid})")
        return self

    @model_serializer(mode="wrap")
    def _dump_only_own_options(self, handler):
        data = handler(self)
        return {k: v for k, v in data.items() if k == "name" or k in METHOD_OPTIONS[self.name]}

    def options(self) -> dict:
        """The options the chosen method uses, with defaults filled in."""
        return {key: getattr(self, key) for key in METHOD_OPTIONS[self.name]}
