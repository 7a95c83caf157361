"""Monitor overhead on a 1 ms model, and crash survival.

Overhead: the same 1 ms model (one row per call, 10 numeric and 2 categorical features) is called directly (the
anchor), through `prodkit.monitor.Monitor` (every prediction recorded), and through a naive recorder that inserts
and commits each prediction into SQLite on the hot path. Rounds are interleaved, the three variants in a seeded
random order each round; the headline is the median of the per-round overheads (each round's Monitor time against
the direct time of the same round), printed with its spread (min, quartiles, max) and the ratio of medians.
Two 1 ms models: one that holds the GIL (busy, the worst case for a background writer) and one that releases it
(sleeps, like a model waiting on a device or a native kernel). Target: overhead <= 2%. Both writers run: the
process writer (the default: a feeder thread stacks the calls, a child process formats and commits them) and the
thread writer (`writer="thread"`: one thread does it all, under this process's GIL). Besides wall time, the CPU
added per call is printed for the whole process and split between the calling thread, the writer (or feeder)
thread and the writer process (judge a busy machine by these). The monitor's cost is CPU work and the model's 1 ms is
wall time, so a slower machine raises the overhead's share: each line ends with the machine-speed probe
(`_machine.py`) taken before and after its rounds.

Inputs: by default each call gets a one-row frame built for it (`df.iloc[[i]]`), as a server builds one per request;
the frame build is inside every variant's timed loop. With `--frames reused` the calls cycle through 200 one-row
frames made once, the figures before 2026-12-01: that flatters the Monitor (see below) and is labelled so. A frame
the Monitor keeps until its writer has read it (up to `flush_interval_s`) outlives its call, is promoted to CPython's
older GC generations and makes it collect more often, full collections of the whole heap included; frames made once
are old already. Since 2026-12-01 the Monitor copies a plain one-row frame's values instead of keeping it. The time
the process spent in the garbage collector during each variant's rounds is printed per call (`gc.callbacks`), with
the number of full collections. After the warm-up, and before the first round, the benchmark collects once
(`gc.collect()`): the imports leave a full collection due (about 130 ms with torch and pandas loaded), and
otherwise whichever variant allocates most pays it in its rounds, a start-up cost and not a per-call one (figures
before 2026-12-01 05:40 UTC were taken without this collection; the Monitor, which allocates most, paid it).

Crash survival: a child process records predictions (process writer), printing what `flush()` acknowledged, and
is killed with SIGKILL at a random moment, together with its writer process (the whole process group); the store
is reopened and checked (rows >= acknowledged, integrity ok).

    python benchmarks/monitor_bench.py [--calls 5000] [--rounds 9] [--kills 5] [--seed 0] [--flush-interval S]
                                       [--batch-size N] [--writers process,thread] [--frames fresh,reused]
                                       [--processes N]

`--processes N` measures each line in N fresh processes, one after the other (each its warm-up and its rounds), and
prints every process's median overhead and calling-thread CPU with the median over the processes. One process's
figure moves with where its memory happens to land: on a quiet 2-core VM (2026-12-02, AMD EPYC Zen 4) eight
processes of a quick script timing the busy model directly and through the Monitor (11 interleaved rounds of 2,000
calls each, frames built per call) gave the calling thread 13.9 to 59.9 us a call of added CPU and overheads of +1.50
to +4.12% (median +2.54%); no single process can say whether the Monitor meets 2% there.

A round is 5,000 calls (about 5 s) and ends with `flush()`, timed with it. The flush waits for the writer's last
batch and for the child's commit of it; in steady serving that commit overlaps with the next calls, so rounds
several flush intervals long keep it a small share of the round (with 1,000-call rounds and a 1 s interval it
would be 1-1.5% of each round, a cost no serving loop pays).

`--flush-interval` is Monitor's `flush_interval_s` (default: Monitor's own default, 1.0 s): a longer one means
larger, fewer batches (less writer CPU per call) but more predictions at risk when the process is killed before a
flush; a figure taken with another value than the default is labelled with it. `--batch-size` is Monitor's `batch_size`
(default: Monitor's own, 2,048 calls); `--flush-interval 0.2 --batch-size 512` times the defaults before 2026-11-30.
"""
import argparse, gc, inspect, json, os, signal, sqlite3, subprocess, sys, tempfile, textwrap, time
from pathlib import Path

