"""Bad input cases for core (read_table, Schema, TabularAdapter, Predictor), guard and monitor.

Each case is a zero-argument callable that makes one mistake a user makes, the exact `ProdkitError` subclass
expected, and words of the message that name the problem. Data is built inside the callables so that importing
this module stays cheap. Collected by tests/test_bad_input.py.
"""
import pytest

from prodkit.core import DataError, FileFormatError, ModelError, NotFittedError, ParameterError, SchemaError
from prodkit.guard import AllPathsFailedError


def _np(): import numpy as np; return np
def _pd(): import pandas as pd; return pd
def _torch(): import torch; return torch


def _tmp():
    import tempfile, pathlib
    return pathlib.Path(tempfile.mkdtemp(prefix="prodkit-bad-"))


def _train():
    pd, np = _pd(), _np()
    return pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1, 2, 3, 4], "c": ["x", "y", "x", "y"]})


def _schema():
    from prodkit.core import Schema
    return Schema.infer(_train())


def _adapter():
    from prodkit.core import TabularAdapter
    return TabularAdapter().fit(_train())


def _predictor(fn=None, **kw):
    from prodkit.core import Predictor
    torch = _torch()
    if fn is None:
        torch.manual_seed(0); fn = torch.nn.Linear(4, 2)
    return Predictor(fn, **kw)


def _with(df, **cols):
    d = df.copy()
    for k, v in cols.items(): d[k] = v
    return d


# ---------------------------------------------------------------- core: read_table
def read_missing(): from prodkit.core import read_table; read_table(_tmp() / "nope.parquet")
def read_corrupt_parquet():
    from prodkit.core import read_table
    p = _tmp() / "data.parquet"; p.write_bytes(b"PAR1 this is not a parquet file at all"); read_table(p)
def read_empty_csv():
    from prodkit.core import read_table
    p = _tmp() / "data.csv"; p.write_text(""); read_table(p)
def read_unknown_format():
    from prodkit.core import read_table
    p = _tmp() / "data.xlsx"; p.write_bytes(b"xx"); read_table(p)
def read_empty_frame(): from prodkit.core import read_table; read_table(_pd().DataFrame({"a": []}))
def read_wrong_type(): from prodkit.core import read_table; read_table([[1, 2], [3, 4]])


# ---------------------------------------------------------------- core: Schema
def infer_missing_label(): from prodkit.core import Schema; Schema.infer(_train(), label="label")
def infer_no_features(): from prodkit.core import Schema; Schema.infer(_train()[["a"]], label="a")
def infer_int_column_names(): from prodkit.core import Schema; Schema.infer(_pd().DataFrame({0: [1.0, 2.0], 1: [3.0, 4.0]}))
def validate_missing_column(): _schema().validate(_train().drop(columns=["b"]))
def validate_wrong_dtype(): _schema().validate(_with(_train(), a=["1", "2", "x", "4"]))
def validate_nan(): _schema().validate(_with(_train(), a=[0.0, _np().nan, 1.0, 2.0]))
def validate_inf(): _schema().validate(_with(_train(), a=[0.0, _np().inf, 1.0, 2.0]))
def validate_unseen_category(): _schema().validate(_with(_train(), c=["x", "y", "z", "x"]))
def validate_extra_column(): _schema().validate(_with(_train(), d=1.0), extra="error")
def validate_out_of_range(): _schema().validate(_with(_train(), a=[0.0, 1.0, 2.0, 300.0]), check_range=True)
def validate_bad_option(): _schema().validate(_train(), extra="drop")
def validate_empty(): _schema().validate(_train().iloc[:0])
def schema_load_missing(): from prodkit.core import Schema; Schema.load(_tmp() / "schema.json")
def schema_load_corrupt():
    from prodkit.core import Schema
    p = _tmp() / "schema.json"; p.write_text('{"features": [ {"name": "a", '); Schema.load(p)
def schema_load_not_a_schema():
    from prodkit.core import Schema
    p = _tmp() / "schema.json"; p.write_text('{"columns": ["a", "b"]}'); Schema.load(p)


# ---------------------------------------------------------------- core: TabularAdapter
def adapter_unfitted(): from prodkit.core import TabularAdapter; TabularAdapter(_schema()).transform(_train())
def adapter_fit_empty(): from prodkit.core import TabularAdapter; TabularAdapter().fit(_train().iloc[:0])
def adapter_transform_missing_column(): _adapter().transform(_train().drop(columns=["c"]))
def adapter_load_corrupt():
    from prodkit.core import TabularAdapter
    p = _tmp() / "adapter.json"; p.write_text("\x00\x01 not json"); TabularAdapter.load(p)
