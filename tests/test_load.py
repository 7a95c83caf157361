"""Evaluation under load: the behaviours issue 3 asks for, with tolerances that hold on a busy 2-core machine
and still fail a wrong implementation (closed-loop latency, latency from the actual send time, interpolated
percentiles, a fixed-rate schedule, swallowed errors, a run that waits for hung calls)."""
import html
import http.server, json, math, threading, time, warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy import stats
from torch import nn

from prodkit.core import DataError, FileFormatError, ParameterError, Predictor, TabularAdapter
from prodkit.load import (CapacityReport, LoadReport, evaluate_under_load, find_max_qps, min_requests, nearest_rank,
                          percentile_ci, poisson_schedule, trend_test)

REQUIRED = "p50_ms p90_ms p95_ms p99_ms p999_ms max_ms mean_ms throughput_rps error_rate timeout_rate n_requests valid".split()


def retry_once(check):
    "Run `check()`; on AssertionError (a noisy neighbour on the shared machine) run it once more."
    try: return check()
    except AssertionError:
        time.sleep(0.5); return check()


class Sleeper:
    "Sleeps `ms` per call and records how long each call really took, seen from inside."
    def __init__(self, ms): self.ms, self.own = ms, []
    def __call__(self, x):
        t = time.perf_counter(); time.sleep(self.ms / 1000); self.own.append((time.perf_counter() - t) * 1000); return x


# --- latency of a 10 ms target --------------------------------------------------------------------------------
def test_sleep_10ms_p50_single_stream_and_server():
    def check():
        f = Sleeper(10)
        r = evaluate_under_load(f, [0], duration_s=2, warmup_s=0.2, progress=False)
        s = r.summary; own_p50 = nearest_rank(f.own, 50)
        # the harness adds next to nothing to what the target itself took (a closed loop measures service time)
        assert s["p50_ms"] >= 10.0 and s["p50_ms"] - own_p50 < 0.25, (s["p50_ms"], own_p50)
        assert abs(s["p50_service_ms"] - own_p50) < 0.1
        assert abs(s["p50_ms"] - 10) / 10 < 0.05, s["p50_ms"]          # within a few percent of 10 ms
        assert 150 < s["n_requests"] < 205 and s["n_warmup"] > 10
        # open loop at 30% utilisation: the median request rarely waits, so p50 stays near 10 ms too
        f2 = Sleeper(10)
        r2 = evaluate_under_load(f2, [0], scenario="server", qps=30, duration_s=2, warmup_s=0.2, progress=False, seed=3)
        s2 = r2.summary
        assert s2["p50_ms"] >= 10.0 and abs(s2["p50_service_ms"] - nearest_rank(f2.own, 50)) < 0.15
        assert abs(s2["p50_ms"] - 10) / 10 < 0.08, s2["p50_ms"]
        assert s2["p99_ms"] >= s2["p99_service_ms"] - 1e-9
    retry_once(check)


# --- coordinated omission -------------------------------------------------------------------------------------
class StallOnce:
    "1 ms per call; the first call after `at_s` seconds from the first call stalls for `stall_s`."
    def __init__(self, at_s=2.0, stall_s=1.0): self.at, self.stall, self.t0, self.done = at_s, stall_s, None, False
    def __call__(self, x):
        now = time.perf_counter(); self.t0 = self.t0 or now
        if not self.done and now - self.t0 >= self.at: self.done = True; time.sleep(self.stall)
        else: time.sleep(0.001)
        return x


def test_stall_shows_in_server_p99_but_only_in_single_stream_max():
    srv = evaluate_under_load(StallOnce(), [0], scenario="server", qps=100, duration_s=5, warmup_s=0.5, progress=False,
                              max_lag_ms=20)
    s = srv.summary
    assert s["max_ms"] >= 1000
    assert 300 <= s["p99_ms"] <= 1100, s["p99_ms"]                     # hundreds of ms: the stall delayed ~100 requests
    assert (srv.latencies_ms > 100).sum() >= 50
    assert s["p99_service_ms"] < 50                                     # service time alone hides the stall
    assert s["queue_p99_ms"] > 300                                      # it is queueing, recorded separately
    ss = evaluate_under_load(StallOnce(), [0], scenario="single_stream", duration_s=5, warmup_s=0.5, progress=False)
    t = ss.summary
    assert t["max_ms"] >= 1000 and t["p99_ms"] < 50, (t["p99_ms"], t["max_ms"])
    assert (ss.latencies_ms > 100).sum() == 1                           # a closed loop records one slow sample


