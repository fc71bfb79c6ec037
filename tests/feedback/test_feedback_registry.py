"""Registry stages, lineage, rollback and hot pick-up of promotions, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import yaml

from tunesmith.config import FeedbackConfig
from tunesmith.errors import TunesmithError
from tunesmith.feedback import history, open_store, production_run, production_version, promote, register_run, rollback


def fake_run(root, name, dataset="v1"):
    """A finished run folder as training leaves it (the adapter a stand-in: the registry never loads it)."""
    folder = root / "runs" / name
    (folder / "adapter").mkdir(parents=True)
    (folder / "adapter" / "adapter_config.json").write_text("{}")
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": {"name": "tiny-llama"}, "method": {"name": "lora"}}))
    (folder / "run.json").write_text(json.dumps({"status": "completed", "method": "lora", "artifact": "adapter",
                                                 "dataset_version": dataset}))
    return folder


def test_register_records_lineage(store, tmp_path):
    first = promote(store, fake_run(tmp_path, "run-a"))
    assert (first.stage, first.base_model, first.dataset_version, first.run_id) == ("production", "tiny-llama", "v1",
                                                                                     "run-a")
    second = register_run(store, fake_run(tmp_path, "run-b", dataset="v2"), parent_id=first.id, note="improve")
    assert (second.stage, second.parent_id, second.dataset_version) == ("candidate", first.id, "v2")
    assert production_version(store).id == first.id


def test_promote_archives_the_old_one_and_rollback_walks_back(store, tmp_path):
    v1 = promote(store, fake_run(tmp_path, "run-1"))
    v2 = promote(store, fake_run(tmp_path, "run-2"))
    v3 = promote(store, fake_run(tmp_path, "run-3"))
    stages = {info.id: info.stage for info, _ in history(store)}
    assert stages == {v1.id: "archived", v2.id: "archived", v3.id: "production"}

    assert rollback(store).id == v2.id
    assert rollback(store).id == v1.id
    with pytest.raises(TunesmithError, match="only model left"):
        rollback(store)
    assert production_version(store).id == v1.id
    # Promoting a rolled-back version by hand makes it eligible again.
    promote(store, f"v{v3.id}")
    assert rollback(store).id == v1.id
    events = {info.id: evs for info, evs in history(store)}
    assert [e.to_stage for e in events[v3.id]] == [
        "candidate", "production", "archived", "production", "archived"]


def test_unknown_versions_and_empty_registry_are_clear_errors(store):
    with pytest.raises(TunesmithError, match="no model version 'v9'"):
        promote(store, "v9")
    with pytest.raises(TunesmithError, match="no model is in production"):
        rollback(store)
    assert production_run(store) is None


def test_server_side_cache_sees_a_promotion_made_by_another_process(db_url, tmp_path):
    server = open_store(db_url, FeedbackConfig(production_ttl_seconds=0.0))
    cli = open_store(db_url)
    promote(cli, fake_run(tmp_path, "run-old"))
    assert production_run(server).name == "run-old"
    promote(cli, fake_run(tmp_path, "run-new"))
    assert production_run(server).name == "run-new"
    rollback(cli)
    assert production_run(server).name == "run-old"
    server.close()
    cli.close()