def adapter_load_wrong_json():
    from prodkit.core import TabularAdapter
    p = _tmp() / "adapter.json"; p.write_text('{"stats": {}}'); TabularAdapter.load(p)


# ---------------------------------------------------------------- core: Predictor
def predictor_not_a_model(): from prodkit.core import Predictor; Predictor("model.pt")
def predictor_bad_output(): _predictor(output="probs")
def predictor_zero_batch(): _predictor(batch_size=0)
def predictor_nan_tensor():
    torch = _torch(); x = torch.zeros(3, 4); x[1, 2] = float("nan"); _predictor().predict_proba(x)
def predictor_wrong_width(): _predictor().predict_proba(_torch().zeros(3, 7))
def predictor_empty_tensor(): _predictor().predict_proba(_torch().zeros(0, 4))
def predictor_scalar(): _predictor().predict_proba(_torch().tensor(1.0))
def predictor_strings_without_adapter(): _predictor().predict_proba(_train())
def predictor_empty_frame(): _predictor().predict_proba(_pd().DataFrame({"a": [], "b": [], "c": [], "d": []}))
def predictor_nan_output(): _predictor(lambda x: x[:, :2] * float("nan")).predict_proba(_torch().zeros(2, 4))
def predictor_wrong_rows(): _predictor(lambda x: x[:1, :2]).predict_proba(_torch().zeros(3, 4))
def predictor_dict_output(): _predictor(lambda x: {"scores": x}).predict_proba(_torch().zeros(2, 4))
def predictor_proba_on_regression(): _predictor(task="regression").predict_proba(_torch().zeros(2, 4))
def seed_negative(): from prodkit.core import seed_everything; seed_everything(-1)


# ---------------------------------------------------------------- guard
def _guard(**kw):
    from prodkit.guard import GuardedModel
    np = _np()
    kw.setdefault("schema", _schema())
    return GuardedModel(lambda df: np.full(len(df), 0.5), **kw)

def guard_bad_on_invalid(): _guard(on_invalid="drop")
def guard_zero_timeout(): _guard(timeout_ms=0)
def guard_nan_timeout(): _guard(timeout_ms=float("nan"))
def guard_zero_max_abandoned(): _guard(timeout_ms=50, max_abandoned=0)
def guard_fallback_named_primary(): _guard(fallbacks=[("primary", lambda df: 0.5)])
def guard_fallback_not_callable(): _guard(fallbacks=[42])
def guard_schema_not_schema(): _guard(schema={"a": "float"})
def guard_adapter_not_adapter(): _guard(adapter=_schema())
def guard_empty_frame(): _guard().serve(_train().iloc[:0])
def guard_missing_column(): _guard().serve(_train().drop(columns=["c"]))
def guard_nan_row(): _guard().predict_proba(_with(_train(), b=[1, None, 3, 4]))
def guard_string_input(): _guard().predict_proba("a=1, b=2")
def guard_scalar_input(): _guard().predict_proba(3.0)
def guard_tensor_wrong_width():
    from prodkit.guard import GuardedModel
    torch = _torch(); torch.manual_seed(0)
    GuardedModel(torch.nn.Linear(4, 2), adapter=_adapter()).predict_proba(torch.zeros(2, 3))
def guard_all_paths_fail():
    from prodkit.guard import GuardedModel
    def down(df): raise ConnectionError("refused")
    GuardedModel(down, fallbacks=[lambda df: _np().full(len(df), _np().nan)], schema=_schema()).predict_proba(_train())
def guard_answer_batch(): _guard().answer(_train())
def guard_task_not_a_task(): _guard(task="proba")
def guard_proba_on_regression(): _guard(task="regression").predict_proba(_train())
def guard_flagged_rows_in_predict_proba(): _guard(on_invalid="flag").predict_proba(_with(_train(), c=["x", "y", "q", "x"]))
def faulty_rate_above_one(): from prodkit.guard import FaultyModel; FaultyModel(print, error_rate=2.0)
def fault_rates_zero_bin(): from prodkit.guard import fault_rates; fault_rates(_pd().DataFrame(), bin_s=0)


# ---------------------------------------------------------------- monitor
def _proba(df): np = _np(); return np.tile([0.3, 0.7], (len(df), 1))