# --- exact percentiles ----------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=300), st.floats(0.01, 100))
def test_nearest_rank_definition(xs, p):
    v = nearest_rank(xs, p)
    x = sorted(xs); n = len(x)
    assert v in xs
    # nearest rank: the smallest sample with at least p% of samples at or below it
    assert sum(1 for a in x if a <= v) >= p / 100 * n - 1e-9
    assert sum(1 for a in x if a < v) < p / 100 * n + 1e-9


def test_report_percentiles_are_nearest_rank_of_raw_samples():
    rng = np.random.default_rng(0)
    delays = rng.exponential(0.0015, 400)
    def f(i): time.sleep(delays[i]); return i
    r = evaluate_under_load(f, list(range(400)), duration_s=1.0, warmup_s=0.1, progress=False)
    lat = np.sort(r.latencies_ms); n = len(lat)
    for p, key in [(50, "p50_ms"), (90, "p90_ms"), (95, "p95_ms"), (99, "p99_ms"), (99.9, "p999_ms")]:
        assert r.summary[key] == lat[math.ceil(p / 100 * n) - 1]
        lo, hi = r.summary[key.replace("_ms", "_ci_low_ms")], r.summary[key.replace("_ms", "_ci_high_ms")]
        assert (lo, hi) == percentile_ci(lat, p, 0.95)                  # the exact interval, None only where the data cannot bound it
        if n >= min_requests(p): assert lo <= r.summary[key] <= hi, (key, lo, hi)
    assert r.summary["max_ms"] == lat[-1] and r.summary["mean_ms"] == pytest.approx(lat.mean())
    assert np.array_equal(np.sort(r.to_frame().query("not warmup").latency_ms.to_numpy()), lat)


def test_percentile_ci_coverage():
    rng = np.random.default_rng(1); true = -math.log(0.01)   # p99 of Exp(1)
    hits = 0; trials = 1500
    for _ in range(trials):
        lo, hi = percentile_ci(rng.exponential(1.0, 600), 99, 0.95)
        hits += lo <= true <= hi
    assert 0.935 <= hits / trials <= 0.995, hits / trials           # exact intervals: at least nominal, not absurdly wide
    assert min_requests(99, 0.95) == 368 and min_requests(50) == 6


def test_warmup_is_excluded_and_reported():
    t0 = []
    def cold_start(x):
        t0.append(time.perf_counter())
        time.sleep(0.02 if t0[-1] - t0[0] < 0.3 else 0.001); return x
    r = evaluate_under_load(cold_start, [0], duration_s=0.8, warmup_s=0.4, progress=False, percentile=50)
    s = r.summary; warm = r.requests[r.requests.warmup]
    assert (warm.latency_ms >= 19).sum() >= 10 and s["n_warmup"] == len(warm) >= 14   # the slow start is in the warm-up ...
    assert s["p90_ms"] < 10 and (r.latencies_ms >= 19).sum() <= 2, s["p90_ms"]        # ... and not in the statistics
    assert r.requests.warmup.sum() == s["n_warmup"] and (r.requests.scheduled_s[r.requests.warmup] < r.measured.scheduled_s.min()).all()


# --- arrival schedule -----------------------------------------------------------------------------------------
def test_same_seed_same_schedule_and_exponential_gaps():
    a, b, c = poisson_schedule(500, 20, seed=7), poisson_schedule(500, 20, seed=7), poisson_schedule(500, 20, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a[:50], c[:50])
    gaps = np.diff(a)
    assert stats.kstest(gaps, "expon", args=(0, 1 / 500)).pvalue > 0.01
    assert abs(gaps.mean() * 500 - 1) < 0.03 and abs(gaps.std() / gaps.mean() - 1) < 0.05   # exponential: CV = 1
    even = np.arange(1, 10000) / 500                                    # a fixed-rate schedule fails the same test
    assert stats.kstest(np.diff(even), "expon", args=(0, 1 / 500)).pvalue < 1e-6
    # a run follows its schedule: same seed, same scheduled times (relative to the run start)
    runs = [evaluate_under_load(lambda x: x, [0], scenario="server", qps=300, duration_s=0.5, warmup_s=0.1, seed=s,
                                progress=False).requests.scheduled_s.to_numpy() for s in (5, 5, 6)]
    rel = [x - x[0] for x in runs]
    assert np.allclose(rel[0], rel[1])
    for got, seed in ((rel[0], 5), (rel[2], 6)):                        # each run follows its own seed's schedule
        ref = poisson_schedule(300, 0.6, seed=seed)
        assert np.allclose(got, ref[:len(got)] - ref[0]) and len(got) > 0.8 * len(ref), (seed, len(got), len(ref))
    assert not np.allclose(rel[0][:20], rel[2][:20])


