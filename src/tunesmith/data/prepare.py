"""prepare(project): sources -> a versioned dataset folder data/<version>/ (the data stage's artifact)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from tunesmith.data.dataset import SPLITS, PreparedDataset, load_prepared, schema_description, write_split
from tunesmith.data.grouping import Deduplicator
from tunesmith.data.ingest import Ingested, Rejects, display_name, ingest
from tunesmith.data.issues import raise_if_errors
from tunesmith.data.sources import check_source, source_hash, source_size
from tunesmith.data.split import HELD_OUT, PinnedLeak, assign_splits, check_leaks, find_leaks, pinned_leaks
from tunesmith.errors import DataError, TunesmithError
from tunesmith.progress import progress_bar

FORMAT_VERSION = 3  # bump when the same inputs would now prepare differently
_PROGRESS_EVERY = 1024  # records between bar updates (an update costs ~10 µs; a record ~80 µs)
_TOKENIZE_EVERY = 4096


def _needs_tokenizer(config) -> bool:
    return config.min_tokens > 0 or config.overlong == "drop"


def dataset_version(project) -> tuple[str, list[str]]:
    """Content hash of every source plus the settings that shape the data: same inputs, same version."""
    config = project.config.data
    hashes = []
    for source in config.sources:
        path = project.source_path(source.path)
        check_source(path, display_name(path, project.root), project.root, source.allow_outside)
        hashes.append(source_hash(path))
    shape = {"format_version": FORMAT_VERSION, "task": project.config.objective.task,
             "data": config.model_dump(mode="json"), "sources": hashes}
    if project.config.objective.task == "embedding":
        settings = project.config.embedding
        shape["split_by"] = settings.split_by
        if settings.hard_negatives:  # mined by the base model: another model mines other negatives
            shape["mining"] = [settings.hard_negatives, settings.mining_skip_top, settings.pooling,
                               project.config.model.name, project.config.model.max_length]
    for source in shape["data"]["sources"]:
        source.pop("path")  # moving a file does not change the data
    if _needs_tokenizer(config) or (config.augment.copies and config.augment.paraphrase):
        shape["model"] = [project.config.model.name, project.config.model.max_length]
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()
    return digest[:12], hashes


def _tokenizer_on_disk(project):
    """The configured model's tokenizer when the model is a folder on this machine: a few JSON files, so
    token statistics cost little; None for catalog names (which may need a conversion) or when it fails."""
    folder = Path(project.config.model.name).expanduser()
    if not any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        return None
    from tunesmith.models.loading import load_tokenizer

    try:
        return load_tokenizer(folder, project.config.model.trust_remote_code)
    except (TunesmithError, OSError, ValueError):
        return None


def prepare(project, tokenizer=None) -> PreparedDataset:
    """Read, validate, clean, deduplicate and split the project's sources into data/<version>/.

    An existing folder for the same version is reused. With a tokenizer, token statistics are added.
    """
    config = project.config.data
    if not config.sources:
        raise DataError("no data sources configured", "Add data.sources: [{path: my-data.jsonl}] to tunesmith.yaml.")
    version, hashes = dataset_version(project)
    tokenizer = tokenizer if tokenizer is not None else _tokenizer_on_disk(project)
    folder = project.data_dir / version
    if (folder / "manifest.json").exists():
        dataset = load_prepared(folder)
        tokens = dataset.manifest.get("tokens") or {}
        measured_with = (tokens.get("tokenizer"), tokens.get("max_length"))
        if tokenizer is not None and measured_with != (getattr(tokenizer, "name_or_path", ""),
                                                       project.config.model.max_length):
            from tunesmith.data.report import add_token_stats, write_report

            add_token_stats(dataset, tokenizer, project.config.model.max_length)
            write_report(dataset)
        return dataset
    if tokenizer is None and _needs_tokenizer(config):
        from tunesmith.models.loading import load_tokenizer

        tokenizer = load_tokenizer(project.config.model.name, project.config.model.trust_remote_code)
    project.data_dir.mkdir(parents=True, exist_ok=True)
    # record bodies, signatures and rejected rows spill to anonymous files in data/ (same disk as the output)
    state = Ingested(rejects=Rejects(project.data_dir))
    try:
        link_documents = (project.config.objective.task == "embedding"
                          and project.config.embedding.split_by == "document")
        with Deduplicator(config, state.counts, project.data_dir, link_documents) as dedup:
            build = _build(project, tokenizer, state, dedup)
            return _write(project, version, hashes, build, tokenizer)
    finally:
        state.rejects.close()


def _build(project, tokenizer, state: Ingested, dedup: Deduplicator) -> dict:
    config, task = project.config.data, project.config.objective.task
    sources = [(project.source_path(s.path), s) for s in config.sources]
    total = sum(source_size(path) for path, _ in sources)
    with progress_bar("reading", total, "records") as update:
        for count, (source_index, record) in enumerate(ingest(project.root, sources, config, task, state), 1):
            pin = sources[source_index][1].split
            dedup.add(record, None if pin == "auto" else pin, source_index)
            if count % _PROGRESS_EVERY == 0:
                update(state.meter.bytes, count)
        update(total, sum(s.records for s in state.sources))
    if config.strict:
        raise_if_errors(state.errors)
    keep = dedup.finish()
    if not keep:
        raise DataError(f"no usable records in {', '.join(s.path for s in config.sources)} "
                        f"({len(state.rejects)} rejected)", "See the errors with `tunesmith data validate`.")
    lengths = None
    if tokenizer is not None:
        from tunesmith.data.tokens import token_lengths

        lengths = []
        for start in range(0, len(keep), _TOKENIZE_EVERY):  # records stay on disk; a chunk at a time in RAM
            chunk = [dedup.store.get(i) for i in keep[start:start + _TOKENIZE_EVERY]]
            lengths += token_lengths(chunk, tokenizer, task)
        pinned = [dedup.pin(i) in HELD_OUT for i in keep]
        keep, lengths = _length_filter(config, project.config.model.max_length, keep, lengths, pinned, state.counts)
    leaks = []
    if any(source.split in HELD_OUT for source in config.sources):  # else nothing to check: skip the lists
        leaks = pinned_leaks([dedup.groups.find(i) for i in keep], [dedup.pin(i) for i in keep],
                             [dedup.input_key(i) for i in keep], [dedup.output_key(i) for i in keep],
                             *dedup.pairs_among(keep), dedup.ids_of(keep))
    if leaks:
        _reject_leaks(leaks, keep, dedup, [s.path for s in config.sources], state)
        dropped = {leak.index for leak in leaks}
        kept = [k for k in range(len(keep)) if k not in dropped]
        keep = [keep[k] for k in kept]
        lengths = None if lengths is None else [lengths[k] for k in kept]
    ids = dedup.ids_of(keep)
    splits = assign_splits([dedup.groups.find(i) for i in keep], [dedup.store.labels[i] for i in keep],
                           [dedup.pin(i) for i in keep], config.validation_share, config.test_share,
                           config.seed, ids)
    check_leaks(find_leaks(ids, splits, [dedup.input_key(i) for i in keep], *dedup.pairs_among(keep)))
    positions = {name: [i for i, split in zip(keep, splits, strict=True) if split == name] for name in SPLITS}
    return {"state": state, "dedup": dedup, "positions": positions, "token_lengths": lengths,
            "leaks": Counter(leak.split for leak in leaks)}


def _reject_leaks(leaks: list[PinnedLeak], keep: list[int], dedup: Deduplicator, paths: list[str],
                  state: Ingested) -> None:
    """Each record dropped for duplicating a pinned validation/test record goes to rejects.jsonl, with why."""
    ids = dedup.ids_of(keep)
    for leak in leaks:
        position, pinned = keep[leak.index], keep[leak.pinned]
        entry = {"file": paths[dedup.sources[position]], "field": "", "id": ids[leak.index],
                 "message": f"dropped: {leak.describe(ids)} (pinned by {paths[dedup.sources[pinned]]}, "
                            "used as given)",
                 "reason": leak.reason, "pinned_split": leak.split, "duplicates": ids[leak.pinned],
                 "duplicates_file": paths[dedup.sources[pinned]], "row": dedup.store.get(position)}
        if leak.similarity is not None:
            entry["similarity"] = round(leak.similarity, 3)
        state.rejects.add(entry)
    state.counts["dropped_leaks"] = len(leaks)


def _length_filter(config, max_length: int, keep: list[int], lengths: list[int], pinned: list[bool],
                   counts: Counter):
    """Drop records outside the token limits, except those pinned to validation or test (used as given)."""
    counts["overlong"] = sum(n > max_length for n in lengths)
    counts["too_short"] = sum(n < config.min_tokens for n in lengths)
    allowed = [k for k, n in enumerate(lengths) if pinned[k]
               or (n >= config.min_tokens and (config.overlong != "drop" or n <= max_length))]
    counts["dropped_by_length"] = len(lengths) - len(allowed)
    return [keep[k] for k in allowed], [lengths[k] for k in allowed]


def _weighted(positions: list[int], dedup, weights: list[float], seed: int, counts: Counter) -> Iterator[dict]:
    """Mixing ratios: a source's training records are repeated (weight > 1) or subsampled (weight < 1)."""
    rng = random.Random(seed)
    for position in positions:
        weight = weights[dedup.sources[position]]
        copies = int(weight) + (rng.random() < weight - int(weight))
        counts["weight_repeats"] += max(copies - 1, 0)
        counts["weight_skipped"] += copies == 0
        for copy in range(copies):
            record = dedup.store.get(position)
            yield record if copy == 0 else {**record, "id": f"{record['id']}#r{copy + 1}"}


