"""How a person names a run, the same in every command that takes one (eval, export, runs show, models
promote, serve, reproduce): a run id, a unique part of one (its start or end), `latest`, or a path.

A relative path is tried against the project folder first, then the current directory, so
`tunesmith models promote runs/<id> -p PROJECT` works from anywhere. Without a project, ids are looked up
in the current folder when it is a project.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.config import PROJECT_FILE
from tunesmith.errors import TunesmithError
from tunesmith.project import RUNS_DIR
from tunesmith.runs.folder import RUN_FILE, RunFolder


def list_run_folders(runs_dir: Path) -> list[RunFolder]:
    """Every run under `runs_dir`, oldest first (run ids start with their timestamp)."""
    if not Path(runs_dir).is_dir():
        return []
    folders = (RunFolder(p) for p in sorted(Path(runs_dir).iterdir()) if not p.name.startswith("."))
    return [f for f in folders if f.is_run()]


def _paths(ref: str, project_root: Path | None) -> list[Path]:
    path = Path(ref).expanduser()
    if path.is_absolute():
        return [path]
    return [*([Path(project_root) / path] if project_root is not None else []), path]


def resolve_run(ref: str | Path, project_root: str | Path | None = None) -> RunFolder:
    """The run `ref` names (see the module docstring); one clear line when it names none or several."""
    text = str(ref).strip()
    if project_root is None and Path(PROJECT_FILE).exists():
        project_root = Path(".")
    root = Path(project_root).resolve() if project_root is not None else None
    candidates = _paths(text, root)
    for candidate in candidates:
        if RunFolder(candidate).is_run():
            return RunFolder(candidate.resolve())
    runs_dir = root / RUNS_DIR if root is not None else None
    runs = list_run_folders(runs_dir) if runs_dir is not None else []
    if text == "latest" and runs:
        return runs[-1]
    names = [r.run_id for r in runs]
    matches = [n for n in names if n == text] or [n for n in names if text and (n.startswith(text) or n.endswith(text))]
    if len(matches) == 1:
        return RunFolder(runs_dir / matches[0])
    if len(matches) > 1:
        raise TunesmithError(f"'{text}' matches {len(matches)} runs ({', '.join(matches[:4])}"
                             f"{', …' if len(matches) > 4 else ''})", "Give more of the run id.")
    for candidate in candidates:
        if candidate.is_dir():
            raise TunesmithError(f"{candidate} is not a tunesmith run folder (no {RUN_FILE})",
                                 "Pass a run id, `latest` or a folder under runs/ (see `tunesmith runs list`).")
    if Path(text).is_absolute() or len(Path(text).parts) > 1:  # a path, not an id
        looked = " or ".join(str(c) for c in dict.fromkeys(c.absolute() for c in candidates))
        raise TunesmithError(f"run folder {text} does not exist (looked for {looked})",
                             "Pass a run id, `latest` or a folder under runs/ (see `tunesmith runs list`).")
    where = f"in {runs_dir}" if runs_dir is not None else "here (no project to look in)"
    raise TunesmithError(f"no run '{text}' {where}",
                         "Pass a run id, a unique part of one, `latest` or a run folder (see `tunesmith runs list`"
                         "; --project names the project).")


def find_run(ref: str | Path, project_root: str | Path | None = None) -> RunFolder | None:
    """Like `resolve_run`, but None when `ref` names no run (for arguments that may also be model names)."""
    try:
        return resolve_run(ref, project_root)
    except TunesmithError:
        return None
