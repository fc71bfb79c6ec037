"""Optimisation settings shared by every method (the beginner presets are in config/presets.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tunesmith.config.base import Section
from tunesmith.config.preference import ObjectiveName


class TrainingConfig(Section):
    objective: ObjectiveName = Field(
        "sft", description="What training optimises: sft learns the demonstrated answers; dpo (IPO as its loss "
        "variant), orpo and simpo learn from chosen/rejected pairs, kto from answers rated good or bad (their "
        "options: the preference section).")
    epochs: float = Field(3.0, gt=0, description="Passes over the training data.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    batch_size: int = Field(8, ge=1, description="Sequences per micro-batch (per process).")
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
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: "
                                         "less memory, ~20% slower.")
    compile: bool = Field(False, description="torch.compile the model: a minute or more of compiling up "
                          "front, so only worth it for long runs.")
    train_on_prompt: bool = Field(False, description="Chat: also put loss on system/user tokens (default: "
                                  "assistant answers only).")
    eval_every: int = Field(50, ge=1, description="Validate (and checkpoint) every N optimizer steps.")
    early_stopping_patience: int | None = Field(None, ge=1, description="Stop after N validations "
                                                "without improvement; off when empty.")
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
        return self
