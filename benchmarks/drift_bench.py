"""Time prodkit's drift analysis against Evidently's default data-drift report on the same data, in one run.

    python benchmarks/drift_bench.py                       # 1M rows x 25 columns (20 numeric, 5 categorical)
    python benchmarks/drift_bench.py --rows 100000 --evidently-python /path/to/venv/bin/python

Evidently is a benchmark-only dependency and needs pandas<3, so it runs in a subprocess with another virtual
environment's python (`--evidently-python`, default `$PRODKIT_EVIDENTLY_PYTHON`):

    python3 -m venv /opt/evidently-bench && /opt/evidently-bench/bin/pip install "evidently==0.7.23" "pandas<3" pyarrow psutil
    export PRODKIT_EVIDENTLY_PYTHON=/opt/evidently-bench/bin/python

Both tools read the same seeded Parquet files. Each tool runs in its own subprocess so its peak memory
(RSS above the RSS after the data is loaded, and Python-tracked allocations for prodkit) is its own.
Prints times, peak memory and ratios; the targets are: prodkit >= 10x faster than Evidently; a 1M-row window
against a saved profile in <= 5 s on 2 cores; peak memory under 3x the data.

    python benchmarks/drift_bench.py --dask --dask-rows 50000000    # the Dask path (prodkit.scale)
    python benchmarks/drift_bench.py --dask --dask-rows 4000000     # the same, small enough to try a change

`--dask` writes a partitioned Parquet reference and current window (`--partition-rows` rows per file, written one
file at a time, never held in memory together), starts a `distributed.LocalCluster` with one single-threaded worker
per core (their imports done first: a cluster serves many jobs), profiles the reference (`fit_profile`: bin edges from
a seeded sample of `edge_partitions` partitions, then one exact counting pass over every row) and summarises and
compares the window. Per core against the in-memory path (target: at least 70%), two ways:
- rows per second of wall time per worker, against `pd.read_parquet` + `ReferenceProfile.fit` (or `.summarize`) of
  `--baseline-partitions` files in this one process; meaningful on a quiet machine only;
- rows per CPU-second: the worker processes' CPU time (user + system, all threads, read with psutil), alone and with
  this process's (client and scheduler), against this process's CPU time for the in-memory run. CPU time still grows
  when other work shares the cores (caches, memory bandwidth), so the in-memory run is repeated before and after the
  cluster (`--repeat` each) and its best counts.
Reading Parquet is counted on both sides: every Dask task reads its file, and an in-memory user reads the data too.
Prints each worker's peak RSS (and its RSS once started) against the size of one partition in memory (target: bounded
by the partition size, not the data), and what the sampled bin edges achieved (`edge_error`, against `edge_bound`, the
DKW bound, when every partition took part).
"""
import argparse, json, os, subprocess, sys, tempfile, textwrap, time
from pathlib import Path

import numpy as np
import pandas as pd


def make_frame(n, seed, drift):
    "20 numeric and 5 categorical columns; with `drift`, 4 numeric and 1 categorical column move."
    g = np.random.default_rng(seed); d = {}
    for i in range(20):
        x = g.standard_normal(n) * (1 + i % 3) + i
        if drift and i < 4: x = x + 0.15 * (i + 1) * (1 + i % 3)
        d[f"num_{i:02d}"] = x
    for j in range(5):
        k = 5 + 5 * j; p = 1 / np.arange(1, k + 1); p /= p.sum()
        if drift and j == 0: p = p[::-1]
        d[f"cat_{j}"] = np.array([f"c{j}_{c}" for c in range(k)], dtype=object)[g.choice(k, n, p=p)]
    return pd.DataFrame(d)


def write_data(rows, seed, out):
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    ref, cur = out / f"reference_{rows}_{seed}.parquet", out / f"current_{rows}_{seed}.parquet"
    if not (ref.exists() and cur.exists()):
        make_frame(rows, seed, False).to_parquet(ref); make_frame(rows, seed + 1, True).to_parquet(cur)
    return ref, cur


def _rss():
    import psutil
    return psutil.Process().memory_info().rss


class PeakRSS:
    "Largest resident set size seen while the block runs (sampled every 2 ms by a thread), above the RSS at entry."
    def __enter__(self):
        import threading
        self.base = self.peak = _rss(); self._stop = threading.Event()
        def poll():
            while not self._stop.is_set(): self.peak = max(self.peak, _rss()); self._stop.wait(0.002)
        self._t = threading.Thread(target=poll, daemon=True); self._t.start(); return self
    def __exit__(self, *exc):
        self._stop.set(); self._t.join(); self.peak = max(self.peak, _rss()); self.extra = self.peak - self.base


