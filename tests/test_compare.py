"""prodkit.compare end to end, seeded and repeated: equally good models are rarely called better, a model trained on
more data is found better, a segment the challenger serves worse is caught, a canary with a 20% latency regression
fails while A/A pairs pass at about the stated false-alarm rate."""
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from prodkit.compare import aa_calibration, canary_analysis, compare_models
from prodkit.core import Predictor

_BC = load_breast_cancer(as_frame=True)
DF = _BC.frame.rename(columns={"target": "y"})
FEATS = list(_BC.feature_names)


def _fit(rows, cols=FEATS, C=1.0):
    "A logistic regression on `rows` of DF, served as a prodkit Predictor over all 30 columns."
    idx = [FEATS.index(c) for c in cols]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)).fit(DF.iloc[rows][cols].to_numpy(), DF.iloc[rows]["y"])
    return Predictor(lambda t: torch.from_numpy(clf.predict_proba(t.numpy()[:, idx].astype(np.float64))), output="proba")


def _split(seed, n_eval=250):
    "Evaluation rows and training rows, both classes present, from a seeded permutation."
    perm = np.random.default_rng(seed).permutation(len(DF))
    return perm[:n_eval], perm[n_eval:]


def _cmp(a, b, rows, **kw):
    kw.setdefault("n_boot", 200); kw.setdefault("metrics", ["accuracy", "auc"])
    return compare_models(a, b, DF.iloc[rows], label="y", seed=0, **kw)


def test_identical_models_are_never_better():
    ev, tr = _split(0); m = _fit(tr[:150])
    for seed in range(3):
        r = compare_models(m, m, DF.iloc[ev], label="y", n_boot=200, seed=seed)
        assert set(r.table["decision"]) == {"non_inferior"}
        assert r.verdict == "promote" and r.summary["auc_p_value"] == 1.0 and r.summary["disagreement"] == 0.0


def test_seed_noise_models_are_rarely_better():
    "Two models trained on different random halves of the same pool: 'better' on AUC at most about alpha/2 of the time."
    better = 0
    for rep in range(12):
        ev, tr = _split(100 + rep)
        g = np.random.default_rng(rep); a, b = g.permutation(tr)[:150], g.permutation(tr)[:150]
        r = _cmp(_fit(a, C=0.05), _fit(b, C=0.05), ev)
        better += r.summary["auc_decision"] == "better"
    assert better <= 2, f"{better} of 12 equally good pairs called better"


def _linear(w):
    lin = torch.nn.Linear(len(w), 1)
    with torch.no_grad(): lin.weight[:] = torch.tensor(w, dtype=torch.float32)[None]; lin.bias.zero_()
    return Predictor(lin, output="logits")


def test_exactly_equal_models_are_called_better_about_alpha_over_2():
    "Weights truth + e and truth + permuted e on iid features: equal population quality by symmetry; 'better' on AUC is rare."
    truth, better = np.full(10, 0.5), 0
    for rep in range(20):
        g = np.random.default_rng(rep); e = g.normal(scale=0.5, size=10)
        X = g.normal(size=(400, 10)).astype(np.float32); y = (g.random(400) < 1 / (1 + np.exp(-X @ truth))).astype(int)
        df = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(y=y)
        r = compare_models(_linear(truth + e), _linear(truth + g.permutation(e)), df, label="y", metrics=["auc"], n_boot=200, seed=rep)
        better += r.summary["auc_decision"] == "better"
    assert better <= 3, f"{better} of 20 exactly equal pairs called better (expected about 0.5)"


def test_more_data_is_found_better():
    "A champion trained on 12 rows and 4 features, a challenger on 300 rows and all features: AUC better in most splits."
    wins = 0
    for rep in range(6):
        ev, tr = _split(200 + rep)
        small = np.r_[tr[DF.y.iloc[tr].to_numpy() == 0][:6], tr[DF.y.iloc[tr].to_numpy() == 1][:6]]
        r = _cmp(_fit(small, FEATS[:4]), _fit(tr[:300]), ev, margin=0.005)
        wins += r.summary["auc_decision"] == "better" and r.promote
    assert wins >= 5, f"only {wins} of 6"


def test_segment_worse_is_caught_by_slices():
    "Not worse on average, but wrong on every row of one site: the slice analysis finds the site and rejects the challenger."
    caught = 0
    for rep in range(5):
        ev, tr = _split(300 + rep, n_eval=400); good = _fit(tr)
        g = np.random.default_rng(rep); data = DF.iloc[np.sort(ev)]
        site = np.where(g.random(len(data)) < 0.12, "D", np.array(["A", "B", "C"])[np.arange(len(data)) % 3])
        noise = g.random(len(data)) < 0.15
        flip = lambda mask: Predictor(lambda t: torch.from_numpy(np.where(mask[:, None], good.predict_proba(t)[:, ::-1], good.predict_proba(t))),
                                      output="proba")   # the good model, wrong on the rows of `mask` (rows arrive in data order)
        r = compare_models(flip(noise), flip(site == "D"), data, label="y", metrics=["accuracy", "auc"], primary="accuracy", margin=0.05,
                           slices={f"site = {s}": site == s for s in "ABCD"}, n_boot=200, seed=rep)
        assert r.summary["accuracy_decision"] in ("better", "non_inferior"), r.table
        caught += (not r.promote) and bool(r.slices.loc["site = D", "worse"]) and not r.slices.drop(index="site = D")["worse"].any()
    assert caught == 5, f"caught {caught} of 5"


