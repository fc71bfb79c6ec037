"""What `tunesmith runs show` says about one run, including the planner's prediction against reality."""

from __future__ import annotations

from tunesmith.experiments.environment import read_environment
from tunesmith.experiments.registry import RunRecord
from tunesmith.experiments.table import duration, key_settings, number


def detail_rows(record: RunRecord) -> list[tuple[str, str]]:
    info = record.info
    rows = [("status", info.status or "?")]
    if info.error:
        rows.append(("error", info.error))
    rows += [("started", info.started or "-"),
             ("base model", str(info.base_model or record.setting("model.name"))),
             ("method", f"{info.method or '-'} ({number(info.trainable_params)} of "
                        f"{number(info.total_params)} parameters trained)"),
             ("task", info.task or "-"), ("data version", info.dataset_version or "-"),
             ("settings", key_settings(record)),
             ("steps", f"{number(info.steps)} ({number(info.tokens)} tokens, {duration(info.seconds)})")]
    rows += [(f"metric: {k}", number(v)) for k, v in record.metrics.items() if k not in ("steps", "tokens")]
    environment = read_environment(record.path)
    if environment:
        packages = environment.get("packages", {})
        rows.append(("environment", f"torch {packages.get('torch')}, transformers {packages.get('transformers')}, "
                                    f"peft {packages.get('peft')}, {environment.get('threads')} threads, "
                                    f"seeds {environment.get('seeds')}"))
    for warning in info.warnings:
        rows.append(("warning", warning))
    return rows


def prediction_for(project, record: RunRecord, compute: bool = True) -> tuple[list[dict], str | None]:
    """(predicted-vs-actual rows, a note). Without plan.json, predicts now from config.yaml and the
    run's dataset version, and saves the prediction beside the run."""
    from tunesmith.plan.record import predicted_vs_actual, read_prediction, write_prediction

    prediction = read_prediction(record.path)
    note = None
    if prediction is None:
        if not compute:
            return [], "no plan.json for this run (use --predict to compute one)"
        data_dir = project.data_dir / str(record.info.dataset_version)
        if not (data_dir / "manifest.json").exists() or not record.folder.config_file.exists():
            return [], "no prediction: the run's dataset version or config.yaml is missing"
        from tunesmith.data import load_prepared
        from tunesmith.plan import predict_for_run

        config = record.folder.config()
        prediction = predict_for_run(config, load_prepared(data_dir).split("train"))
        prediction["predicted_after_training"] = True
        write_prediction(record.path, prediction)
        note = "predicted after the fact from config.yaml and the run's data (saved as plan.json)"
    rows = predicted_vs_actual(prediction, record.info.to_json())
    timing = "times are predicted for an otherwise idle machine; other load makes actual steps slower"
    return rows, f"{note}; {timing}" if note else timing
