"""Experiment tracking: every run listed and compared, exported as one reproducible archive, re-run to
check its metrics, and hyperparameter search whose trials are ordinary runs."""

from tunesmith.experiments.archive import export_run, import_archive
from tunesmith.experiments.compare import differing_settings, plot_loss_curves
from tunesmith.experiments.environment import record_environment
from tunesmith.experiments.registry import RunRecord, delete_run, find_run, list_runs, load_record
from tunesmith.experiments.reproduce import Reproduction, reproduce
from tunesmith.experiments.study import tune
from tunesmith.experiments.tune import TuneResult

__all__ = ["Reproduction", "RunRecord", "TuneResult", "delete_run", "differing_settings", "export_run", "find_run",
           "import_archive", "list_runs", "load_record", "plot_loss_curves", "record_environment", "reproduce",
           "tune"]