import numpy as np
import pandas as pd

from prodkit.core import Schema, capture_environment
from prodkit.monitor import Monitor

from _machine import speed_probe


def frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    d = {f"x{i}": rng.normal(size=n) for i in range(10)}
    d["city"] = rng.choice(["ams", "ber", "cph", "dub"], n); d["plan"] = rng.choice(["free", "pro"], n)
    return pd.DataFrame(d)


def make_model(kind, ms=1.0):
    def busy(df):
        t_end = time.perf_counter() + ms / 1000
        p = 1 / (1 + np.exp(-df["x0"].to_numpy()))
        while time.perf_counter() < t_end: pass
        return np.column_stack([1 - p, p])
    def sleepy(df):
        t_end = time.perf_counter() + ms / 1000
        p = 1 / (1 + np.exp(-df["x0"].to_numpy()))
        time.sleep(max(t_end - time.perf_counter(), 0))
        return np.column_stack([1 - p, p])
    return busy if kind == "busy" else sleepy


class NaiveRecorder:
    "Insert and commit every prediction on the hot path (what a first attempt does)."
    def __init__(self, model, path):
        self.model, self.con = model, sqlite3.connect(path)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("CREATE TABLE IF NOT EXISTS p (time REAL, latency_ms REAL, inputs TEXT, outputs TEXT)")
    def predict_proba(self, X):
        t, t0 = time.time(), time.perf_counter()
        out = self.model(X)
        lat = (time.perf_counter() - t0) * 1000
        self.con.execute("INSERT INTO p VALUES (?, ?, ?, ?)", (t, lat, X.to_json(orient="records"), json.dumps(out.tolist())))
        self.con.commit()
        return out


def proc_cpu_s(pid):
    "CPU seconds (user + system) a process has used so far, from /proc (0 without a process)."
    if pid is None: return 0.0
    with open(f"/proc/{pid}/stat") as f: fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class GCTime:
    "Seconds the process spends in the garbage collector (any thread), and its full collections, from `gc.callbacks`."
    def __init__(self): self.total, self.full, self._t = 0.0, 0, None
    def __call__(self, phase, info):
        if phase == "start":
            self._t = time.perf_counter()
            self.full += info["generation"] == 2
        elif self._t is not None: self.total += time.perf_counter() - self._t; self._t = None


def per_call_ms(fn, rows, calls, flush=None, writer=None, child=None):
    """Wall and CPU (all threads of the process, including the writer) milliseconds per call; CPU of the calling thread,
    of the writer thread (`writer`: its CPU clock id) and of the writer process (`child`: its pid) in microseconds
    per call. `rows(i)` gives the input of call i."""
    w0 = time.clock_gettime(writer) if writer is not None else 0.0
    k0 = proc_cpu_s(child)
    t0, c0, h0 = time.perf_counter(), time.process_time(), time.thread_time()
    for i in range(calls): fn(rows(i))
    h = time.thread_time() - h0
    if flush: flush()  # the writer's work for these calls counts
    w = time.clock_gettime(writer) - w0 if writer is not None else 0.0
    k = proc_cpu_s(child) - k0
    return ((time.perf_counter() - t0) * 1000 / calls, (time.process_time() - c0) * 1000 / calls, h * 1e6 / calls,
            w * 1e6 / calls, k * 1e6 / calls)


DEFAULT_INTERVAL = inspect.signature(Monitor).parameters["flush_interval_s"].default
DEFAULT_BATCH = inspect.signature(Monitor).parameters["batch_size"].default


