"""prodkit.quality: one metric vocabulary and evaluate_quality, on the models users bring (binary with 0/1 or text labels,
3 classes, regression) with small torch models whose weights come from scikit-learn fits on its bundled data sets."""
import html
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from torch import nn

from prodkit.core import DataError, ModelError, ParameterError, Predictor
from prodkit.quality import (METRICS, QualityReport, change_key, class_index, compute_metric, evaluate_quality,
                             expected_calibration_error, metric_direction)


def _linear(coef, intercept):
    "nn.Linear with fixed weights (no training in the tests: the numbers are exact and fast)."
    coef = np.atleast_2d(coef)
    lin = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        lin.weight[:] = torch.tensor(coef, dtype=torch.float32)
        lin.bias[:] = torch.tensor(np.atleast_1d(intercept), dtype=torch.float32)
    return lin


def _binary(n, noise=1.0, seed=0, labels=(0, 1)):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, 2))
    y = (1.5 * X[:, 0] - X[:, 1] + noise * g.normal(size=n) > 0).astype(int)
    return pd.DataFrame({"x0": X[:, 0], "x1": X[:, 1], "label": np.asarray(labels, dtype=object)[y]})


def _binary_model(classes=None):
    return Predictor(_linear([[1.5, -1.0]], [0.0]), output="logits", classes=classes)


@pytest.fixture(scope="module")
def iris():
    d = load_iris(as_frame=True)
    X, y = d.data, np.asarray(d.target_names)[d.target]
    lr = LogisticRegression(max_iter=500, C=0.05).fit(X, d.target)   # weak regularised fit: imperfect, so metrics are not trivial
    model = Predictor(_linear(lr.coef_, lr.intercept_), output="logits", classes=list(d.target_names))
    return model, X.assign(species=y), lr


@pytest.fixture(scope="module")
def diabetes():
    d = load_diabetes(as_frame=True)
    lr = LinearRegression().fit(d.data, d.target)
    model = Predictor(_linear(lr.coef_[None, :], [lr.intercept_]), task="regression")
    return model, d.data.assign(progression=d.target)


# ------------------------------------------------------------------------------------------- the metric table
def test_metric_table_has_one_entry_per_name_with_task_and_direction():
    assert set(METRICS) == {"accuracy", "auc", "log_loss", "brier", "ece", "mae", "rmse", "r2"}
    assert {m: METRICS[m].task for m in METRICS} == {**dict.fromkeys(["accuracy", "auc", "log_loss", "brier", "ece"], "classification"),
                                                     **dict.fromkeys(["mae", "rmse", "r2"], "regression")}
    assert [m for m in METRICS if METRICS[m].higher_is_better] == ["accuracy", "auc", "r2"]
    assert metric_direction("log_loss") == "lower" and metric_direction("r2") == "higher"
    assert change_key("auc") == "auc_drop" and change_key("mae") == "mae_increase" and change_key("r2") == "r2_drop"


def _binary_numbers(n=400, seed=0, ties=False):
    g = np.random.default_rng(seed)
    p = g.random(n)
    if ties: p = np.round(p, 1)
    y = (g.random(n) < p).astype(int)
    return y, np.clip(p, 0.001, 0.999)


@pytest.mark.parametrize("ties", [False, True], ids=["distinct-scores", "tied-scores"])
def test_binary_metrics_equal_scikit_learn(ties):
    y, p = _binary_numbers(ties=ties)
    P = np.column_stack([1 - p, p])
    assert compute_metric("auc", y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert compute_metric("accuracy", y, P) == pytest.approx(skm.accuracy_score(y, P.argmax(1)), abs=1e-12)
    assert compute_metric("log_loss", y, P) == pytest.approx(skm.log_loss(y, P), abs=1e-12)
    assert compute_metric("brier", y, P) == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)


