"""The demo: deterministic, drifting where `info` says (and only there), with models of sensible quality."""
import os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from prodkit.core import no_random
from prodkit.demo import CONCEPT_DRIFT_DATE, _build_demo, load_demo, make_churn, write_demo
from prodkit.versioning import Manifest, fingerprint_data, fingerprint_model, load_bundle

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo():
    return load_demo(0)


def _auc(y, p):
    from sklearn.metrics import roc_auc_score
    return roc_auc_score(y, p)


def test_same_seed_same_everything(demo):
    rebuilt = _build_demo(0, 10_000, 10_000, True)       # a second build, not the cache
    pd.testing.assert_frame_equal(rebuilt.reference, demo.reference)
    pd.testing.assert_frame_equal(rebuilt.current, demo.current)
    assert fingerprint_model(rebuilt.model) == fingerprint_model(demo.model)
    assert fingerprint_model(rebuilt.digits.model) == fingerprint_model(demo.digits.model)
    np.testing.assert_array_equal(rebuilt.predictor.predict_proba(demo.current), demo.predictor.predict_proba(demo.current))
    assert torch.equal(rebuilt.digits.X_test, demo.digits.X_test)
    assert rebuilt.info == demo.info


def test_same_seed_in_a_fresh_process():
    code = ("from prodkit.demo import load_demo; from prodkit.versioning import fingerprint_data, fingerprint_model\n"
            "d = load_demo(3, n_reference=1000, n_current=1000, digits=False)\n"
            "print(fingerprint_data(d.reference), fingerprint_data(d.current), fingerprint_model(d.model))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "99"})
    assert r.returncode == 0, r.stderr[-2000:]
    d = load_demo(3, n_reference=1000, n_current=1000, digits=False)
    assert r.stdout.split() == [fingerprint_data(d.reference), fingerprint_data(d.current), fingerprint_model(d.model)]


def test_different_seed_differs(demo):
    other = load_demo(1, n_reference=2000, n_current=2000, digits=False)
    small = load_demo(0, n_reference=2000, n_current=2000, digits=False)
    assert fingerprint_data(other.reference) != fingerprint_data(small.reference)
    assert fingerprint_model(other.model) != fingerprint_model(small.model)
    assert not np.allclose(other.predictor.predict_proba(small.current), small.predictor.predict_proba(small.current))


def test_building_leaves_global_random_state_alone():
    with no_random(strict=True):
        _build_demo(5, 500, 500, True)


def test_cache_returns_independent_frames(demo):
    a = load_demo(0); a.reference.loc[0, "monthly_charges"] = -1.0
    assert load_demo(0).reference.loc[0, "monthly_charges"] == demo.reference.loc[0, "monthly_charges"] != -1.0


def test_layout_matches_schema_and_info(demo):
    ref, cur, info, s = demo.reference, demo.current, demo.info, demo.schema
    assert (s.label, s.time) == ("label", "timestamp")
    kinds = {f.name: f.kind for f in s.features}
    assert sum(k == "numeric" for k in kinds.values()) == 6 and sum(k == "categorical" for k in kinds.values()) == 3
    assert sum(k == "boolean" for k in kinds.values()) == 1
    assert set(info["drifting_features"]) | set(info["stable_features"]) == set(s.names)
    assert ref.support_calls.dtype == np.int64 and (ref.support_calls >= 0).all()
    assert 0.02 < ref.age.isna().mean() < 0.04 and 0.02 < cur.age.isna().mean() < 0.04
    assert ref.timestamp.min() >= pd.Timestamp(info["reference_period"][0]) and ref.timestamp.max() < pd.Timestamp(info["reference_period"][1])
    assert cur.timestamp.min() >= pd.Timestamp(info["current_period"][0]) and cur.timestamp.max() < pd.Timestamp(info["current_period"][1])
    assert info["concept_drift_date"] == CONCEPT_DRIFT_DATE and info["concept_drift_feature"] in s.names
    s.validate(cur)                                       # no unseen categories, no new nulls
    assert 9_000 < len(ref) <= 10_000 and 9_000 < len(cur) <= 10_000


def _drift_p(a, b):
    if a.dtype.kind in "fiu": return stats.ks_2samp(a.dropna(), b.dropna()).pvalue
    t = pd.crosstab(np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a.astype(str), b.astype(str)])
    return stats.chi2_contingency(t).pvalue


def test_data_drift_where_info_says_and_only_there(demo):
    ref, cur = demo.reference, demo.current
    for f in demo.info["drifting_features"]:
        assert _drift_p(ref[f], cur[f]) < 1e-10, f
    for f in demo.info["stable_features"]:
        assert _drift_p(ref[f], cur[f]) > 1e-3, f


