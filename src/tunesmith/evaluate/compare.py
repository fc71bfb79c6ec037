"""`compare()`: every contender on the same held-out split, with intervals, tests, a verdict and reports."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from pathlib import Path

from tunesmith.config.evaluation import EvaluationConfig
from tunesmith.errors import TunesmithError
from tunesmith.evaluate.comparison import Comparison
from tunesmith.evaluate.contenders import (
    ChatContender,
    ContenderResult,
    few_shot,
    model_contender,
    score_chat,
    under_contract,
)
from tunesmith.evaluate.items import chat_items, class_items, few_shot_system_prompt, pick_examples, require_items
from tunesmith.evaluate.summary import build_rows, build_tests, choose_primary, preference_verdict, verdict

BASELINES_WORD = {"embedding": "the base encoder and BM25"}  # what the verdict says fine-tuning was compared with


def split_records(dataset, name: str) -> list[dict]:
    """A split of a PreparedDataset (or a plain {name: records} mapping); empty when it does not exist."""
    try:
        records = dataset[name] if isinstance(dataset, dict) else dataset.split(name)
    except (KeyError, FileNotFoundError, ValueError, TunesmithError):
        return []
    return list(records or [])


def held_out_records(dataset, settings: EvaluationConfig) -> tuple[str, list[dict]]:
    """evaluation.split, else test, else validation: the first that has records (`split_caveat` says
    when that is not an honest held-out score)."""
    for name in dict.fromkeys([settings.split, "test", "validation"]):
        records = split_records(dataset, name)
        if records:
            return name, records
    return settings.split, []


def split_caveat(split: str, wanted: str) -> str:
    """The warning that leads the CLI output and the report when the scored split is not an untouched
    test split; "" when it is."""
    if split == "test":
        return ""
    why = (f"evaluation.split is {split}" if split == wanted
           else f"the dataset has no {wanted} split, so evaluation fell back to {split}")
    if split == "validation":
        what = "the validation split also chose the checkpoint (early stopping, calibration)"
    else:
        what = f"the {split} split is not held out for a final test"
    return (f"Optimistic numbers: {why}, and {what}. For an honest score, prepare a test split "
            "(data.test_share above 0, or a source with split: test), train on it and evaluate again.")


def split_note(dataset, split: str) -> str:
    """How the scored split was made, from the dataset's manifest ("" when unknown)."""
    from tunesmith.data.report import describe_split

    manifest = getattr(dataset, "manifest", None)
    return describe_split(manifest, split) if isinstance(manifest, dict) else ""


def summarize(results: Sequence[ContenderResult], items: Sequence, task: str, settings: EvaluationConfig,
              split: str = "test", split_note: str = "") -> Comparison:
    """Pure statistics over finished results (no reports written)."""
    primary = choose_primary(results, settings.primary_metric, task)
    rows = build_rows(results, settings.bootstrap_samples, settings.seed)
    tests = build_tests(results, settings.bootstrap_samples, settings.seed)
    said = " ".join(filter(None, [verdict(rows, tests, primary, BASELINES_WORD.get(task, "prompting")),
                                  preference_verdict(rows, tests, results, primary)]))
    return Comparison(task=task, split=split, primary=primary, rows=rows, tests=tests, verdict=said,
                      results=list(results), items=list(items), split_note=split_note,
                      caveat=split_caveat(split, settings.split))


def _release() -> None:
    gc.collect()


def _chat_contenders(project, train: list[dict], run_dirs: Sequence[Path], baselines: bool) -> Iterator[ChatContender]:
    """Built lazily, so only one model is in memory at a time (the base model serves both baselines)."""
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    config, settings = project.config, project.config.evaluation
    if baselines:
        model = load_causal_lm(config.model.name, config.model.dtype, config.model.trust_remote_code)
        tokenizer = load_tokenizer(config.model.name, config.model.trust_remote_code)
        yield model_contender("base zero-shot", model, tokenizer, settings)
        if settings.few_shot_k > 0:
            objective = config.objective
            system = few_shot_system_prompt(objective.description, objective.users, objective.expected_output)
            examples = pick_examples(train, settings.few_shot_k, settings.seed)
            yield model_contender(f"base few-shot (k={len(examples)})", model, tokenizer, settings,
                                  prompt=few_shot(system, examples))
        del model, tokenizer
        _release()
    for run_dir in run_dirs:
        from tunesmith.train import load_run

        loaded = load_run(run_dir)
        # The run is asked the way every deployment asks it: its inference contract's system prompt first.
        yield model_contender(Path(run_dir).name, loaded.model, loaded.tokenizer, settings, kind="run",
                              prompt=under_contract(loaded.folder.inference_contract()), run_dir=Path(run_dir))
        del loaded
        _release()


