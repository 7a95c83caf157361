"""Drift speaks prodkit.quality's metric vocabulary: calibration drift's ECE and performance_over_time's values are the
numbers prodkit.quality gives on the same rows, for every metric name of the task."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from prodkit.core import DataError, FileFormatError, ParameterError, Predictor, Schema, TabularAdapter
from prodkit.drift import ReferenceProfile, performance_over_time
from prodkit.quality import compute_metric, expected_calibration_error


def _labelled(n, g, shift=0.0, flip=0.0):
    x = g.normal(shift, 1, n); p1 = 1 / (1 + np.exp(-3 * x))
    y = (g.random(n) < p1).astype(int); f = g.random(n) < flip; y[f] = 1 - y[f]
    return pd.DataFrame({"x": x, "z": g.normal(size=n), "label": y})


def test_calibration_drift_reports_quality_s_ece_on_both_windows():
    "Before: drift had its own top-label ECE; now ece_ref/ece_cur are expected_calibration_error of the sampled rows."
    g = np.random.default_rng(5); ref = _labelled(1500, g)
    schema = Schema.infer(ref, label="label"); net = torch.nn.Linear(2, 1)
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


# written by ReferenceProfile.save before drift used prodkit.quality (drift as at c3e5b4a), from the data `_tiny_reference` builds
OLD_PROFILE = '{"format": "prodkit.drift.ReferenceProfile", "version": 1, "features": ["x"], "kinds": {"x": "numeric"}, "target": "label", "time": null, "bins": 3, "output": "classification", "classes": null, "meta": {"seed": 0}, "columns": {"x": {"edges": {"__array__": [-2.33, -0.32, 0.4, 1.96], "dtype": "<f8"}, "counts": {"__array__": [1, 19, 20, 20, 0], "dtype": "<i8"}, "n": 60, "n_missing": 0, "tail_lo": 0.0, "tail_hi": 0.0, "sum": 4.630000000000001, "sumsq": 48.7069, "bin_sums": {"__array__": [-2.33, -16.019999999999996, 1.5900000000000034, 21.39, 0.0], "dtype": "<f8"}, "n_below": 0, "n_above": 0, "min": -2.33, "max": 1.96}}, "sample": {"n_rows": 60, "sample": {"__array__": [[0.04], [0.1], [-0.13], [-0.22], [0.64], [-0.66], [0.66], [1.8], [1.37], [-0.16], [0.4], [-0.73], [1.46], [-1.18], [-1.21], [-0.13], [0.41], [0.36], [1.51], [-1.29], [0.78], [1.49], [0.09], [-0.21], [0.26], [1.04], [0.43], [-0.65], [0.21], [-0.32]], "dtype": "<f8"}, "keys": {"__array__": [0.002738500170148095, 0.016527635528529094, 0.028319671145462966, 0.033585575305464355, 0.04097352393619469, 0.05202130106440961, 0.05856803480519435, 0.08401534358238483, 0.12428327649956394, 0.13509650502241122, 0.15027946689483906, 0.17565562060255901, 0.22715759353337972, 0.23064220899374743, 0.23936944299295215, 0.2697867137638703, 0.2997118905373848, 0.31024187555895566, 0.32186939107594215, 0.3361170605456604, 0.33791122550713326, 0.35779519670907023, 0.38367755426188344, 0.3889214239791038, 0.39161900052816123, 0.42268722119765845, 0.450339366649287, 0.4858353588317891, 0.5253543224757259, 0.5414612202490917], "dtype": "<f8"}, "proba": {"__array__": [[0.48, 0.52], [0.44999999999999996, 0.55], [0.565, 0.435], [0.608, 0.392], [0.21799999999999997, 0.782], [0.789, 0.211], [0.21099999999999997, 0.789], [0.027000000000000024, 0.973], [0.061000000000000054, 0.939], [0.579, 0.421], [0.31000000000000005, 0.69], [0.812, 0.188], [0.051000000000000045, 0.949], [0.914, 0.086], [0.918, 0.082], [0.565, 0.435], [0.30600000000000005, 0.694], [0.32699999999999996, 0.673], [0.04700000000000004, 0.953], [0.9299999999999999, 0.07], [0.17400000000000004, 0.826], [0.04800000000000004, 0.952], [0.45499999999999996, 0.545], [0.603, 0.397], [0.373, 0.627], [0.11099999999999999, 0.889], [0.29700000000000004, 0.703], [0.786, 0.214], [0.397, 0.603], [0.655, 0.345]], "dtype": "<f8"}, "values": null, "labels": {"__array__": ["0", "0", "0", "0", "1", "1", "1", "1", "1", "1", "1", "0", "1", "0", "1", "1", "0", "0", "1", "0", "0", "1", "0", "0", "1", "1", "0", "1", "0", "0"], "dtype": "<U1"}, "start": null, "end": null}}'


def _same_json(a, b, where="$"):
    "Assert JSON values `a` and `b` are equal: dicts with the same keys in order, floats within 1e-12 relative."
    assert type(a) is type(b), f"{where}: {a!r} != {b!r}"   # 60 and 60.0 are other bytes in a profile
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a: _same_json(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for i, (u, v) in enumerate(zip(a, b)): _same_json(u, v, f"{where}[{i}]")
    elif isinstance(a, float): assert a == pytest.approx(b, rel=1e-12, abs=1e-300), f"{where}: {a!r} != {b!r}"
    else: assert a == b, f"{where}: {a!r} != {b!r}"


def _tiny_reference():
    g = np.random.default_rng(0); x = g.normal(size=60)
    ref = pd.DataFrame({"x": np.round(x, 2), "label": (g.random(60) < 1 / (1 + np.exp(-2 * x))).astype(int)})
    return ref, (lambda df: np.round(1 / (1 + np.exp(-2 * df["x"].to_numpy())), 3))


@pytest.mark.filterwarnings("ignore::prodkit.drift.LowPowerWarning")   # 60 rows: too few for the feature tests, enough here
def test_a_profile_saved_without_its_task_is_refused_and_says_to_fit_it_again(tmp_path):
    "Profiles now record the model's task; an older file (it said `output`) is a FileFormatError, never read with a guess."
    (tmp_path / "old.json").write_text(OLD_PROFILE)
    with pytest.raises(FileFormatError, match="saved without its model's task") as e:
        ReferenceProfile.load(tmp_path / "old.json")
    assert "fit the profile again" in e.value.fix


@pytest.mark.filterwarnings("ignore::prodkit.drift.LowPowerWarning")
def test_a_new_profile_differs_from_the_old_only_by_the_task_and_label_keys_and_compares(tmp_path):
    """The profile keeps raw probabilities and labels, not an ECE: the same bytes as before but `output` -> `task`,
    `target` -> `label`, and the sample size asked for."""
    ref, model = _tiny_reference()
    new = ReferenceProfile.fit(ref, label="label", predictor=model, bins=3, sample_rows=30)
    assert new.task == "classification"
    new.save(tmp_path / "new.json")
    expected = OLD_PROFILE.replace('"output": "classification"', '"task": "classification"').replace('"target": "label"', '"label": "label"').replace(
        '"end": null}}', '"end": null, "sample_rows": 30}}')   # the sample size asked for, kept for merges
    got = (tmp_path / "new.json").read_text()
    # the same keys in the same order and the same values; floats that are sums may differ in the last bit on another
    # CPU (numpy's SIMD width sets the summation order: `sumsq` is 48.706900000000005 on an AVX-512 Xeon)
    _same_json(json.loads(got), json.loads(expected))
    back = ReferenceProfile.load(tmp_path / "new.json")
    cur = ref.assign(label=1 - ref["label"])                           # every label flipped: badly calibrated
    cal = back.compare(cur, predictor=model, n_boot=50, multivariate=False).calibration
    assert cal["ece_ref"] == pytest.approx(expected_calibration_error(back.sample_.labels, back.sample_.proba), abs=1e-12)
    assert cal["change"] > 0.15
