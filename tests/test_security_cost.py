"""prodkit.security.cost: FLOPs of a known MLP match the hand count (2 per multiply-add), parameters and artifact size
are the model's, peak tensor memory per batch size matches the activations held, the throughput comes from a load
search under the latency target when none is given, and the price of a million predictions follows from it."""
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from prodkit.core import Predictor
from prodkit.security import cost


def test_flops_of_a_known_mlp_match_the_hand_count(tmp_path):
    m = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
    r = cost(Predictor(m, output="logits"), np.zeros((5, 30), np.float32), repeats=2, slo_ms=None)
    assert r.flops_per_prediction == 2 * (30 * 16 + 16 * 8 + 8 * 2)
    assert r.parameters == 30 * 16 + 16 + 16 * 8 + 8 + 8 * 2 + 2
    assert r.throughput_source == "batch" and r.throughput > 0 and (r.latency.median_ms > 0).all()
    path = tmp_path / "m.pt"; torch.save(m.state_dict(), path)
    assert cost(Predictor(m), np.zeros((2, 30), np.float32), repeats=1, artifact=path, slo_ms=None).artifact_bytes == path.stat().st_size


def test_flops_of_a_single_linear_layer_per_row():
    for rows in (1, 7):
        r = cost(Predictor(nn.Linear(12, 5), output="logits"), np.zeros((rows, 12), np.float32), repeats=1, throughput=10)
        assert r.flops_per_prediction == 2 * 12 * 5


def test_peak_memory_per_batch_size_is_the_activations_held_at_once():
    m = nn.Sequential(nn.Linear(50, 500), nn.ReLU(), nn.Linear(500, 3))
    r = cost(Predictor(m, task="regression"), np.zeros((4, 50), np.float32), batch_sizes=(1, 16, 64), repeats=2, throughput=100)
    # the hidden block and the ReLU's copy of it are alive together; the tiny output comes after one is freed
    np.testing.assert_allclose(r.latency.peak_mb.to_numpy() * 2 ** 20, [2 * b * 500 * 4 for b in (1, 16, 64)], rtol=0.01)
    assert r.summary["peak_mb_batch_size"] == 64 and r.summary["peak_mb"] == r.latency.peak_mb.iloc[-1]
    assert (r.latency.cpu_cores > 0).all()
    assert r.plot(kind="memory").ax_.get_ylabel() == "peak tensor memory (MiB)"


def _probes(*rows):
    "A probe table as find_max_qps returns it: (rate, outcome, served rate) per probe."
    import pandas as pd
    return pd.DataFrame([{"qps": q, "outcome": o, "passed": o.startswith("pass"), "throughput_rps": t} for q, o, t in rows])


def test_without_a_throughput_the_load_search_under_the_latency_target_sets_the_price(monkeypatch):
    import prodkit.load, prodkit.security
    asked = []
    def fake_search(target, inputs, *, slo_ms, percentile, **kw):
        asked.append(dict(slo_ms=slo_ms, percentile=percentile, **kw))
        return SimpleNamespace(probes=_probes((kw["start_qps"], "pass", kw["start_qps"])))
    monkeypatch.setattr(prodkit.load, "find_max_qps", fake_search)
    monkeypatch.setattr(prodkit.security, "_back_to_back", lambda tgt, items, n=20: 500.0)
    p = Predictor(nn.Linear(4, 2), output="logits")
    r = cost(p, np.zeros((3, 4), np.float32), price_per_hour=1.0, slo_ms=200, percentile=90, duration_s=0.3, max_probes=2, repeats=2)
    assert [(a["slo_ms"], a["percentile"], a["duration_s"]) for a in asked] == [(200, 90, 0.3)]   # a pass: one probe
    assert r.throughput_source == "load" and r.throughput == 250.0 and (r.slo_ms, r.percentile) == (200, 90)
    np.testing.assert_allclose(r.summary["usd_per_million"], 1.0 / 3600 / 250 * 1e6)
    assert "p90 <= 200 ms" in r.headline()
    assert (r.throughput_upper, r.throughput_upper_source, r.summary["throughput_probes"]) == (500.0, "back-to-back", 1)
    assert "below 500 (back-to-back)" in r.headline()


