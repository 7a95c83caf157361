"""A monitor around a guarded model: it answers what the guard answers (rejected rows flagged, the other rows
served), records every row, and keeps the rejected inputs (NaN, inf) out of the windows that drift analysis reads."""
import numpy as np
import pandas as pd
import pytest

from prodkit.core import DataError
from prodkit.demo import load_demo
from prodkit.drift import ReferenceProfile, detect_drift
from prodkit.guard import GuardedModel
from prodkit.monitor import Monitor, MonitorStore


@pytest.fixture(scope="module")
def demo():
    return load_demo(seed=0, n_reference=1000, n_current=1000, digits=False)


def _batch(demo, n_good=100, n_bad=5):
    "n_good rows of the current period, then n_bad copies with a NaN or an infinite value in a numeric feature."
    cur = demo.current[demo.schema.names].iloc[:n_good + n_bad].reset_index(drop=True)
    cur["monthly_charges"] = cur["monthly_charges"].astype("float64")
    bad = np.arange(n_good, n_good + n_bad)
    cur.loc[bad, "monthly_charges"] = [np.nan, np.inf, np.nan, -np.inf, np.nan][:n_bad]
    return cur, bad


@pytest.mark.filterwarnings("ignore:drift comparison with low power")   # 100 rows: the point here is which rows, not power
def test_rejected_rows_stay_out_of_the_window_that_drift_reads(demo, tmp_path):
    guard = GuardedModel(demo.predictor, on_invalid="flag")
    cur, bad = _batch(demo)
    with Monitor(guard, tmp_path / "m.sqlite") as mon:
        for i in range(0, len(cur), 15): mon.serve(cur.iloc[i:i + 15])
        served, rejected = mon.window(), mon.rejected_window()
    assert len(served) == 100 and len(rejected) == 5
    assert (served["monitor.served_by"] == "primary").all() and (rejected["monitor.served_by"] == "rejected").all()
    np.testing.assert_array_equal(rejected["monthly_charges"].to_numpy(), cur.loc[bad, "monthly_charges"].to_numpy())
    assert np.isfinite(served["monthly_charges"]).all()
    profile = ReferenceProfile.fit(demo.reference, schema=demo.schema)
    report = detect_drift(profile, served, seed=0, multivariate=False)
    assert report.n_current == 100
    same = detect_drift(profile, cur.iloc[:100], seed=0, multivariate=False)
    assert report.summary == same.summary        # the window reads exactly like the served rows themselves
    with MonitorStore(tmp_path / "m.sqlite") as ro:
        assert len(ro.window(include_rejected=True)) == 105 and ro.count() == 105


def test_a_monitor_returns_what_the_guard_returns(demo, tmp_path):
    guard = GuardedModel(demo.predictor, on_invalid="flag")
    cur, bad = _batch(demo, n_good=7, n_bad=1)
    want = guard.serve(cur)
    with Monitor(guard, tmp_path / "m.sqlite") as mon:
        got = mon.serve(cur)
        pd.testing.assert_frame_equal(got, want)          # per-row answers, flags and reasons, nothing lost to one bad row
        assert got["served_by"].tolist() == ["primary"] * 7 + ["rejected"]
        with pytest.raises(DataError, match="use Monitor.serve") as e: mon.predict_proba(cur)
        assert e.value.rows == [7]
        np.testing.assert_allclose(mon.predict_proba(cur.iloc[:7]), guard.predict_proba(cur.iloc[:7]))
        w = mon.window()
    # both batches were recorded (7 + 7 + 7 served rows), their probabilities as returned
    assert len(w) == 21
    np.testing.assert_allclose(w[["monitor.p_0", "monitor.p_1"]].to_numpy()[:7], want[["p_0", "p_1"]].to_numpy()[:7], atol=1e-9)