def _write(project, version: str, hashes: list[str], build: dict, tokenizer) -> PreparedDataset:
    from tunesmith.data.augment import augment_train
    from tunesmith.data.report import write_report

    config, task = project.config.data, project.config.objective.task
    state, dedup, positions = build["state"], build["dedup"], build["positions"]
    train: Iterable[dict] = _weighted(positions["train"], dedup, [s.weight for s in config.sources], config.seed,
                                      state.counts)
    if config.augment.copies or task == "classification":
        train = augment_train(list(train), task, config, state.counts, project)
    if task == "embedding" and project.config.embedding.hard_negatives:
        train = _with_hard_negatives(project, list(train), dedup, positions, state.counts)
    splits = {"train": train, "validation": map(dedup.store.get, positions["validation"]),
              "test": map(dedup.store.get, positions["test"])}
    staging = project.data_dir / f".staging-{version}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _write_staging(project, staging, version, hashes, state, dedup, splits, build["leaks"])
    finally:  # renamed into place on success; on error nothing half-written stays in data/
        shutil.rmtree(staging, ignore_errors=True)
    dataset = load_prepared(project.data_dir / version)
    if tokenizer is not None:
        from tunesmith.data.report import add_token_stats

        add_token_stats(dataset, tokenizer, project.config.model.max_length, build["token_lengths"])
    write_report(dataset)
    return dataset


