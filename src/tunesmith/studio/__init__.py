"""The studio: a local web UI over the same Python API as the CLI (needs the `studio` extra).

`build_studio(project)` returns the Gradio Blocks; `launch_studio(project, port)` serves it.
"""

from __future__ import annotations

from tunesmith.studio.app import build_studio, launch_studio

__all__ = ["build_studio", "launch_studio"]
