"""prodkit.security.leakage: planted exact and near duplicates and a planted leaking feature are found on bundled
data, none on a clean split; the model's metric is given with and without the duplicated rows; time leakage."""
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

from prodkit.core import Predictor, TabularAdapter
from prodkit.security import leakage


@pytest.fixture(scope="module")
def split():
    d = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "label"})
    d = d.sample(frac=1.0, random_state=0).reset_index(drop=True)
    d["when"] = pd.date_range("2025-01-01", periods=len(d), freq="D")
    return d[:400], d[400:]


def test_a_clean_split_shows_no_leakage(split):
    ref, ev = split
    r = leakage(ref, ev, label="label", time="when")
    assert (r.exact, r.near, r.summary["n_leaking_features"]) == (0, 0, 0), r.headline()
    assert r.summary["time_overlap_share"] == 0.0 and r.summary["duplicate_share"] == 0.0
    assert 0.3 < r.summary["max_feature_score"] < 0.9               # real features predict, none suspiciously well


def test_planted_duplicates_and_a_leaking_feature_are_found(split):
    ref, ev = split
    g = np.random.default_rng(0)
    both = pd.concat([ref, ev]); both = both.assign(leak=both.label * 3 + g.normal(0, 0.1, len(both)))
    ref, ev = both[:len(ref)], both[len(ref):]
    near = ref[10:16].copy(); near["mean radius"] = near["mean radius"] * (1 + 1e-5)
    bad = pd.concat([ev, ref[:8], near])
    r = leakage(ref, bad, label="label", time="when")
    assert (r.exact, r.near) == (8, 6), r.duplicates
    assert set(r.duplicates.reference_row) == set(range(8)) | set(range(10, 16))
    assert list(r.features.feature[r.features.suspicious]) == ["leak"]
    np.testing.assert_allclose(r.summary["duplicate_share"], 14 / len(bad))
    np.testing.assert_allclose(r.summary["time_overlap_share"], 14 / len(bad))
    assert "leak" in r.headline() and r.plot().ax_ is not None and "<table>" in r._repr_html_()


def test_the_metric_with_and_without_duplicates(split):
    ref, ev = split
    feats = [c for c in ref.columns if c not in ("label", "when")]
    ad = TabularAdapter().fit(ref[feats]); X = ad.transform(ref[feats]); y = torch.tensor(ref.label.to_numpy())
    torch.manual_seed(0); m = nn.Sequential(nn.Linear(X.shape[1], 64), nn.ReLU(), nn.Linear(64, 2))
    opt = torch.optim.Adam(m.parameters(), 0.01)
    for _ in range(300): opt.zero_grad(); nn.functional.cross_entropy(m(X), y).backward(); opt.step()
    pred = Predictor(m, adapter=ad, output="logits")
    bad = pd.concat([ev, ref[:150]])                                 # memorised rows inflate the metric
    r = leakage(ref, bad, label="label", model=pred)
    p = pred.predict_proba(ev[feats]); want = float(np.mean(p.argmax(1) == ev.label.to_numpy()))
    assert r.metric == "accuracy" and r.exact == 150
    np.testing.assert_allclose(r.metric_without_duplicates, want)
    assert r.metric_all > r.metric_without_duplicates


def test_hostile_feature_names_are_escaped_in_the_report():
    g = np.random.default_rng(0); n = 60
    d = pd.DataFrame({"<img src=x onerror=alert(1)>": g.normal(size=n), "b": g.normal(size=n)})
    d["label"] = (d.b > 0).astype(int); d["<img src=x onerror=alert(1)>"] = d.label + g.normal(0, 0.01, n)
    r = leakage(d[:40], d[40:], label="label")
    assert r.summary["n_leaking_features"] >= 1
    html = r._repr_html_()
    assert "<img" not in html
    assert "onerror" in html            # the name is shown, escaped