# --- errors, hung calls, timeouts -----------------------------------------------------------------------------
def test_one_percent_errors_are_counted_per_window():
    def f(x):
        if x == 0: raise ValueError("injected")
        return x
    r = evaluate_under_load(f, list(range(100)), duration_s=0.5, warmup_s=0.05, progress=False)
    s = r.summary; m = r.measured
    assert s["error_rate"] == pytest.approx(0.01, abs=0.0005) and s["n_errors"] == (m.status == "error").sum() > 10
    assert set(m.error.dropna()) == {"ValueError"}
    r2 = evaluate_under_load(f, list(range(100)), scenario="server", qps=1000, duration_s=1.5, warmup_s=0.1, progress=False)
    assert r2.summary["error_rate"] == pytest.approx(0.01, abs=0.004)
    w = r2.windows
    assert len(w) >= 10 and {"error_rate", "timeout_rate"} <= set(w.columns)
    assert (w.error_rate * w.n).sum() == pytest.approx(r2.summary["n_errors"])


@pytest.fixture
def hanging():
    "A target where every call with x == 0 hangs (up to 30 s, released at teardown); others take 1 ms."
    gate = threading.Event()
    def f(x):
        if x == 0: gate.wait(30)
        else: time.sleep(0.001)
        return x
    yield f
    gate.set()


def test_hung_calls_time_out_and_the_run_ends_on_time(hanging):
    t0 = time.perf_counter()
    r = evaluate_under_load(hanging, list(range(20)), scenario="server", qps=100, concurrency=2, duration_s=2, warmup_s=0.2,
                            timeout_ms=50, progress=False, max_lag_ms=20, percentile=90)    # 5% of calls hang
    took = time.perf_counter() - t0
    assert took < 2.2 + 1.0, took
    s = r.summary; m = r.measured
    assert s["n_timeouts"] >= 0.03 * s["n_requests"] and s["timeout_rate"] < 0.15, s["timeout_rate"]
    assert (m.latency_ms[m.status == "timeout"] >= 50 - 1e-6).all()
    assert s["n_abandoned_threads"] >= 1 and r.valid, r.reasons


def test_closed_loop_clients_stuck_on_a_hung_call_move_on_at_the_deadline(hanging):
    t0 = time.perf_counter()
    r = evaluate_under_load(hanging, list(range(20)), scenario="concurrency", concurrency=[1, 3], duration_s=0.6, warmup_s=0,
                            timeout_ms=40, progress=False)
    assert time.perf_counter() - t0 < 2 * 0.6 + 1.0
    assert (r.sweep.timeout_rate > 0).all()


def test_without_a_timeout_a_hung_call_is_unfinished_and_the_run_invalid(hanging):
    t0 = time.perf_counter()
    r = evaluate_under_load(hanging, list(range(20)), scenario="server", qps=50, duration_s=0.5, warmup_s=0, drain_s=0.3,
                            progress=False)
    assert time.perf_counter() - t0 < 0.5 + 0.3 + 1.0                    # still ends after drain_s
    assert not r.valid and "unfinished" in r.summary["reason"]


# --- validity self-checks ------------------------------------------------------------------------------------
def test_unsustainable_rate_and_too_few_requests_make_the_run_invalid():
    f = Sleeper(10)
    r = evaluate_under_load(f, [0], scenario="server", qps=300, duration_s=1, warmup_s=0.1, drain_s=0.3, progress=False)
    assert not r.valid and "achieved rate" in r.summary["reason"] and "cannot sustain qps=300" in r.summary["reason"]
    n = len(f.own); time.sleep(0.3)
    assert len(f.own) <= n + 1                                          # the backlog is dropped, not served after the run
    assert r.summary["valid"] is False and "INVALID" in r.headline()
    r = evaluate_under_load(Sleeper(1), [0], scenario="server", qps=100, duration_s=1, warmup_s=0, progress=False, max_lag_ms=20)
    assert not r.valid and "needs at least 368" in r.summary["reason"] and "achieved" not in r.summary["reason"]
    r = evaluate_under_load(Sleeper(1), [0], scenario="server", qps=100, duration_s=1, warmup_s=0, progress=False,
                            percentile=90, max_lag_ms=20)
    assert r.valid, r.reasons                                          # 100 requests are enough for a p90 claim
    r = evaluate_under_load(lambda x: x, [0], scenario="server", qps=500, duration_s=0.5, warmup_s=0, percentile=50,
                            max_lag_ms=1e-6, progress=False)
    assert not r.valid and "fell behind its schedule" in r.summary["reason"]
    r = evaluate_under_load(lambda x: 1 / 0, [0], duration_s=0.2, warmup_s=0, percentile=50, progress=False)
    assert not r.valid and "every request failed (first error: ZeroDivisionError)" in r.summary["reason"]


