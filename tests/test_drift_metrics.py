"""Drift speaks prodkit.quality's metric vocabulary: calibration drift's ECE and performance_over_time's values are the
numbers prodkit.quality gives on the same rows, for every metric name of the task."""
import numpy as np
import pandas as pd
import pytest
import torch

from prodkit.core import DataError, ParameterError, Predictor, Schema, TabularAdapter
from prodkit.drift import ReferenceProfile, performance_over_time
from prodkit.quality import compute_metric, expected_calibration_error


def _labelled(n, g, shift=0.0, flip=0.0):
    x = g.normal(shift, 1, n); p1 = 1 / (1 + np.exp(-3 * x))
    y = (g.random(n) < p1).astype(int); f = g.random(n) < flip; y[f] = 1 - y[f]
    return pd.DataFrame({"x": x, "z": g.normal(size=n), "label": y})


def test_calibration_drift_reports_quality_s_ece_on_both_windows():
    "Before: drift had its own top-label ECE; now ece_ref/ece_cur are expected_calibration_error of the sampled rows."
    g = np.random.default_rng(5); ref = _labelled(1500, g)
    schema = Schema.infer(ref, target="label"); net = torch.nn.Linear(2, 1)
    with torch.no_grad(): net.weight[:] = torch.tensor([[3.0, 0.0]]); net.bias.zero_()
    pred = Predictor(net, adapter=TabularAdapter(schema).fit(ref), output="logits")
    prof = ReferenceProfile.fit(ref, schema=schema, predictor=pred, sample_rows=800)
    win = prof.summarize(_labelled(900, g, shift=0.5, flip=0.2), predictor=pred)
    cal = prof.compare(win, n_boot=60, multivariate=False).calibration
    assert cal["ece_ref"] == pytest.approx(expected_calibration_error(prof.sample_.labels, prof.sample_.proba), abs=1e-12)
    assert cal["ece_cur"] == pytest.approx(expected_calibration_error(win.labels, win.proba), abs=1e-12)
    assert cal["accuracy_cur"] == pytest.approx(compute_metric("accuracy", win.labels, win.proba), abs=1e-12)
    assert cal["change"] > 0.05 and cal["ci_low"] < cal["change"] < cal["ci_high"]


def _binary(n, g, flip=0.0):
    p = g.uniform(0.02, 0.98, n); y = (g.random(n) < p).astype(int); f = g.random(n) < flip; y[f] = 1 - y[f]
    return y, p


@pytest.mark.parametrize("metric", ["auc", "accuracy", "log_loss", "brier", "ece"])
def test_binary_metrics_are_quality_s_numbers_and_worse_means_degraded(metric):
    g = np.random.default_rng(1); yr, sr = _binary(600, g)
    (y1, s1), (y2, s2) = _binary(400, g), _binary(400, g, flip=0.5)
    y, s = np.r_[y1, y2], np.r_[s1, s2]
    pt = performance_over_time(y, s, chunk_size=200, reference=(yr, sr), metric=metric, n_boot=100, progress=False)
    f = pt.to_frame()
    assert pt.metric == metric and pt.reference["value"] == pytest.approx(compute_metric(metric, yr, sr), abs=1e-12)
    for k in range(4):
        assert f["value"][k] == pytest.approx(compute_metric(metric, y[200 * k:200 * (k + 1)], s[200 * k:200 * (k + 1)]), abs=1e-12)
    assert f["degraded"].tolist() == [False, False, True, True]   # flipped labels are worse for every metric, whichever its direction


def test_multiclass_text_labels_and_defaults():
    g = np.random.default_rng(2); names = np.array(["ant", "bee", "cat"])
    P = g.dirichlet([1, 1, 1], 700); y = np.array([g.choice(3, p=p) for p in P])
    ll = performance_over_time(names[y[200:]], P[200:], chunk_size=250, reference=(names[y[:200]], P[:200]), classes=names,
                               metric="log_loss", n_boot=50, progress=False)
    assert ll.to_frame()["value"][0] == pytest.approx(compute_metric("log_loss", names[y[200:450]], P[200:450], classes=names), abs=1e-12)
    acc = performance_over_time(names[y[200:]], P[200:], chunk_size=250, reference=(names[y[:200]], P[:200]), classes=names, n_boot=50, progress=False)
    assert acc.metric == "accuracy"
    auc = performance_over_time(names[y[200:]], P[200:], chunk_size=250, reference=(names[y[:200]], P[:200]), classes=names,
                                metric="auc", n_boot=50, progress=False)   # three classes: quality's one-vs-rest macro AUC
    assert auc.to_frame()["value"][1] == pytest.approx(compute_metric("auc", y[450:700], P[450:700]), abs=1e-12)
    assert performance_over_time(y[200:] % 2, P[200:, 1], chunk_size=250, reference=(y[:200] % 2, P[:200, 1]), n_boot=50, progress=False).metric == "auc"


@pytest.mark.parametrize("metric", [None, "mae", "rmse", "r2"])
def test_regression_metrics_are_quality_s_numbers(metric):
    g = np.random.default_rng(3); x = g.normal(size=900); y = 2 * x + g.normal(0, 0.5, 900); pred = 2 * x
    pred[600:] += 1.5                                                # the model goes wrong in the last windows
    pt = performance_over_time(y[300:], pred[300:], chunk_size=150, reference=(y[:300], pred[:300]), metric=metric, n_boot=50, progress=False)
    name = metric or "mae"; f = pt.to_frame()
    assert pt.metric == name and f["value"][3] == pytest.approx(compute_metric(name, y[750:900], pred[750:900]), abs=1e-12)
    assert f["degraded"].tolist() == [False, False, True, True]


def test_a_metric_of_the_other_task_or_an_old_name_is_refused():
    g = np.random.default_rng(4); y, s = _binary(300, g); P = np.column_stack([1 - s, s])
    with pytest.raises(ParameterError, match="unknown metric 'roc_auc'; did you mean 'auc'"):
        performance_over_time(y, s, chunk_size=100, reference=(y, s), metric="roc_auc", progress=False)
    with pytest.raises(ParameterError, match="metric 'r2' is for regression, but classes were given"):
        performance_over_time(y, P, chunk_size=100, reference=(y, P), classes=[0, 1], metric="r2", progress=False)
    with pytest.raises(DataError, match="not among the model's classes"):
        performance_over_time(y + 5, P, chunk_size=100, reference=(y, P), metric="accuracy", progress=False)
