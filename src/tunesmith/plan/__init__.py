"""Know the memory, time and cost of a training run before starting it.

`plan(config, n_train_examples, token_lengths, target=None)` predicts peak memory, time per step, per
epoch and in total (and cost, given a price per hour) from an analytic model of weights, optimizer
state, activations and logits, timed with this machine's cached calibration; it recommends settings
that fit and says what a larger model would need. `predict_for_run(config, train_records)` is the same
prediction for a run, to write beside it as plan.json.
"""

from tunesmith.plan.calibrate import Calibration, calibrate
from tunesmith.plan.planner import Estimate, Plan, Setting, plan
from tunesmith.plan.record import predict_for_run, predicted_vs_actual, read_prediction, write_prediction

__all__ = ["Calibration", "Estimate", "Plan", "Setting", "calibrate", "plan", "predict_for_run",
           "predicted_vs_actual", "read_prediction", "write_prediction"]