# --- targets and inputs ---------------------------------------------------------------------------------------
def _total(x):
    if isinstance(x, dict): return sum(_total(v) for v in x.values())
    if isinstance(x, list): return sum(_total(v) for v in x)
    return x


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True                                      # headers and body go out in separate writes
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/fail": code, out = 500, {"error": "boom"}
        else: code, out = 200, {"y": _total(body), "served_by": "http"}
        data = json.dumps(out).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(data)))
        self.end_headers(); self.wfile.write(data)
    def log_message(self, *a): pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler); srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown(); srv.server_close()


def test_http_target(server):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    r = evaluate_under_load(server + "/predict", df, scenario="server", qps=200, duration_s=0.6, warmup_s=0.1,
                            progress=False, percentile=50, max_lag_ms=50)
    s = r.summary
    assert s["error_rate"] == 0 and s["n_requests"] > 60 and s["tag_share_http"] == 1.0 and s["p50_ms"] > 0
    r = evaluate_under_load(server + "/fail", [{"a": 1}], duration_s=0.3, warmup_s=0, progress=False, percentile=50)
    assert r.summary["error_rate"] == 1.0 and set(r.measured.error) == {"HTTP 500"}
    r = evaluate_under_load(server + "/predict", [[1, 2], [3, 4]], scenario="offline", batch_sizes=[4], duration_s=0.3,
                            warmup_s=0, progress=False)
    assert r.summary["error_rate"] == 0 and r.summary["throughput_rps"] > 0


def test_module_torchscript_file_and_predictor_targets(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    X = torch.randn(32, 4)
    for tgt in (net, torch.jit.script(net)):
        r = evaluate_under_load(tgt, X, duration_s=0.2, warmup_s=0.02, progress=False, percentile=50)
        assert r.summary["error_rate"] == 0 and r.summary["n_requests"] > 50, r.measured.error.dropna().head()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(net), str(tmp_path / "m.pt"))
    r = evaluate_under_load(str(tmp_path / "m.pt"), X.numpy(), scenario="offline", batch_sizes=[1, 16], duration_s=0.2,
                            warmup_s=0.02, progress=False)
    assert r.summary["error_rate"] == 0 and r.summary["level"] in (1, 16) and len(r.sweep) == 2
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(FileFormatError, match="could not be loaded|TorchScript|not"):
        evaluate_under_load(str(tmp_path / "bad.pt"), X, duration_s=0.1, progress=False)
    df = pd.DataFrame({"x": np.arange(20.0), "plan": ["a", "b"] * 10, "y": [0, 1] * 10})
    ad = TabularAdapter(label="y").fit(df)
    pred = Predictor(nn.Linear(ad.n_features_, 2), adapter=ad, output="logits")
    r = evaluate_under_load(pred, df.drop(columns="y"), scenario="concurrency", concurrency=2, duration_s=0.3, warmup_s=0.05,
                            progress=False, percentile=50)
    assert r.summary["error_rate"] == 0 and r.summary["n_requests"] > 20
    r = evaluate_under_load(pred, df.drop(columns="y").to_dict(orient="records"), duration_s=0.2, warmup_s=0, progress=False)
    assert r.summary["error_rate"] == 0 and r.summary["n_requests"] > 20     # dict rows become one-row frames
    with pytest.raises(DataError, match="non-numeric columns"):
        evaluate_under_load(net, df, duration_s=0.1, progress=False)


