"""prodkit.security.robustness: the attack reproduces the closed-form robust accuracy of a linear model, FGSM never
beats PGD there, gradient masking and gradient-free models are labelled, images stay in pixel range."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_breast_cancer, load_digits
from torch import nn

from prodkit.core import Predictor
from prodkit.security import robustness


@pytest.fixture(scope="module")
def logreg():
    X, y = load_breast_cancer(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)[::3]; y = y[::3]
    torch.manual_seed(0); lin = nn.Linear(X.shape[1], 1)
    opt = torch.optim.Adam(lin.parameters(), 0.05); xt, yt = torch.from_numpy(X), torch.tensor(y, dtype=torch.float32)
    for _ in range(150):
        opt.zero_grad(); F.binary_cross_entropy_with_logits(lin(xt)[:, 0], yt).backward(); opt.step()
    return lin, X, y


def _closed_form(lin, X, y, eps):
    "L-inf robust accuracy of a logistic regression: a correct row survives eps iff |margin| / ||w||_1 > eps."
    with torch.no_grad(): z = lin(torch.from_numpy(X))[:, 0].numpy()
    w1 = lin.weight.detach().abs().sum().item()
    return np.array([np.mean(((z > 0) == (y == 1)) & (np.abs(z) / w1 > e)) for e in eps])


def test_pgd_reproduces_the_closed_form_robust_accuracy_of_a_linear_model(logreg):
    lin, X, y = logreg; eps = (0.0, 0.02, 0.05, 0.1, 0.2)
    r = robustness(Predictor(lin, output="logits"), X, y, eps=eps, steps=10, restarts=1, refine=8)
    cv = r.curve.pivot(index="eps", columns="attack", values="robust_accuracy")
    want = _closed_form(lin, X, y, eps)
    np.testing.assert_allclose(cv.pgd.to_numpy(), want, atol=1.5 / len(y))
    assert cv.pgd.iloc[-1] < cv.pgd.iloc[0] - 0.2, cv.pgd          # falls with eps
    assert (np.diff(cv.pgd.to_numpy()) <= 0).all()
    assert (cv.fgsm >= cv.pgd - 1e-12).all()                      # FGSM's success <= PGD's
    assert r.summary["gradient_masking"] is False and r.space == "input"
    with torch.no_grad(): z = lin(torch.from_numpy(X))[:, 0].numpy()
    right = (z > 0) == (y == 1); exact = np.abs(z[right]) / lin.weight.detach().abs().sum().item()
    flipped = np.isfinite(r.min_eps)
    np.testing.assert_allclose(r.min_eps[flipped], exact[flipped], rtol=0.03, atol=0.2 / 2 ** 8 + 1e-6)
    assert (exact[~flipped] > 0.2 - 1e-6).all()


def test_same_seed_same_numbers_and_l2(logreg):
    lin, X, y = logreg
    a = robustness(Predictor(lin, output="logits"), X, y, norm="2", eps=(0.0, 0.3, 1.0), seed=3)
    b = robustness(Predictor(lin, output="logits"), X, y, norm="2", eps=(0.0, 0.3, 1.0), seed=3)
    pd.testing.assert_frame_equal(a.curve, b.curve)
    with torch.no_grad(): z = lin(torch.from_numpy(X))[:, 0].numpy()
    w2 = lin.weight.detach().norm().item(); right = (z > 0) == (y == 1)
    np.testing.assert_allclose(a.curve[a.curve.attack == "pgd"].robust_accuracy.to_numpy(),
                               [np.mean(right & (np.abs(z) / w2 > e)) for e in (0.0, 0.3, 1.0)], atol=1.5 / len(y))


class _Step(nn.Module):
    "A hard step on top of a linear score: the gradient is zero everywhere."
    def __init__(self, lin): super().__init__(); self.lin = lin
    def forward(self, x): return torch.sign(self.lin(x)) * 5


def test_a_hard_step_is_flagged_as_gradient_masking(logreg):
    lin, X, y = logreg
    r = robustness(Predictor(_Step(lin), output="logits"), X, y, eps=(0.0, 0.05, 0.2), restarts=1)
    assert r.summary["gradient_masking"] is True
    assert any("zero" in m for m in r.masking) and any("noise" in m for m in r.masking)
    assert "gradient masking" in r.headline()


def test_a_callable_gets_the_weaker_black_box_check_labelled_so(logreg):
    lin, X, y = logreg
    r = robustness(Predictor(lambda x: torch.sigmoid(lin(x)[:, 0]).detach()), X, y, eps=(0.0, 0.2))
    assert r.method == "noise" and r.summary["weaker_check"] is True and set(r.curve.attack) == {"noise"}
    assert "weaker" in r.headline() and "upper bound" in r.headline()
    g = robustness(Predictor(lin, output="logits"), X, y, eps=(0.0, 0.2))
    assert r.summary["acc_at_eps"] > g.summary["acc_at_eps"]      # noise finds fewer flips than PGD


def test_digits_cnn_is_attacked_in_pixel_space():
    X, y = load_digits(return_X_y=True); X = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)[:300]; y = y[:300]
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 10))
    opt = torch.optim.Adam(cnn.parameters(), 0.02); xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(60): opt.zero_grad(); F.cross_entropy(cnn(xt), yt).backward(); opt.step()
    r = robustness(Predictor(cnn, output="logits"), X[:100], y[:100], eps=(0.0, 0.05, 0.2), steps=5, restarts=1, refine=2)
    acc = r.curve[r.curve.attack == "pgd"].robust_accuracy.to_numpy()
    assert r.space == "pixel" and acc[0] > 0.8 and acc[-1] < acc[0] - 0.3
    assert len(r.examples) and r.examples.adversarial.between(0, 1).all()
    assert r.plot().ax_ is not None and r.plot(kind="min_eps").ax_ is not None
    assert "upper bound" in r._repr_html_()