def overhead(kind, calls, rounds, tmp, seed=0, interval=None, writer="process", batch=None, frames="fresh"):
    df = frame(); schema = Schema.infer(df)
    made = [df.iloc[[i]] for i in range(len(df))]
    rows = (lambda i: df.iloc[[i % 200]]) if frames == "fresh" else (lambda i: made[i % 200])
    model = make_model(kind)
    class Direct:
        predict_proba = staticmethod(model)
    res = {"direct": [], "monitor": [], "naive": []}; cpu = {"direct": [], "monitor": [], "naive": []}
    gct = {"direct": GCTime(), "monitor": GCTime(), "naive": GCTime()}
    caller = {"direct": [], "monitor": [], "naive": []}; writer_us = []; child_us = []
    mon = Monitor(model, tmp / f"{kind}-{writer}-{frames}.sqlite", version="bench", schema=schema, writer=writer,
                  **({} if interval is None else {"flush_interval_s": interval}),
                  **({} if batch is None else {"batch_size": batch}))
    naive = NaiveRecorder(model, tmp / f"{kind}-{frames}-naive.sqlite")
    per_call_ms(model, rows, 100); per_call_ms(mon.predict_proba, rows, 100); mon.flush()  # warm up
    gc.collect()   # the full collection the imports left due is paid here, not in some variant's rounds
    clock = time.pthread_getcpuclockid(mon._writer.ident)
    child = mon._writer.proc.pid if writer == "process" else None
    variants = [("direct", model, None), ("monitor", mon.predict_proba, mon.flush), ("naive", naive.predict_proba, None)]
    order = np.random.default_rng(seed)
    for r in range(rounds):
        for j in order.permutation(len(variants)):   # no variant always runs first or last in a round
            k, fn, fl = variants[j]
            gc.callbacks.append(gct[k])
            try: w, c, h, wr, ch = per_call_ms(fn, rows, calls, fl, *((clock, child) if k == "monitor" else (None, None)))
            finally: gc.callbacks.remove(gct[k])
            res[k].append(w); cpu[k].append(c); caller[k].append(h)
            if k == "monitor": writer_us.append(wr); child_us.append(ch)
    t0 = time.perf_counter(); n = mon.flush(); flush_ms = (time.perf_counter() - t0) * 1000
    mon.close()
    med = {k: float(np.median(v)) for k, v in res.items()}
    paired = 100 * (np.array(res["monitor"]) / np.array(res["direct"]) - 1)
    cmed = {k: float(np.median(v)) for k, v in cpu.items()}
    model_ms = 1.0   # the model's own time; `direct_ms` adds the frame build (fresh frames) and the call
    return {"model": kind, "writer": writer, "frames": frames,
            "gc_us": {k: 1e6 * g.total / (rounds * calls) for k, g in gct.items()},
            "gc_full": {k: g.full for k, g in gct.items()},
            "added_pct_of_model": 100 * (med["monitor"] - med["direct"]) / model_ms, "calls_per_round": calls, "rounds": rounds, "direct_ms": med["direct"], "monitor_ms": med["monitor"],
            "median_round_overhead_pct": float(np.median(paired)),
            "spread_pct": [round(float(q), 2) for q in np.percentile(paired, [0, 25, 75, 100])],
            "naive_ms": med["naive"], "monitor_overhead_pct": 100 * (med["monitor"] / med["direct"] - 1),
            "naive_overhead_pct": 100 * (med["naive"] / med["direct"] - 1), "rows_recorded": n, "final_flush_ms": flush_ms,
            "monitor_added_cpu_us": 1000 * (cmed["monitor"] - cmed["direct"]), "naive_added_cpu_us": 1000 * (cmed["naive"] - cmed["direct"]),
            "caller_added_cpu_us": float(np.median(caller["monitor"]) - np.median(caller["direct"])),
            "writer_cpu_us": float(np.median(writer_us)), "child_cpu_us": float(np.median(child_us)),
            "per_round_overhead_pct": [round(100 * (m / d - 1), 2) for m, d in zip(res["monitor"], res["direct"])]}


CHILD = textwrap.dedent("""
    import sys, time, numpy as np, pandas as pd
    from prodkit.monitor import Monitor
    def model(df): return np.column_stack([np.full(len(df), 0.25), np.full(len(df), 0.75)])
    mon = Monitor(model, sys.argv[1], version="v1", writer=sys.argv[2])
    rows = pd.DataFrame({"a": np.arange(8.0), "b": list("abcdefgh")})
    i = 0
    while True:
        mon.predict_proba(rows.iloc[[i % 8]]); i += 1
        if i % 250 == 0: print("FLUSHED", mon.flush(), i, flush=True)
""")


