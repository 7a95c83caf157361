"""Performance and drift over time on the models and data users bring: text class labels, three classes, regression,
quarterly data and windows too small to judge (scikit-learn's bundled data sets)."""
import warnings

import numpy as np
import pandas as pd
import pytest

from prodkit.core import DataError, ParameterError
from prodkit.drift import LowPowerWarning, drift_over_time, performance_over_time


def cancer_scores():
    "Breast cancer with its text labels ('malignant'/'benign') and a logistic model's probabilities (columns in target_names order)."
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    d = load_breast_cancer(); g = np.random.default_rng(0); i = g.permutation(len(d.target))
    X, t = d.data[i][:, :4], d.target[i]
    P = LogisticRegression(max_iter=2000).fit(X[:200], t[:200]).predict_proba(X)
    return np.asarray(d.target_names)[t], t, P, list(d.target_names)


def test_text_labels_map_to_score_columns_through_classes():
    "Before: 'malignant'/'benign' labels were read as numbers, the reference came out empty and the call raised."
    lab, t, P, classes = cancer_scores()
    text = performance_over_time(lab[200:], P[200:], chunk_size=90, reference=(lab[:200], P[:200]), classes=classes, progress=False)
    nums = performance_over_time(t[200:], P[200:, 1], chunk_size=90, reference=(t[:200], P[:200, 1]), progress=False)
    assert text.metric == "auc" and text.reference["n"] == 200 and np.isfinite(text.reference["value"])
    np.testing.assert_allclose(text.to_frame()["value"], nums.to_frame()["value"])
    from sklearn.metrics import roc_auc_score
    assert text.to_frame()["value"].iloc[0] == pytest.approx(roc_auc_score(t[200:290], P[200:290, 1]))


def test_text_labels_without_classes_say_to_pass_them():
    lab, t, P, classes = cancer_scores()
    with pytest.raises(ParameterError, match="pass classes="):
        performance_over_time(lab[200:], P[200:, 1], chunk_size=90, reference=(lab[:200], P[:200, 1]), progress=False)


def test_three_classes_with_text_labels_use_accuracy():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    d = load_iris(); i = np.random.default_rng(1).permutation(150); X, t = d.data[i][:, :2], d.target[i]
    P = LogisticRegression(max_iter=1000).fit(X[:60], t[:60]).predict_proba(X)
    lab = np.asarray(d.target_names)[t]
    pt = performance_over_time(lab[60:], P[60:], chunk_size=45, reference=(lab[:60], P[:60]), classes=list(d.target_names), progress=False)
    w = pt.to_frame()
    assert pt.metric == "accuracy" and w["n"].tolist() == [45, 45]
    assert w["value"].tolist() == [float((P[60 + k:105 + k].argmax(1) == t[60 + k:105 + k]).mean()) for k in (0, 45)]


def test_regression_uses_mae():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression
    X, y = load_diabetes(return_X_y=True); pred = LinearRegression().fit(X[:200], y[:200]).predict(X)
    pt = performance_over_time(y[200:], pred[200:], chunk_size=121, reference=(y[:200], pred[:200]), progress=False)
    assert pt.metric == "mae" and pt.to_frame()["value"].iloc[0] == pytest.approx(np.abs(y[200:321] - pred[200:321]).mean())


def test_windows_with_too_few_rows_are_marked_not_crashed_on():
    lab, t, P, classes = cancer_scores()
    pt = performance_over_time(lab[200:], P[200:], chunk_size=100, reference=(lab[:200], P[:200]), classes=classes, progress=False)
    w = pt.to_frame()   # 369 rows: three windows of 100 and one of 69; with min_rows=80 the last gets no value
    pt80 = performance_over_time(lab[200:], P[200:], chunk_size=100, min_rows=80, reference=(lab[:200], P[:200]), classes=classes, progress=False)
    w80 = pt80.to_frame()
    assert w["note"].tolist() == [""] * 4 and w80["note"].tolist() == [""] * 3 + ["too few rows (69 < min_rows=80)"]
    assert np.isnan(w80["value"].iloc[-1]) and not w80["degraded"].iloc[-1]
    assert pt80.summary["n_windows_without_value"] == 1 and "1 without a value" in pt80.headline()


