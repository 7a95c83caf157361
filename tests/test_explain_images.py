"""ImageExplainer on scikit-learn's 8x8 digits: superpixels sized to the image, weights that point at what matters,
no perfect fidelity for an explanation that explains nothing, and a plot that keeps the digit visible."""
import warnings

import matplotlib
matplotlib.use("Agg")
import numpy as np
import pytest
import torch
from torch import nn
from threadpoolctl import threadpool_limits

from prodkit.core import ParameterError, Predictor
from prodkit.explain import ExplanationWarning, ImageExplainer, _segment

NAMES = [f"digit {d}" for d in range(10)]


@pytest.fixture(scope="module")
def digits():
    "Digits as (N,1,8,8) tensors in [0, 1] and a torch linear model fitted by scikit-learn's logistic regression on the first 1000."
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    d = load_digits()
    with threadpool_limits(1): lr = LogisticRegression(max_iter=300).fit(d.data[:1000] / 16, d.target[:1000])
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad(): net[1].weight.copy_(torch.tensor(lr.coef_)); net[1].bias.copy_(torch.tensor(lr.intercept_))
    X = torch.tensor(d.images[:, None] / 16, dtype=torch.float32)
    return X, d.target, Predictor(net, output="logits", classes=NAMES)


@pytest.mark.parametrize("size, side", [(8, 2), (16, 4), (28, 7)])
def test_default_superpixels_scale_with_the_image(size, side):
    img = torch.rand(1, size, size, generator=torch.Generator().manual_seed(0))
    seg = _segment(img, "auto", 0)
    counts = np.bincount(seg.ravel())
    assert len(counts) == 16 and (counts == side * side).all()          # sixteen cells a quarter of the side wide, never one blob


def test_top_superpixels_change_the_prediction_more_than_random_ones(digits):
    X, y, pred = digits
    ie = ImageExplainer(pred, seed=0)
    rng = np.random.default_rng(0)
    ratios = []
    for i in range(1000, 1010):
        e = ie.explain(X[i], num_samples=500)
        assert e.label == NAMES[int(pred.predict_proba(X[i:i + 1]).argmax())] and e.summary["n_segments"] == 16
        c = NAMES.index(e.label); p = lambda img: pred.predict_proba(img[None])[0, c]
        top = [s for s, w in e.weights.items() if w > 0][:3]
        drop_top = p(X[i]) - p(e.hide(top))
        drop_rand = np.mean([p(X[i]) - p(e.hide(rng.choice(16, 3, replace=False))) for _ in range(20)])
        assert drop_top > drop_rand, (i, drop_top, drop_rand)
        ratios.append(drop_top / max(drop_rand, 1e-9))
        if e.prediction > 0.9: assert max(abs(w) for w in e.weights.values()) > 0.1, e.weights   # not 0.013 for p = 0.98
        assert 0.5 < e.fidelity < 1.0
    assert np.median(ratios) > 2, ratios


def test_an_explanation_that_explains_nothing_has_low_fidelity(digits):
    X = digits[0]
    flat = lambda x: torch.tensor([[0.0, 3.0]]).expand(len(x), 2)          # ignores the image
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = ImageExplainer(flat, seed=0).explain(X[0], num_samples=300)
    assert e.fidelity == 0.0 and e.score > 0.99                            # lime's own score would call the constant surrogate perfect
    assert any(issubclass(w.category, ExplanationWarning) and "explains nothing" in str(w.message) for w in caught)
    # a model no linear surrogate can follow: class 1 when exactly one of two cells is inked
    def xor(x):
        a, b = x[:, 0, :2, :2].mean((1, 2)) > 0.05, x[:, 0, 6:, 6:].mean((1, 2)) > 0.05
        s = torch.where(a ^ b, 2.0, -2.0)
        return torch.stack([-s, s], 1)
    img = torch.zeros(1, 8, 8); img[0, :2, :2] = 1.0; img[0, 6:, 6:] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExplanationWarning)
        e = ImageExplainer(xor, seed=0).explain(img, label=1, num_samples=500)
    assert e.effect > 0.1 and e.fidelity < 0.3, (e.effect, e.fidelity)


def test_the_plot_shows_the_digit_under_a_translucent_overlay_of_the_weights(digits):
    X, y, pred = digits
    e = ImageExplainer(pred, seed=0).explain(X[1003], num_samples=500)
    ax = e.plot().ax_
    base, over = [np.asarray(im.get_array()) for im in ax.images]
    g = X[1003, 0].numpy()
    assert np.allclose(base, (g - g.min()) / np.ptp(g))                     # the digit itself, every pixel
    alpha = over[..., 3]
    assert 0 < alpha.max() <= 0.6 + 1e-9                                     # translucent where the weights are largest
    wm = e.weight_map()
    assert np.allclose(alpha, 0.6 * np.abs(wm) / np.abs(wm).max())           # stronger where the weight is larger, clear where it is 0
    assert e.label in ax.get_title() and len(ax.collections) == 1            # class by name; superpixel borders as thin lines


def test_class_names_come_from_the_predictor_and_regression_is_refused(digits):
    X, y, pred = digits
    e = ImageExplainer(pred, seed=0).explain(X[1003], label="digit 5", num_samples=200)
    assert e.label == "digit 5" and e.summary["label"] == "digit 5" and "P(digit 5)" in e.headline()
    with pytest.raises(ParameterError, match="contradict the predictor's classes"):
        ImageExplainer(pred, class_names=list(range(10)))
    with pytest.raises(ParameterError, match="task is 'regression'") as ex:
        ImageExplainer(Predictor(nn.Sequential(nn.Flatten(), nn.Linear(64, 1)), task="regression"))
    assert "TabularExplainer" in ex.value.fix