def monitor_zero_sample_rate(): from prodkit.monitor import Monitor; Monitor(_proba, _tmp() / "m.sqlite", sample_rate=0, version="v")
def monitor_sample_rate_above_one(): from prodkit.monitor import Monitor; Monitor(_proba, _tmp() / "m.sqlite", sample_rate=1.5, version="v")
def monitor_missing_folder(): from prodkit.monitor import Monitor; Monitor(_proba, _tmp() / "no" / "m.sqlite", version="v")
def monitor_store_is_folder(): from prodkit.monitor import Monitor; Monitor(_proba, _tmp(), version="v")
def monitor_not_a_model(): from prodkit.monitor import Monitor; Monitor(42, _tmp() / "m.sqlite")
def monitor_builtin_without_version(): from prodkit.monitor import Monitor; Monitor(print, _tmp() / "m.sqlite")
def monitor_junk_store():
    from prodkit.monitor import Monitor
    p = _tmp() / "m.sqlite"; p.write_bytes(b"definitely not sqlite" * 50); Monitor(_proba, p, version="v")
def monitor_open_missing(): from prodkit.monitor import Monitor; Monitor.open(_tmp() / "m.sqlite")
def monitor_open_corrupt():
    from prodkit.monitor import Monitor
    p = _tmp() / "m.sqlite"; p.write_bytes(b"\x00" * 4096); Monitor.open(p)
def monitor_open_foreign_sqlite():
    import sqlite3
    from prodkit.monitor import Monitor
    p = _tmp() / "m.sqlite"; con = sqlite3.connect(p); con.execute("CREATE TABLE users(id)"); con.commit(); con.close()
    Monitor.open(p)
def _store():
    from prodkit.monitor import Monitor
    p = _tmp() / "m.sqlite"
    with Monitor(_proba, p, version="v", schema=_schema()) as m: m.predict_proba(_train())
    return p
def monitor_window_reversed():
    from prodkit.monitor import Monitor
    with Monitor.open(_store()) as s: s.window("2026-02-01", "2026-01-01")
def monitor_window_not_a_time():
    from prodkit.monitor import Monitor
    with Monitor.open(_store()) as s: s.window("last tuesday")
def monitor_other_schema():
    from prodkit.core import Schema
    from prodkit.monitor import Monitor
    Monitor(_proba, _store(), version="v", schema=Schema.infer(_train()[["a"]]))
def monitor_empty_frame():
    from prodkit.monitor import Monitor
    with Monitor(_predictor(adapter=_adapter()), _tmp() / "m.sqlite", version="v") as m: m.predict_proba(_train().iloc[:0])


# ---------------------------------------------------------------- guard: kinds of paths
def guard_regressor_as_classifier():
    from prodkit.guard import GuardedModel
    GuardedModel(_predictor(_torch().nn.Linear(4, 1), task="regression"), task="classification")
def guard_classifier_fallback_for_regressor():
    from prodkit.guard import GuardedModel
    GuardedModel(_predictor(_torch().nn.Linear(4, 1), task="regression"), fallbacks=[("clf", _predictor())])

def guard_evaluation_rule_of_wrong_kind():
    from prodkit.guard import evaluate_guard
    evaluate_guard(_predictor(_torch().nn.Linear(4, 1), task="regression", adapter=_adapter()), _train(), rule=[0.5, 0.5])


def guard_prior_rule_without_labels():
    from prodkit.guard import prior_rule
    prior_rule([], "classification", classes=["no", "yes"])


def guard_prior_rule_missing_regression_label():
    from prodkit.guard import prior_rule
    prior_rule([1.0, None, 3.0], "regression")


def guard_prior_rule_label_not_a_class():
    from prodkit.guard import prior_rule
    prior_rule(["no", "maybe"], "classification", classes=["no", "yes"])


