"""The fast tabular path keeps lime's neighbourhood: samples drawn by 16-bit codes follow lime's own sampler, encoding by
code tables equals encoding through the adapter, binary samples as bit patterns give the surrogates the float samples
give, agreement with a reused lime explainer matches lime's with itself,
and the result says where its time went."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from prodkit.core import Predictor, TabularAdapter
from prodkit.explain import TabularExplainer

pytestmark = pytest.mark.filterwarnings("ignore::prodkit.explain.ExplanationWarning")


class Recorder(nn.Module):
    "sigmoid of a sum, remembering every input batch it was called on."
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.sigmoid(x.sum(1, keepdim=True) * 0.1)


def _skewed(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.exponential(2.0, n), rng.normal(5, 3, n), rng.gamma(0.7, 1.0, n)])


def test_samples_follow_lime_sampler_bin_by_bin():
    from lime.lime_tabular import LimeTabularExplainer
    X, S = _skewed(), 20000
    rec = Recorder()
    ex = TabularExplainer(rec, X, seed=0, fidelity_samples=10)
    rec.seen.clear()
    ex.explain(X[7], num_samples=S, num_features=3)
    ours = torch.cat(rec.seen).numpy()[1:S]                     # the surrogate's neighbourhood; sample 0 is the row
    lime = LimeTabularExplainer(X, random_state=0)._LimeTabularExplainer__data_inverse(X[7], S)[1][1:]
    for j in range(X.shape[1]):
        q = ex.disc_.qts[j]
        share = lambda v: np.bincount(np.searchsorted(q, v), minlength=len(q) + 1) / len(v)
        np.testing.assert_allclose(share(ours[:, j]), share(lime[:, j]), atol=0.02)      # bins by training frequency
        for b in range(len(q) + 1):                                                     # values inside each bin
            a, l = ours[np.searchsorted(q, ours[:, j]) == b, j], lime[np.searchsorted(q, lime[:, j]) == b, j]
            se = np.sqrt(a.var() / len(a) + l.var() / len(l))
            assert abs(a.mean() - l.mean()) < 5 * se + 1e-9, (j, b, a.mean(), l.mean(), se)
            assert a.min() >= X[:, j].min() - 1e-4 and a.max() <= X[:, j].max() + 1e-4      # inside the training range


def _frame(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(40, 10, n), "spend": rng.exponential(50, n),
                         "plan": rng.choice(["free", "basic", "premium"], n, p=[0.5, 0.3, 0.2]),
                         "region": rng.choice(list("nesw"), n)})


def test_code_table_encoding_equals_the_adapter():
    df = _frame()
    ad = TabularAdapter().fit(df)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(len(ad.feature_names_), 8), nn.Tanh(), nn.Linear(8, 2))
    fast = TabularExplainer(Predictor(m, adapter=ad), df, seed=0)
    slow = TabularExplainer(Predictor(m, adapter=ad), df, seed=0)
    assert fast.plan_ is not None and len(fast.plan_[3]) > 0      # one-hot columns encoded as ranges of codes
    slow.plan_ = None                                              # every sample through the adapter itself
    a, b = fast.explain_many(df.head(6), num_samples=1500), slow.explain_many(df.head(6), num_samples=1500)
    for x, y in zip(a, b):
        assert x.features == y.features and x.conditions == y.conditions
        np.testing.assert_allclose(x.coefs, y.coefs, atol=1e-5)
        np.testing.assert_allclose(x.fidelity, y.fidelity, atol=1e-5)


def test_bit_patterns_give_the_surrogates_of_float_samples(monkeypatch):
    import prodkit.explain as E
    df = _frame()
    ad = TabularAdapter().fit(df)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(len(ad.feature_names_), 8), nn.Tanh(), nn.Linear(8, 3))
    ex = TabularExplainer(Predictor(m, adapter=ad), df, seed=0)
    calls, histograms = [], E._pattern_moments
    monkeypatch.setattr(E, "_pattern_moments", lambda *a: calls.append(1) or histograms(*a))
    a = ex.explain_many(df.head(8), num_samples=1500)
    assert calls                                                   # 4 binary features: moments from pattern histograms
    monkeypatch.setattr(E, "_MAX_PATTERN_F", 0)
    calls.clear()
    b = ex.explain_many(df.head(8), num_samples=1500)
    assert not calls                                               # the same samples as floats, Gram products
    for x, y in zip(a, b):
        assert x.label == y.label and set(x.features) == set(y.features)
        wy = y.weights
        np.testing.assert_allclose(list(x.weights.values()), [wy[f] for f in x.weights], atol=1e-5)
        np.testing.assert_allclose([x.intercept, x.score, x.fidelity, x.local_prediction],
                                   [y.intercept, y.score, y.fidelity, y.local_prediction], atol=1e-5)


def test_agreement_with_one_reused_lime_explainer_matches_lime_with_itself():
    from lime.lime_tabular import LimeTabularExplainer
    X = np.random.default_rng(1).normal(size=(2000, 10))
    m = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 2))
    torch.manual_seed(0)
    for p in m.parameters(): nn.init.normal_(p, std=0.7)
    ex = TabularExplainer(m, X, seed=0)
    rows = X[:30]
    ours = [set(e.top(5)) for e in ex.explain_many(rows, num_features=10, num_samples=2000)]
    fn = ex.predictor_.predict_proba
    def tops(seed):
        le = LimeTabularExplainer(X, random_state=seed, kernel_width=ex.kernel_width_, feature_selection="auto")
        return [{f"x{j}" for j, _ in le.explain_instance(r, fn, num_features=10, num_samples=2000).as_map()[1][:5]}
                for r in rows]
    l0, l1 = tops(0), tops(1)
    ours_vs_lime = np.mean([len(o & l) / 5 for o, l in zip(ours, l0)])
    lime_vs_lime = np.mean([len(a & b) / 5 for a, b in zip(l1, l0)])
    assert ours_vs_lime >= lime_vs_lime - 0.05, (ours_vs_lime, lime_vs_lime)


def test_timings_split_the_time_by_stage():
    X = _skewed(500)
    es = TabularExplainer(Recorder(), X, seed=0).explain_many(X[:5], num_samples=300)
    assert list(es.timings) == ["sampling", "encoding", "model forward", "distances and kernel", "surrogate fits",
                                "fidelity", "explanations"]
    assert all(len(t) == 2 and t[0] >= 0 and t[1] >= 0 for t in es.timings.values())
    json.dumps(es.timings)
    assert "timings" not in es.summary                            # not a gate: times vary from run to run


def test_one_logit_classifier_explains_as_its_two_logit_twin(monkeypatch):
    "Only the explained class's probability is computed for one logit; softmax over (0, logit) gives the same."
    import prodkit.explain as E
    X = _skewed(2000)
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))

    class Twin(nn.Module):
        def forward(self, x):
            z = body(x)
            return torch.cat([torch.zeros_like(z), z], 1)

    one = TabularExplainer(Predictor(body, output="logits"), X, seed=0)
    two = TabularExplainer(Predictor(Twin(), output="logits"), X, seed=0)
    calls, sigmoid = [], E._sigmoid_
    monkeypatch.setattr(E, "_sigmoid_", lambda z: calls.append(1) or sigmoid(z))
    for label in (None, 0):
        calls.clear()
        a = one.explain_many(X[:6], num_samples=1000, label=label)
        assert calls                                                   # the one-logit path ran
        calls.clear()
        b = two.explain_many(X[:6], num_samples=1000, label=label)
        assert not calls                                               # two logits: every class's probability
        for x, y in zip(a, b):
            assert x.label == y.label and set(x.features) == set(y.features)
            wy = y.weights
            np.testing.assert_allclose(list(x.weights.values()), [wy[f] for f in x.weights], atol=1e-5)
            np.testing.assert_allclose([x.prediction, x.intercept, x.fidelity], [y.prediction, y.intercept, y.fidelity],
                                       atol=1e-5)
    with torch.no_grad(): p1 = torch.sigmoid(body(torch.tensor(X[:1], dtype=torch.float32))).item()
    assert a[0].label == 0 and a[0].prediction == pytest.approx(1 - p1, abs=1e-6)   # label=0 reads 1 - P(class 1)


def test_internal_batch_size_is_the_explainers_and_keeps_per_row_outputs():
    "The explainer's own samples run `batch_size` rows at a time, whatever the Predictor serves with; per-row passes agree."
    X = _skewed(600)
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
    rec = Recorder()
    rec.forward = lambda x: rec.seen.append(len(x)) or mlp(x)
    served = Predictor(rec, batch_size=7)                              # a serving batch size the explainer does not use
    big = TabularExplainer(served, X, seed=0, batch_size=2048)
    rec.seen.clear()
    a = big.explain_many(X[:4], num_samples=600)
    assert max(rec.seen) == 2048 and big.predictor_.batch_size == 2048 and served.batch_size == 7
    one = TabularExplainer(served, X, seed=0, batch_size=1)            # one row per forward pass
    rec.seen.clear()
    b = one.explain_many(X[:4], num_samples=600)
    assert set(rec.seen) == {1}
    assert TabularExplainer(served, X, seed=0).predictor_.batch_size == 8192      # the documented default
    for x, y in zip(a, b):
        assert x.features == y.features
        np.testing.assert_allclose(x.coefs, y.coefs, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose([x.prediction, x.intercept, x.fidelity], [y.prediction, y.intercept, y.fidelity],
                                   rtol=1e-5, atol=1e-7)