def worker_prodkit(ref_path, cur_path, out):
    "Runs in its own process: fit + save a profile, then load it and compare the current window."
    import tracemalloc
    import sklearn.ensemble, sklearn.model_selection  # noqa: F401  (imported before the baseline: code is not data)
    from prodkit.drift import ReferenceProfile, detect_drift
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    data_bytes = int(cur.memory_usage(deep=True).sum())
    prof_path = Path(out) / "profile.npz"
    t = time.perf_counter(); prof = ReferenceProfile.fit(ref); prof.save(prof_path); t_fit = time.perf_counter() - t
    with PeakRSS() as m_cmp:
        t = time.perf_counter(); rep = ReferenceProfile.load(prof_path).compare(cur); t_cmp = time.perf_counter() - t
    with PeakRSS() as m_e2e:
        t = time.perf_counter(); rep2 = detect_drift(ref, cur); t_e2e = time.perf_counter() - t
    tracemalloc.start(); ReferenceProfile.load(prof_path).compare(cur); traced = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    return {"fit_and_save_s": t_fit, "compare_saved_profile_s": t_cmp, "detect_drift_s": t_e2e, "data_bytes": data_bytes,
            "peak_rss_extra_bytes": max(m_e2e.extra, 0), "compare_peak_rss_extra_bytes": max(m_cmp.extra, 0), "compare_traced_peak_bytes": traced,
            "drifted": rep.drifted_features, "drifted_end_to_end": rep2.drifted_features,
            "multivariate_auc": rep.summary["multivariate_auc"], "profile_bytes": prof_path.stat().st_size}


EVIDENTLY_WORKER = textwrap.dedent("""
    import json, resource, sys, time
    import pandas as pd, psutil
    from evidently import Report
    from evidently.presets import DataDriftPreset
    ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
    import threading
    proc = psutil.Process(); base = peak = proc.memory_info().rss; stop = threading.Event()
    def poll():
        global peak
        while not stop.is_set(): peak = max(peak, proc.memory_info().rss); stop.wait(0.002)
    th = threading.Thread(target=poll, daemon=True); th.start()
    t = time.perf_counter()
    snap = Report([DataDriftPreset()]).run(reference_data=ref, current_data=cur)
    el = time.perf_counter() - t
    stop.set(); th.join(); peak = max(peak, proc.memory_info().rss)
    d = snap.dict()
    drifted = []
    for m in d.get("metrics", []):
        cfg = json.dumps(m.get("config", {}))
        if "ValueDrift" in cfg and isinstance(m.get("value"), (int, float)):
            col = m["config"].get("column"); thr = m["config"].get("threshold"); meth = m["config"].get("method", "")
            v = m["value"]
            if col is not None and thr is not None:
                is_p = "p_value" in meth or "K-S" in meth or "chi" in meth.lower()
                if (v < thr) if is_p else (v >= thr): drifted.append(col)
    import evidently
    print(json.dumps({"evidently_s": el, "peak_rss_extra_bytes": peak - base,
                      "drifted": sorted(set(drifted)), "version": evidently.__version__}))
""")