def _with_hard_negatives(project, train: list[dict], dedup, positions: dict, counts: Counter) -> list[dict]:
    """Training pairs with negatives mined by the base model from every document of the dataset."""
    from tunesmith.embeddings.load import base_encoder
    from tunesmith.embeddings.mining import mine_hard_negatives

    config, settings = project.config, project.config.embedding
    corpus = list(dict.fromkeys(dedup.store.get(i)["positive"] for name in SPLITS for i in positions[name]))
    encoder = base_encoder(config.model.name, trust_remote_code=config.model.trust_remote_code,
                           max_length=config.model.max_length, pooling=settings.pooling)
    mined = mine_hard_negatives(train, corpus, lambda texts: encoder.encode(texts, settings.eval_batch_size),
                                settings.hard_negatives, settings.mining_skip_top)
    counts["hard_negatives"] = sum(1 for r in mined if r.get("negative")) - sum(1 for r in train if r.get("negative"))
    return mined


def _write_staging(project, staging, version: str, hashes: list[str], state, dedup, splits: dict,
                   leaks: Counter) -> None:
    from tunesmith.data.report import Tally, build_manifest

    config, task = project.config.data, project.config.objective.task
    tally = Tally(config.spelling_report)
    for name, records in splits.items():
        state.counts[name] = write_split(tally.watch(name, records), staging / f"{name}.parquet", task)
    state.rejects.write_to(staging / "rejects.jsonl")
    manifest = build_manifest(project, version, hashes, state, dedup, tally, schema_description(task), leaks)
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    with contextlib.suppress(OSError):  # another process prepared the same version meanwhile: theirs is identical
        staging.rename(project.data_dir / version)