def test_after_a_failed_probe_the_next_offers_a_little_less_than_the_target_served(monkeypatch):
    import prodkit.load, prodkit.security
    asked = []
    def fake_search(target, inputs, **kw):
        asked.append(kw)
        q = kw["start_qps"]
        return SimpleNamespace(probes=_probes((q, "fail (target fell behind)", 300.0) if len(asked) == 1 else (q, "pass", q)))
    monkeypatch.setattr(prodkit.load, "find_max_qps", fake_search)
    monkeypatch.setattr(prodkit.security, "_back_to_back", lambda tgt, items, n=20: 1000.0)
    r = cost(Predictor(nn.Linear(4, 2), output="logits"), np.zeros((3, 4), np.float32), price_per_hour=1.0, repeats=1)
    assert [(a["start_qps"], a["max_qps"], a["max_probes"]) for a in asked] == [(500.0, 500.0, 1), (270.0, 270.0, 4)]
    assert (r.throughput, r.throughput_upper, r.throughput_upper_source, r.throughput_probes) == (270.0, 500.0, "failed probe", 2)
    assert "below 500 (failed probe)" in r.headline()


def test_the_load_search_runs_on_the_model_and_reads_cpu_use():
    p = Predictor(nn.Linear(4, 2), output="logits")
    r = cost(p, np.zeros((3, 4), np.float32), price_per_hour=1.0, slo_ms=500, percentile=50, duration_s=0.3, max_probes=2, repeats=1)
    assert r.throughput_source == "load" and r.throughput >= 0          # 0 when no probed rate met the target
    assert np.isfinite(r.cpu_cores_under_load) and r.cpu_cores_under_load > 0
    assert 1 <= r.throughput_probes <= 2 and r.throughput < r.throughput_upper     # a rate that passed, below one that cannot
    if r.throughput == 0: assert r.summary["usd_per_million"] is None   # infinite: any cost gate fails
    else: np.testing.assert_allclose(r.summary["usd_per_million"], 1.0 / 3600 / r.throughput * 1e6)


def test_cost_per_million_at_a_given_throughput():
    r = cost(Predictor(nn.Linear(4, 2)), np.zeros((3, 4), np.float32), throughput=500, price_per_hour=3.6, repeats=1)
    assert r.throughput_source == "given" and np.isnan(r.cpu_cores_under_load)
    np.testing.assert_allclose(r.summary["usd_per_million"], 3.6 / 3600 / 500 * 1e6)   # $2 per million
    assert "$2 per million" in r.headline() and r.plot().ax_ is not None


def test_a_scripted_module_has_no_flop_count_but_still_costs():
    r = cost(Predictor(torch.jit.script(nn.Linear(4, 2))), np.zeros((3, 4), np.float32), price_per_hour=1.0, repeats=1, slo_ms=None)
    assert np.isnan(r.flops_per_prediction) and r.summary["flops_per_prediction"] is None
    assert r.parameters == 10 and r.summary["usd_per_million"] > 0


def test_peak_memory_is_measured_without_importing_torch_inductor():
    # torch.profiler.profile imports torch._inductor on start (about 2 CPU seconds); the profiler under it records the
    # same allocation events, so measuring memory must leave torch._inductor unimported
    import subprocess, sys
    code = ("import sys, torch; from torch import nn; from prodkit.security import _peak_mb; "
            "m = nn.Sequential(nn.Linear(50, 500), nn.ReLU(), nn.Linear(500, 3)); "
            "print(round(_peak_mb(m, torch.zeros(16, 50)) * 2 ** 20), 'torch._inductor' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [str(2 * 16 * 500 * 4), "False"], out.stdout


def test_the_back_to_back_rate_times_the_calls_the_harness_makes():
    from prodkit.load import as_load_target
    from prodkit.security import _back_to_back
    calls = []
    def slow(x):
        import time; calls.append(x.shape); time.sleep(0.002); return np.zeros((len(x), 2))
    rate = _back_to_back(as_load_target(slow), list(np.zeros((3, 4), np.float32)), n=5)
    assert len(calls) == 6 and 0 < rate < 500            # one warm-up and five timed calls of about 2 ms or more