def run_evidently(python, ref_path, cur_path, timeout):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f: f.write(EVIDENTLY_WORKER)
    try:
        p = subprocess.run([python, f.name, str(ref_path), str(cur_path)], capture_output=True, text=True, timeout=timeout)
    finally: os.unlink(f.name)
    if p.returncode != 0: raise SystemExit(f"Evidently worker failed ({python}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def write_partitioned(rows, part_rows, seed, drift, folder):
    "A Parquet dataset of `rows` rows written one `part_rows`-row file at a time (never all in memory)."
    folder = Path(folder)
    n_files = -(-rows // part_rows)
    if folder.exists() and len(list(folder.glob("part-*.parquet"))) == n_files: return folder
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        n = min(part_rows, rows - i * part_rows)
        make_frame(n, seed * 100_003 + i, drift).to_parquet(folder / f"part-{i:05d}.parquet")
    return folder


def _cpu(pids):
    "CPU seconds (user + system, every thread) used so far by the processes `pids`."
    import psutil
    return sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids)


class Meter:
    "Wall seconds and CPU seconds of a block: of this process, and of the worker processes `pids` (psutil)."
    def __init__(self, pids=()): self.pids = list(pids)
    def __enter__(self):
        self._w, self._c, self._k = time.perf_counter(), time.process_time(), _cpu(self.pids)
        return self
    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._w
        self.cpu_here = time.process_time() - self._c
        self.cpu_workers = _cpu(self.pids) - self._k


def _warm_up():
    "Import what the tasks use, in a worker (as the in-memory side has, before it is timed)."
    import pyarrow.parquet, prodkit.scale  # noqa: F401
    return os.getpid()


def in_memory_baseline(ref_files, cur_files, repeat, **read):
    """The in-memory path as its users run it, in this process with torch on one thread: `pd.read_parquet` of the
    files into one frame, then `ReferenceProfile.fit` (reference) or `.summarize` (window). Reading is counted, as the
    Dask path reads every partition too. Best of `repeat` runs by CPU time; returns (rows, fit Meter, summarize Meter)."""
    from prodkit.drift import ReferenceProfile
    fits, sums = [], []
    for _ in range(repeat):
        with Meter() as m_fit: ref = pd.read_parquet(ref_files, **read); prof = ReferenceProfile.fit(ref)
        rows = len(ref); del ref
        with Meter() as m_sum: prof.summarize(pd.read_parquet(cur_files, **read))
        fits.append(m_fit); sums.append(m_sum)
    return rows, min(fits, key=lambda m: m.cpu_here), min(sums, key=lambda m: m.cpu_here)


def run_dask(a):
    "Profile and compare a partitioned Parquet dataset on a LocalCluster; compare per-core rates with the in-memory path."
    import dask.dataframe, psutil  # noqa: F401  (imported here, not inside the first timed call)
    from distributed import Client, LocalCluster
    from prodkit import scale
    root = Path(a.out) / f"dask_{a.dask_rows}_{a.partition_rows}_{a.seed}"
    t = time.perf_counter()
    ref = write_partitioned(a.dask_rows, a.partition_rows, a.seed, False, root / "reference")
    cur = write_partitioned(a.dask_rows, a.partition_rows, a.seed + 1, True, root / "current")
    print(f"data: 2 x {a.dask_rows:,} rows x 25 columns in files of {a.partition_rows:,} rows, {root} "
          f"(written in {time.perf_counter() - t:.0f} s); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    import torch; torch.set_num_threads(1)
    k = max(1, min(a.baseline_partitions, -(-a.dask_rows // a.partition_rows)))
    files = sorted(ref.glob("part-*.parquet"))[:k], sorted(cur.glob("part-*.parquet"))[:k]
    rows1, b_fit, b_sum = in_memory_baseline(*files, a.repeat)
    one = pd.read_parquet(sorted(ref.glob("part-*.parquet"))[0])
    part_bytes = int(one.memory_usage(deep=True).sum()); del one
    rate = lambda n, s: n / s if s > 0 else float("nan")
    show = lambda when: print(
        f"in memory (pd.read_parquet + ReferenceProfile.fit / .summarize on {rows1:,} rows, one process, torch on one "
        f"thread; best of {a.repeat} {when}): fit {rate(rows1, b_fit.wall):,.0f} rows/s wall, "
        f"{rate(rows1, b_fit.cpu_here):,.0f} rows/CPU-s; summarize {rate(rows1, b_sum.wall):,.0f} rows/s wall, "
        f"{rate(rows1, b_sum.cpu_here):,.0f} rows/CPU-s")
    show("before the cluster")
    _, vf, vs = in_memory_baseline(*files, a.repeat, to_pandas_kwargs={"split_blocks": True, "self_destruct": True})
    print(f"  variant, reading as prodkit.scale's tasks do (split_blocks, self_destruct): fit "
          f"{rate(rows1, vf.cpu_here):,.0f} rows/CPU-s; summarize {rate(rows1, vs.cpu_here):,.0f} rows/CPU-s")
    workers, n, mb = a.workers, a.dask_rows, 2 ** 20
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1", memory_limit=0) as cluster, Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        client.run(_warm_up)   # a cluster serves many jobs: imports are not per-row work (the in-memory side has them)
        base = client.run(lambda: __import__("psutil").Process().memory_info().rss)
        with Meter(pids) as m_fit: prof = scale.fit_profile(ref, seed=a.seed)
        with Meter(pids) as m_sum: win = scale.summarize(prof, cur, seed=a.seed)
        t = time.perf_counter(); rep = prof.compare(win, seed=a.seed); t_cmp = time.perf_counter() - t
        peaks = client.run(lambda: __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss * 1024)
    _, f2, s2 = in_memory_baseline(*files, a.repeat)   # again after it: a busy spell may have hit either side
    b_fit, b_sum = min((b_fit, f2), key=lambda m: m.cpu_here), min((b_sum, s2), key=lambda m: m.cpu_here)
    show("before and after the cluster")
    print(f"dask, {workers} workers x 1 thread, {len(pids)} worker processes, load average {os.getloadavg()[0]:.1f}:")
    for name, m, b in (("fit_profile", m_fit, b_fit), ("summarize", m_sum, b_sum)):
        print(f"  {name}: {m.wall:.1f} s wall = {rate(n, m.wall):,.0f} rows/s; workers {m.cpu_workers:.1f} CPU-s = "
              f"{rate(n, m.cpu_workers):,.0f} rows/CPU-s; client + scheduler {m.cpu_here:.1f} CPU-s")
        print(f"    per core vs in memory: wall {rate(n, m.wall) / workers / rate(rows1, b.wall):.0%}, "
              f"CPU {rate(n, m.cpu_workers) / rate(rows1, b.cpu_here):.0%} (workers only), "
              f"{rate(n, m.cpu_workers + m.cpu_here) / rate(rows1, b.cpu_here):.0%} (with client + scheduler)"
              f"  (target: >= 70%)")
    print(f"  compare the merged summary: {t_cmp:.2f} s")
    print(f"peak RSS per worker: " + ", ".join(f"{peaks[w] / mb:,.0f} MiB (at start {base[w] / mb:,.0f})" for w in peaks)
          + f"; one partition in memory: {part_bytes / mb:,.0f} MiB; the data: "
            f"{n * part_bytes / a.partition_rows / mb:,.0f} MiB")
    m = prof.meta
    print(f"drifted: {rep.drifted_features}; multivariate AUC {rep.summary['multivariate_auc']:.3f}; "
          f"{', '.join(f'{k}={v}' for k, v in m.items() if k not in ('seed',) and not isinstance(v, dict))}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "prodkit-drift-bench"))
    ap.add_argument("--evidently-python", default=os.environ.get("PRODKIT_EVIDENTLY_PYTHON"),
                    help="python of a venv with evidently==0.7.23 and pandas<3 (default: $PRODKIT_EVIDENTLY_PYTHON)")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--dask", action="store_true", help="benchmark the Dask path (prodkit.scale) instead")
    ap.add_argument("--dask-rows", type=int, default=50_000_000)
    ap.add_argument("--partition-rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--baseline-partitions", type=int, default=1, help="partitions the in-memory baseline loads")
    ap.add_argument("--repeat", type=int, default=2, help="in-memory baseline runs (the best by CPU time counts)")
    a = ap.parse_args(argv)
    if a.dask: run_dask(a); return
    ref_path, cur_path = write_data(a.rows, a.seed, a.out)
    if a.worker == "prodkit":
        print(json.dumps(worker_prodkit(ref_path, cur_path, a.out))); return
    print(f"data: {a.rows:,} rows x 25 columns (20 numeric, 5 categorical), {ref_path.parent}")
    p = subprocess.run([sys.executable, __file__, "--worker", "prodkit", "--rows", str(a.rows), "--seed", str(a.seed), "--out", a.out],
                       capture_output=True, text=True, timeout=a.timeout)
    if p.returncode != 0: raise SystemExit(f"prodkit worker failed:\n{p.stderr[-3000:]}")
    pk = json.loads(p.stdout.strip().splitlines()[-1]); mb = 2 ** 20
    print(f"prodkit: fit+save profile {pk['fit_and_save_s']:.2f} s | compare 1 window vs saved profile {pk['compare_saved_profile_s']:.2f} s"
          f" | detect_drift(reference, current) {pk['detect_drift_s']:.2f} s")
    print(f"prodkit: data (current window) {pk['data_bytes'] / mb:.0f} MiB; peak memory above the loaded data:"
          f" compare {pk['compare_peak_rss_extra_bytes'] / mb:.0f} MiB RSS ({pk['compare_peak_rss_extra_bytes'] / pk['data_bytes']:.2f}x data),"
          f" {pk['compare_traced_peak_bytes'] / mb:.0f} MiB traced ({pk['compare_traced_peak_bytes'] / pk['data_bytes']:.2f}x);"
          f" detect_drift {pk['peak_rss_extra_bytes'] / mb:.0f} MiB RSS ({pk['peak_rss_extra_bytes'] / pk['data_bytes']:.2f}x); profile file {pk['profile_bytes'] / 1024:.0f} KiB")
    print(f"prodkit: drifted {pk['drifted']}, multivariate AUC {pk['multivariate_auc']:.3f}")
    if a.skip_evidently or not a.evidently_python:
        print("evidently: skipped (pass --evidently-python or set PRODKIT_EVIDENTLY_PYTHON)"); return
    ev = run_evidently(a.evidently_python, ref_path, cur_path, a.timeout)
    print(f"evidently {ev['version']}: DataDriftPreset report {ev['evidently_s']:.2f} s; peak extra RSS {ev['peak_rss_extra_bytes'] / mb:.0f} MiB"
          f" ({ev['peak_rss_extra_bytes'] / pk['data_bytes']:.2f}x data); drifted {ev['drifted']}")
    print(f"ratio: Evidently / prodkit detect_drift = {ev['evidently_s'] / pk['detect_drift_s']:.1f}x; "
          f"Evidently / prodkit compare vs saved profile = {ev['evidently_s'] / pk['compare_saved_profile_s']:.1f}x; "
          f"memory Evidently / prodkit = {ev['peak_rss_extra_bytes'] / max(pk['peak_rss_extra_bytes'], 1):.1f}x")


if __name__ == "__main__":
    main()