def test_multiclass_metrics_equal_scikit_learn():
    g = np.random.default_rng(1)
    P = g.dirichlet([1, 1, 1], size=300)
    y = np.array([g.choice(3, p=row) for row in P])
    names = np.array(["setosa", "versicolor", "virginica"])
    kw = {"classes": list(names)}
    assert compute_metric("auc", names[y], P, **kw) == pytest.approx(skm.roc_auc_score(y, P, multi_class="ovr", average="macro"), abs=1e-12)
    assert compute_metric("accuracy", names[y], P, **kw) == pytest.approx(skm.accuracy_score(y, P.argmax(1)), abs=1e-12)
    assert compute_metric("log_loss", names[y], P, **kw) == pytest.approx(skm.log_loss(y, P), abs=1e-12)
    assert compute_metric("brier", names[y], P, **kw) == pytest.approx(skm.brier_score_loss(y, P), abs=1e-12)


def test_regression_metrics_equal_scikit_learn():
    g = np.random.default_rng(2)
    y = g.normal(10, 3, size=250)
    v = y + g.normal(0, 1.5, size=250)
    assert compute_metric("mae", y, v) == pytest.approx(skm.mean_absolute_error(y, v), abs=1e-12)
    assert compute_metric("rmse", y, v) == pytest.approx(np.sqrt(skm.mean_squared_error(y, v)), abs=1e-12)
    assert compute_metric("r2", y, v) == pytest.approx(skm.r2_score(y, v), abs=1e-12)


def _ece_by_loop(conf, hit, bins=10):
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for b in range(bins):
        inside = (conf >= edges[b]) & ((conf < edges[b + 1]) if b < bins - 1 else (conf <= 1))
        if inside.any(): total += inside.sum() * abs(conf[inside].mean() - hit[inside].mean())
    return total / len(conf)


def test_ece_binary_is_the_positive_class_form_and_multiclass_the_top_label_form():
    y, p = _binary_numbers(seed=3)
    p = p ** 1.5   # miscalibrated on purpose
    assert expected_calibration_error(y, p) == pytest.approx(_ece_by_loop(p, y.astype(float)), abs=1e-12)
    g = np.random.default_rng(4)
    P = g.dirichlet([2, 1, 1], size=300)
    y3 = g.integers(0, 3, 300)
    assert expected_calibration_error(y3, P) == pytest.approx(_ece_by_loop(P.max(1), (P.argmax(1) == y3).astype(float)), abs=1e-12)
    assert compute_metric("ece", y3, P) == expected_calibration_error(y3, P)   # one implementation


def test_ece_quantile_bins_hold_equal_counts():
    y, p = _binary_numbers(n=1000, seed=5)
    e = expected_calibration_error(y, p, bins=4, strategy="quantile")
    q = np.quantile(p, [0.25, 0.5, 0.75])
    b = np.searchsorted(q, p, side="right")
    expect = sum((b == i).sum() * abs(p[b == i].mean() - y[b == i].mean()) for i in range(4)) / len(p)
    assert np.bincount(b).tolist() == [250] * 4 and e == pytest.approx(expect, abs=1e-12)


@pytest.mark.parametrize("name", list(METRICS))
def test_bootstrap_weights_mean_repeated_rows(name):
    "A resample's counts give the metric of the resample itself: the vectorised bootstrap computes the right thing."
    g = np.random.default_rng(6)
    w = g.integers(0, 4, size=60)
    if METRICS[name].task == "classification":
        P = g.dirichlet([1, 1, 1], size=60); y = g.integers(0, 3, 60)
        y[:3] = [0, 1, 2]; w[:3] = 1                      # every class stays in the resample
    else:
        y = g.normal(size=60); P = y + g.normal(size=60)
    weighted = METRICS[name].fn(y, P, w[None, :].astype(np.float64))[0]
    assert weighted == pytest.approx(compute_metric(name, np.repeat(y, w), np.repeat(P, w, axis=0)), abs=1e-9)


