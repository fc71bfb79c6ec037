"""The bench scripts are plain files under bench/, not a package: their folder goes on sys.path so each test
imports its script by name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
