"""Training: one loop for every method and task, crash-safe checkpoints, exact resume.

`run_training(config, train_records, validation_records, run_dir)` trains on canonical records;
`train(project, dataset)` does the same for a prepared dataset; `load_run(run_dir)` loads the result.
"""

from tunesmith.train.load import LoadedRun, load_run
from tunesmith.train.run import RunResult, run_training, train

__all__ = ["LoadedRun", "RunResult", "load_run", "run_training", "train"]
