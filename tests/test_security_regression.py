"""prodkit.security on regressors: robustness is the change of a prediction under attack (closed form for a linear
model; an overfitted MLP on the diabetes data moves more than a regularised one), and membership inference reads the
squared error (an overfitted MLP leaks clearly more than a regularised one; with no membership signal, near chance)."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_diabetes
from torch import nn

from prodkit.core import Predictor
from prodkit.security import membership_risk, robustness


@pytest.fixture(scope="module")
def diabetes():
    d = load_diabetes(as_frame=True).frame
    X = d.drop(columns="target"); X = (X - X.mean()) / X.std()
    d = X.assign(target=(d.target - d.target.mean()) / d.target.std()).sample(frac=1, random_state=0).reset_index(drop=True)
    return d[:100], d[100:200], d[200:300]


def _train(frame, decay=0.0, epochs=300, seed=0):
    torch.manual_seed(seed); m = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.Adam(m.parameters(), 0.01, weight_decay=decay)
    X = torch.tensor(frame.drop(columns="target").to_numpy(), dtype=torch.float32)
    y = torch.tensor(frame.target.to_numpy(), dtype=torch.float32)[:, None]
    for _ in range(epochs): opt.zero_grad(); F.mse_loss(m(X), y).backward(); opt.step()
    return Predictor(m, task="regression")


@pytest.fixture(scope="module")
def models(diabetes):
    mem = diabetes[0]
    return _train(mem), _train(mem, decay=0.1)


def test_a_linear_regressor_moves_exactly_eps_times_the_weight_norm():
    torch.manual_seed(0); lin = nn.Linear(4, 1)
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32); y = X.sum(1)
    w1, w2 = lin.weight.detach().abs().sum().item(), lin.weight.detach().norm().item()
    tol, eps = 0.3, (0.0, 0.05, 0.1, 0.2, 0.4)
    r = robustness(Predictor(lin, task="regression"), X, y, eps=eps, tolerance=tol, steps=5, restarts=1, refine=10)
    pgd = r.curve[r.curve.attack == "pgd"]
    np.testing.assert_allclose(pgd.max_change, [e * w1 for e in eps], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pgd.median_change, [e * w1 for e in eps], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pgd.stable_share, [float(e * w1 <= tol) for e in eps])
    np.testing.assert_allclose(r.min_eps, tol / w1, rtol=0.01)              # every row flips at tol / ||w||_1
    assert r.summary["tolerance"] == tol and "acc_at_eps" not in r.summary and r.task == "regression"
    l2 = robustness(Predictor(lin, task="regression"), X, y, norm="2", eps=(0.0, 0.1, 0.2), tolerance=tol, steps=5, restarts=1)
    np.testing.assert_allclose(l2.curve[l2.curve.attack == "pgd"].max_change, [0.0, 0.1 * w2, 0.2 * w2], rtol=1e-3, atol=1e-6)


def test_an_overfitted_mlp_moves_more_under_attack_than_a_regularised_one(diabetes, models):
    mem = diabetes[0]; X, y = mem.drop(columns="target").to_numpy(np.float32), mem.target
    over, reg = models
    ro = robustness(over, X, y, eps=(0.0, 0.1, 0.3), tolerance=0.25, steps=5, restarts=1, refine=2)
    rr = robustness(reg, X, y, eps=(0.0, 0.1, 0.3), tolerance=0.25, steps=5, restarts=1, refine=2)
    assert ro.summary["median_change_at_eps"] > 1.5 * rr.summary["median_change_at_eps"], (ro.summary, rr.summary)
    assert ro.summary["stable_share_at_eps"] < rr.summary["stable_share_at_eps"]
    assert ro.summary["clean_mae"] < rr.summary["clean_mae"]                # it fits its training rows better
    cv = ro.curve.pivot(index="eps", columns="attack", values="median_change")
    assert (cv.pgd >= cv.noise - 1e-6).all() and (np.diff(cv.pgd.to_numpy()) >= 0).all()
    assert "regressor" in ro.headline() and ro.plot().ax_ is not None and "upper bound" in ro._repr_html_()


def test_an_overfitted_regressor_leaks_membership_more_than_a_regularised_one(diabetes, models):
    mem, non, _ = diabetes
    over, reg = models
    small = lambda f: _train(f, epochs=150)
    ro = membership_risk(over, mem, non, label="target", train_fn=small, n_reference=2, seed=0)
    rr = membership_risk(reg, mem, non, label="target")
    assert ro.summary["auc"] > rr.summary["auc"] + 0.15, (ro.summary, rr.summary)
    assert ro.summary["tpr_at_1pct_fpr"] > rr.summary["tpr_at_1pct_fpr"] + 0.2
    assert ro.summary["tpr_at_0.1pct_fpr"] > rr.summary["tpr_at_0.1pct_fpr"]
    assert ro.summary["generalization_gap"] > rr.summary["generalization_gap"] + 0.2     # R² on members minus non-members
    assert ro.summary["mse_gap"] > rr.summary["mse_gap"] and "confidence_gap" not in ro.summary
    assert list(ro.attacks.index) == ["loss", "calibrated"] and list(ro.at_risk.columns) == ["row", "score", "squared_error"]
    assert set(ro.at_risk.row) <= set(mem.index) and "R² gap" in ro.headline()


def test_a_regressor_with_no_membership_signal_stays_near_chance(diabetes, models):
    _, non, other = diabetes
    r = membership_risk(models[0], non, other, label="target")     # neither set was seen in training
    assert abs(r.summary["auc"] - 0.5) < 0.1, r.summary
