"""The data stage: read any common format, validate with exact errors, clean, deduplicate, split, report.

`prepare(project)` writes `data/<version>/` and returns a `PreparedDataset`; `load_prepared(path)` opens one.
"""

from tunesmith.data.dataset import SPLITS, PreparedDataset, load_prepared
from tunesmith.data.issues import Issue
from tunesmith.data.prepare import dataset_version, prepare
from tunesmith.data.readers import read_source

__all__ = ["SPLITS", "Issue", "PreparedDataset", "dataset_version", "load_prepared", "prepare", "read_source"]