def test_a_regression_guard_under_a_monitor(tmp_path):
    import torch
    from torch import nn
    from prodkit.core import Predictor, TabularAdapter
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    ad = TabularAdapter().fit(df)
    torch.manual_seed(0)
    pred = Predictor(nn.Linear(2, 1), adapter=ad, task="regression")
    guard = GuardedModel(pred, fallbacks=[("mean", lambda d: 3.0)], on_invalid="flag")
    x = df.head(4).copy(); x.loc[2, "a"] = np.nan
    with Monitor(guard, tmp_path / "r.sqlite") as mon:
        out = mon.serve(x)
        w, r = mon.window(), mon.rejected_window()
    pd.testing.assert_frame_equal(out, guard.serve(x))
    assert out["served_by"].tolist() == ["primary", "primary", "rejected", "primary"]
    np.testing.assert_allclose(w["monitor.prediction"].astype(float).to_numpy(), pred.predict(x.iloc[[0, 1, 3]]), atol=1e-6)
    assert len(r) == 1 and np.isnan(r["a"].iloc[0])


@pytest.mark.slow
def test_drift_monitoring_template_on_a_store_with_rejected_rows(demo, tmp_path):
    """The drift template reads a store that holds rejected rows and sees only the served ones."""
    from prodkit.jobs import run_notebook
    ReferenceProfile.fit(demo.reference, schema=demo.schema).save(tmp_path / "ref.npz")
    cur, _ = _batch(demo, n_good=300, n_bad=5)
    with Monitor(GuardedModel(demo.predictor, on_invalid="flag"), tmp_path / "m.sqlite") as mon:
        for i in range(0, len(cur), 50): mon.serve(cur.iloc[i:i + 50])
    res = run_notebook("drift_monitoring", {"profile": str(tmp_path / "ref.npz"), "monitor_store": str(tmp_path / "m.sqlite"),
                                            "multivariate": False}, tmp_path / "out")
    assert res.exit_code in (0, 1), res.message
    assert res.results["drift.n_current"] == 300


def test_rows_answered_before_a_failure_are_recorded(demo, tmp_path):
    """A batch where no path answers some rows: the guard raises, and the monitor keeps the rows that were answered."""
    from prodkit.guard import AllPathsFailedError
    def half(df):
        p = demo.predictor.predict_proba(df); p[1::2] = np.nan; return p
    guard = GuardedModel(half, schema=demo.schema, on_invalid="flag")
    cur, bad = _batch(demo, n_good=6, n_bad=1)
    with Monitor(guard, tmp_path / "m.sqlite", version="v") as mon:
        with pytest.raises(AllPathsFailedError, match="no path gave a valid answer for 3 of 7 rows") as e: mon.serve(cur)
        w, r = mon.window(), mon.rejected_window()
        assert mon.stats()["model_errors"] == 1
    assert e.value.answers["served_by"].tolist() == ["primary", "failed"] * 3 + ["rejected"]
    assert len(w) == 3 and len(r) == 1
    np.testing.assert_allclose(w[["monitor.p_0", "monitor.p_1"]].to_numpy(), demo.predictor.predict_proba(cur.iloc[[0, 2, 4]]), atol=1e-6)


def test_monitor_is_a_scorer_with_the_task_of_its_model(tmp_path):
    """One vocabulary: a monitor's `task` is its model's (a guard, a Predictor); a plain function says its own with
    `task=`; a task that contradicts the model is refused."""
    from torch import nn
    from prodkit.core import ParameterError, Predictor, Scorer, TabularAdapter, as_predictor
    train = pd.DataFrame({"x": np.linspace(-1, 1, 20), "c": ["a", "b"] * 10})
    ad = TabularAdapter().fit(train)
    reg = Predictor(nn.Linear(ad.n_features_, 1), adapter=ad, task="regression")
    with Monitor(GuardedModel(reg), tmp_path / "g.sqlite") as mon:
        assert isinstance(mon, Scorer) and as_predictor(mon) is mon and (mon.task, mon.classes_) == ("regression", None)
        np.testing.assert_allclose(mon(train.head(3)), reg.predict(train.head(3)), atol=1e-6)
        assert not hasattr(mon, "regression")
        assert mon.window()["monitor.prediction"].notna().all()
    with Monitor(lambda d: d["x"].to_numpy() + 1, tmp_path / "f.sqlite", task="regression", version="f") as mon:
        assert mon.predict(train.head(2)).tolist() == (train.x.head(2) + 1).tolist()
        assert mon.window()["monitor.prediction"].tolist() == (train.x.head(2) + 1).tolist()
    with pytest.raises(ParameterError, match="contradicts the monitored model"):
        Monitor(reg, tmp_path / "r.sqlite", task="classification")