# ------------------------------------------------------------------------------------------- labels
def test_binary_report_is_the_same_with_text_labels_and_with_0_1():
    d01 = _binary(500, seed=7)
    text = d01.assign(label=d01.label.map({0: "benign", 1: "malignant"}))
    a = evaluate_quality(_binary_model(), d01, label="label", n_boot=50)
    b = evaluate_quality(_binary_model(["benign", "malignant"]), text, label="label", n_boot=50)
    assert a.summary == b.summary
    assert b.counts == {"benign": int((d01.label == 0).sum()), "malignant": int((d01.label == 1).sum())}
    P = _binary_model().predict_proba(d01[["x0", "x1"]])
    assert a.summary["auc"] == pytest.approx(skm.roc_auc_score(d01.label.astype(int), P[:, 1]), abs=1e-12)


def test_labels_read_as_floats_or_text_digits_find_integer_classes():
    assert class_index(np.array([1.0, 0.0, 1.0]), [0, 1]).tolist() == [1, 0, 1]
    assert class_index(["0", "1"], None, k=2).tolist() == [0, 1]


def test_unknown_labels_are_named():
    d = _binary(50, seed=8, labels=("benign", "malignant"))
    d.loc[[3, 9], "label"] = "malignent"
    with pytest.raises(DataError, match=r"labels \['malignent'\] \(2 rows\) are not among the model's classes \['benign', 'malignant'\]"):
        evaluate_quality(_binary_model(["benign", "malignant"]), d, label="label", n_boot=0)


def test_three_classes_on_iris(iris):
    model, data, lr = iris
    q = evaluate_quality(model, data, label="species", n_boot=100)
    P = lr.predict_proba(data.drop(columns="species"))
    y = lr.classes_[np.searchsorted(["setosa", "versicolor", "virginica"], data.species)]
    assert q.task == "classification" and q.classes == ("setosa", "versicolor", "virginica")
    assert q.counts == {"setosa": 50, "versicolor": 50, "virginica": 50}
    assert q.summary["auc"] == pytest.approx(skm.roc_auc_score(y, P, multi_class="ovr"), abs=1e-5)   # float32 model
    assert q.summary["accuracy"] == pytest.approx(skm.accuracy_score(y, P.argmax(1)), abs=1e-12)
    assert q.summary["log_loss"] == pytest.approx(skm.log_loss(y, P), abs=1e-5)
    q.plot(kind="confusion")
    assert [t.get_text() for t in q.ax_.get_xticklabels()] == ["setosa", "versicolor", "virginica"]
    assert np.asarray(q.plot_data["current"]["confusion"]).sum() == 150


def test_regression_on_diabetes(diabetes):
    model, data = diabetes
    cur, ref = data.iloc[:200], data.iloc[200:]
    q = evaluate_quality(model, cur, label="progression", reference=ref, n_boot=100)
    pred = model.predict(cur.drop(columns="progression"))
    s = q.summary
    assert q.task == "regression" and list(q.to_frame().index) == ["mae", "rmse", "r2"]
    assert s["mae"] == pytest.approx(skm.mean_absolute_error(cur.progression, pred), abs=1e-9)
    assert s["r2"] == pytest.approx(skm.r2_score(cur.progression, pred), abs=1e-9)
    assert s["mae_increase"] == pytest.approx(s["mae"] - s["reference_mae"], abs=1e-12)
    assert s["r2_drop"] == pytest.approx(s["reference_r2"] - s["r2"], abs=1e-12)
    assert "mae_drop" not in s and "auc" not in s and q.counts == {}
    q.plot()
    assert q.ax_.get_xlabel() == "actual progression" and len(q.ax_.collections[0].get_offsets()) == 200
    with pytest.raises(ParameterError, match="`kind` must be one of"): q.plot(kind="confusion")


# ------------------------------------------------------------------------------------------- the bootstrap
def test_interval_covers_the_value_and_shrinks_with_n():
    small = evaluate_quality(_binary_model(), _binary(300, seed=9), label="label", n_boot=200).summary
    large = evaluate_quality(_binary_model(), _binary(4800, seed=9), label="label", n_boot=200).summary
    for s in (small, large):
        for m in ("accuracy", "auc", "log_loss", "brier"):
            assert s[f"{m}_ci_low"] <= s[m] <= s[f"{m}_ci_high"], (m, s)
    for m in ("accuracy", "auc", "log_loss", "brier"):
        w_small, w_large = small[f"{m}_ci_high"] - small[f"{m}_ci_low"], large[f"{m}_ci_high"] - large[f"{m}_ci_low"]
        assert w_large < 0.5 * w_small, (m, w_small, w_large)   # 16 times the rows: about a quarter of the width