CASES = [
    pytest.param(read_missing, FileFormatError, "data file does not exist", id="core-read-missing-file"),
    pytest.param(read_corrupt_parquet, FileFormatError, "could not be read as parquet", id="core-read-corrupt-parquet"),
    pytest.param(read_empty_csv, FileFormatError, "could not be read as csv", id="core-read-empty-csv"),
    pytest.param(read_unknown_format, FileFormatError, "unknown format", id="core-read-unknown-format"),
    pytest.param(read_empty_frame, DataError, "is empty (0 rows)", id="core-read-empty-frame"),
    pytest.param(read_wrong_type, DataError, "must be a DataFrame or the path", id="core-read-wrong-type"),
    pytest.param(infer_missing_label, SchemaError, "label column 'label' is not in the data", id="core-infer-missing-label"),
    pytest.param(infer_no_features, SchemaError, "no feature columns left", id="core-infer-no-features"),
    pytest.param(infer_int_column_names, SchemaError, "column names must be strings", id="core-infer-int-column-names"),
    pytest.param(validate_missing_column, SchemaError, "column 'b' is missing", id="core-validate-missing-column"),
    pytest.param(validate_wrong_dtype, SchemaError, "column 'a' should be numeric", id="core-validate-wrong-dtype"),
    pytest.param(validate_nan, SchemaError, "missing values but none were seen", id="core-validate-nan"),
    pytest.param(validate_inf, SchemaError, "infinite values", id="core-validate-inf"),
    pytest.param(validate_unseen_category, SchemaError, "never seen in training", id="core-validate-unseen-category"),
    pytest.param(validate_extra_column, SchemaError, "column 'd' is not in the schema", id="core-validate-extra-column"),
    pytest.param(validate_out_of_range, SchemaError, "outside the training range", id="core-validate-out-of-range"),
    pytest.param(validate_bad_option, ParameterError, "`extra` must be one of", id="core-validate-bad-option"),
    pytest.param(validate_empty, DataError, "is empty", id="core-validate-empty"),
    pytest.param(schema_load_missing, FileFormatError, "schema file does not exist", id="core-schema-load-missing"),
    pytest.param(schema_load_corrupt, FileFormatError, "schema file is not valid JSON", id="core-schema-load-corrupt"),
    pytest.param(schema_load_not_a_schema, FileFormatError, "not a prodkit schema", id="core-schema-load-not-a-schema"),
    pytest.param(adapter_unfitted, NotFittedError, "is not fitted", id="core-adapter-unfitted"),
    pytest.param(adapter_fit_empty, DataError, "training data is empty", id="core-adapter-fit-empty"),
    pytest.param(adapter_transform_missing_column, SchemaError, "column 'c' is missing", id="core-adapter-missing-column"),
    pytest.param(adapter_load_corrupt, FileFormatError, "adapter file is not valid JSON", id="core-adapter-load-corrupt"),
    pytest.param(adapter_load_wrong_json, FileFormatError, "not a prodkit adapter", id="core-adapter-load-wrong-json"),
    pytest.param(predictor_not_a_model, ParameterError, "model must be an nn.Module", id="core-predictor-not-a-model"),
    pytest.param(predictor_bad_output, ParameterError, "`output` must be one of", id="core-predictor-bad-output"),
    pytest.param(predictor_zero_batch, ParameterError, "`batch_size` must be an integer > 0", id="core-predictor-zero-batch"),
    pytest.param(predictor_nan_tensor, DataError, "1 NaN or infinite values", id="core-predictor-nan-tensor"),
    pytest.param(predictor_wrong_width, ModelError, "on a batch of shape (3, 7)", id="core-predictor-wrong-width"),
    pytest.param(predictor_empty_tensor, DataError, "empty batch", id="core-predictor-empty-tensor"),
    pytest.param(predictor_scalar, DataError, "cannot predict on a scalar", id="core-predictor-scalar"),
    pytest.param(predictor_strings_without_adapter, DataError, "non-numeric columns ['c']", id="core-predictor-strings-no-adapter"),
    pytest.param(predictor_empty_frame, DataError, "empty frame", id="core-predictor-empty-frame"),
    pytest.param(predictor_nan_output, ModelError, "NaN or infinite outputs", id="core-predictor-nan-output"),
    pytest.param(predictor_wrong_rows, ModelError, "returned shape (1, 2) for a batch of 3 rows", id="core-predictor-wrong-rows"),
    pytest.param(predictor_dict_output, ModelError, "dict without a 'logits'", id="core-predictor-dict-output"),
    pytest.param(predictor_proba_on_regression, ParameterError, "predict_proba is for classifiers", id="core-predictor-proba-regression"),
    pytest.param(seed_negative, ParameterError, "`seed` must be an integer >= 0", id="core-seed-negative"),

    pytest.param(guard_bad_on_invalid, ParameterError, "`on_invalid` must be one of", id="guard-bad-on-invalid"),
    pytest.param(guard_zero_timeout, ParameterError, "`timeout_ms` must be a number > 0", id="guard-zero-timeout"),
    pytest.param(guard_nan_timeout, ParameterError, "`timeout_ms` must be a number > 0", id="guard-nan-timeout"),
    pytest.param(guard_zero_max_abandoned, ParameterError, "`max_abandoned` must be an integer > 0", id="guard-zero-max-abandoned"),
    pytest.param(guard_fallback_named_primary, ParameterError, "fallback names must be unique", id="guard-fallback-named-primary"),
    pytest.param(guard_fallback_not_callable, ParameterError, "is not a model or a function", id="guard-fallback-not-callable"),
    pytest.param(guard_schema_not_schema, ParameterError, "schema must be a prodkit Schema", id="guard-schema-not-schema"),
    pytest.param(guard_adapter_not_adapter, ParameterError, "adapter must be a TabularAdapter", id="guard-adapter-not-adapter"),
    pytest.param(guard_empty_frame, DataError, "input is empty (0 rows)", id="guard-empty-frame"),
    pytest.param(guard_missing_column, SchemaError, "4 of 4 input rows are invalid: row 0: column 'c' is missing", id="guard-missing-column"),
    pytest.param(guard_nan_row, SchemaError, "row 1: column 'b' has 1 missing values", id="guard-nan-row"),
    pytest.param(guard_string_input, DataError, "could not be read as a DataFrame", id="guard-string-input"),
    pytest.param(guard_scalar_input, DataError, "cannot predict on a scalar", id="guard-scalar-input"),
    pytest.param(guard_tensor_wrong_width, DataError, "shape (2, 3) but the model expects (rows, 4)", id="guard-tensor-wrong-width"),
    pytest.param(guard_all_paths_fail, AllPathsFailedError, "no path gave a valid answer for 4 of 4 rows", id="guard-all-paths-fail"),
    pytest.param(guard_answer_batch, ParameterError, "answer takes one input, got 4 rows", id="guard-answer-batch"),
    pytest.param(guard_task_not_a_task, ParameterError, "`task` must be one of", id="guard-task-not-a-task"),
    pytest.param(guard_proba_on_regression, ParameterError, "predict_proba is for classifiers", id="guard-proba-on-regression"),
    pytest.param(guard_flagged_rows_in_predict_proba, DataError, "1 input rows were rejected", id="guard-flagged-in-predict-proba"),
    pytest.param(faulty_rate_above_one, ParameterError, "`error_rate` must be a share between 0 and 1", id="guard-faulty-rate-above-one"),
    pytest.param(fault_rates_zero_bin, ParameterError, "`bin_s` must be a number > 0", id="guard-fault-rates-zero-bin"),

    pytest.param(monitor_zero_sample_rate, ParameterError, "`sample_rate` must be a number > 0", id="monitor-zero-sample-rate"),
    pytest.param(monitor_sample_rate_above_one, ParameterError, "`sample_rate` must be a share in (0, 1]", id="monitor-sample-rate-above-one"),
    pytest.param(monitor_missing_folder, FileFormatError, "folder of the monitor store does not exist", id="monitor-missing-folder"),
    pytest.param(monitor_store_is_folder, FileFormatError, "monitor store is a folder", id="monitor-store-is-folder"),
    pytest.param(monitor_not_a_model, ParameterError, "model must be a Predictor, GuardedModel", id="monitor-not-a-model"),
    pytest.param(monitor_builtin_without_version, ParameterError, "cannot fingerprint this model", id="monitor-builtin-without-version"),
    pytest.param(monitor_junk_store, FileFormatError, "not a usable SQLite database", id="monitor-junk-store"),
    pytest.param(monitor_open_missing, FileFormatError, "monitor store does not exist", id="monitor-open-missing"),
    pytest.param(monitor_open_corrupt, FileFormatError, "not a readable SQLite database", id="monitor-open-corrupt"),
    pytest.param(monitor_open_foreign_sqlite, FileFormatError, "not a prodkit monitor store", id="monitor-open-foreign-sqlite"),
    pytest.param(monitor_window_reversed, ParameterError, "`end` must be after `start`", id="monitor-window-reversed"),
    pytest.param(monitor_window_not_a_time, ParameterError, "`start` is not a time", id="monitor-window-not-a-time"),
    pytest.param(monitor_other_schema, FileFormatError, "written with a different schema", id="monitor-other-schema"),
    pytest.param(monitor_empty_frame, DataError, "cannot predict on an empty frame", id="monitor-empty-frame"),
    pytest.param(guard_regressor_as_classifier, ParameterError, "path 'primary' is a regressor", id="guard-regressor-as-classifier"),
    pytest.param(guard_classifier_fallback_for_regressor, ParameterError, "path 'clf' is a classifier", id="guard-classifier-fallback-for-regressor"),
    pytest.param(guard_evaluation_rule_of_wrong_kind, ParameterError, "a regressor's rule must be", id="guard-evaluation-rule-of-wrong-kind"),
    pytest.param(guard_prior_rule_without_labels, DataError, "no labels to compute a prior rule from", id="guard-prior-rule-no-labels"),
    pytest.param(guard_prior_rule_missing_regression_label, DataError, "1 labels are missing or not finite", id="guard-prior-rule-missing-label"),
    pytest.param(guard_prior_rule_label_not_a_class, DataError, "labels ['maybe'] (1 rows) are not among", id="guard-prior-rule-unknown-class"),
]