def test_drift_is_gradual(demo):
    ref, cur = demo.reference, demo.current
    month = cur.timestamp.dt.month
    shift = cur.groupby(month).monthly_charges.mean() - ref.monthly_charges.mean()
    assert list(shift.index) == [7, 8, 9, 10, 11, 12] and (np.diff(shift.to_numpy()) > 0.5).all(), shift   # more every month
    assert np.corrcoef(shift.index, shift.to_numpy())[0, 1] > 0.95                                # and steadily so
    assert shift[7] < 3 and shift[12] > 11
    m2m = cur.groupby(month).contract.apply(lambda s: (s == "month-to-month").mean())
    assert m2m[7] < 0.56 and m2m[12] > 0.64
    usage = cur.groupby(month).data_usage_gb.median() / ref.data_usage_gb.median()
    assert usage[7] < 1.15 and usage[12] > 1.35


def test_concept_drift_after_the_date(demo):
    cur = demo.current; after = cur.timestamp >= pd.Timestamp(CONCEPT_DRIFT_DATE)
    f = demo.info["concept_drift_feature"]
    # the feature itself does not drift ...
    assert stats.ks_2samp(cur.loc[after, f], cur.loc[~after, f]).pvalue > 1e-3
    assert stats.ks_2samp(demo.reference[f], cur.loc[after, f]).pvalue > 1e-3
    # ... but its relation to the label turns around
    slope = lambda d: stats.linregress(d[f], d.label).slope
    assert slope(demo.reference) > 0.03 and slope(cur[~after]) > 0.03 and slope(cur[after]) < -0.01
    p = demo.predictor.predict_proba(cur)[:, 1]
    assert _auc(cur.label[after], p[after]) < _auc(cur.label[~after], p[~after]) - 0.05


def test_models_reach_their_quality(demo):
    q = demo.info["quality"]
    assert q["reference_holdout_auc"] > 0.8
    p = demo.predictor.predict_proba(demo.current)[:, 1]
    assert abs(_auc(demo.current.label, p) - q["current_auc"]) < 1e-12
    g = demo.digits
    acc = (g.predictor.predict(g.X_test) == g.y_test.numpy()).mean()
    assert acc > 0.9 and acc == pytest.approx(g.accuracy)
    assert g.X_train.shape[1:] == (1, 8, 8) and g.X_train.dtype == torch.float32
    assert float(g.X_train.min()) >= 0 and float(g.X_train.max()) <= 1
    assert len(set(map(tuple, g.X_train.flatten(1).numpy())) & set(map(tuple, g.X_test.flatten(1).numpy()))) < 10   # a real split


def test_write_demo_twice_is_reproducible(demo, tmp_path):
    a, b = write_demo(tmp_path / "a"), write_demo(tmp_path / "b")
    for k in ("bundle", "reference", "current", "digits_bundle", "digits", "manifest"): assert Path(a[k]).exists(), k
    assert fingerprint_data(a["reference"]) == fingerprint_data(demo.reference)
    assert fingerprint_data(a["current"]) == fingerprint_data(b["current"])
    assert fingerprint_model(a["bundle"]) == fingerprint_model(b["bundle"]) == fingerprint_model(demo.model)
    d = Manifest.load(a["manifest"]).diff(b["manifest"])
    assert d.identical, d.to_frame().query("changed")
    bundle = load_bundle(a["bundle"])
    np.testing.assert_array_equal(bundle.predictor.predict_proba(pd.read_parquet(a["current"])), demo.predictor.predict_proba(demo.current))
    z = np.load(a["digits"])
    np.testing.assert_array_equal(load_bundle(a["digits_bundle"]).predictor.predict(z["X_test"]), z["y_test"] * 0 + demo.digits.predictor.predict(demo.digits.X_test))
    assert sorted(os.listdir(tmp_path / "a")) == sorted(os.listdir(tmp_path / "b"))
    assert not [n for n in os.listdir(tmp_path / "a") if n.startswith(".")]     # no temporary files left


def test_label_and_prediction_drift_follow_the_data_drift(demo):
    ref, cur = demo.reference, demo.current
    assert cur.label.mean() > ref.label.mean() + 0.04
    assert demo.info["label_rate_current"] == pytest.approx(cur.label.mean())
    p_ref, p_cur = (demo.predictor.predict_proba(d)[:, 1] for d in (ref, cur))
    assert stats.ks_2samp(p_ref, p_cur).pvalue < 1e-10 and p_cur.mean() > p_ref.mean() + 0.03
    # before the concept-drift date the model stays calibrated on average: P(label | x) has not changed
    before = (cur.timestamp < pd.Timestamp(CONCEPT_DRIFT_DATE)).to_numpy()
    assert abs(p_cur[before].mean() - cur.label[before].mean()) < 0.03
