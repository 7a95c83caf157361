"""Bad inputs to prodkit.monitor, collected by tests/test_bad_input.py (more monitor cases live in
cases_bad_input_guard.py): each case is one mistake, with the error class and the words that name it."""
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodkit.core import FileFormatError, ParameterError, Schema, SchemaError


def _tmp(): return Path(tempfile.mkdtemp())
def _proba(df): return np.tile([0.3, 0.7], (len(df), 1))
def _Monitor():
    from prodkit.monitor import Monitor
    return Monitor


def _empty_version(): _Monitor()(_proba, _tmp() / "m.sqlite", version="")
def _nan_version(): _Monitor()(_proba, _tmp() / "m.sqlite", version=float("nan"))
def _feature_with_monitor_prefix():
    _Monitor()(_proba, _tmp() / "m.sqlite", version="v", schema=Schema.infer(pd.DataFrame({"monitor.confidence": [0.1, 0.2]})))
def _store_of_other_output_shape():
    from prodkit.core import Predictor
    p = _tmp() / "m.sqlite"
    with _Monitor()(_proba, p, version="v") as mon: mon.predict_proba(pd.DataFrame({"a": [1.0]}))
    class Three:
        classes = ["a", "b", "c"]
        def predict_proba(self, df): return np.full((len(df), 3), 1 / 3)
    _Monitor()(Three(), p, version="v2")
def _window_start_not_a_time():
    p = _tmp() / "m.sqlite"
    with _Monitor()(_proba, p, version="v") as mon: mon.predict_proba(pd.DataFrame({"a": [1.0]}))
    with _Monitor().open(p) as ro: ro.window("not a time")

def _serve_without_guard():
    with _Monitor()(_proba, _tmp() / "m.sqlite", version="v") as mon: mon.serve(pd.DataFrame({"a": [1.0]}))


def _unknown_writer(): _Monitor()(_proba, _tmp() / "m.sqlite", version="v", writer="fork")
def _store_not_sqlite_process_writer():
    p = _tmp() / "m.sqlite"
    p.write_bytes(b"not a database" * 100)
    _Monitor()(_proba, p, version="v", writer="process")


def _task_not_a_task(): _Monitor()(_proba, _tmp() / "m.sqlite", version="v", task="proba")
def _task_contradicts_model():
    import torch
    from prodkit.core import Predictor
    _Monitor()(Predictor(torch.nn.Linear(2, 1), task="regression"), _tmp() / "m.sqlite", task="classification")


CASES = [
    pytest.param(_task_not_a_task, ParameterError, "`task` must be one of", id="monitor-task-not-a-task"),
    pytest.param(_task_contradicts_model, ParameterError, "task='classification' contradicts the monitored model",
                 id="monitor-task-contradicts-model"),
    pytest.param(_empty_version, ParameterError, "`version` must be a non-empty string", id="monitor-empty-version"),
    pytest.param(_nan_version, ParameterError, "`version` must be a non-empty string", id="monitor-nan-version"),
    pytest.param(_feature_with_monitor_prefix, SchemaError, "prefix 'monitor.'", id="monitor-feature-with-reserved-prefix"),
    pytest.param(_store_of_other_output_shape, FileFormatError, "records outputs of shape (2,)", id="monitor-store-of-other-output-shape"),
    pytest.param(_window_start_not_a_time, ParameterError, "`start` is not a time", id="monitor-window-start-not-a-time"),
    pytest.param(_unknown_writer, ParameterError, "`writer` must be one of ['process', 'thread']", id="monitor-unknown-writer"),
    pytest.param(_store_not_sqlite_process_writer, FileFormatError, "not a usable SQLite database",
                 id="monitor-process-writer-store-not-sqlite"),
    pytest.param(_serve_without_guard, ParameterError, "serve needs a GuardedModel", id="monitor-serve-without-guard"),
]
