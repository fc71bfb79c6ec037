"""The values of training settings left at "auto": one pure function of the task and the data's size.

`resolve_training` is the only place they are decided; the user's explicit settings pass through untouched.
Training resolves before it starts (the run's config.yaml records the concrete values) and `tunesmith plan`
shows the same resolution. Generative tasks (chat, text, embedding) keep the fixed values they always had.

Classification is sized from the data, since a fixed recipe is wrong at one end or the other: a batch that
grows with the data set (fewer, better-used steps), validation a few times per epoch on a capped stratified
subset (a full pass every 50 steps cost more than training on an 8,000-example set), more epochs for small
sets with early stopping to end them, and a learning rate measured by a short range test on the training data
(train/lr_range.py), since one number overfits one task (2e-4 full fine-tuning of a binary sentiment set)
and underfits another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from tunesmith.config.training import AUTO, TrainingConfig

# What generative tasks get for "auto" (their long-standing defaults).
GENERATIVE = {"epochs": 3.0, "learning_rate": 2e-4, "batch_size": 8, "eval_every": 50,
              "validation_subset": None, "early_stopping_patience": None}

CAUSAL_LM_TASKS = ("chat", "text")  # gradient checkpointing's "auto" is on for adapters on these
CHECKS_PER_EPOCH = 4  # classification validates this often per epoch ...
MIN_STEPS_BETWEEN_CHECKS = 10  # ... but not more often than this (tiny sets would validate every step)
PATIENCE = 3  # validations without improvement before stopping (three quarters of an epoch)
SUBSET_PER_LABEL = 8  # mid-training validation examples per label, clamped to:
SUBSET_LIMITS = (512, 1024)


@dataclass(frozen=True)
class RangeTest:
    """The learning-rate range test's sweep for one kind of method (whole model, or an adapter)."""

    low: float
    high: float
    fallback: float  # when the test cannot run (several processes), or no step lowered the loss
    # Optimizer steps of the sweep: fewer read noise (a model learning from scratch shows no descent in 20)
    steps: int = 60
    # The rate chosen is the one at the lowest smoothed loss divided by this. A tenth when the head starts
    # random: its fast early learning puts the minimum at rates too large for the encoder. A fitted head leaves
    # only the encoder's own descent in the sweep, so its minimum is taken as it is: on CLINC150 a tenth
    # (1.1e-5) reached 95.0 % in one epoch where 1e-4 reached 96.4 %.
    backoff: float = 10.0
    # The largest rate a fitted head's sweep may choose (None: no bound). A probe that already fits a small
    # training set leaves the sweep only noise to read: on 4 CLINC150 intents (367 texts) its minimum fell at
    # 8.6e-3 and fine-tuning destroyed the probe (24 % validation accuracy, from 100 %). Twice the rates that
    # fine-tune a pretrained encoder (HF's best on CLINC150: 1e-4; the sweep chose 1.1e-4 there).
    ceiling: float | None = None


# The sweeps run past any useful rate (the test stops once the loss blows up); the fallbacks are common choices.
RANGE_TESTS = {True: RangeTest(1e-6, 1e-2, 5e-5),  # full fine-tuning (every weight trains)
               False: RangeTest(1e-5, 1e-1, 5e-4)}  # adapters (LoRA and its kin)
WARM_CEILINGS = {True: 2e-4, False: 2e-3}  # RangeTest.ceiling once the head starts fitted (adapters: ×10)


@dataclass(frozen=True)
class DataFacts:
    """What the resolution reads about the data and the run."""

    task: str
    train_examples: int
    validation_examples: int = 0
    labels: int = 0
    trains_base: bool = False  # the method trains every weight (full fine-tuning), not an adapter
    warm_head: bool = False  # the head starts fitted (few_shot.recipe pooled: a linear probe before any step)


def classification_batch_size(train_examples: int) -> int:
    return 8 if train_examples < 200 else 16 if train_examples < 1000 else 32