def test_regression_pair():
    data = DF[FEATS].assign(area=DF["mean area"] + np.random.default_rng(0).normal(0, 20, len(DF)))
    exact = torch.nn.Linear(30, 1); noisy = torch.nn.Linear(30, 1)
    with torch.no_grad():
        for lin, w0 in ((exact, 0.0), (noisy, 3.0)):
            lin.weight.zero_(); lin.weight[0, 3] = 1.0; lin.weight[0, 0] = w0; lin.bias.fill_(-w0 * float(DF["mean radius"].mean()))
    r = compare_models(Predictor(noisy, task="regression"), Predictor(exact, task="regression"), data, label="area", n_boot=200, slices=["mean radius"])
    assert list(r.table.index) == ["mae", "rmse", "r2"] and r.primary == "mae"
    assert r.summary["mae_decision"] == "better" and r.summary["r2_diff"] > 0 and r.summary["n_slices"] == 4


def _latency(g, n, scale=1.0):
    return pd.DataFrame({"monitor.latency_ms": g.lognormal(1.5, 0.4, n) * scale, "monitor.confidence": g.beta(8, 2, n)})


def test_canary_latency_regression_fails_and_aa_passes():
    fails = aa_alarms = 0
    for rep in range(20):
        g = np.random.default_rng(rep)
        base = _latency(g, 400)
        fails += canary_analysis(base, _latency(g, 400, 1.2)).verdict == "fail"
        aa_alarms += canary_analysis(base, _latency(g, 400)).verdict != "pass"
    assert fails >= 19, f"the 20% regression failed only {fails} of 20 times"
    assert aa_alarms <= 2, f"{aa_alarms} of 20 A/A pairs raised an alarm"


def test_aa_calibration_matches_alpha():
    "No allowance: each one-sided test alone alarms about alpha of the time; A/A halves give that rate."
    r = aa_calibration(_latency(np.random.default_rng(0), 600), metrics=["latency_ms"], n_splits=300, alpha=0.05,
                       allowed_increase=0.0, seed=0)
    assert 0.01 <= r.summary["false_alarm_rate"] <= 0.10, r.summary


def test_canary_reads_monitor_stores(tmp_path):
    from prodkit.monitor import Monitor
    lin = torch.nn.Linear(30, 2)
    for name in ("base", "canary"):
        m = Monitor(Predictor(lin, output="logits"), tmp_path / f"{name}.sqlite", version=name)
        for i in range(0, 60, 3): m.predict_proba(DF[FEATS].iloc[i:i + 3])
        m.flush(); m.close()
    r = canary_analysis(tmp_path / "base.sqlite", tmp_path / "canary.sqlite", metrics=["confidence"])
    assert r.verdict == "pass" and r.table.loc["confidence", "n_canary"] == 60


def test_fast_bootstrap_equals_the_metric_functions_on_the_same_weights():
    "Every replicate of the one-matrix-product bootstrap is what quality's metric function gives on the same weights."
    from prodkit.compare import _bootstrap, _weights
    from prodkit.quality import METRICS
    g, n = np.random.default_rng(0), 300
    W = np.vstack(list(_weights(n, 60, np.random.default_rng([4, 0]))))
    part = g.random(n) < 0.4
    y3, pa, pb = g.integers(0, 3, n), g.dirichlet(np.ones(3), n), g.dirichlet(np.ones(3), n)
    yr = g.normal(size=n); va, vb = yr + g.normal(size=n), yr + 0.8 * g.normal(size=n)
    for y, a, b, names, sm in ((y3, pa, pb, ["accuracy", "log_loss", "brier", "ece", "auc"], "brier"),
                               (y3, pa, pb, ["accuracy"], "auc"),
                               (yr, va, vb, ["mae", "rmse", "r2"], "r2")):
        whole, sliced = _bootstrap(y, a, b, names, {"part": part}, sm, n_boot=60, seed=[4, 0])
        for m in names:
            for side, out in ((2, a), (3, b)):
                np.testing.assert_allclose(whole[m][side], METRICS[m].fn(y, out, W), rtol=1e-5, atol=1e-6, err_msg=m)
        for side, out in ((2, a), (3, b)):
            np.testing.assert_allclose(sliced["part"][side], METRICS[sm].fn(y[part], out[part], W[:, part]), rtol=1e-5,
                                       atol=1e-6, err_msg=sm)


def test_identical_regression_models_have_exactly_zero_differences():
    data = DF[FEATS].assign(area=DF["mean area"])
    lin = torch.nn.Linear(30, 1)
    r = compare_models(Predictor(lin, task="regression"), Predictor(lin, task="regression"), data, label="area", n_boot=100,
                       slices=["mean radius"])
    assert set(r.table["decision"]) == {"non_inferior"}, r.table
    assert (r.table[["diff_ci_low", "diff_ci_high"]].to_numpy() == 0).all() and not r.slices["worse"].any()


def test_segment_worse_is_caught_by_a_column_slice_on_auc():
    "Default primary (AUC, DeLong per slice): a challenger that scores one site's rows at random is caught by slices=['site']."
    caught = 0
    for rep in range(3):
        ev, tr = _split(400 + rep, n_eval=400); good = _fit(tr)
        g = np.random.default_rng(rep); data = DF.iloc[np.sort(ev)].copy()
        site = np.where(g.random(len(data)) < 0.25, 1, 0)   # a site code (few values: one slice per value)
        data["site"] = site
        rand = g.random(len(data))
        noisy = Predictor(lambda t: torch.from_numpy(np.where((site == 1)[:, None], np.c_[1 - rand, rand], good.predict_proba(t))),
                          output="proba")
        r = compare_models(good, noisy, data, label="y", metrics=["auc", "accuracy"], slices=["site"], n_boot=100, seed=rep)
        caught += (not r.promote) and bool(r.slices.loc["site = 1", "worse"]) and not bool(r.slices.loc["site = 0", "worse"])
    assert caught == 3, f"caught {caught} of 3"
