"""Run tunesmith's server with the fine-tuning API for a project: `python serve_project.py PROJECT PORT MODEL`.

A separate process, so a test can kill it (SIGKILL, as in a crash) and start it again.
"""

from __future__ import annotations

import sys

from tunesmith.finetune_api.mount import mount_finetune_api
from tunesmith.project import Project
from tunesmith.serve import create_app, run


def main(root: str, port: str, model: str) -> None:
    project = Project.load(root)
    app = create_app([model], project.config.serve)
    mount_finetune_api(app, project)
    run(app, "127.0.0.1", int(port), log_level="warning")


if __name__ == "__main__":
    main(*sys.argv[1:])
