"""The model registry: every model that may be served has a version, a lineage and a way back.

Stages: candidate (trained, not serving), production (exactly one at a time), archived (served before or
rejected). Every change is a StageEvent, so rollback knows what was in production before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tunesmith.errors import TunesmithError
from tunesmith.feedback.schema import DatasetVersion, ModelVersion, Run, StageEvent
from tunesmith.feedback.store import Store
from tunesmith.runs import RunFolder


@dataclass(frozen=True)
class VersionInfo:
    """A detached, printable view of one model version."""

    id: int
    stage: str
    run_id: str
    run_path: str
    base_model: str | None
    dataset_version: str | None
    parent_id: int | None
    scores: dict[str, Any]
    note: str
    created_at: str

    @property
    def name(self) -> str:
        return f"v{self.id}"


def _info(session: Session, version: ModelVersion) -> VersionInfo:
    run = session.get(Run, version.run_id)
    return VersionInfo(version.id, version.stage, version.run_id, run.path if run else "", version.base_model,
                       version.dataset_version_id, version.parent_id, dict(version.scores or {}), version.note,
                       version.created_at.isoformat(timespec="seconds"))


def _read_run(folder: RunFolder) -> dict[str, Any]:
    """What the run folder says about itself: lineage for the registry."""
    info = folder.info()
    config = folder.config_data()
    dataset = folder.dataset_dir
    return {"base_model": (config.get("model") or {}).get("name") or info.base_model,
            "method": (config.get("method") or {}).get("name") or info.method,
            "dataset_version": info.dataset_version, "dataset_path": str(dataset) if dataset else None,
            "metrics": info.metrics}


def record_dataset_version(session: Session, version: str, path: str | Path, *, parent: str | None = None,
                           origin: str = "prepare", counts: dict[str, Any] | None = None,
                           feedback_items: int = 0) -> DatasetVersion:
    row = session.get(DatasetVersion, version)
    if row is None:
        if parent is not None and session.get(DatasetVersion, parent) is None:
            session.add(DatasetVersion(id=parent, path="", origin="prepare", counts={}))
        row = DatasetVersion(id=version, path=str(path), parent_id=parent, origin=origin, counts=counts or {},
                             feedback_items=feedback_items)
        session.add(row)
        session.flush()
    return row


def register_run(store: Store, run_dir: str | Path, *, parent_id: int | None = None, stage: str = "candidate",
                 dataset_version: str | None = None, scores: dict[str, Any] | None = None,
                 note: str = "") -> VersionInfo:
    """Add a finished run to the registry as a new model version (a candidate unless told otherwise)."""
    folder = RunFolder(Path(run_dir).resolve())
    folder.require_finished("register" if stage == "candidate" else "promote")
    run_dir = folder.path
    facts = _read_run(folder)
    dataset_version = dataset_version or facts.get("dataset_version")
    with store.session() as session:
        run = session.get(Run, run_dir.name)
        if run is None:
            run = Run(id=run_dir.name, path=str(run_dir), method=facts.get("method"),
                      base_model=facts.get("base_model"), dataset_version_id=dataset_version,
                      metrics=facts.get("metrics") or {})
            session.add(run)
        if dataset_version:
            record_dataset_version(session, dataset_version, facts.get("dataset_path") or "")
        version = ModelVersion(run_id=run.id, base_model=facts.get("base_model"), dataset_version_id=dataset_version,
                               parent_id=parent_id, stage="candidate", scores=scores or {}, note=note)
        session.add(version)
        session.flush()
        session.add(StageEvent(model_version_id=version.id, from_stage=None, to_stage="candidate",
                               reason="registered"))
        if stage != "candidate":
            _set_stage(session, version, stage, note)
        return _info(session, version)


def _set_stage(session: Session, version: ModelVersion, stage: str, reason: str) -> None:
    if stage == "production":
        current = session.scalars(select(ModelVersion).where(ModelVersion.stage == "production")
                                  .with_for_update()).all()
        for other in current:
            if other.id != version.id:
                session.add(StageEvent(model_version_id=other.id, from_stage="production", to_stage="archived",
                                       reason=f"replaced by v{version.id}"))
                other.stage = "archived"
    if version.stage != stage:
        session.add(StageEvent(model_version_id=version.id, from_stage=version.stage, to_stage=stage,
                               reason=reason))
        version.stage = stage


def _find(session: Session, ref: str | int) -> ModelVersion:
    text = str(ref).strip()
    number = text[1:] if text[:1] in "vV" else text
    if number.isdigit():
        found = session.get(ModelVersion, int(number))
    else:
        run_id = Path(text).name
        found = session.scalars(select(ModelVersion).where(ModelVersion.run_id == run_id)
                                .order_by(ModelVersion.id.desc())).first()
    if found is None:
        raise TunesmithError(f"no model version '{ref}' in the registry",
                             "See `tunesmith models history`; pass v<N> or a run folder.")
    return found


def set_stage(store: Store, ref: str | int, stage: str, reason: str = "") -> VersionInfo:
    with store.session() as session:
        version = _find(session, ref)
        _set_stage(session, version, stage, reason)
        return _info(session, version)


def promote(store: Store, ref: str | int | Path, reason: str = "promoted by hand") -> VersionInfo:
    """Make `ref` the production model (v<N>, or a run folder, registered on the fly if new)."""
    if isinstance(ref, Path) or (isinstance(ref, str) and Path(ref).is_dir()):
        folder = RunFolder(Path(ref).resolve())
        folder.require_finished("promote")
        with store.session() as session:
            known = session.scalars(select(ModelVersion.id).where(ModelVersion.run_id == folder.run_id)
                                    .order_by(ModelVersion.id.desc())).first()
        if known is None:
            return register_run(store, ref, stage="production", note=reason)
        ref = known
    info = set_stage(store, ref, "production", reason)
    store.cache.clear()
    return info


ROLLBACK_PREFIX = "rollback: "


def rollback(store: Store, reason: str = "rolled back by hand") -> VersionInfo:
    """Put the previous production model back; the current one is archived.

    Repeated rollbacks walk further back (v3 -> v2 -> v1), skipping versions that were rolled back from.
    """
    with store.session() as session:
        current = session.scalars(select(ModelVersion).where(ModelVersion.stage == "production")).first()
        if current is None:
            raise TunesmithError("no model is in production, so there is nothing to roll back",
                                 "Promote one with `tunesmith models promote v<N>`.")
        events = session.scalars(select(StageEvent).order_by(StageEvent.id)).all()
        latest = {event.model_version_id: event for event in events}
        previous = None
        for event in reversed(events):
            rolled_back = latest[event.model_version_id].reason.startswith(ROLLBACK_PREFIX)
            if event.to_stage == "production" and event.model_version_id != current.id and not rolled_back:
                previous = session.get(ModelVersion, event.model_version_id)
                break
        if previous is None:
            raise TunesmithError(f"v{current.id} is the only model left that was in production",
                                 "There is no earlier version to go back to.")
        session.add(StageEvent(model_version_id=current.id, from_stage="production", to_stage="archived",
                               reason=ROLLBACK_PREFIX + reason))
        current.stage = "archived"
        session.flush()
        _set_stage(session, previous, "production", reason)
        info = _info(session, previous)
    store.cache.clear()
    return info


def production_version(store: Store) -> VersionInfo | None:
    with store.session() as session:
        version = session.scalars(select(ModelVersion).where(ModelVersion.stage == "production")).first()
        return _info(session, version) if version else None


def cached_production(store: Store) -> VersionInfo | None:
    """The production version, re-read from the store at most every `production_ttl_seconds`."""
    cached = store.cache.get("production")
    if cached and time.monotonic() - cached[0] < store.settings.production_ttl_seconds:
        return cached[1]
    version = production_version(store)
    store.cache["production"] = (time.monotonic(), version)
    return version


def production_run(store: Store) -> Path | None:
    """The run folder in production. Cheap enough to call per request (see `cached_production`), so the
    server picks up a promotion or rollback without a restart."""
    version = cached_production(store)
    return Path(version.run_path) if version else None


def history(store: Store) -> list[tuple[VersionInfo, list[StageEvent]]]:
    """Every model version, newest first, with its stage changes."""
    with store.session() as session:
        versions = session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())).all()
        events = session.scalars(select(StageEvent).order_by(StageEvent.id)).all()
        by_version: dict[int, list[StageEvent]] = {}
        for event in events:
            by_version.setdefault(event.model_version_id, []).append(event)
        return [(_info(session, v), by_version.get(v.id, [])) for v in versions]
