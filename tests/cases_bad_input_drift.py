"""Bad input to prodkit.drift: each case one mistake a user makes, the error class and the words that name it."""
import pytest

from prodkit.core import DataError, FileFormatError, NotFittedError, ParameterError, SchemaError


def _frame(n=200, seed=0, **cols):
    import numpy as np, pandas as pd
    g = np.random.default_rng(seed)
    d = {"x": g.normal(size=n), "c": g.choice(["a", "b"], n)}
    d.update(cols)
    return pd.DataFrame(d)


def _profile():
    from prodkit.drift import ReferenceProfile
    return ReferenceProfile.fit(_frame(300), sample_rows=100)


def _compare(cur, **kw):
    kw.setdefault("n_boot", 20)
    return _profile().compare(cur, multivariate=False, **kw)


def _tmp(name, data: bytes):
    import tempfile
    from pathlib import Path
    p = Path(tempfile.mkdtemp(prefix="prodkit-bad-drift-")) / name
    p.write_bytes(data)
    return p


def _pickled_profile():
    import pickle
    return _tmp("profile.npz", pickle.dumps({"a": 1}))


def _npz_with_pickle():
    "An .npz whose metadata array holds Python objects: loading it would need pickle."
    import io, numpy as np
    buf = io.BytesIO(); np.savez(buf, __meta__=np.array([{"format": "x"}], dtype=object))
    return _tmp("profile.npz", buf.getvalue())


def _wrong_version():
    import json
    return _tmp("profile.json", json.dumps({"format": "prodkit.drift.ReferenceProfile", "version": 99}).encode())


def _perf(y, s, **kw):
    from prodkit.drift import performance_over_time
    import numpy as np
    g = np.random.default_rng(0)
    kw.setdefault("reference", (g.integers(0, 2, 100), g.random(100)))
    kw.setdefault("chunk_size", 50)
    return performance_over_time(y, s, progress=False, **kw)


def _rand(n, seed=1):
    import numpy as np
    return np.random.default_rng(seed).random(n)


def _ints(n, seed=1):
    import numpy as np
    return np.random.default_rng(seed).integers(0, 2, n)


def _dd(*a, **kw):
    from prodkit.drift import detect_drift
    kw.setdefault("n_boot", 10); kw.setdefault("multivariate", False)
    return detect_drift(*a, **kw)


def _dup(n=100):
    import pandas as pd
    f = _frame(n)
    return pd.concat([f, f[["x"]]], axis=1)


def _nested(n=100):
    return _frame(n).assign(tags=[["a"]] * n)


def _dated(n=200):
    import pandas as pd
    return _frame(n).assign(date=pd.date_range("2024-01-01", periods=n, freq="h"))


def _old_label_key_profile():
    "A profile saved when the label column's key was `target`: refused with a FileFormatError, never read as no label."
    import json, tempfile
    from pathlib import Path
    from prodkit.drift import ReferenceProfile
    p = Path(tempfile.mkdtemp(prefix="prodkit-bad-drift-")) / "old.json"
    ReferenceProfile.fit(_frame(100), bins=3, sample_rows=20).save(p)
    d = json.loads(p.read_text()); d["target"] = d.pop("label"); p.write_text(json.dumps(d))
    ReferenceProfile.load(p)


def _dask_frame(n=200):
    import dask.dataframe as dd, pandas as pd
    return dd.from_pandas(_frame(n).assign(t=pd.date_range("2026-01-01", periods=n, freq="h")), npartitions=2)


def _dask_timeline(**kw):
    from prodkit.drift import drift_over_time
    return drift_over_time(_frame(300), _dask_frame(), time="t", progress=False, **kw)


