"""prodkit.security.membership_risk: a memorising model is clearly more exposed than a regularised one on the same
rows, the calibrated attack uses reference models, and with no membership signal the attack stays near chance."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prodkit.core import Predictor
from prodkit.security import membership_risk


def _make(n, seed):
    g = np.random.default_rng(seed); X = g.normal(size=(n, 5)); y = (X[:, 0] + g.normal(size=n) > 0).astype(int)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(5)]).assign(y=y)


def _train(frame, decay=0.0, epochs=300, seed=0):
    torch.manual_seed(seed); m = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 2))
    opt = torch.optim.Adam(m.parameters(), 0.02, weight_decay=decay)
    X = torch.tensor(frame.drop(columns="y").to_numpy(), dtype=torch.float32); y = torch.tensor(frame.y.to_numpy())
    for _ in range(epochs): opt.zero_grad(); F.cross_entropy(m(X), y).backward(); opt.step()
    return Predictor(m, output="logits")


@pytest.fixture(scope="module")
def rows():
    return _make(100, 1), _make(100, 2), _make(100, 3)


def test_a_memorising_model_leaks_membership_more_than_a_regularised_one(rows):
    mem, non, _ = rows
    over = membership_risk(_train(mem), mem, non, label="y", train_fn=_train, n_reference=4, seed=0)
    reg = membership_risk(_train(mem, decay=0.5), mem, non, label="y")
    assert over.summary["auc"] > reg.summary["auc"] + 0.15, (over.summary, reg.summary)
    assert over.summary["tpr_at_1pct_fpr"] >= reg.summary["tpr_at_1pct_fpr"]
    assert over.summary["generalization_gap"] > 0.2 > reg.summary["generalization_gap"]
    assert over.summary["confidence_gap"] > reg.summary["confidence_gap"] + 0.1
    assert list(over.attacks.index) == ["loss", "calibrated"] and list(reg.attacks.index) == ["loss"]
    assert over.attacks.loc["calibrated", "auc"] > over.attacks.loc["loss", "auc"]
    assert set(over.at_risk.row) <= set(mem.index) and len(over.at_risk) == 10
    assert over.plot().ax_.get_xscale() == "log" and "membership" in over._repr_html_()


def test_no_membership_signal_stays_near_chance(rows):
    mem, non, other = rows
    r = membership_risk(_train(mem), non, other, label="y")     # neither set was seen in training
    assert abs(r.summary["auc"] - 0.5) < 0.13, r.summary
    assert abs(r.summary["generalization_gap"]) < 0.15


def test_same_seed_same_calibrated_scores(rows):
    mem, non, _ = rows
    small = lambda f: _train(f, epochs=60)
    a = membership_risk(_train(mem, epochs=60), mem, non, label="y", train_fn=small, n_reference=2, seed=5)
    b = membership_risk(_train(mem, epochs=60), mem, non, label="y", train_fn=small, n_reference=2, seed=5)
    pd.testing.assert_frame_equal(a.attacks, b.attacks)
