"""Bad input to prodkit.security: each case one mistake a user makes, the error class and the words that name it."""
import pytest

from prodkit.core import DataError, ParameterError


def _lin():
    import torch
    from torch import nn
    from prodkit.core import Predictor
    lin = nn.Linear(2, 1)
    with torch.no_grad(): lin.weight[:] = torch.tensor([[1.0, -1.0]]); lin.bias.zero_()
    return Predictor(lin, output="logits")


def _X(n=20):
    import numpy as np
    return np.random.default_rng(0).normal(size=(n, 2)).astype("float32")


def _rob(**kw):
    from prodkit.security import robustness
    X = kw.pop("X") if "X" in kw else _X()
    y = kw.pop("y") if "y" in kw else (X[:, 0] > X[:, 1]).astype(int)
    return robustness(kw.pop("model", _lin()), X, y, **kw)


def _regressor():
    from torch import nn
    from prodkit.core import Predictor
    return Predictor(nn.Linear(2, 1), task="regression")


CASES = [
    pytest.param(lambda: _rob(eps=[]), ParameterError, "eps", id="robustness-empty-eps"),
    pytest.param(lambda: _rob(eps=[-0.1, 0.2]), ParameterError, "eps", id="robustness-negative-eps"),
    pytest.param(lambda: _rob(eps="big"), ParameterError, "eps", id="robustness-eps-text"),
    pytest.param(lambda: _rob(norm="1"), ParameterError, "norm", id="robustness-unknown-norm"),
    pytest.param(lambda: _rob(attack="cw"), ParameterError, "attack", id="robustness-unknown-attack"),
    pytest.param(lambda: _rob(steps=0), ParameterError, "steps", id="robustness-zero-steps"),
    pytest.param(lambda: _rob(model=_regressor(), y=[0.5] * 20), ParameterError, "tolerance", id="robustness-regressor-without-tolerance"),
    pytest.param(lambda: _rob(model=_regressor(), y=[0.5] * 20, tolerance=-1), ParameterError, "tolerance", id="robustness-negative-tolerance"),
    pytest.param(lambda: _rob(tolerance=0.1), ParameterError, "regressor", id="robustness-classifier-with-tolerance"),
    pytest.param(lambda: _rob(model=_regressor(), y=[0.5] * 3, tolerance=0.1), DataError, "3 labels for 20 rows", id="robustness-regressor-label-count"),
    pytest.param(lambda: _rob(y=[0, 1, 2]), DataError, "labels", id="robustness-label-count"),
    pytest.param(lambda: _rob(y=["cat"] * 20), DataError, "cat", id="robustness-unknown-label"),
    pytest.param(lambda: _rob(X=__import__("numpy").full((4, 1, 2, 2), 3.0, "float32"), y=[0, 1, 0, 1],
                              model=__import__("prodkit.core", fromlist=["Predictor"]).Predictor(
                                  __import__("torch").nn.Sequential(__import__("torch").nn.Flatten(), __import__("torch").nn.Linear(4, 2)))),
                 DataError, "[0, 1]", id="robustness-image-out-of-range"),
]


def _frames():
    import numpy as np, pandas as pd
    g = np.random.default_rng(0); X = g.normal(size=(20, 2)).astype("float32")
    df = pd.DataFrame(X, columns=["a", "b"]).assign(y=(X[:, 0] > X[:, 1]).astype(int))
    return df[:10], df[10:]


def _mem(**kw):
    from prodkit.security import membership_risk
    m, n = _frames()
    return membership_risk(kw.pop("model", _lin()), kw.pop("members", m), kw.pop("non_members", n), label=kw.pop("label", "y"), **kw)


CASES += [
    pytest.param(lambda: _mem(label="target"), DataError, "target", id="membership-missing-label"),
    pytest.param(lambda: _mem(members=_frames()[0][:1]), DataError, "at least 2", id="membership-one-member"),
    pytest.param(lambda: _mem(train_fn=lambda f: _lin(), n_reference=1), ParameterError, "n_reference", id="membership-one-reference"),
    pytest.param(lambda: _mem(model=_regressor(), train_fn=lambda f: _lin()), ParameterError, "contradicts", id="membership-reference-of-another-task"),
]


def _leak(**kw):
    from prodkit.security import leakage
    m, n = _frames()
    return leakage(kw.pop("reference", m), kw.pop("evaluation", n), label=kw.pop("label", "y"), **kw)


CASES += [
    pytest.param(lambda: _leak(label="target"), DataError, "target", id="leakage-missing-label"),
    pytest.param(lambda: _leak(time="when"), DataError, "when", id="leakage-missing-time"),
    pytest.param(lambda: _leak(evaluation=_frames()[1].drop(columns="b")), DataError, "'b'", id="leakage-missing-feature"),
    pytest.param(lambda: _leak(near=-1), ParameterError, "near", id="leakage-negative-near"),
    pytest.param(lambda: _leak(task="ranking"), ParameterError, "task", id="leakage-unknown-task"),
]


def _cost(**kw):
    import numpy as np
    from prodkit.security import cost
    return cost(_lin(), np.zeros((2, 2), np.float32), repeats=kw.pop("repeats", 1), **kw)


CASES += [
    pytest.param(lambda: _cost(batch_sizes=[0]), ParameterError, "batch_sizes", id="cost-zero-batch"),
    pytest.param(lambda: _cost(batch_sizes=[]), ParameterError, "batch_sizes", id="cost-no-batch"),
    pytest.param(lambda: _cost(throughput=0), ParameterError, "throughput", id="cost-zero-throughput"),
    pytest.param(lambda: _cost(price_per_hour=-1), ParameterError, "price_per_hour", id="cost-negative-price"),
    pytest.param(lambda: _cost(repeats=0), ParameterError, "repeats", id="cost-zero-repeats"),
    pytest.param(lambda: _cost(slo_ms=0), ParameterError, "slo_ms", id="cost-zero-slo"),
    pytest.param(lambda: _cost(percentile=100), ParameterError, "percentile", id="cost-percentile-100"),
]