CASES = [
    pytest.param(lambda: _dd(_dup(), _frame(100)), DataError, "reference has duplicated column names: ['x']", id="drift-duplicated-columns-reference"),
    pytest.param(lambda: _dd(_frame(100), _dup()), DataError, "current has duplicated column names: ['x']", id="drift-duplicated-columns-current"),
    pytest.param(lambda: _dd(_nested(), _frame(100)), SchemaError, "column 'tags' of the training data holds nested values", id="drift-nested-reference"),
    pytest.param(lambda: _compare(_frame(100).assign(c=[["a"]] * 100)), SchemaError, "column 'c' of the current holds nested values (list)",
                 id="drift-nested-current"),
    pytest.param(lambda: __import__("prodkit.drift", fromlist=["x"]).drift_over_time(
                     __import__("prodkit.drift", fromlist=["x"]).ReferenceProfile.fit(_dated()), _dated(), time="date", chunk_size=100, progress=False),
                 ParameterError, "tests ['date'] as features", id="drift-profile-tests-time-column"),
    pytest.param(_old_label_key_profile, FileFormatError, "saved with the old key 'target' for its label column",
                 id="drift-profile-with-old-target-key"),
    pytest.param(lambda: _dd(_frame(100), _frame(100), confidence=0.3), ParameterError, "`confidence` must be between 0.5 and 1",
                 id="drift-confidence-out-of-range"),
    pytest.param(lambda: _compare(_frame(0)), DataError, "current is empty", id="drift-empty-current"),
    pytest.param(lambda: _profile().__class__.fit(_frame(0)), DataError, "reference is empty", id="drift-empty-reference"),
    pytest.param(lambda: _compare(_frame(50).drop(columns="x")), SchemaError, "lacks 1 feature column", id="drift-missing-column"),
    pytest.param(lambda: _compare(_frame(50).assign(x=["a"] * 50)), SchemaError, "should be numeric", id="drift-wrong-dtype"),
    pytest.param(lambda: _compare(_frame(50).assign(x=[float("inf")] * 50)), DataError, "infinite values", id="drift-inf-values"),
    pytest.param(lambda: _compare(_frame(50), alpha=0), ParameterError, "alpha", id="drift-alpha-zero"),
    pytest.param(lambda: _compare(_frame(50), alpha=1.5), ParameterError, "between 0 and 1", id="drift-alpha-above-one"),
    pytest.param(lambda: _compare(_frame(50), correction="bonferoni"), ParameterError, "correction", id="drift-unknown-correction"),
    pytest.param(lambda: _compare(_frame(50), tolerance={"numerical": 0.1}), ParameterError, "unknown tolerance", id="drift-tolerance-typo"),
    pytest.param(lambda: _compare(_frame(50), tolerance={"numeric": -1}), ParameterError, "tolerance['numeric']", id="drift-negative-tolerance"),
    pytest.param(lambda: _compare(_frame(50), n_boot=-5), ParameterError, "n_boot", id="drift-negative-n-boot"),
    pytest.param(lambda: _profile().__class__.fit(_frame(50), bins=1), ParameterError, "bins", id="drift-one-bin"),
    pytest.param(lambda: _profile().__class__.fit(_frame(50), features=["nope"]), ParameterError, "not in the schema", id="drift-unknown-feature"),
    pytest.param(lambda: _profile().__class__.load("/nonexistent/profile.npz"), FileFormatError, "does not exist", id="drift-profile-missing"),
    pytest.param(lambda: _profile().__class__.load(_pickled_profile()), FileFormatError, "could not be read", id="drift-profile-pickle"),
    pytest.param(lambda: _profile().__class__.load(_npz_with_pickle()), FileFormatError, "could not be read", id="drift-npz-object-array"),
    pytest.param(lambda: _profile().__class__.load(_wrong_version()), FileFormatError, "unsupported profile version", id="drift-profile-version"),
    pytest.param(lambda: _profile().save("/tmp/profile.pkl"), ParameterError, ".npz or .json", id="drift-profile-suffix"),
    pytest.param(lambda: _compare(_frame(50), predictor="model.pt"), ParameterError, "predictor must be", id="drift-predictor-string"),
    pytest.param(lambda: __import__("prodkit.drift", fromlist=["x"]).drift_over_time(_profile(), _frame(100), progress=False),
                 ParameterError, "exactly one of `chunk_size` and `freq`", id="drift-timeline-no-window"),
    pytest.param(lambda: __import__("prodkit.drift", fromlist=["x"]).drift_over_time(_profile(), _frame(100), freq="7D", progress=False),
                 ParameterError, "needs a time column", id="drift-timeline-freq-without-time"),
    pytest.param(lambda: __import__("prodkit.drift", fromlist=["x"]).drift_over_time(_profile(), _frame(100), chunk_size=0, progress=False),
                 ParameterError, "chunk_size", id="drift-timeline-zero-chunk"),
    pytest.param(lambda: _perf(_ints(100), _rand(90)), DataError, "y_score has 90", id="drift-perf-length-mismatch"),
    pytest.param(lambda: _perf(_ints(100), [float("nan")] * 100), DataError, "NaN or infinite", id="drift-perf-nan-scores"),
    pytest.param(lambda: _perf(_ints(100), _rand(100), reference=None), ParameterError, "`reference` must be a pair", id="drift-perf-no-reference"),
    pytest.param(lambda: _perf(_ints(100), _rand(100), metric="f1"), ParameterError, "unknown metric 'f1'", id="drift-perf-unknown-metric"),
    pytest.param(lambda: __import__("prodkit.drift", fromlist=["x"]).PageHinkley().detect([0.0, 1.0]), NotFittedError, "not fitted", id="drift-ph-unfitted"),
    pytest.param(lambda: __import__("prodkit.drift", fromlist=["x"]).PageHinkley(false_alarm=0).fit(_rand(100), horizon=10),
                 ParameterError, "false_alarm", id="drift-ph-zero-false-alarm"),
    pytest.param(lambda: __import__("prodkit.drift", fromlist=["x"]).PageHinkley().fit(_rand(100), horizon=-1),
                 ParameterError, "horizon", id="drift-ph-negative-horizon"),
    pytest.param(lambda: _perf(_text(100), _rand(100), reference=(_text(100, 2), _rand(100, 2))), ParameterError, "pass classes=",
                 id="drift-perf-text-labels-without-classes"),
    pytest.param(lambda: _perf(_text(100), _rand(100), reference=(_text(100, 2), _rand(100, 2)), classes=["benign", "other"]), DataError,
                 "not among the model's classes", id="drift-perf-label-not-in-classes"),
    pytest.param(lambda: _perf(_ints(100), _rand(100), reference=(_ints(100, 2), _rand(100, 2)), classes=["a", "b", "c"]), ParameterError,
                 "3 classes but the scores have 2 columns", id="drift-perf-classes-wrong-width"),
    pytest.param(lambda: _perf(_ints(90) + _ints(90, 3), _proba3(90), reference=(_ints(90), _proba3(90, 2)), classes=[0, 1, 2], metric="rmse"), ParameterError,
                 "metric 'rmse' is for regression, but classes were given", id="drift-perf-regression-metric-for-a-classifier"),
    pytest.param(lambda: _perf(_ints(100), _rand(100), chunk_size=10), DataError, "none of the 10 windows has a value", id="drift-perf-every-window-too-small"),
    pytest.param(lambda: _perf(_ints(100), _rand(100) * 6 - 3), DataError, "outputs are not probabilities", id="drift-perf-scores-not-probabilities"),
    pytest.param(lambda: _perf(_ints(100), _rand(100), time="ts"), ParameterError, "names a column of X, but X was not given",
                 id="drift-perf-time-without-rows"),
    pytest.param(lambda: _perf(_ints(100), _rand(100), time="ts", X=_frame(100)), ParameterError, "time column 'ts' is not in X",
                 id="drift-perf-time-not-in-rows"),
    pytest.param(lambda: _report().plot(kind="feature"), ParameterError, "kind='feature' needs feature=", id="drift-plot-feature-unnamed"),
    pytest.param(lambda: _report().plot(kind="feature", feature="nope"), ParameterError, "unknown feature 'nope'", id="drift-plot-feature-unknown"),
    pytest.param(lambda: _report().plot(kind="histogram"), ParameterError, "histogram", id="drift-plot-unknown-kind"),
    pytest.param(lambda: __import__("prodkit.drift", fromlist=["x"]).drift_over_time(_frame(300), _quarterly(60), time="date", freq="QS", progress=False),
                 DataError, "none of the 60 windows has at least 30 rows (the largest has 1 rows)", id="drift-timeline-quarterly-by-quarter"),
    pytest.param(lambda: _drift_text_labels_without_classes(), DataError, "are not among the model's classes", id="drift-calibration-text-labels-without-classes"),
    pytest.param(lambda: _dask_timeline(chunk_size=50), ParameterError, "chunk_size=50", id="drift-dask-chunk-size"),
    pytest.param(lambda: _dask_timeline(), ParameterError, "needs freq=", id="drift-dask-no-freq"),
]


def _drift_text_labels_without_classes():
    "A model without class names, and text labels: calibration cannot tell right from wrong, so it must not guess."
    import numpy as np
    from prodkit.drift import detect_drift
    ref, cur = _frame(300).assign(label=_text(300)), _frame(300, seed=2).assign(label=_text(300, 3))
    return detect_drift(ref, cur, label="label", predictor=lambda df: 1 / (1 + np.exp(-df["x"].to_numpy())), multivariate=False, n_boot=20)


def _text(n, seed=1):
    import numpy as np
    return np.array(["benign", "malignant"])[_ints(n, seed)]


def _proba3(n, seed=1):
    import numpy as np
    return np.random.default_rng(seed).dirichlet(np.ones(3), n)


def _quarterly(n):
    "`n` quarters of data: one row each, fewer than 30 rows in any month or quarter."
    import pandas as pd
    return _frame(n, seed=5).assign(date=pd.date_range("1990-01-01", periods=n, freq="QS"))


def _report():
    import warnings
    from prodkit.drift import LowPowerWarning, detect_drift
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowPowerWarning)
        return detect_drift(_frame(200), _frame(100), n_boot=0, multivariate=False)
