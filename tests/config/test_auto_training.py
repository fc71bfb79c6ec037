"""config/auto.py: the "auto" training settings resolved from the task and the data (pure, synthetic sizes)."""

from __future__ import annotations

import pytest

from tunesmith.config import parse_config
from tunesmith.config.auto import GENERATIVE, DataFacts, describe, needs_range_test, resolve_training


def training(**chosen):
    return parse_config({"training": chosen}).training


@pytest.mark.parametrize("task", ["chat", "text", "embedding"])
def test_generative_tasks_keep_their_fixed_values_at_any_size(task):
    for size in (10, 100_000):
        resolved = resolve_training(training(), DataFacts(task, size, size // 10, 0))
        assert {name: getattr(resolved, name) for name in GENERATIVE} == GENERATIVE


@pytest.mark.parametrize(("examples", "batch"), [(50, 8), (600, 16), (8_000, 32), (15_000, 32)])
def test_classification_batch_grows_with_the_data(examples, batch):
    assert resolve_training(training(), DataFacts("classification", examples, 100, 2)).batch_size == batch


def test_classification_validates_a_few_times_per_epoch_on_a_capped_stratified_subset():
    resolved = resolve_training(training(), DataFacts("classification", 8_000, 3_000, 150, trains_base=True))
    steps_per_epoch = 250  # 8,000 / 32
    assert resolved.eval_every == 63  # a quarter epoch, not a fixed 50 steps
    assert 8_000 / 32 / resolved.eval_every == pytest.approx(steps_per_epoch / 63)
    assert resolved.validation_subset == 1024  # 8 per label, capped
    assert resolved.early_stopping_patience == 3 and resolved.epochs == 2.0
    small = resolve_training(training(), DataFacts("classification", 100, 40, 2))
    assert small.validation_subset is None  # the whole split is smaller than any cap
    assert small.eval_every == 10  # a tiny set does not validate every other step
    assert small.epochs > resolved.epochs  # small sets get more passes, early stopping ends them


@pytest.mark.parametrize(("examples", "cold", "warm"), [(500, 5.0, 5.0), (2_000, 3.0, 2.0), (15_000, 2.0, 1.0)])
def test_a_head_fitted_before_training_takes_fewer_epochs_on_larger_sets(examples, cold, warm):
    def epochs(warm_head: bool) -> float:
        facts = DataFacts("classification", examples, 500, 10, trains_base=True, warm_head=warm_head)
        return resolve_training(training(), facts).epochs

    assert (epochs(False), epochs(True)) == (cold, warm)


def test_only_the_chosen_pooled_recipe_of_a_classification_project_starts_warm():
    from tunesmith.config import ProjectConfig
    from tunesmith.config.auto import warm_head

    def config(task: str, recipe: str) -> ProjectConfig:
        return ProjectConfig.model_validate({"objective": {"task": task}, "model": {"name": "minilm-l6"},
                                             "few_shot": {"recipe": recipe}})

    assert warm_head(config("classification", "pooled"))
    assert not warm_head(config("classification", "auto"))  # not chosen yet: run_training writes the choice
    assert not warm_head(config("embedding", "pooled"))


def test_the_learning_rate_waits_for_the_range_test_and_then_takes_its_answer():
    facts = DataFacts("classification", 2_000, 200, 4, trains_base=True)
    pending = resolve_training(training(), facts)
    assert needs_range_test(pending) and "range test" in describe(pending, facts)
    measured = resolve_training(training(), facts, measured_lr=3e-5)
    assert measured.learning_rate == 3e-5 and not needs_range_test(measured)


def test_explicit_settings_pass_through_untouched():
    chosen = training(batch_size=8, learning_rate=1e-4, epochs=7, eval_every=5, validation_subset=None,
                      early_stopping_patience=None)
    resolved = resolve_training(chosen, DataFacts("classification", 8_000, 3_000, 150), measured_lr=3e-5)
    assert (resolved.batch_size, resolved.learning_rate, resolved.epochs, resolved.eval_every,
            resolved.validation_subset, resolved.early_stopping_patience) == (8, 1e-4, 7.0, 5, None, None)
    # the cadence follows the chosen batch: 1,000 steps per epoch at batch 8
    assert resolve_training(training(batch_size=8), DataFacts("classification", 8_000, 0, 2)).eval_every == 250


def test_auto_values_are_checked_with_one_message():
    from tunesmith.errors import ConfigError

    with pytest.raises(ConfigError, match=r"training\.batch_size: must be 'auto' or a whole number at least 1"):
        training(batch_size=2.5)
    assert training(learning_rate="1e-4").learning_rate == 1e-4  # YAML reads 1e-4 as text


@pytest.mark.parametrize(("task", "trains_base", "on"), [("chat", False, True), ("text", False, True),
                                                          ("chat", True, False), ("classification", False, False),
                                                          ("classification", True, False), ("embedding", False, False)])
def test_checkpointing_is_on_by_default_for_adapters_on_a_language_model(task, trains_base, on):
    assert training().gradient_checkpointing == "auto"
    resolved = resolve_training(training(), DataFacts(task, 300, 30, 2, trains_base=trains_base))
    assert resolved.gradient_checkpointing is on


@pytest.mark.parametrize("chosen", [False, True, "false", "true"])
def test_an_explicit_checkpointing_choice_passes_through(chosen):
    resolved = resolve_training(training(gradient_checkpointing=chosen), DataFacts("chat", 300))
    assert resolved.gradient_checkpointing is (chosen in (True, "true"))


def test_checkpointing_takes_only_auto_or_a_switch():
    from tunesmith.errors import ConfigError

    with pytest.raises(ConfigError, match=r"training\.gradient_checkpointing: must be 'auto', true or false"):
        training(gradient_checkpointing="sometimes")