def test_tags_classify_and_fallback_share_over_time():
    class Answer:
        def __init__(self, served_by): self.served_by = served_by
    calls = [0]
    def guarded(x):
        calls[0] += 1
        return Answer("fallback" if calls[0] % 10 == 0 else "primary")
    r = evaluate_under_load(guarded, [0], duration_s=0.4, warmup_s=0, progress=False, percentile=50)
    assert r.summary["tag_share_fallback"] == pytest.approx(0.1, abs=0.01) and "tag_fallback" in r.windows
    r = evaluate_under_load(lambda x: x, [1, -1], duration_s=0.2, warmup_s=0, progress=False, percentile=50,
                            classify=lambda out: "neg" if out < 0 else None)
    assert r.summary["tag_share_neg"] == pytest.approx(0.5, abs=0.01)
    def batch_guard(batch):                                             # one answer per row, as a frame
        return pd.DataFrame({"y": batch, "served_by": ["fallback" if b == 0 else "primary" for b in batch]})
    r = evaluate_under_load(batch_guard, [0, 1, 1, 1], scenario="streaming", qps=500, duration_s=0.6, warmup_s=0,
                            max_batch_size=8, max_wait_ms=5, progress=False, percentile=50, max_lag_ms=50)
    assert r.summary["tag_share_fallback"] == pytest.approx(0.25, abs=0.02) and "tag_share_mixed" not in r.summary
    r = evaluate_under_load(batch_guard, [0, 1], scenario="offline", batch_sizes=[4], duration_s=0.2, warmup_s=0, progress=False)
    assert r.summary["tag_share_mixed"] == 1.0                          # a batch of rows served by different paths
    r = evaluate_under_load(lambda x: {"served_by": "previous model v1.2"}, [0], duration_s=0.1, warmup_s=0, progress=False)
    assert r.summary["tag_share_previous_model_v1_2"] == 1.0                # tags become names that can be recorded


# --- scenarios ------------------------------------------------------------------------------------------------
def test_streaming_micro_batches_and_latency_from_arrival():
    sizes = []
    def f(batch):
        sizes.append(len(batch) if isinstance(batch, list) else 1); time.sleep(0.003); return batch
    r = evaluate_under_load(f, [0, 1, 2], scenario="streaming", qps=800, duration_s=1.0, warmup_s=0.1, max_batch_size=16,
                            max_wait_ms=10, progress=False, percentile=90, max_lag_ms=20)
    m = r.measured
    assert max(sizes) <= 16 and np.mean(sizes) > 2
    assert np.allclose(m.latency_ms, m.queue_ms + m.service_ms)        # latency from arrival = wait + batch time
    assert m.queue_ms.min() >= 0 and r.summary["p50_ms"] > r.summary["p50_service_ms"]
    assert 600 < r.summary["n_requests"] < 1000 and r.summary["error_rate"] == 0
    # at a low rate the first record of a batch waits up to max_wait_ms, not longer
    r = evaluate_under_load(f, [0], scenario="streaming", qps=20, duration_s=1.0, warmup_s=0, max_batch_size=64,
                            max_wait_ms=30, progress=False, percentile=50, max_lag_ms=20)
    assert 25 <= r.summary["p50_ms"] - r.summary["p50_service_ms"] and r.summary["p50_ms"] < 30 + 3 + 25


def test_offline_and_concurrency_sweeps():
    def per_call(x): time.sleep(0.002); return x                       # fixed cost per call, whatever the batch
    r = evaluate_under_load(per_call, [torch.zeros(3)], scenario="offline", batch_sizes=[1, 8, 32], duration_s=0.3,
                            warmup_s=0.02, progress=False)
    sw = r.sweep.set_index("level")
    assert sw.throughput_rps[32] > 10 * sw.throughput_rps[1] and r.summary["level"] == 32
    r = evaluate_under_load(per_call, [0], scenario="concurrency", concurrency=[1, 4], duration_s=0.4, warmup_s=0.05,
                            progress=False)
    sw = r.sweep.set_index("level")
    assert sw.throughput_rps[4] > 2.5 * sw.throughput_rps[1] and r.summary["level"] == 4
    axes = r.plot().ax_; assert len(axes) == 3
    assert r.plot(kind="sweep").ax_.get_xlabel().startswith("throughput")


# --- stability over time --------------------------------------------------------------------------------------
def test_latency_and_memory_growth_are_flagged():
    keep = []
    def leaky(x):
        keep.append(b"x" * 300_000); time.sleep(0.002); return x
    r = evaluate_under_load(leaky, [0], duration_s=1.5, warmup_s=0.05, progress=False, percentile=50)
    s = r.summary
    assert s["memory_growth"] and s["memory_trend_mb_per_s"] > 20 and s["rss_growth_mb"] > 50, (s["memory_trend_mb_per_s"], s["rss_growth_mb"])
    keep.clear()
    t0 = []
    def slowing(x):
        t0.append(time.perf_counter()); time.sleep(0.001 + 0.004 * (t0[-1] - t0[0])); return x
    r = evaluate_under_load(slowing, [0], duration_s=1.5, warmup_s=0, progress=False, percentile=50)
    assert r.summary["latency_growth"] and r.summary["latency_trend_ms_per_s"] > 2
    fast = evaluate_under_load(lambda x: x, [0], duration_s=1.5, warmup_s=0.05, progress=False, percentile=50)
    assert fast.summary["n_requests"] > 50_000 and not fast.summary["memory_growth"], fast.summary["memory_trend_mb_per_s"]
    assert fast.windows.rss_mb.iloc[-1] - fast.windows.rss_mb.iloc[0] > fast.windows.rss_net_mb.iloc[-1] - fast.windows.rss_net_mb.iloc[0]
    steady = evaluate_under_load(Sleeper(2), [0], duration_s=1.5, warmup_s=0.05, progress=False, percentile=50)
    assert not steady.summary["latency_growth"] and not steady.summary["memory_growth"]
    w = steady.windows
    assert len(w) == 20 and w.cpu_percent.notna().sum() >= 15 and (w.rss_mb > 0).all()
    assert len(steady.resources) > 10 and "torch" in steady.environment