def test_a_regression_split_leaks_nothing_until_a_leak_is_planted():
    from sklearn.datasets import load_diabetes
    d = load_diabetes(as_frame=True).frame.sample(frac=1, random_state=0).reset_index(drop=True)
    clean = leakage(d[:300], d[300:], label="target", task="regression")
    assert (clean.exact, clean.near, clean.summary["n_leaking_features"]) == (0, 0, 0), clean.headline()
    assert clean.summary["max_feature_score"] < 0.5                       # R² of one feature alone
    both = d.assign(echo=d.target + np.random.default_rng(0).normal(0, 1.0, len(d)))   # the label, barely disguised
    r = leakage(both[:300], pd.concat([both[300:], both[:10]]), label="target", task="regression")
    assert (r.exact, r.near) == (10, 0) and list(r.features.feature[r.features.suspicious]) == ["echo"]
    np.testing.assert_allclose(r.summary["duplicate_share"], 10 / (len(d) - 300 + 10))


def _brute_duplicates(ref, ev, label, threshold):
    "Every evaluation row against every reference row: equal values first (the first such row), else the nearest encoded row within the threshold (the first of ties)."
    feats = [c for c in ref.columns if c != label]
    ad = TabularAdapter().fit(ref[feats])
    R, E = ad.transform(ref[feats]).double().numpy(), ad.transform(ev[feats]).double().numpy()
    out = []
    for i in range(len(ev)):
        same = [k for k in range(len(ref)) if all(
            (pd.isna(ref[c].iloc[k]) and pd.isna(ev[c].iloc[i])) or ref[c].iloc[k] == ev[c].iloc[i] for c in feats)]
        if same: out.append((i, same[0], 0.0, True)); continue
        d = np.sqrt(((R - E[i]) ** 2).sum(1))
        k = int(np.argmin(d))                                   # the first of rows at the smallest distance
        if d[k] <= threshold: out.append((i, k, float(d[k]), False))
    return out


def test_exact_and_near_duplicates_and_ties_match_a_brute_force_search():
    g = np.random.default_rng(3); n = 120
    ref = pd.DataFrame({"a": g.integers(0, 4, n).astype(float), "b": g.integers(0, 3, n).astype(float),
                        "c": g.choice(["x", "y"], n), "label": g.integers(0, 2, n)})
    ref.loc[5, "a"] = np.nan                                                   # a missing value matches a missing value
    ref = pd.concat([ref, ref.iloc[[7, 7, 5]]], ignore_index=True)           # identical reference rows: the first counts
    ev = pd.concat([ref.iloc[[7, 5, 30]],                                     # exact copies
                    ref.iloc[[10, 11]].assign(a=lambda d: d.a + 1e-3),      # near copies
                    pd.DataFrame({"a": [1.5], "b": [0.0], "c": ["x"], "label": [0]}),   # halfway between two rows: a tie
                    pd.DataFrame({"a": [9.0], "b": [9.0], "c": ["x"], "label": [0]})], ignore_index=True)
    for near in (0.002, 0.5):
        r = leakage(ref, ev, label="label", near=near, seed=0)
        got = [(int(row), int(k), float(dist), bool(ex)) for row, k, dist, ex in r.duplicates.itertuples(index=False)]
        want = _brute_duplicates(ref, ev, "label", r.threshold)
        assert got == want, (near, got, want)
        assert (r.exact, r.near) == (sum(w[3] for w in want), sum(not w[3] for w in want))
    assert [(w[0], w[3]) for w in want[:5]] == [(0, True), (1, True), (2, True), (3, False), (4, False)]
    feats = ["a", "b", "c"]; ad = TabularAdapter().fit(ref[feats])
    d5 = np.sqrt(((ad.transform(ref[feats]).double().numpy() - ad.transform(ev[feats].iloc[[5]]).double().numpy()) ** 2).sum(1))
    tied = ref[feats].iloc[np.flatnonzero(d5 <= d5.min() + 1e-6)].apply(tuple, axis=1)
    assert set(tied) == {(1.0, 0.0, "x"), (2.0, 0.0, "x")}                                     # a tie, up to float32 encoding
    assert [w[:2] for w in want if w[0] == 5] == [(5, int(np.argmin(d5)))]                        # and the first one won
