"""Optimisation settings shared by every method (the beginner presets are in config/presets.py)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, model_validator

from tunesmith.config.base import Section, Switch
from tunesmith.config.preference import ObjectiveName

AUTO = "auto"  # resolved from the task and the data by config/auto.py, before training or planning


def _auto_or(kind: type, low: float, above: bool) -> Any:
    """A setting that is "auto" or a number of `kind` at least `low` (above it, when `above`): checked in one
    place, so a bad value gets one message rather than one per member of a union."""
    bound = f"{'above' if above else 'at least'} {low:g}"

    def check(value: Any) -> Any:
        if value == AUTO:
            return AUTO
        number = value
        if isinstance(value, str):  # e.g. --set training.learning_rate=1e-4 (YAML reads that as text)
            try:
                number = float(value.strip())
            except ValueError:
                raise ValueError(f"must be 'auto' or a number {bound}, got {value!r}") from None
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            raise ValueError(f"must be 'auto' or a finite number {bound}, got {value!r}")
        if kind is int and number != int(number):
            raise ValueError(f"must be 'auto' or a whole number {bound}, got {value!r}")
        if number < low or (above and number == low):
            raise ValueError(f"must be 'auto' or a number {bound}, got {value!r}")
        return kind(number)

    return Annotated[kind | Literal["auto"], PlainValidator(check, json_schema_input_type=kind | Literal["auto"])]


Positive = _auto_or(float, 0, above=True)
Count = _auto_or(int, 1, above=False)


class TrainingConfig(Section):
    objective: ObjectiveName = Field(
        "sft", description="What training optimises: sft learns the demonstrated answers; dpo (IPO as its loss "
        "variant), orpo and simpo learn from chosen/rejected pairs, kto from answers rated good or bad (their "
        "options: the preference section).")
    epochs: Positive = Field(AUTO, description="Passes over the training data; auto: from the task and the "
                                 "data size (config/auto.py; `tunesmith plan` shows the value).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    learning_rate: Positive = Field(AUTO, description="Peak learning rate; auto: classification measures it "
                                        "with a short learning-rate range test before training (recorded in the "
                                        "run's config.yaml), other tasks take a fixed value (config/auto.py).")
    batch_size: Count = Field(AUTO, description="Sequences per micro-batch (per process); auto: from the "
                                   "task and the data size (config/auto.py).")
    gradient_accumulation: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps spent warming up.")
    scheduler: Literal["cosine", "linear", "constant"] = Field("cosine", description="LR schedule after warmup.")
    optimizer: Literal["adamw", "adafactor"] = Field(
        "adamw", description="adamw, or adafactor to keep far less optimizer state (lower memory).")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (regularization).")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    seed: int = Field(42, description="Seed for initialisation, data order and dropout.")
    group_by_length: bool = Field(True, description="Batch sequences of similar length to waste little "
                                  "compute on padding.")
    gradient_checkpointing: Switch = Field(AUTO, description="Recompute activations in the backward pass: "
                                           "less memory, slower steps (~1.7× the wall time on SmolLM2-135M "
                                           "LoRA); auto: only for adapters (LoRA and its kin) on a language "
                                           "model, and only when the run would not fit in half the memory "
                                           "available without it (plan/savers.py).")
    release_memory: Switch = Field(
        AUTO, description="Give freed activation memory back to the operating system at once (glibc's mmap "
        "threshold fixed at 128 KiB; train/allocator.py): SmolLM2-135M LoRA at the quickstart's settings peaks at "
        "1.4 GB instead of 2.5 GB, but its steps take ~1.6× as long (every MB-sized tensor is mapped and faulted "
        "in anew). auto: on only when the run would not fit in half the memory available at training start "
        "without it (plan/savers.py decides it with gradient_checkpointing).")
    mixed_precision: Literal["no", "bf16"] = Field(
        "no", description="bf16: training steps compute in bfloat16 (torch.autocast) while weights, gradients "
        "and optimizer state stay float32; validation, evaluation and the saved model stay float32. SmolLM2-135M "
        "LoRA on a CPU with AVX512-BF16: steps ~0.73× the time, validation loss 2.262 instead of 2.209 after one "
        "epoch (bench/results/train_throughput.md); without AVX512-BF16 or AMX it is emulated and slower. Recent "
        "GPUs support it natively. no: float32 throughout.")
    compile: bool = Field(False, description="torch.compile the model: a minute or more of compiling up "
                          "front, so only worth it for long runs.")
    train_on_prompt: bool = Field(False, description="Chat: also put loss on system/user tokens (default: "
                                  "assistant answers only).")
    eval_every: Count = Field(AUTO, description="Validate (and checkpoint) every N optimizer steps; auto: "
                                   "a fraction of an epoch for classification, a fixed count otherwise.")
    validation_subset: Count | None = Field(
        AUTO, description="Validate during training on at most this many validation examples (stratified by "
        "label, the same ones each time, so checks compare), then once on all of them at the end; empty: all of "
        "them every time; auto: a capped subset for classification, all for other tasks.")
    early_stopping_patience: Count | None = Field(AUTO, description="Stop after N validations without "
                                                       "improvement; off when empty; auto: on for classification.")
    early_stopping_metric: Literal["val_loss", "val_accuracy"] = Field(
        "val_loss", description="What early stopping and best-checkpoint restore watch (accuracy: "
        "classification only).")
    restore_best: bool = Field(True, description="End with the weights of the best validation, not the last step.")
    keep_checkpoints: int = Field(2, ge=1, description="Newest checkpoints kept on disk (the best is kept too).")
    overfit_patience: int = Field(2, ge=1, description="Warn of overfitting when validation loss has risen for "
                                  "this many validations in a row while training loss fell.")
    report_to: list[Literal["tensorboard", "mlflow"]] = Field(
        default_factory=list, description="Also log to TensorBoard (runs/<id>/tensorboard) and/or MLflow (a store "
        "in runs/<id>/mlflow unless MLFLOW_TRACKING_URI is set); needs pip install 'tunesmith[loggers]'.")
    num_threads: int | None = Field(None, ge=1, description="CPU threads for torch; empty means all cores.")
    distributed: Literal["ddp", "fsdp", "deepspeed"] = Field(
        "ddp", description="With several processes (torchrun / accelerate launch): ddp keeps a whole model in "
        "each; fsdp shards weights, gradients and optimizer state (PyTorch FSDP2); deepspeed hands model and "
        "optimizer to DeepSpeed (GPUs, `pip install deepspeed`).")
    deepspeed_config: str | None = Field(None, description="The user's DeepSpeed JSON (distributed: deepspeed), "
                                         "relative to the project folder; batch size, accumulation and clipping "
                                         "come from this section.")

    @model_validator(mode="after")
    def _deepspeed_config_needs_deepspeed(self) -> TrainingConfig:
        if self.deepspeed_config and self.distributed != "deepspeed":
            raise ValueError(f"deepspeed_config is set but distributed is '{self.distributed}': set distributed: "
                             "deepspeed, or remove deepspeed_config")
        if self.mixed_precision != "no" and self.distributed == "deepspeed":
            raise ValueError("mixed_precision is set but DeepSpeed takes its precision from its own JSON: set "
                             "mixed_precision: no, and bf16.enabled in deepspeed_config")
        return self