def test_trend_test_on_series():
    rng = np.random.default_rng(0)
    assert trend_test(np.linspace(0, 1, 30) + rng.normal(0, 0.05, 30))["p_value"] < 1e-6
    assert trend_test(rng.normal(0, 1, 30))["p_value"] > 0.01
    assert trend_test(np.linspace(1, 0, 30))["p_value"] > 0.99        # decreasing is not growth


# --- capacity -------------------------------------------------------------------------------------------------
def test_find_max_qps_brackets_and_bisects():
    def check():
        f = Sleeper(2)
        cap = find_max_qps(f, [0], slo_ms=12, percentile=90, duration_s=0.8, warmup_s=0.1, max_probes=8, progress=False,
                           max_lag_ms=20)
        s = cap.summary; p = cap.probes
        assert isinstance(cap, CapacityReport) and len(p) <= 8
        assert 150 < cap.max_qps < 1000 / nearest_rank(f.own, 50), (cap.max_qps, p)   # never above what 1 worker can serve
        assert p.passed.any() and (~p.passed).any()
        lo, hi = cap.bracket
        assert lo == cap.max_qps and hi > lo and p.loc[p.qps == hi, "passed"].item() is False
        assert s["latency_at_max_ms"] <= 12 and 0 <= s["confidence_at_max"] <= 1
        assert (p.loc[p.passed, "latency_ms"] <= 12).all()
        cap.plot(); assert "max" in cap.headline() and "<b>" in cap._repr_html_()
        json.dumps(s)
    retry_once(check)


def test_find_max_qps_outcomes_when_the_harness_lags_or_samples_are_too_few():
    cap = find_max_qps(Sleeper(1), [0], slo_ms=50, percentile=90, start_qps=50, duration_s=0.5, warmup_s=0, max_probes=2,
                       progress=False, max_lag_ms=1e-6)                 # every probe "lags": it still passes the SLO
    assert cap.max_qps == 100 and list(cap.probes.outcome) == ["pass (harness lagged; lag counts in latency)"] * 2
    assert not cap.probes.valid.any() and cap.probes.reason.str.contains("fell behind its schedule").all()
    cap = find_max_qps(Sleeper(1), [0], slo_ms=50, percentile=99, start_qps=50, duration_s=0.3, warmup_s=0,
                       max_duration_s=0.5, progress=False)             # 25 requests cannot support a p99: stop, claim nothing
    assert cap.max_qps == 0 and list(cap.probes.outcome) == ["inconclusive (too few requests)"]
    assert "no probed rate met" in cap.headline()


def test_find_max_qps_loads_a_model_file_once_and_starts_from_timed_calls(tmp_path, monkeypatch):
    import prodkit.load as L
    path = tmp_path / "m.pt"
    torch.jit.save(torch.jit.script(nn.Linear(3, 2).eval()), str(path))
    loads, scenarios = [], []
    real_load, real_eval = L._load_file_target, L.evaluate_under_load
    monkeypatch.setattr(L, "_load_file_target", lambda p: loads.append(p) or real_load(p))
    monkeypatch.setattr(L, "evaluate_under_load", lambda *a, **kw: scenarios.append(kw.get("scenario")) or real_eval(*a, **kw))
    cap = find_max_qps(str(path), torch.zeros(4, 3), slo_ms=500, percentile=50, duration_s=0.2, warmup_s=0, max_probes=2,
                       progress=False, max_lag_ms=100)
    assert len(loads) == 1, loads                                   # the artifact is read once, not once per probe
    assert scenarios == ["server"] * len(cap.probes) == ["server", "server"]   # no closed-loop run for the start rate
    assert cap.probes.qps.iloc[0] > 0 and cap.probes.n_requests.min() > 0


# --- reporting ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server_report():
    return evaluate_under_load(Sleeper(1), [0], scenario="server", qps=200, duration_s=0.5, warmup_s=0.1, progress=False,
                               max_lag_ms=20)