def _classifier_contenders(project, train, run_dirs, baselines: bool, labels: list[str], validation=()):
    from tunesmith.evaluate.classifiers import centroid_classifier, majority_classifier, model_classifier

    config, settings = project.config, project.config.evaluation
    compared_head = False  # an embedding-recipe run is compared with the plain head, trained once
    if baselines:
        from transformers import AutoModel

        from tunesmith.models.catalog import resolve
        from tunesmith.models.loading import load_tokenizer

        yield majority_classifier(train, labels)
        if settings.few_shot_k > 0:
            folder = resolve(config.model.name, trust_remote_code=config.model.trust_remote_code).path
            encoder = AutoModel.from_pretrained(folder, use_safetensors=True,
                                                trust_remote_code=config.model.trust_remote_code)
            tokenizer = load_tokenizer(config.model.name, config.model.trust_remote_code)
            yield centroid_classifier(encoder, tokenizer, train, labels, settings)
            del encoder
            _release()
    for run_dir in run_dirs:
        from tunesmith.train import load_run

        loaded = load_run(run_dir)
        run_labels = list(getattr(loaded, "labels", None) or labels)
        yield model_classifier(Path(run_dir).name, loaded.model, loaded.tokenizer, run_labels, settings,
                               run_dir=Path(run_dir))
        from tunesmith.embeddings.fewshot import RECIPE_KEY

        fewshot = loaded.info.raw.get(RECIPE_KEY) == "embedding"
        del loaded
        _release()
        if fewshot and baselines and config.few_shot.compare_head and not compared_head:
            from tunesmith.embeddings.fewshot_run import plain_head_contenders

            compared_head = True
            yield from plain_head_contenders(config, train, validation, labels, settings)
            _release()


def evaluate_contenders(project, dataset, run_dirs: Sequence[Path], baselines: bool = True) -> Comparison:
    """Score every contender on the held-out split and summarise (no files written)."""
    settings = project.config.evaluation
    task = project.config.objective.task
    split, records = held_out_records(dataset, settings)
    train = split_records(dataset, "train")
    results: list[ContenderResult] = []
    if task == "chat":
        items = require_items(chat_items(records, settings.max_examples), split)
        for contender in _chat_contenders(project, train, run_dirs, baselines):
            results.append(score_chat(items, contender, settings))
            del contender
    elif task == "classification":
        from tunesmith.evaluate.classifiers import score_classification

        items = require_items(class_items(records, settings.max_examples), split)
        train_items = class_items(train)
        validation = class_items(split_records(dataset, "validation")) if split != "validation" else []
        labels = sorted({i.label for i in train_items} | {i.label for i in items})
        for contender in _classifier_contenders(project, train_items, run_dirs, baselines, labels, validation):
            results.append(score_classification(items, contender, settings, validation))
            del contender
    elif task == "embedding":
        from tunesmith.embeddings.evaluation import score_embedding_contenders

        items, results = score_embedding_contenders(project, dataset, records, run_dirs, baselines, split)
    else:
        raise TunesmithError(f"evaluation of '{task}' projects is not supported",
                             "Set objective.task to chat or classification; raw-text runs report validation "
                             "loss in their training metrics (`tunesmith runs show`).")
    if settings.judge.enabled and task == "chat":
        from tunesmith.evaluate.judge import judge_results

        judge_results(project, items, results)
    if task == "chat":
        from tunesmith.evaluate.preference import add_reward_margins, link_references, started_from

        link_references(results, {r.name: started_from(r.run_dir) for r in results if r.kind == "run"})
        add_reward_margins(results)
    comparison = summarize(results, items, task, settings, split, split_note(dataset, split))
    manifest = getattr(dataset, "manifest", None)
    comparison.data_tokens = dict((manifest or {}).get("tokens") or {}) if isinstance(manifest, dict) else {}
    if task == "chat":
        comparison.data_tokens |= _long_references(project.config, items, settings.max_new_tokens)
    return comparison


def _long_references(config, items, max_new_tokens: int) -> dict:
    """References longer than the answers may be: every contender's answer is cut there and scores lower, so
    the report says so (evaluate/advice.py) rather than blame the models."""
    from tunesmith.models.loading import load_tokenizer

    tokenizer = load_tokenizer(config.model.name, config.model.trust_remote_code)
    lengths = [len(tokenizer(item.reference, add_special_tokens=False)["input_ids"]) for item in items]
    longer = [n for n in lengths if n > max_new_tokens]
    return {"long_references": len(longer), "references": len(lengths), "max_new_tokens": max_new_tokens,
            "longest_reference": max(lengths, default=0)}


def compare(project, dataset, run_dirs: Sequence[Path], *, baselines: bool = True,
            out_dir: Path | None = None) -> Comparison:
    """Evaluate the base model zero-/few-shot and each run on held-out data; write report.{json,html}.

    Reports go to `<first run>/eval/` unless `out_dir` is given; each run's model card gets the headline.
    """
    from tunesmith.runs import RunFolder

    run_dirs = [Path(r) for r in run_dirs]
    for run_dir in run_dirs:  # before any model is scored: an unusable run fails in a second, not after baselines
        RunFolder(run_dir).require_finished("evaluate")
    baselines = baselines and project.config.evaluation.baselines
    if not run_dirs and not baselines:
        raise TunesmithError("nothing to evaluate: no runs and baselines are off",
                             "Pass a run folder, or drop --no-baselines / evaluation.baselines: false.")
    if not run_dirs and out_dir is None:
        out_dir = project.root / "eval"
    comparison = evaluate_contenders(project, dataset, run_dirs, baselines)
    from tunesmith.evaluate.card import update_model_cards
    from tunesmith.evaluate.report import write_reports

    write_reports(comparison, out_dir or RunFolder(run_dirs[0]).eval_dir, project.config.evaluation)
    update_model_cards(comparison)
    return comparison