def quarterly(n_ref=60, n_cur=60, seed=0):
    "Quarterly macro-like data: one row per quarter from 1960 (fewer than 30 rows in any month)."
    g = np.random.default_rng(seed); n = n_ref + n_cur
    df = pd.DataFrame({"date": pd.date_range("1960-01-01", periods=n, freq="QS"), "growth": g.normal(2, 1, n), "rate": g.normal(5, 2, n)})
    return df.iloc[:n_ref], df.iloc[n_ref:]


def test_quarterly_data_by_quarter_gives_a_clear_error_that_counts_windows_and_rows():
    "Before: '(got 60)' counted windows but read like rows."
    ref, cur = quarterly()
    with pytest.raises(DataError) as e:
        drift_over_time(ref, cur, time="date", freq="QS", progress=False)
    msg = str(e.value)
    assert "none of the 60 windows has at least 30 rows (the largest has 1 rows)" in msg and "(got 'QS')" in msg and "Fix:" in msg


@pytest.mark.parametrize("freq", ["5YS", "10YS"])
def test_quarterly_data_with_long_windows_works_and_lists_the_skipped_windows(freq):
    ref, cur = quarterly(60, 100)   # 100 quarters: 1975-2000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowPowerWarning)
        tl = drift_over_time(ref, cur, time="date", freq=freq, progress=False, min_rows=20, n_boot=20)
    w, sk = tl.to_frame(), tl.skipped
    assert (w["n"] >= 20).all() and len(w) >= 1 and "date" not in set(tl.effects["feature"])
    assert int(w["n"].sum() + sk["n"].sum()) == 100
    assert all(r.endswith("fewer than min_rows=20") for r in sk["reason"]) and tl.summary["n_windows_skipped"] == len(sk)
    if len(sk): assert "skipped" in tl.headline()


def test_performance_on_quarterly_data_with_a_5_year_frequency():
    lab, t, P, classes = cancer_scores()
    time = pd.Series(pd.date_range("1900-01-01", periods=369, freq="QS"))
    pt = performance_over_time(lab[200:], P[200:], X=pd.DataFrame({"quarter": time}), time="quarter", freq="5YS", min_rows=20, reference=(lab[:200], P[:200]), classes=classes, progress=False)
    w = pt.to_frame()
    assert (w["n"] == 20).sum() == len(w) - 1 and w["value"].notna().sum() >= len(w) - 1


def _torch_predictor(df, target, *, k=None, classes=None):
    "A torch linear model fitted in closed form by scikit-learn, wrapped in a Predictor with the data's schema (the template's path)."
    import torch
    from prodkit.core import Predictor, Schema, TabularAdapter
    from sklearn.linear_model import LinearRegression, LogisticRegression
    sch = Schema.infer(df, label=target); ad = TabularAdapter(sch).fit(df); X = ad.transform(df).numpy()
    if k is None:
        m = LinearRegression().fit(X, df[target]); net = torch.nn.Linear(X.shape[1], 1)
        W, b, out = m.coef_[None], np.atleast_1d(m.intercept_), "regression"
    else:
        m = LogisticRegression(max_iter=2000).fit(X, df[target]); net = torch.nn.Linear(X.shape[1], k)
        W, b = (m.coef_, m.intercept_) if k > 2 else (np.r_[-m.coef_ / 2, m.coef_ / 2], np.r_[-m.intercept_ / 2, m.intercept_ / 2])
        out = "logits"; assert classes is None or [str(c) for c in m.classes_] == list(classes)
    with torch.no_grad(): net.weight[:] = torch.tensor(W, dtype=torch.float32); net.bias[:] = torch.tensor(b, dtype=torch.float32)
    return sch, (Predictor(net, adapter=ad, task="regression") if out == "regression" else Predictor(net, adapter=ad, output=out, classes=classes))