def test_summary_has_every_key_and_is_json(server_report):
    s = server_report.summary
    assert set(REQUIRED) - set(s) == set() and json.loads(json.dumps(s)) == s


def test_frame_has_one_row_per_request_and_latency_is_queue_plus_service(server_report):
    r = server_report; s = r.summary; fr = r.to_frame()
    assert {"scheduled_s", "start_s", "end_s", "latency_ms", "queue_ms", "service_ms", "ok", "error", "warmup"} <= set(fr.columns)
    assert len(fr) == s["n_requests"] + s["n_warmup"] and isinstance(r.latencies_ms, np.ndarray)
    ok = fr[fr.ok]
    assert np.allclose(ok.latency_ms, ok.queue_ms + ok.service_ms)


def test_html_shows_percentiles_with_their_intervals_and_stays_small(server_report):
    h = server_report._repr_html_()
    assert "p99" in h and "CI" in h and len(h) < 5000


def test_plot_kinds(server_report):
    assert server_report.plot(kind="spectrum").ax_.get_legend() is not None
    with pytest.raises(ParameterError, match="`kind` must be one of"):
        server_report.plot(kind="nope")


def test_progress_bar_and_restored_interpreter_settings(capsys):
    import gc, sys
    evaluate_under_load(Sleeper(1), [0], scenario="server", qps=200, duration_s=0.3, warmup_s=0, progress=True, percentile=50)
    assert "load server" in capsys.readouterr().err                     # tqdm progress bar
    assert sys.getswitchinterval() == pytest.approx(0.005) and gc.get_freeze_count() == 0   # the run's settings were restored


# --- the load_test template, end to end through papermill -----------------------------------------------------
def test_load_test_template_runs_a_torchscript_file(tmp_path):
    from prodkit.jobs import run_notebook
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))), str(tmp_path / "m.pt"))
    pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=list("abc")).assign(label=0).to_parquet(tmp_path / "rows.parquet")
    r = run_notebook("load_test", {"model": str(tmp_path / "m.pt"), "data": str(tmp_path / "rows.parquet"), "duration_s": 1.0,
                                   "warmup_s": 0.1, "qps": 200.0, "percentile": 50.0, "slo_ms": 25.0, "capacity_probes": 2,
                                   "gates": "load.error_rate <= 0.001; load.n_requests >= 100"}, tmp_path / "out")
    payload = json.loads((tmp_path / "out" / "results.json").read_text())
    res = payload["results"]
    if res["load.valid"]: assert r.exit_code == 0, r.summary
    else:   # a busy machine: the measurement says it is invalid, and every gate on a load.* number fails with that reason
        assert r.exit_code == 1 and all(not g["passed"] and "invalid measurement" in g["reason"] for g in payload["gates"]), payload["gates"]
    assert res["load.error_rate"] == 0 and 120 < res["load.n_requests"] < 300 and res["load.p50_ms"] > 0
    assert res["load.capacity.n_probes"] == 2 and "load.capacity.max_qps" in res
    html = (tmp_path / "out" / "load_test.html").read_text()
    assert html.count("data:image/png;base64,") >= 3, html.count("data:image/png;base64,")   # latency, windows, capacity figures
    assert "Load-testing TorchScript file m.pt with 40 distinct request rows" in html


# --- answers that are no answers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, kind", [(np.array([np.nan, 0.5]), "output:NaN"), (torch.tensor([0.5, float("inf")]), "output:inf"),
                                       (None, "output:None"), (np.array([0.2, 0.3, 0.5]), "output:shape"),
                                       (float("nan"), "output:NaN"), ({"proba": [0.5, float("nan")]}, "output:NaN")])
def test_a_bad_answer_is_a_failed_request_with_its_kind(bad, kind):
    good = np.array([0.5, 0.5])
    def target(x): return bad if x == 3 else (0.5 if isinstance(bad, float) else {"proba": [0.5, 0.5]} if isinstance(bad, dict) else good)
    r = evaluate_under_load(target, [0, 1, 2, 3], duration_s=0.3, warmup_s=0, progress=False, percentile=50)
    m, s = r.measured, r.summary
    assert set(m.error[m.status == "error"]) == {kind}, m.error.value_counts()
    assert s["error_rate"] == pytest.approx((m.status == "error").mean()) and 0.15 < s["error_rate"] < 0.35   # every 4th request
    assert s["n_bad_outputs"] == s["n_errors"] > 0 and s["top_error"] == kind
    assert s[f"error_share_{kind.replace(':', '_')}"] == pytest.approx(s["error_rate"])
    assert kind.replace(":", "_") in r.headline() and kind.replace(":", "_") in html.unescape(r._repr_html_())   # escaped once, in core
    assert s["throughput_rps"] * 0.3 <= (m.status == "ok").sum() + 1      # a bad answer is not counted as served


