"""permutation_importance speaks prodkit.quality's metric vocabulary: its baseline is compute_metric's number and an
importance is how much worse the metric gets, whichever way the metric points."""
import numpy as np
import pytest
import torch
from torch import nn

from prodkit.core import ParameterError, Predictor
from prodkit.explain import permutation_importance
from prodkit.quality import compute_metric

W = torch.tensor([2.0, 0.0, -1.0])


class Sig(nn.Module):
    def forward(self, x): return torch.sigmoid(x.float() @ W)[:, None]


class Lin(nn.Module):
    def forward(self, x): return (x.float() @ W)[:, None]


def _xy(n=400, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)
    return X, (X @ W.numpy() + np.random.default_rng(seed + 1).normal(0, 0.7, n) > 0).astype(int)


@pytest.mark.parametrize("metric", ["accuracy", "auc", "log_loss", "brier", "ece"])
def test_classifier_baseline_is_quality_s_number(metric):
    X, y = _xy(); pred = Predictor(Sig())
    pi = permutation_importance(pred, X, y, metric=metric, n_repeats=3, seed=0)
    assert pi.metric == metric and pi.baseline == pytest.approx(compute_metric(metric, y, pred.predict_proba(X)), abs=1e-12)
    fr = pi.to_frame().set_index("feature")
    # a feature the model ignores: zero up to float rounding (the shuffled rows go through the matmul in other batch
    # shapes, and on an AVX-512 Xeon another kernel gives probabilities a last bit apart: importance -1e-10)
    assert fr.loc["1", "importance"] == pytest.approx(0.0, abs=1e-9)
    if metric != "ece": assert fr.loc["0", "importance"] > 0.05       # shuffling the strongest feature makes it worse


@pytest.mark.parametrize("metric", ["mae", "rmse", "r2"])
def test_regression_baseline_is_quality_s_number(metric):
    X, _ = _xy(); y = X @ W.numpy() + np.random.default_rng(3).normal(0, 0.3, len(X)); pred = Predictor(Lin(), task="regression")
    pi = permutation_importance(pred, X, y, metric=metric, n_repeats=2, seed=0)
    assert pi.baseline == pytest.approx(compute_metric(metric, y, pred.predict(X)), abs=1e-12)
    assert pi.to_frame()["feature"][0] == "0" and pi.to_frame()["importance"][0] > 0.5


def test_old_names_and_other_task_metrics_are_refused():
    X, y = _xy(60)
    with pytest.raises(ParameterError, match="unknown metric 'mse'"): permutation_importance(Sig(), X, y, metric="mse")
    with pytest.raises(ParameterError, match="metric='rmse' is for regression, but this is a classification model"):
        permutation_importance(Predictor(Sig()), X, y, metric="rmse")
