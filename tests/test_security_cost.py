"""prodkit.security.cost: FLOPs of a known MLP match the hand count (2 per multiply-add), parameters and artifact size
are the model's, and the price of a million predictions follows from the throughput and the hourly price."""
import numpy as np
import torch
from torch import nn

from prodkit.core import Predictor
from prodkit.security import cost


def test_flops_of_a_known_mlp_match_the_hand_count(tmp_path):
    m = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
    r = cost(Predictor(m, output="logits"), np.zeros((5, 30), np.float32), repeats=2)
    assert r.flops_per_prediction == 2 * (30 * 16 + 16 * 8 + 8 * 2)
    assert r.parameters == 30 * 16 + 16 + 16 * 8 + 8 + 8 * 2 + 2
    assert r.throughput_source == "measured" and r.throughput > 0 and (r.latency.median_ms > 0).all()
    path = tmp_path / "m.pt"; torch.save(m.state_dict(), path)
    assert cost(Predictor(m), np.zeros((2, 30), np.float32), repeats=1, artifact=path).artifact_bytes == path.stat().st_size


def test_flops_of_a_single_linear_layer_per_row():
    for rows in (1, 7):
        r = cost(Predictor(nn.Linear(12, 5), output="logits"), np.zeros((rows, 12), np.float32), repeats=1)
        assert r.flops_per_prediction == 2 * 12 * 5


def test_cost_per_million_at_a_given_throughput():
    r = cost(Predictor(nn.Linear(4, 2)), np.zeros((3, 4), np.float32), throughput=500, price_per_hour=3.6, repeats=1)
    assert r.throughput_source == "given"
    np.testing.assert_allclose(r.summary["usd_per_million"], 3.6 / 3600 / 500 * 1e6)   # $2 per million
    assert "$2 per million" in r.headline() and r.plot().ax_ is not None


def test_a_scripted_module_has_no_flop_count_but_still_costs():
    r = cost(Predictor(torch.jit.script(nn.Linear(4, 2))), np.zeros((3, 4), np.float32), price_per_hour=1.0, repeats=1)
    assert np.isnan(r.flops_per_prediction) and r.summary["flops_per_prediction"] is None
    assert r.parameters == 10 and r.summary["usd_per_million"] > 0