def classification_epochs(train_examples: int, warm_head: bool = False) -> float:
    """A fitted head leaves the encoder's adaptation to the epochs, not the head's learning from scratch: on
    CLINC150 (15,000 texts) half an epoch after the probe scored as three epochs from a random head
    (bench/results/classification_time_to_accuracy.md), so large sets take one."""
    if train_examples < 1000:
        return 5.0
    if train_examples < 5000:
        return 2.0 if warm_head else 3.0
    return 1.0 if warm_head else 2.0


def validation_subset_size(validation_examples: int, labels: int) -> int | None:
    """A cap on mid-training validation, or None when the whole split is already that small."""
    low, high = SUBSET_LIMITS
    cap = min(high, max(low, SUBSET_PER_LABEL * labels))
    return cap if validation_examples > cap else None


def checkpointing(facts: DataFacts) -> bool:
    """Whether recomputing the forward pass is worth it at all: for adapters on a language model the saved
    activations are most of the peak (SmolLM2-135M LoRA, quickstart: 3.1 GB peak without, 1.4 GB with), while
    fully fine-tuned and encoder models are dominated by weights and optimizer state. It costs ~1.7× the wall
    time (bench/results/train_throughput.md), so training and `plan` turn it on only where memory is short
    (plan/savers.py); this lean answer is what is left for "auto" without a machine to ask (GPU targets)."""
    return facts.task in CAUSAL_LM_TASKS and not facts.trains_base


def warm_head(config) -> bool:
    """Whether training starts from a fitted head: the pooled classification recipe, once chosen (run_training
    and `tunesmith plan` write the choice into few_shot.recipe)."""
    return config.objective.task == "classification" and config.few_shot.recipe == "pooled"


def range_test(trains_base: bool, warm_head: bool = False) -> RangeTest:
    test = RANGE_TESTS[trains_base]
    return replace(test, backoff=1.0, ceiling=WARM_CEILINGS[trains_base]) if warm_head else test


def resolve_training(training: TrainingConfig, facts: DataFacts, measured_lr: float | None = None) -> TrainingConfig:
    """`training` with every "auto" replaced by its value for this data. The learning rate of classification
    stays "auto" until `measured_lr` (the range test's answer) is given: `needs_range_test` says so."""
    chosen = {name: getattr(training, name) for name in GENERATIVE}
    if facts.task != "classification":
        values = dict(GENERATIVE)
    else:
        batch = chosen["batch_size"]
        if batch == AUTO:
            batch = classification_batch_size(facts.train_examples)
        steps_per_epoch = max(1, math.ceil(facts.train_examples / (batch * training.gradient_accumulation)))
        values = {"epochs": classification_epochs(facts.train_examples, facts.warm_head),
                  "learning_rate": measured_lr if measured_lr is not None else AUTO,
                  "batch_size": batch,
                  "eval_every": max(min(MIN_STEPS_BETWEEN_CHECKS, steps_per_epoch),
                                    math.ceil(steps_per_epoch / CHECKS_PER_EPOCH)),
                  "validation_subset": validation_subset_size(facts.validation_examples, facts.labels),
                  "early_stopping_patience": PATIENCE}
    updates = {name: values[name] for name, value in chosen.items() if value == AUTO}
    if training.gradient_checkpointing == AUTO:
        updates["gradient_checkpointing"] = checkpointing(facts)
    return training.model_copy(update=updates) if updates else training


def needs_range_test(training: TrainingConfig) -> bool:
    return training.learning_rate == AUTO


def describe(training: TrainingConfig, facts: DataFacts) -> str:
    """One line of the resolved values, for `tunesmith plan` and the start of training."""
    lr = (f"found by a range test ({range_test(facts.trains_base).low:g} to {range_test(facts.trains_base).high:g})"
          if needs_range_test(training) else f"{training.learning_rate:g}")
    subset = (f" on {training.validation_subset} stratified examples (all at the end)"
              if training.validation_subset else "")
    stop = (f", early stopping after {training.early_stopping_patience} without improvement"
            if training.early_stopping_patience else "")
    return (f"batch {training.batch_size}, learning rate {lr}, {training.epochs:g} epochs, validation every "
            f"{training.eval_every} steps{subset}{stop}")