def crash_once(tmp, seed, writer="process"):
    rng = np.random.default_rng(seed)
    store = tmp / f"crash{seed}.sqlite"
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(store), writer], stdout=subprocess.PIPE, text=True,
                         start_new_session=True)   # its own process group: the monitor's process and its writer
    # kill at a random moment between two flushes
    first = p.stdout.readline(); assert first.startswith("FLUSHED"), first
    deadline = time.perf_counter() + rng.uniform(0.2, 1.5)
    acked = calls = 0
    os.set_blocking(p.stdout.fileno(), False)
    while time.perf_counter() < deadline:
        line = p.stdout.readline()
        if line.startswith("FLUSHED"): _, a, c = line.split(); acked, calls = int(a), int(c)
        else: time.sleep(0.005)
    os.killpg(p.pid, signal.SIGKILL); p.wait()   # both at once: nothing commits what was not yet acknowledged
    time.sleep(0.2)
    for line in (p.stdout.read() or "").splitlines():
        if line.startswith("FLUSHED"): _, a, c = line.split(); acked, calls = int(a), int(c)
    with Monitor.open(store) as ro: n = ro.count()
    con = sqlite3.connect(store); ok = con.execute("PRAGMA integrity_check").fetchone()[0]; con.close()
    return {"acknowledged": acked, "survived": n, "ok": n >= acked and ok == "ok", "integrity": ok}


def _settings_label(a) -> str:
    "A label for a line measured with Monitor settings other than its defaults (empty with the defaults)."
    label = "" if a.flush_interval in (None, DEFAULT_INTERVAL) else f" [NOT the default: flush_interval_s={a.flush_interval}]"
    return label + ("" if a.batch_size in (None, DEFAULT_BATCH) else f" [NOT the default: batch_size={a.batch_size}]")


def _inputs_label(frames: str) -> str:
    "What the calls get as inputs, in words ('reused' labelled as flattering the Monitor)."
    return ("a one-row frame built per call" if frames == "fresh" else
            "200 one-row frames made once and reused [FLATTERS the Monitor: its frames are old already]")


def _one(a):
    "One line (`--one frames,kind,writer`) measured in this process, printed as one JSON line."
    frames, kind, writer = a.one.split(",")
    with tempfile.TemporaryDirectory() as d:
        r = overhead(kind, a.calls, a.rounds, Path(d), a.seed, a.flush_interval, writer, a.batch_size, frames)
    print(json.dumps(r), flush=True)


