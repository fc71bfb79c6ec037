"""The model a preference objective starts from when it improves a run: that run merged into a Hugging Face
folder (`tunesmith export --format hf`, so it is parity-checked against the run), used as `model.name`. A
preference run's reference model is the model it starts from (objectives/runtime.py: the base with the adapter
off), so DPO or KTO on top of the production model is judged against the production model itself.
"""

from __future__ import annotations

import json
from pathlib import Path


def _reusable(folder: Path, run_dir: Path) -> bool:
    """An earlier hf export of this very run that passed its parity check."""
    from tunesmith.deploy.export import META_FILE

    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        parity = json.loads((folder / "parity.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("format") == "hf" and Path(meta.get("run_dir", "")) == run_dir.resolve() and \
        parity.get("passed") is True and (folder / "config.json").is_file()


def merged_start(run_dir: str | Path) -> Path:
    """The run as a plain model folder under the project's exports/ (written once, then reused)."""
    from tunesmith.deploy.export import default_folder, export

    run_dir = Path(run_dir)
    folder = default_folder(run_dir, f"{run_dir.name}-hf")
    if _reusable(folder, run_dir):
        return folder
    return export(run_dir, "hf").path