def test_same_seed_same_numbers_other_seed_other_intervals():
    d = _binary(400, seed=10)
    a, b = (evaluate_quality(_binary_model(), d, label="label", n_boot=80, seed=3).summary for _ in range(2))
    c = evaluate_quality(_binary_model(), d, label="label", n_boot=80, seed=4).summary
    assert a == b
    assert a["auc"] == c["auc"] and a["auc_ci_low"] != c["auc_ci_low"]


def test_no_bootstrap_gives_no_interval_but_the_values():
    s = evaluate_quality(_binary_model(), _binary(200, seed=11), label="label", n_boot=0).summary
    assert s["auc"] is not None and s["auc_ci_low"] is None and s["auc_ci_high"] is None


def test_change_from_reference_is_positive_when_worse():
    q = evaluate_quality(_binary_model(), _binary(400, noise=2.0, seed=12), label="label", reference=_binary(400, noise=0.3, seed=13), n_boot=100)
    s = q.summary
    assert s["auc_drop"] == pytest.approx(s["reference_auc"] - s["auc"]) and s["auc_drop"] > 0.05
    assert s["log_loss_increase"] > 0 and s["accuracy_drop"] > 0
    t = q.to_frame()
    assert t.loc["auc", "change_ci_low"] <= t.loc["auc", "change"] <= t.loc["auc", "change_ci_high"]
    assert t.loc["auc", "change_ci_low"] > 0   # clearly worse, and the interval says so
    assert "auc_drop +" in q.headline()


# ------------------------------------------------------------------------------------------- caveats and display
def test_low_support_is_flagged_in_caveats_headline_and_html():
    d = _binary(60, seed=14, labels=("benign", "<b>malignant</b>"))
    keep = pd.concat([d[d.label == "benign"], d[d.label != "benign"].head(4)])
    q = evaluate_quality(_binary_model(["benign", "<b>malignant</b>"]), keep, label="label", n_boot=50)
    assert set(q.caveats) >= {"auc", "ece"}
    assert "only 4 rows of class '<b>malignant</b>' (fewer than 10)" in q.caveats["auc"]
    assert f"only {len(keep)} rows (fewer than 100)" in q.caveats["ece"]
    assert "caveats: auc: only 4 rows" in q.headline()
    h = q._repr_html_()
    assert "<b>malignant</b>" not in h and "&lt;b&gt;malignant&lt;/b&gt;" in h and "fewer than 10" in h
    assert q.to_frame().loc["auc", "caveat"] == q.caveats["auc"] and q.summary["n_caveats"] == len(q.caveats)


def test_an_absent_class_makes_binary_auc_undefined_and_a_gate_cannot_pass():
    d = _binary(200, seed=15)
    q = evaluate_quality(_binary_model(), d[d.label == 1], label="label", n_boot=20)
    assert q.summary["auc"] is None and "no rows of class '0': AUC is undefined" in q.caveats["auc"]
    json.dumps(q.summary)


def test_an_absent_class_in_three_averages_the_others(iris):
    model, data, _ = iris
    q = evaluate_quality(model, data[data.species != "virginica"], label="species", n_boot=20)
    assert "no rows of class 'virginica': AUC averages the other classes only" in q.caveats["auc"]
    assert 0.5 < q.summary["auc"] <= 1


def test_unlabelled_rows_are_left_out_and_counted():
    d = _binary(100, seed=16).astype({"label": "float64"})
    d.loc[:9, "label"] = np.nan
    q = evaluate_quality(_binary_model(), d, label="label", n_boot=0)
    assert q.n == 90 and q.summary["n_unlabelled"] == 10