def _processes(a, frames, kind, writer):
    "Measure one line in `a.processes` fresh processes, one after the other; print each one's figures and their median."
    opts = ["--calls", str(a.calls), "--rounds", str(a.rounds), "--seed", str(a.seed), "--one", f"{frames},{kind},{writer}"]
    opts += [] if a.flush_interval is None else ["--flush-interval", str(a.flush_interval)]
    opts += [] if a.batch_size is None else ["--batch-size", str(a.batch_size)]
    before, runs = speed_probe(), []
    for i in range(a.processes):
        p = subprocess.run([sys.executable, __file__, *opts], capture_output=True, text=True)
        if p.returncode: raise SystemExit(f"process {i + 1} of {kind}/{writer}/{frames} failed ({p.returncode}): {p.stderr[-2000:]}")
        runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    after = speed_probe()
    ov = [r["median_round_overhead_pct"] for r in runs]
    cal = [r["caller_added_cpu_us"] for r in runs]
    print(f"1 ms {kind} model, {_inputs_label(frames)}, {writer} writer{_settings_label(a)}, {a.processes} processes of {a.rounds} rounds of {a.calls} calls: "
          f"Monitor overhead median over the processes {np.median(ov):+.2f}% (each process's median "
          f"{', '.join(f'{x:+.2f}' for x in ov)}); calling thread's added CPU {np.median(cal):.1f} us a call "
          f"(each: {', '.join(f'{x:.1f}' for x in cal)}); feeder {np.median([r['writer_cpu_us'] for r in runs]):.1f} us, "
          f"writer process {np.median([r['child_cpu_us'] for r in runs]):.1f} us; direct "
          f"{np.median([r['direct_ms'] for r in runs]):.3f} ms; machine speed probe {before:.2f} CPU s before, {after:.2f} after",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=5000); ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--kills", type=int, default=5); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flush-interval", type=float, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--writers", default="process,thread", help="writers to time, comma-separated")
    ap.add_argument("--frames", default="fresh,reused", help="inputs to time, comma-separated: 'fresh' (a frame built per call, as a server does) and 'reused' (200 frames made once: flatters the Monitor)")
    ap.add_argument("--processes", type=int, default=1,
                    help="fresh processes to measure each line in, one after the other (>= 1); their median is printed")
    ap.add_argument("--one", help=argparse.SUPPRESS)   # frames,kind,writer: one line in this process, as JSON (--processes)
    a = ap.parse_args()
    if a.processes < 1: ap.error(f"--processes must be at least 1, got {a.processes}")
    if a.one: return _one(a)
    if bad := set(a.frames.split(",")) - {"fresh", "reused"}: ap.error(f"--frames: unknown {sorted(bad)}; use fresh, reused or both")
    env = capture_environment()
    print(f"python {env['python']}, torch {env['torch']}, {env['cpu']}, {env['affinity']} cpus")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for frames, kind, writer in [(f, k, w) for f in a.frames.split(",") for w in a.writers.split(",") for k in ("busy", "sleepy")]:
            if a.processes > 1:
                _processes(a, frames, kind, writer)
                continue
            before = speed_probe()
            r = overhead(kind, a.calls, a.rounds, tmp, a.seed, a.flush_interval, writer, a.batch_size, frames)
            after = speed_probe()
            lo, q1, q3, hi = r['spread_pct']
            label, what = _settings_label(a), _inputs_label(frames)
            print(f"1 ms {kind} model, {what}, {writer} writer{label}: Monitor overhead {r['median_round_overhead_pct']:+.2f}% "
                  f"(median of {r['rounds']} rounds of {r['calls_per_round']} calls; min {lo:+.2f}, quartiles {q1:+.2f} / "
                  f"{q3:+.2f}, max {hi:+.2f}); direct {r['direct_ms']:.3f} ms, Monitor {r['monitor_ms']:.3f} ms "
                  f"(ratio of medians {r['monitor_ms']/r['direct_ms']:.3f}, {r['monitor_overhead_pct']:+.2f}%; the difference of medians is "
                  f"{r['added_pct_of_model']:+.2f}% of the 1 ms model), "
                  f"naive insert+commit {r['naive_ms']:.3f} ms ({r['naive_overhead_pct']:+.1f}%); "
                  f"added CPU per call (this process): Monitor {r['monitor_added_cpu_us']:.1f} us = {r['monitor_added_cpu_us']/10:.2f}% of 1 ms "
                  f"(with the writer process {r['monitor_added_cpu_us'] + r['child_cpu_us']:.1f} us), "
                  f"naive {r['naive_added_cpu_us']:.1f} us; Monitor's split: calling thread +{r['caller_added_cpu_us']:.1f} us, "
                  f"{'feeder' if writer == 'process' else 'writer'} thread {r['writer_cpu_us']:.1f} us, "
                  f"writer process {r['child_cpu_us']:.1f} us; "
                  f"in the garbage collector per call: Monitor {r['gc_us']['monitor']:.1f} us, direct {r['gc_us']['direct']:.1f} us "
                  f"(full collections: Monitor {r['gc_full']['monitor']}, direct {r['gc_full']['direct']}); "
                  f"{r['rows_recorded']} rows recorded, final flush {r['final_flush_ms']:.1f} ms; per round {r['per_round_overhead_pct']}; "
                  f"machine speed probe (benchmarks/_machine.py) {before:.2f} CPU s before, {after:.2f} after")
        crashes = [crash_once(tmp, s) for s in range(a.kills)]
        for c in crashes: print(f"SIGKILL (monitor and writer process): acknowledged {c['acknowledged']}, survived {c['survived']}, integrity {c['integrity']}")
        print(f"crash survival: {sum(c['ok'] for c in crashes)}/{len(crashes)} runs kept every acknowledged row")


if __name__ == "__main__":
    main()
