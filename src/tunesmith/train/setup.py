"""Load the base model for a task and make it trainable with the configured method."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

from tunesmith.config import ProjectConfig
from tunesmith.errors import ConfigError
from tunesmith.methods import Method, check_supported, get_method
from tunesmith.methods.full import frozen_embeddings
from tunesmith.models.catalog import ResolvedModel, resolve
from tunesmith.models.loading import load_causal_lm, load_classifier, load_encoder, load_tokenizer


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide load reports about the new classification head: expected, and not the user's problem."""
    from transformers.utils import logging

    previous = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(previous)


def load_base(config: ProjectConfig, task: str, labels: list[str] | None, resolved: ResolvedModel | None = None,
              overrides: dict | None = None) -> tuple[torch.nn.Module, object, ResolvedModel]:
    """overrides: a method's load_overrides for training (config values set before the layers are built,
    or loading options such as qlora's quantization_config)."""
    resolved = resolved or resolve(config.model.name, trust_remote_code=config.model.trust_remote_code)
    options = {"dtype": config.model.dtype, "trust_remote_code": config.model.trust_remote_code, **(overrides or {})}
    tokenizer = load_tokenizer(resolved, trust_remote_code=config.model.trust_remote_code)
    with quiet_transformers():
        if task == "classification":
            model = load_classifier(resolved, labels or [], **options)
            model.config.pad_token_id = tokenizer.pad_token_id
        elif task == "embedding":
            if resolved.kind != "encoder":
                raise ConfigError(f"model '{config.model.name}' is not an encoder; the embedding task trains one",
                                  "Set model.name: minilm-l6 (or another encoder such as a BERT folder).")
            model = load_encoder(resolved, **options)
        else:
            if resolved.kind == "encoder":
                raise ConfigError(f"model '{config.model.name}' is an encoder; the '{task}' task needs a causal LM",
                                  "Set model.name: smollm2-135m-instruct, or objective.task: classification.")
            model = load_causal_lm(resolved, **options)
    return model, tokenizer, resolved


def prepare_model(config: ProjectConfig, task: str, labels: list[str] | None = None
                  ) -> tuple[torch.nn.Module, object, Method, ResolvedModel]:
    """The trainable model, its tokenizer, the method and the resolved base model."""
    method = get_method(config.method.name)
    resolved = resolve(config.model.name, trust_remote_code=config.model.trust_remote_code)
    check_supported(method, task, resolved.kind)
    # Seeded before the method adds weights, so adapter/head initialisation is reproducible.
    torch.manual_seed(config.training.seed)
    overrides = method.load_overrides(config.method, base_config(resolved, config)) if method.load_overrides else {}
    # The pooled recipe trains the bare encoder as the embedding task would, under a head of its own
    pooled = task == "classification" and config.few_shot.recipe == "pooled"
    built_for = "embedding" if pooled else task
    model, tokenizer, resolved = load_base(config, built_for, labels, resolved, overrides)
    if config.training.gradient_checkpointing is True:  # "auto" unresolved (a bare model build): off
        # transformers renamed it; the old name warns and goes away in v6.
        enable = getattr(model, "activation_checkpointing_enable", None)
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notices, not actionable
        model = method.apply(model, config.method, built_for)
    if method.trains_base and frozen_embeddings(config.method, task, resolved.kind):
        model.get_input_embeddings().weight.requires_grad_(False)
    if pooled:
        from tunesmith.embeddings.pooled import pooled_classifier

        model = pooled_classifier(model, config, resolved.path, labels or [])
    if not method.trains_base:
        _require_trainable(model)
    return model, tokenizer, method, resolved


def base_config(resolved: ResolvedModel, config: ProjectConfig):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(resolved.path, trust_remote_code=config.model.trust_remote_code)


def _require_trainable(model: torch.nn.Module) -> None:
    """Parameter-efficient methods keep the base frozen; make sure no base parameter slipped through."""
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError("the method left no trainable parameters", "Check method.target_modules.")