def test_nan_answers_fail_the_run_in_every_scenario():
    nan = lambda x: np.full((len(x), 2) if isinstance(x, torch.Tensor) and x.ndim > 1 else (2,), np.nan)
    x = [torch.zeros(3)]
    for kw in (dict(scenario="server", qps=200), dict(scenario="concurrency", concurrency=2), dict(scenario="offline", batch_sizes=[4]),
               dict(scenario="streaming", qps=200, max_batch_size=4)):
        r = evaluate_under_load(nan, x, duration_s=0.3, warmup_s=0, progress=False, percentile=50, max_lag_ms=50, **kw)
        assert r.summary["error_rate"] == 1.0 and not r.valid, kw
        assert "every request failed" in r.summary["reason"] and "output:NaN" in r.summary["reason"], (kw, r.summary["reason"])


def test_a_batch_answered_with_the_wrong_number_of_rows_fails():
    r = evaluate_under_load(lambda b: b[:1], [torch.zeros(3)], scenario="offline", batch_sizes=[1, 4], duration_s=0.2, warmup_s=0,
                            progress=False)
    sw = r.sweep.set_index("level")
    assert sw.error_rate[1] == 0 and sw.error_rate[4] == 1.0
    assert set(r.requests.error[r.requests.batch_size == 4]) == {"output:shape"}


def test_http_reply_with_nan_is_a_failed_request():
    class NaNHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            data = b'{"proba": [NaN, 0.5], "served_by": "http"}'     # what json.dumps writes for a float nan
            self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NaNHandler); srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = evaluate_under_load(f"http://127.0.0.1:{srv.server_address[1]}/p", [{"a": 1}], duration_s=0.3, warmup_s=0, progress=False,
                                percentile=50)
    finally: srv.shutdown(); srv.server_close()
    assert r.summary["error_rate"] == 1.0 and set(r.measured.error) == {"output:NaN"} and r.summary["tag_share_http"] == 1.0


def test_check_outputs_false_counts_a_silent_target_as_served():
    r = evaluate_under_load(lambda x: None, [0], duration_s=0.2, warmup_s=0, progress=False, percentile=50, check_outputs=False)
    assert r.summary["error_rate"] == 0 and r.summary["n_bad_outputs"] == 0 and r.summary["top_error"] is None


def test_model_like_targets_are_decided_by_as_predictor(tmp_path):
    "A Scorer, a loaded bundle and a bundle folder are all called through core's as_predictor; a bare module is timed as it is."
    from prodkit.core import Scorer
    from prodkit.load import as_load_target
    from prodkit.versioning import load_bundle, save_bundle

    class Halves(Scorer):
        task = "regression"
        def predict(self, X): return np.full(len(X), 0.5)
    t = as_load_target(Halves())
    assert (t.kind, t.name) == ("predictor", "Halves") and t.call_batch([torch.ones(3)] * 4).tolist() == [0.5] * 4
    torch.manual_seed(0)
    save_bundle(tmp_path / "b", nn.Linear(3, 2), None, example=torch.rand(8, 3))
    for target in (tmp_path / "b", str(tmp_path / "b"), load_bundle(tmp_path / "b")):
        tb = as_load_target(target)
        assert tb.kind == "predictor", target
        p = tb.call(torch.ones(3))
        assert p.shape == (1, 2) and np.allclose(p.sum(1), 1.0)     # the bundle's predictor: probabilities, not logits
    assert as_load_target(nn.Linear(3, 2)).kind == "module"
    r = evaluate_under_load(Halves(), [torch.ones(3)], duration_s=0.1, warmup_s=0, percentile=50, progress=False)
    assert r.summary["error_rate"] == 0 and r.params["target_kind"] == "predictor"


def test_plot_returns_the_report_and_html_comes_from_the_core_renderer(server_report):
    import matplotlib.pyplot as plt
    r = server_report
    assert r.plot() is r and len(r.ax_) == 2 and r.figure_ is r.ax_[0].figure
    fig, ax = plt.subplots()
    assert r.plot(ax, kind="time").ax_ is ax and r.figure_ is fig
    h = r._repr_html_()
    assert h.startswith("<div><b>") and r.headline_html() in h and r._html_extra() in h   # one renderer, extra appended
    plt.close("all")
