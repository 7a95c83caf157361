"""The performance the covariate shift alone would give (`expected`, the reference reweighted by a domain classifier's
density ratios) is close to the true performance of the shifted population, and the same seed gives the same numbers."""
import numpy as np
import pandas as pd

from prodkit.drift import performance_over_time
from prodkit.quality import compute_metric


def _scored(g, n, shift):
    "Rows whose label follows p = sigmoid(3a - b), a ~ N(loc, sd) for `shift` = (loc, sd); the model's score is p itself."
    X = pd.DataFrame({"a": g.normal(*shift, n), "b": g.normal(size=n), "c": g.normal(size=n)})
    p = 1 / (1 + np.exp(-(3 * X["a"] - X["b"]).to_numpy()))
    return X, (g.random(n) < p).astype(int), p


def _timeline(g, shifts, n=1500, seed=0):
    Xr, yr, sr = _scored(g, 4000, (0.0, 1.0))
    parts = [_scored(g, n, s) for s in shifts]
    X = pd.concat([p[0] for p in parts], ignore_index=True)
    y, s = np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])
    return performance_over_time(y, s, chunk_size=n, reference=(yr, sr), X=X, X_reference=Xr, seed=seed, progress=False)


def test_expected_auc_under_covariate_shift_is_the_shifted_population_s_auc():
    g = np.random.default_rng(21); shifts = [(0.0, 0.35), (0.5, 0.5), (1.0, 0.7)]   # narrower: the model ranks worse
    w = _timeline(g, shifts).to_frame()
    truth = []
    for s in shifts:   # the AUC of a large sample of each shifted population
        _, yt, st = _scored(g, 200_000, s)
        truth.append(compute_metric("auc", yt, st))
    err = w["expected"].to_numpy() - np.array(truth)
    ref_gap = w["expected"].to_numpy() - w["covariate_effect"].to_numpy() - np.array(truth)   # the unweighted reference
    assert np.abs(ref_gap).max() > 0.05, ref_gap     # the shift moves the AUC: the check below can fail
    assert np.abs(err).max() < 0.03, err             # the reweighted reference finds the shifted AUC
    assert np.abs(err).mean() < np.abs(ref_gap).mean() / 3, (err, ref_gap)


def test_same_seed_same_expected_values():
    a = _timeline(np.random.default_rng(22), [(0.0, 1.0), (0.5, 0.5)], n=800, seed=4).to_frame()
    b = _timeline(np.random.default_rng(22), [(0.0, 1.0), (0.5, 0.5)], n=800, seed=4).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert a["expected"].notna().all()
