"""prodkit.security does each model pass once: a radius of 0 attacks nothing, minimal radii are bisected on the rows
being bisected only, membership inference reads each row set in one pass, and robustness leaves torch's thread count
as it found it; the numbers stay those of the plain computation."""
import numpy as np
import pandas as pd
import torch
from torch import nn

from prodkit.core import Predictor, TabularAdapter
from prodkit.security import _LABEL, _Space, _attack, _grad_at, _min_eps, _noise, membership_risk, robustness


def _linear_space():
    lin = nn.Linear(2, 1)
    with torch.no_grad(): lin.weight[:] = torch.tensor([[1.0, -2.0]]); lin.bias.zero_()
    calls = []
    def f(z):
        calls.append(len(z))
        return torch.log_softmax(torch.cat([torch.zeros(len(z), 1), lin(z)], 1), 1)
    xs = torch.tensor([[0.6, 0.0], [3.0, 0.0], [-0.3, 0.0]])
    sp = _Space(xs, torch.ones(2, dtype=torch.bool), torch.full_like(xs, -9), torch.full_like(xs, 9), "input")
    return f, sp, torch.tensor([1, 1, 0]), calls


def test_a_zero_radius_moves_nothing_and_runs_no_pass_beyond_the_clean_one():
    f, sp, y, calls = _linear_space()
    fooled, adv, _ = _attack(f, sp, y, torch.zeros(3), steps=10, restarts=3, gen=torch.Generator().manual_seed(0))
    assert calls == [3] and fooled.tolist() == [False, False, False] and torch.equal(adv, sp.x)
    calls.clear()
    _attack(f, sp, y, torch.zeros(3), steps=10, clean=_grad_at(f, sp.x, y, _LABEL))
    assert calls == [3]                                     # the clean pass given: none more (that one computed it)
    seen = []
    _noise(lambda z: seen.append(len(z)) or f(z).detach(), sp, y, torch.zeros(3), draws=8, gen=torch.Generator().manual_seed(0))
    assert seen == [3]                                      # only the clean rows are scored


def test_the_clean_pass_is_shared_and_changes_no_result():
    f, sp, y, calls = _linear_space()
    for e in (0.19, 0.21, 0.5):
        a = _attack(f, sp, y, torch.full((3,), e), steps=5, restarts=2, gen=torch.Generator().manual_seed(1))
        b = _attack(f, sp, y, torch.full((3,), e), steps=5, restarts=2, gen=torch.Generator().manual_seed(1),
                    clean=_grad_at(f, sp.x, y, _LABEL))
        assert all(torch.equal(u, v) for u, v in zip(a, b)), e


def test_minimal_radii_are_bisected_on_the_rows_being_bisected_only():
    asked = []
    def run(r, rows=None):
        asked.append(rows.tolist())
        return (r >= torch.tensor([0.05, 0.0, 0.0, 0.12])[rows],)
    hits = torch.tensor([[False, False, True, False], [True, False, True, False], [True, False, True, True]])
    m = _min_eps(run, hits, [0.0, 0.1, 0.2], refine=12)
    assert asked == [[0, 3]] * 12                           # row 1 never flips, row 2 flips at 0: nothing to bisect
    np.testing.assert_allclose(m[[0, 3]], [0.05, 0.12], atol=1e-4)
    assert m[1] == np.inf and m[2] == 0.0


def _classifier():
    g = np.random.default_rng(0)
    d = pd.DataFrame({"a": g.normal(size=120), "b": g.normal(size=120), "c": g.choice(["x", "y"], 120)})
    d["label"] = (d.a + (d.c == "x") > 0.5).astype(int)
    ad = TabularAdapter().fit(d[["a", "b", "c"]])
    torch.manual_seed(0)
    return Predictor(nn.Sequential(nn.Linear(ad.n_features_, 8), nn.ReLU(), nn.Linear(8, 2)).eval(), adapter=ad,
                     output="logits"), d


def test_membership_inference_reads_each_row_set_in_one_pass():
    pred, d = _classifier()
    inner, seen = pred.model, []
    pred.model = lambda x: seen.append(len(x)) or inner(x)
    r = membership_risk(pred, d[:60], d[60:], label="label", seed=0)
    assert seen == [60, 60]                                 # members once, non-members once
    pred.model = inner
    acc = lambda f: float(np.mean(pred.predict_proba(f[["a", "b", "c"]]).argmax(1) == f.label.to_numpy()))
    np.testing.assert_allclose(r.generalization_gap, acc(d[:60]) - acc(d[60:]))


def test_robustness_restores_the_thread_count_and_repeats_its_numbers():
    pred, d = _classifier()
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a = robustness(pred, d[["a", "b", "c"]], d.label.to_numpy(), eps=(0.0, 0.1, 0.5), steps=5, refine=3, seed=0)
        assert torch.get_num_threads() == 2
        b = robustness(pred, d[["a", "b", "c"]], d.label.to_numpy(), eps=(0.0, 0.1, 0.5), steps=5, refine=3, seed=0)
    finally: torch.set_num_threads(n)
    pd.testing.assert_frame_equal(a.curve, b.curve)
    np.testing.assert_array_equal(a.min_eps, b.min_eps)
    zero = a.curve[a.curve.eps == 0]                         # radius 0: every attack is the clean accuracy
    np.testing.assert_allclose(zero.robust_accuracy, a.clean_accuracy, atol=1e-6)