@pytest.mark.parametrize("kind", ["text-binary", "three-class", "regression"])
def test_a_profile_fitted_with_the_model_is_the_performance_reference(kind):
    "The drift monitoring template's path: profile labels, outputs and classes are the reference; the window's labels as the user has them."
    from sklearn import datasets
    from prodkit.drift import ReferenceProfile
    if kind == "regression":
        d = datasets.load_diabetes(as_frame=True); df = d.frame.rename(columns={"target": "y"}).iloc[:, [0, 2, 3, 8, 10]]
        sch, pred = _torch_predictor(df.iloc[:250], "y")
    else:
        d = datasets.load_breast_cancer(as_frame=True) if kind == "text-binary" else datasets.load_iris(as_frame=True)
        names = list(d.target_names); df = d.data.iloc[:, :4].assign(y=np.asarray(names)[d.target])
        df = df.sample(frac=1, random_state=0).reset_index(drop=True)
        sch, pred = _torch_predictor(df.iloc[:250] if kind == "text-binary" else df.iloc[:80], "y", k=len(names), classes=sorted(names))
    ref, cur = (df.iloc[:250], df.iloc[250:]) if kind != "three-class" else (df.iloc[:80], df.iloc[80:])
    prof = ReferenceProfile.fit(ref, schema=sch, predictor=pred)
    out = pred.predict(cur) if kind == "regression" else pred.predict_proba(cur)
    pt = performance_over_time(cur["y"], out, chunk_size=35, reference=prof, progress=False)
    w = pt.to_frame()
    assert pt.metric == {"text-binary": "auc", "three-class": "accuracy", "regression": "mae"}[kind]
    assert pt.reference["n"] == len(ref) and np.isfinite(pt.reference["value"])
    assert w["value"].iloc[:-1].notna().all() and w["note"].iloc[:-1].eq("").all()   # only the last, short window may lack a value
    assert w["value"].notna().iloc[-1] == (w["n"].iloc[-1] >= 30) and (w["note"].iloc[-1] == "") == (w["n"].iloc[-1] >= 30)
    if kind == "three-class":
        first = np.asarray(sorted(names))[np.asarray(out)[:35].argmax(1)] == cur["y"].iloc[:35].to_numpy()
        assert w["value"].iloc[0] == pytest.approx(first.mean()) and pt.reference["value"] > 0.7


def test_auto_freq_picks_the_finest_window_that_mostly_holds_min_rows():
    "freq='auto': hourly windows of ~8 rows fail min_rows=30, daily ones of 200 pass; the windows equal freq='1D'."
    g = np.random.default_rng(1)
    ref = pd.DataFrame({"x": g.normal(size=500)})
    t = pd.Timestamp("2026-03-02") + pd.to_timedelta(np.sort(g.uniform(0, 10, 2000)), unit="D")
    cur = pd.DataFrame({"x": g.normal(0.2, 1, len(t)), "ts": t})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowPowerWarning)
        auto = drift_over_time(ref, cur, time="ts", freq="auto", progress=False, n_boot=10)
        daily = drift_over_time(ref, cur, time="ts", freq="1D", progress=False, n_boot=10)
        weekly = drift_over_time(ref, cur, time="ts", freq="auto", min_rows=300, progress=False, n_boot=10)
    assert len(auto.windows) == 10
    pd.testing.assert_frame_equal(auto.windows, daily.windows)
    assert len(weekly.windows) == 2 and weekly.windows["n"].sum() == 2000 and (weekly.windows["n"] >= 300).all()
    with pytest.raises(DataError, match="none of the 1 windows has at least 5000 rows"):
        drift_over_time(ref, cur, time="ts", freq="auto", min_rows=5000, progress=False)   # yearly, still too few
    with pytest.raises(ParameterError, match="`freq` needs a time column"):
        drift_over_time(ref, cur.drop(columns="ts"), freq="auto", progress=False)
