"""How `export_torchscript(method='auto')` times its candidates: as fresh loads of the bytes that ship, calls in a
seeded random order (no contender always runs after the same neighbour), and the written file holds the very
program that was timed. No absolute timing is asserted: clocks are faked or timings recorded."""
import time

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import prodkit.export as ex
from prodkit.export import ExportError, _program_digest, export_torchscript, read_manifest, time_calls


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).eval()


class _Clock:
    "A fake perf_counter: each call of a contender costs 1.0, plus `penalty` when the call before it was `after`'s."
    def __init__(self, after="eager", penalty=0.5):
        self.t, self.last, self.after, self.penalty = 0.0, None, after, penalty
    def __call__(self): return self.t
    def fn(self, name):
        def f(x):
            self.t += 1.0 + (self.penalty if self.last == self.after else 0.0)
            self.last = name
        return f


def test_no_contender_always_pays_for_the_call_before_it(monkeypatch):
    "Identical contenders get identical medians even when a call after the eager model costs more (a cold cache)."
    clock = _Clock()
    monkeypatch.setattr(time, "perf_counter", clock)
    fns = {k: clock.fn(k) for k in ("eager", "a", "b", "c", "d")}
    med = time_calls(fns, (None,), repeats=60, warmup=2, seed=0)
    assert {med[k] for k in "abcd"} == {1000.0}     # ms; with a fixed cyclic order "a" (always after eager) had 1500


def test_the_order_of_the_calls_follows_the_seed():
    def order(seed):
        calls = []
        time_calls({k: (lambda k: lambda x: calls.append(k))(k) for k in "abcd"}, (None,), repeats=20, warmup=0, seed=seed)
        return calls
    o = order(5)
    assert [sorted(o[i:i + 4]) for i in range(0, 80, 4)] == [list("abcd")] * 20     # every round calls each once
    assert order(5) == o and order(6) != o
    assert len({tuple(o[i:i + 4]) for i in range(0, 80, 4)}) > 5                      # not one order repeated


def test_candidates_are_timed_as_fresh_loads_of_their_saved_bytes(tmp_path, monkeypatch):
    "The timer gets, for each candidate, a module loaded from that candidate's saved bytes and not yet called."
    loads, real = [], ex._from_bytes
    class Counted:
        def __init__(self, m, data): self.m, self.data, self.calls = m, data, 0
        def __call__(self, *a):
            self.calls += 1
            return self.m(*a)
    def counting(data, artifact):
        loads.append(Counted(real(data, artifact), data))
        return loads[-1]
    monkeypatch.setattr(ex, "_from_bytes", counting)
    seen = {}
    def timer(fns, inputs, repeats):
        for k, f in fns.items():
            if k != "eager": seen.setdefault(k, (f, f.calls, _program_digest(f.data)))
        return {k: [1.0 + 0.01 * i for i in range(repeats)] for k in fns}
    rep = export_torchscript(_mlp(), torch.randn(20, 4), tmp_path / "m.pt", timer=timer, repeats=3)
    c = rep.candidates[rep.candidates.faithful].drop_duplicates("candidate").set_index("candidate")
    assert set(seen) == set(c.index) and len(seen) == 6
    for name, (f, calls_before, digest) in seen.items():
        assert calls_before == 0, name                     # fresh: not the module the parity checks ran
        assert digest == c.loc[name, "program_sha256"]     # loaded from the bytes recorded for this candidate


def test_the_written_file_holds_the_program_that_was_timed(tmp_path):
    rep = export_torchscript(_mlp(), torch.randn(20, 4), tmp_path / "m.pt", repeats=3, batch_sizes=(1, 16))
    c = rep.candidates[rep.candidates.faithful]
    kept = c[c.chosen].program_sha256.unique().tolist()
    shipped = _program_digest((tmp_path / "m.pt").read_bytes())
    assert kept == [shipped] == [rep.program_sha256] == [read_manifest(tmp_path / "m.pt")["program_sha256"]]
    assert (c[~c.chosen].program_sha256 != shipped).all()          # every other candidate is another program
    assert [r["program_sha256"] for r in read_manifest(tmp_path / "m.pt")["candidates"]] == c.program_sha256.tolist()


def test_a_file_that_would_hold_another_program_is_not_written(tmp_path, monkeypatch):
    "If saving with the final manifest gave another program than the one checked and timed, nothing is written."
    real = ex._to_bytes
    other = torch.jit.script(_mlp(seed=1))
    def swapped(prog, artifact, manifest=None):
        return real(other if manifest is not None else prog, artifact, manifest)   # only the final save is wrong
    monkeypatch.setattr(ex, "_to_bytes", swapped)
    path = tmp_path / "m.pt"
    with pytest.raises(ExportError, match="is not the one that was checked and timed"):
        export_torchscript(_mlp(), torch.randn(20, 4), path, repeats=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_same_seed_and_timings_give_the_same_table_and_choice(tmp_path):
    "Recorded timings: two exports with one seed keep the same candidate and record the same numbers."
    speeds = {"script/plain": 1.0, "script/frozen": 0.7, "script/frozen+optimized": 0.69, "trace/plain": 1.0}
    def timer(fns, inputs, repeats):
        return {k: [speeds.get(k, 2.0) * (1 + 0.001 * i) for i in range(repeats)] for k in fns}
    reps = [export_torchscript(_mlp(), torch.randn(20, 4, generator=torch.Generator().manual_seed(0)), tmp_path / f"{i}.pt",
                               timer=timer, repeats=9, seed=4) for i in range(2)]
    assert {(r.method, r.variant) for r in reps} == {("script", "frozen")}   # 1.5% from the fastest: a tie, the simpler
    cols = ["candidate", "batch_size", "median_ms", "p25_ms", "p75_ms", "speedup", "chosen", "faithful"]
    pd.testing.assert_frame_equal(reps[0].candidates[cols], reps[1].candidates[cols])
    pd.testing.assert_frame_equal(reps[0].to_frame(), reps[1].to_frame())
    assert reps[0].choice == reps[1].choice and reps[0].latency.equals(reps[1].latency)


def test_candidate_timing_stops_once_one_is_clearly_ahead_and_keeps_the_same_choice(monkeypatch):
    "A candidate three times faster than the others is clear after 10 calls each; close candidates are timed for all repeats."
    clock = {"t": 0.0}
    monkeypatch.setattr(time, "perf_counter", lambda: clock["t"])
    def costs(ms):
        def f(*a): clock["t"] += ms / 1000
        return f
    speed = {"script/plain": 3.0, "script/frozen": 1.0, "trace/plain": 3.0}
    monkeypatch.setattr(ex, "_fresh", lambda c: costs(speed[ex._name(c)]))
    cands = [{"method": m, "variant": v} for m, v in (("script", "plain"), ("script", "frozen"), ("trace", "plain"))]
    names, batches = [ex._name(c) for c in cands], {1: (None,), 8: (None,)}
    early = ex._time_candidates(costs(2.0), cands, batches, repeats=30)
    assert set(early.n_calls) == {ex._MIN_CALLS} == {10}                 # stopped after the first 10 rounds, at each size
    full = ex._timing_table({"eager": costs(2.0), **{n: costs(speed[n]) for n in names}}, batches, repeats=30)
    assert set(full.n_calls) == {30}                                     # without contenders: every round
    assert ex._pick(early, names)[0] == ex._pick(full, names)[0] == "script/frozen"
    speed.update({"script/frozen": 3.0})                                 # all alike: no leader, every round is timed
    assert set(ex._time_candidates(costs(2.0), cands, batches, repeats=30).n_calls) == {30}