def test_summary_is_json_and_plot_returns_the_report():
    q = evaluate_quality(_binary_model(), _binary(300, seed=17), label="label", reference=_binary(300, seed=18), n_boot=30)
    json.dumps(q.summary)
    assert isinstance(q, QualityReport) and q.plot() is q and q.figure_ is q.ax_.figure
    labels = [l.get_text() for l in q.ax_.get_legend().get_texts()]
    assert labels[1].startswith("current data (ECE") and labels[2].startswith("reference data (ECE")


# ------------------------------------------------------------------------------------------- bad input (more in cases_bad_input_quality.py)
def test_wrong_width_of_outputs_vs_classes_is_a_model_error():
    with pytest.raises(ModelError, match="2 output columns but `classes` lists 3"):
        evaluate_quality(_binary_model(["a", "b", "c"]), _binary(20, labels=("a", "b")), label="label", n_boot=0)


def test_a_value_outside_its_own_interval_is_flagged():
    "ECE of a calibrated model on 300 rows: resampling adds noise that ECE counts, so its interval sits above the value."
    q = evaluate_quality(Predictor(_linear([[1.5, -1.0]], [0.0]), output="logits"), _binary(300, noise=1.5, seed=1), label="label", n_boot=100)
    s = q.summary
    assert s["ece"] < s["ece_ci_low"]
    assert "the value lies outside its bootstrap interval" in q.caveats["ece"] and "outside its bootstrap interval" in q.headline()
    assert all(s[f"{m}_ci_low"] <= s[m] <= s[f"{m}_ci_high"] for m in ("accuracy", "auc", "log_loss", "brier"))
    assert set(q.caveats) == {"ece"}


# ------------------------------------------------------------------------------------------- properties
from hypothesis import given, settings, strategies as st


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 8)), min_size=2, max_size=60))
def test_auc_equals_scikit_learn_on_any_ties(rows):
    y = np.array([r[0] for r in rows]); score = np.array([r[1] for r in rows]) / 8   # few distinct scores: many ties
    if len(set(y)) < 2:
        assert np.isnan(compute_metric("auc", y, score))
    else:
        assert compute_metric("auc", y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 9), st.integers(1, 9), st.integers(1, 9)), min_size=1, max_size=60))
def test_multiclass_log_loss_brier_and_top_label_ece_match_their_definitions(rows):
    y = np.array([r[0] for r in rows]); P = np.array([r[1:] for r in rows], dtype=float); P /= P.sum(1, keepdims=True)
    assert compute_metric("log_loss", y, P) == pytest.approx(-np.log(P[np.arange(len(y)), y]).mean(), abs=1e-12)
    assert compute_metric("brier", y, P) == pytest.approx(((P - np.eye(3)[y]) ** 2).sum(1).mean(), abs=1e-12)
    assert expected_calibration_error(y, P) == pytest.approx(_ece_by_loop(P.max(1), (P.argmax(1) == y).astype(float)), abs=1e-12)


def test_rows_per_class_are_in_the_summary_for_gates(iris):
    model, data, _ = iris
    s = evaluate_quality(model, data.iloc[:120], label="species", n_boot=0).summary   # 50 setosa, 50 versicolor, 20 virginica
    assert (s["n_classes"], s["min_class_rows"]) == (3, 20)


def test_predictions_made_elsewhere_give_the_same_report(diabetes):
    from prodkit.quality import evaluate_predictions
    model, data = diabetes
    cur, ref = data.iloc[:200], data.iloc[200:]
    q = evaluate_quality(model, cur, label="progression", reference=ref, n_boot=60, seed=5)
    p = evaluate_predictions(cur.progression, model.predict(cur.drop(columns="progression")), task="regression",
                             reference=(ref.progression, model.predict(ref.drop(columns="progression"))), n_boot=60, seed=5)
    assert p.summary == q.summary and p.task == "regression"
    with pytest.raises(DataError, match="3 labels for 2 predictions"):
        evaluate_predictions([1.0, 2.0, 3.0], [1.0, 2.0], task="regression")
