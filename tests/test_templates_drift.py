"""templates/drift_monitoring.ipynb: the retraining recommendation a scheduler acts on (`retrain.recommended`), on tiny data."""
import numpy as np
import pandas as pd
import pytest
import torch

from prodkit.core import Predictor, Schema, TabularAdapter
from prodkit.drift import ReferenceProfile
from prodkit.jobs import run_notebook
from prodkit.versioning import save_bundle


def _frame(g, n, shift=0.0, flip=False):
    df = pd.DataFrame({"x": g.normal(shift, 1, n), "z": g.normal(size=n), "c": g.choice(["a", "b"], n)})
    y = (g.random(n) < 1 / (1 + np.exp(-2 * df["x"]))).astype(int)
    df["label"] = 1 - y if flip else y          # flip: the relation between x and the label turned round (concept drift)
    return df


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    "A logistic model of `x` (bundle) and the reference profile fitted with it."
    d = tmp_path_factory.mktemp("retrain")
    ref = _frame(np.random.default_rng(0), 1500)
    schema = Schema.infer(ref, label="label"); adapter = TabularAdapter(schema).fit(ref)
    net = torch.nn.Linear(adapter.n_features_, 1)
    with torch.no_grad():
        net.weight.zero_(); net.weight[0, 0] = 2.0 * adapter.stats_["x"]["std"]; net.bias.fill_(2.0 * adapter.stats_["x"]["mean"])
    save_bundle(d / "bundle", net, adapter, output="logits", classes=[0, 1])
    ReferenceProfile.fit(ref, schema=schema, predictor=Predictor(net, adapter=adapter, output="logits", classes=[0, 1]), seed=0).save(d / "profile.npz")
    return d


@pytest.mark.parametrize("window, recommended, reason", [
    (dict(), 0, None),                                             # the same population: nothing to do
    (dict(shift=1.0), 1, "1 of 3 features drifted (33%; threshold 20%): x"),   # covariate drift beyond the share
    (dict(flip=True), 1, "auc fell by"),                            # no feature moved, but the model lost its skill
], ids=["stable", "data-drift", "concept-drift"])
def test_retraining_is_recommended_for_drift_or_lost_performance(model_dir, tmp_path, window, recommended, reason):
    _frame(np.random.default_rng(1), 1500, **window).to_parquet(tmp_path / "window.parquet")
    r = run_notebook("drift_monitoring", {"profile": str(model_dir / "profile.npz"), "current": str(tmp_path / "window.parquet"),
                                          "model": str(model_dir / "bundle"), "multivariate": False},
                     tmp_path / "job", gates=["retrain.recommended == 0"])
    assert r.failed_cell is None, r.message
    q = r.results
    assert q["retrain.recommended"] == recommended and q["retrain.n_reasons"] == recommended
    assert q["retrain.performance_checked"] == 1 and r.exit_code == recommended     # the one gate decides the exit code
    assert (q["retrain.performance_loss"] > 0.3) == window.get("flip", False)
    page = r.html.read_text()
    top = page.split("Which features drifted")[0]                   # shown before the detail sections
    assert ("Retraining RECOMMENDED" if recommended else "Retraining not recommended") in top
    if reason: assert reason in top


def test_without_a_model_the_recommendation_carries_a_caveat_and_its_gate_fails(model_dir, tmp_path):
    _frame(np.random.default_rng(1), 1500).to_parquet(tmp_path / "window.parquet")
    r = run_notebook("drift_monitoring", {"profile": str(model_dir / "profile.npz"), "current": str(tmp_path / "window.parquet"),
                                          "multivariate": False}, tmp_path / "job", gates=["retrain.recommended == 0"])
    assert r.failed_cell is None and r.exit_code == 1, r.message
    assert r.results["retrain.recommended"] == 0 and r.results["retrain.performance_checked"] == 0
    (gate,) = r.gates.rows
    assert gate["passed"] is False and "performance not checked (no model was given)" in gate["reason"]
