"""run_training(): records in, a finished run folder out. train(): the same for a project + dataset.

The run folder appears only once the run can start (model, method and data loaded, the checkpoint to
resume from read): a run that cannot start leaves nothing behind. A run that stops on an error is
marked `failed` in run.json, with the one-line reason under `error`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tunesmith.config import ProjectConfig
from tunesmith.config.auto import DataFacts, describe, needs_range_test, range_test, resolve_training, warm_head
from tunesmith.errors import DataError, TunesmithError
from tunesmith.methods import count_parameters, get_method
from tunesmith.objectives.runtime import attach_reference, for_config
from tunesmith.plan.savers import resolve_savers
from tunesmith.progress import console
from tunesmith.project import ensure_writable
from tunesmith.resources import peak_rss
from tunesmith.runs import CHECKPOINTS_DIR, CONFIG_FILE, RUN_FILE, training_contract, with_contract
from tunesmith.runs.saved_config import read_saved
from tunesmith.train import checkpoint as ckpt
from tunesmith.train.allocator import bound_retention
from tunesmith.train.distributed import World
from tunesmith.train.encode import label_list
from tunesmith.train.loggers import Loggers
from tunesmith.train.loop import Batches, LoopState, StepCallback, evaluate, run_loop, total_steps, train_step
from tunesmith.train.lr_range import RangeTestResult, find_learning_rate
from tunesmith.train.optim import build_optimizer
from tunesmith.train.run_folder import finish_artifact, read_run, write_card, write_config, write_json
from tunesmith.train.setup import prepare_model
from tunesmith.train.sharding import choose, native_bf16
from tunesmith.train.subset import stratified_subset


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict = field(default_factory=dict)
    stopped_early: bool = False
    status: str = "completed"


def data_fingerprint(records: list[dict]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record, sort_keys=True, default=str).encode())
    return "sha256:" + digest.hexdigest()[:16]


def _identity(config: ProjectConfig, task: str, train_records: list[dict], dataset_version: str | None) -> dict:
    identity = {"base_model": config.model.name, "method": config.method.name, "task": task,
                "dataset_version": dataset_version or data_fingerprint(train_records)}
    if config.training.objective != "sft":  # (sft runs predate the key: their checkpoints stay resumable)
        identity["objective"] = config.training.objective
    return identity


def _say(line: str) -> None:
    """One line as written (no wrapping at the terminal's width, no rich markup in paths)."""
    console.print(line, soft_wrap=True, markup=False, highlight=False)


def failure_reason(err: BaseException) -> str:
    """One line for run.json's `error`."""
    text = " ".join(str(err).split())
    return text if isinstance(err, TunesmithError) else f"{type(err).__name__}: {text}".removesuffix(": ")


def _check_resumable(saved: dict, current: dict, run_id: str) -> None:
    changed = [k for k in current if saved.get(k) != current[k]]
    if changed:
        what = "; ".join(f"{k} was {saved.get(k)!r}, now {current[k]!r}" for k in changed)
        raise TunesmithError(f"cannot resume {run_id}: {what}.",
                             "Start a new run (without --resume), or restore the original settings.")


def run_training(config: ProjectConfig, train_records: list[dict], validation_records: list[dict], run_dir: Path,
                 resume: bool = False, dataset_version: str | None = None,
                 callbacks: Sequence[StepCallback] = ()) -> RunResult:
    """Train `config.method` on canonical records and write the run folder (see docs/architecture.md)."""
    run_dir = Path(run_dir)
    tc = config.training
    task = config.objective.task
    world = World.from_env()
    strategy = choose(tc, world)  # before loading anything: a missing DeepSpeed or GPU fails here
    if strategy.autocast_dtype is not None and world.main and not native_bf16(world.device):
        _say("training.mixed_precision: bf16 is emulated on this device (no AVX512-BF16 or AMX): steps will be "
             "slower than in float32; set mixed_precision: no")
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    if not train_records:
        raise DataError("the train split is empty", "Add examples and run `tunesmith prepare` again.")
    if task == "classification":
        from tunesmith.embeddings.fewshot import choose_recipe

        choice = choose_recipe(config, train_records)
        if choice.recipe == "embedding":  # few examples per class: contrastive pairs on this loop, then a head
            from tunesmith.embeddings.fewshot_run import train_embedding_recipe

            return train_embedding_recipe(config, choice, train_records, validation_records, run_dir, resume,
                                          dataset_version, callbacks)
        if choice.recipe == "pooled":  # recorded as such: the model is built, saved and loaded from it
            config = config.model_copy(update={"few_shot": config.few_shot.model_copy(update={"recipe": "pooled"})})
    identity = _identity(config, task, train_records, dataset_version)
    start = _resume_point(run_dir, identity, strategy, world) if resume else None
    labels = label_list(train_records) if task == "classification" else None
    facts = DataFacts(task, len(train_records), len(validation_records), len(labels or []),
                      get_method(config.method.name).trains_base, warm_head(config))
    # Before loading: checkpointing and the allocator's bound, by the memory this machine has now
    config = _resolve(resolve_savers(config, facts), facts, run_dir if start is not None else None)
    tc = config.training
    if tc.release_memory:  # freed activations then go back to the OS as they are freed
        bound_retention()
    model, tokenizer, method, resolved = prepare_model(config, task, labels)
    trainable, total = count_parameters(model)
    template = getattr(tokenizer, "chat_template", None)
    contract = training_contract(config, train_records, template if isinstance(template, str) else None, labels)
    if contract.system_prompt_source == "config":  # the conversations that bring none are trained with it too
        train_records = [with_contract(r, contract) for r in train_records]
        validation_records = [with_contract(r, contract) for r in validation_records]
    if world.main:
        console.print(f"{method.name}: training {trainable:,} of {total:,} parameters "
                      f"({trainable / total:.2%}) of {config.model.name}")
        if contract.system_prompt is not None:
            _say(f"inference contract: {contract.describe()}; recorded in the run and added to every request "
                 "that brings none")
    length = config.model.max_length
    objective = for_config(config)
    train_ex = objective.encode(tokenizer, train_records, task, length, labels, tc.train_on_prompt)
    val_ex = objective.encode(tokenizer, validation_records, task, length, labels, tc.train_on_prompt)
    checked_ex = val_ex  # what validation during training reads: a fixed stratified subset when capped
    if tc.validation_subset and len(validation_records) > tc.validation_subset:
        keep = stratified_subset([r.get("label") for r in validation_records], tc.validation_subset, tc.seed)
        checked_ex = objective.encode(tokenizer, [validation_records[i] for i in keep], task, length, labels,
                                      tc.train_on_prompt)
    if not train_ex:
        raise DataError("no training example has a token to learn from after encoding",
                        "Check that chat records end with an assistant message.")
    # Reference log-probs (dpo, kto) from the model as prepared, before any step or restored checkpoint.
    attach_reference(objective, model, method, train_ex + val_ex + (checked_ex if checked_ex is not val_ex else []),
                     tokenizer.pad_token_id,
                     next(model.parameters()).device, method.virtual_tokens)
    probe = None
    if config.few_shot.recipe == "pooled" and task == "classification" and start is None:
        from tunesmith.embeddings.pooled import fit_probe

        probe = fit_probe(model, train_ex, tokenizer.pad_token_id, len(labels), tc.seed)
        if world.main:
            _say(f"pooled head fitted on {probe['examples']} training examples' embeddings (linear probe, "
                 f"{probe['train_accuracy']:.1%} on them, {probe['seconds']:.1f} s); now fine-tuning end to end")
    # (a rate to build the optimizer with; the loop sets every step's rate, from the range test's answer)
    provisional = tc.model_copy(update={"learning_rate": range_test(method.trains_base).fallback}) \
        if needs_range_test(tc) else tc
    model, optimizer = strategy.setup(model, lambda m: build_optimizer(m, provisional))
    state = LoopState(identity=identity)
    if start is not None:
        state = LoopState.from_saved(ckpt.load_checkpoint(start, model, optimizer))
        if world.main:
            _say(f"resuming {run_dir.name} from {start.name}")
    elif resume and world.main:
        _say(f"{run_dir.name} has no complete checkpoint to resume from: starting from the beginning")
    if tc.compile:
        _compile(model)
    batches = Batches(train_ex, tokenizer.pad_token_id, task == "classification", tc.batch_size,
                      tc.gradient_accumulation, tc.seed, tc.group_by_length, world, objective.collate)
    search = None
    if needs_range_test(tc):
        search = _range_test(model, batches, tc, facts, world,
                             lambda m, params, opt, step: train_step(m, params, opt, batches, step, task,
                                                                     method.virtual_tokens, tc.max_grad_norm,
                                                                     strategy, objective)[0])
        config = config.model_copy(update={"training": tc.model_copy(update={"learning_rate": search.learning_rate})})
        tc = config.training
    if world.main and start is None and task == "classification":
        _say(f"training: {describe(tc, facts)}" + (f" ({_searched(search)})" if search else ""))
    planned = total_steps(config, len(batches.epoch(0)))
    # the planner's calibration, checked on this run's first steps (it does not model pair encoders)
    if world.size == 1 and state.step == 0 and task != "embedding":
        from tunesmith.plan.watch import first_steps_check

        watch = first_steps_check(config, train_ex, batches.epoch(0), len(labels or []))
        callbacks = [*callbacks, watch] if watch else callbacks
    info = {"status": "running", "method": method.name, "objective": objective.name, "task": task,
            "base_model": config.model.name,
            "base_model_path": str(resolved.path), "dataset_version": identity["dataset_version"],
            "trainable_params": trainable, "total_params": total, "labels": labels, "project": config.name,
            "artifact": method.artifact, "train_examples": len(train_ex), "validation_examples": len(val_ex),
            "planned_steps": planned, "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "world_size": world.size,
            "distributed": strategy.name, "inference": contract.to_json()}
    if search is not None:
        info["learning_rate_search"] = search.to_json()
    if config.few_shot.recipe == "pooled" and task == "classification":
        from tunesmith.embeddings.fewshot import RECIPE_KEY

        info[RECIPE_KEY] = "pooled"
        head = probe if probe is not None else read_run(run_dir).get("head")  # (a resumed run's, fitted before)
        if head is not None:
            info["head"] = head
    if checked_ex is not val_ex:
        info["validation_subset"] = len(checked_ex)
    ensure_writable(run_dir)  # everything before this line may fail and leave no folder behind
    if world.main:
        write_config(run_dir, config)
        earlier = {key: value for key, value in read_run(run_dir).items() if key != "error"}  # a resumed failure
        write_json(run_dir / RUN_FILE, {**earlier, **info})
    loggers = Loggers(tc.report_to, run_dir, config.model_dump(mode="json"))
    try:
        state, outcome = run_loop(
            config=config, model=model, optimizer=optimizer, batches=batches, val_examples=checked_ex, task=task,
            virtual_tokens=method.virtual_tokens, state=state, run_dir=run_dir, world=world, callbacks=callbacks,
            save_weights=lambda: strategy.weights(model), strategy=strategy,
            attach=loggers.attach, objective=objective)
    except BaseException as err:
        loggers.close("FAILED")
        if world.main:
            write_json(run_dir / RUN_FILE, {**info, "status": "failed", "error": failure_reason(err)})
        raise
    loggers.close("KILLED" if outcome == "interrupted" else "FINISHED")
    restored = None
    if outcome != "interrupted" and tc.restore_best and state.best_step not in (None, state.step):
        best = run_dir / CHECKPOINTS_DIR / f"step-{state.best_step}"
        ckpt.load_weights(best, model)
        restored = state.best_step
    metrics = _metrics(state, restored)
    if outcome != "interrupted" and checked_ex is not val_ex:  # the checks read a subset: score all of it once
        metrics.update(evaluate(model, val_ex, tokenizer.pad_token_id, task, method.virtual_tokens, tc.batch_size,
                                world, strategy, objective), checked_on=len(checked_ex))
    info.update(status="interrupted" if outcome == "interrupted" else "completed", metrics=metrics,
                steps=state.step, tokens=state.tokens, seconds=round(state.seconds, 2),
                padding_share=metrics["padding_share"], warnings=state.warnings,
                final_train_loss=metrics.get("train_loss"), final_val_loss=metrics.get("val_loss"),
                stopped_early=outcome == "stopped_early", best_step=state.best_step, restored_step=restored,
                # Process-wide peak (Linux kB → bytes): exact for `tunesmith train`, an upper bound when
                # several runs share a process; `tunesmith runs show` compares it with the planner.
                peak_rss=peak_rss())
    # Under fsdp every process takes part in gathering the weights; the main process gets a whole model.
    whole = None
    if outcome != "interrupted":
        whole = strategy.saveable(model, lambda: prepare_model(config, task, labels)[0])
    if world.main:
        if whole is not None:
            method.save(whole, run_dir / method.artifact)
            tokenizer.save_pretrained(run_dir / "tokenizer")
            finish_artifact(run_dir / method.artifact, config.model.name)
        write_json(run_dir / RUN_FILE, info)
        write_card(run_dir)
        if outcome == "interrupted":
            console.print(f"interrupted at step {state.step}; continue with `tunesmith train --resume`")
    world.barrier()
    return RunResult(run_dir, metrics, outcome == "stopped_early", info["status"])


def _resolve(config: ProjectConfig, facts: DataFacts, resumed: Path | None) -> ProjectConfig:
    """The config with its "auto" training settings resolved (config/auto.py); a resumed run keeps the learning
    rate its range test found (its config.yaml has it)."""
    measured = None
    if resumed is not None and needs_range_test(resolve_training(config.training, facts)):
        saved = read_saved(resumed / CONFIG_FILE).get("training", {}).get("learning_rate")
        measured = float(saved) if isinstance(saved, int | float) and not isinstance(saved, bool) else None
    return config.model_copy(update={"training": resolve_training(config.training, facts, measured)})


def _range_test(model, batches: Batches, tc, facts: DataFacts, world: World, step_fn) -> RangeTestResult:
    test = range_test(facts.trains_base, facts.warm_head)
    if world.size > 1:  # the sweep's steps would need every process in step; the fixed rate does
        return RangeTestResult(test.fallback, 0, 0.0, False)
    return find_learning_rate(model, batches, test, tc, step_fn, test.steps)


def _searched(search: RangeTestResult) -> str:
    if not search.measured:
        return "no range test under several processes" if not search.steps else \
            "the range test found no rate that lowered the loss: the fixed fallback"
    return f"range test: {search.steps} steps, {search.seconds:.1f} s"


def _resume_point(run_dir: Path, identity: dict, strategy, world: World) -> Path | None:
    """The checkpoint a resumed run continues from (the newest whole one), checked against this run."""
    if not run_dir.is_dir():
        raise TunesmithError(f"cannot resume {run_dir}: there is no such run folder",
                             "Pass a folder under runs/ to --run (see `tunesmith runs`), or leave --run out.")
    # The main process checks hashes and removes damaged checkpoints; the others hear which one it chose.
    found = ckpt.resume_point(run_dir / CHECKPOINTS_DIR, _say) if world.main else None
    name = world.from_main(found.name if found else "")
    if not name:
        return None
    start = run_dir / CHECKPOINTS_DIR / name
    if not strategy.resumable:
        raise TunesmithError(f"cannot resume under training.distributed: {strategy.name}: its optimizer state "
                             "is not saved in tunesmith's checkpoints",
                             "Resume with training.distributed: fsdp or ddp, or start a new run.")
    _check_resumable(ckpt.read_state(start)["identity"], identity, run_dir.name)
    return start


def _metrics(state: LoopState, restored: int | None) -> dict:
    """Final metrics; after a best-checkpoint restore the validation numbers are the restored step's."""
    metrics = {"train_loss": state.last_train_loss, **(state.best_val if restored is not None else state.last_val)}
    if restored is not None:
        metrics["val_loss_last_step"] = state.last_val.get("val_loss")
    metrics.update(steps=state.step, best_step=state.best_step, tokens=state.tokens, seconds=round(state.seconds, 2),
                   tokens_per_second=state.tokens / max(state.seconds, 1e-9),
                   padding_share=1 - state.real_positions / max(state.padded_positions, 1))
    return metrics


def _compile(model) -> None:
    from tunesmith.train.loss import unwrap

    base = unwrap(model)
    target = base.get_decoder() if hasattr(base, "get_decoder") else base
    target.compile(dynamic=True)


def train(project, dataset, resume: str | Path | bool | None = None,
          callbacks: Sequence[StepCallback] = ()) -> RunResult:
    """Train the project's configured method on a prepared dataset; `resume` is a run folder (or True:
    the newest run of this method)."""
    config = project.config
    if resume is True:
        run_dir = newest_resumable(project.runs_dir, config.method.name)
    elif resume:
        run_dir = Path(resume)
    else:
        world = World.from_env()
        # Under torchrun every process gets here; the main one names the folder (run_training creates
        # it once the run can start), all use it.
        name = str(project.new_run_dir(config.method.name, create=False)) if world.main else ""
        run_dir = Path(world.from_main(name))
    if config.training.deepspeed_config:  # relative to the project folder, wherever training starts
        config = config.model_copy(deep=True)
        config.training.deepspeed_config = str(project.source_path(config.training.deepspeed_config))
    return run_training(config, dataset.split("train"), dataset.split("validation"), run_dir,
                        resume=bool(resume), dataset_version=dataset.version, callbacks=callbacks)


def newest_resumable(runs_dir: Path, method: str) -> Path:
    """The newest run of `method` with a complete checkpoint: runs killed before their first checkpoint,
    or that never started, have nothing to continue."""
    runs = sorted(runs_dir.glob(f"*-{method}*")) if runs_dir.exists() else []
    for run_dir in reversed(runs):
        if ckpt.complete_checkpoints(run_dir / CHECKPOINTS_DIR):
            return run_dir
    without = f" (of {len(runs)} earlier '{method}' runs, none has one)" if runs else ""
    raise TunesmithError(f"no '{method}' run in {runs_dir} has a complete checkpoint to resume from{without}",
                         "Run `tunesmith train` without --resume to start a new run.")


__all__ = ["RunResult", "data_fingerprint", "failure_reason", "newest_resumable", "run_training", "train"]
