"""Time `fingerprint_data` against its anchors on the same frame, and the demo build.

    python benchmarks/bench_versioning.py [--rows 1000000] [--repeat 3]

Anchors: `joblib.hash(df)` (what scikit-learn's caching uses to fingerprint a frame) and
`sha256(pd.util.hash_pandas_object(df))` (row hashes only: blind to column names, order and dtypes, so a
lower bound rather than a replacement). Prints seconds (best of `repeat`) and prodkit/anchor ratios, then the
wall and CPU time of building the demo (`load_demo`) from scratch and of `write_demo`.
"""
import argparse, hashlib, json, os, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
import pandas as pd


def _frame(n, seed=0):
    rng = np.random.default_rng(seed)
    cols = {f"x{i}": rng.normal(size=n) for i in range(16)}
    cols["x0"][rng.random(n) < 0.03] = np.nan
    cols |= {"count": rng.poisson(2, n), "id": rng.integers(0, 10**9, n),
             "plan": pd.Series(rng.choice(["basic", "pro", "team", "enterprise"], n), dtype="str"),
             "region": pd.Series(rng.choice(["north", "south", "east", "west"], n), dtype="str"),
             "ts": pd.date_range("2024-01-01", periods=n, freq="s")}
    return pd.DataFrame(cols)


def _best(fn, repeat):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from prodkit.core import capture_environment
    from prodkit.versioning import fingerprint_data
    import joblib
    df = _frame(a.rows)
    mb = df.memory_usage(deep=True).sum() / 2**20
    print(f"frame: {a.rows:,} rows x {df.shape[1]} columns ({mb:.0f} MiB in memory)")
    t_pk, fp = _best(lambda: fingerprint_data(df), a.repeat)
    t_jl, _ = _best(lambda: joblib.hash(df), a.repeat)
    t_hp, _ = _best(lambda: hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes()).hexdigest(), a.repeat)
    rows = [("prodkit fingerprint_data", t_pk), ("joblib.hash", t_jl), ("sha256(hash_pandas_object) [row hashes only]", t_hp)]
    for name, t in rows:
        print(f"  {name:48s} {t:7.3f} s   {a.rows / t / 1e6:6.2f} M rows/s   prodkit/this = {t_pk / t:5.2f}")
    # the demo, from scratch (not the in-process cache)
    from prodkit.demo import _build_demo, write_demo
    import prodkit.demo as demo
    c, w = time.process_time(), time.perf_counter()
    _build_demo(0, 10_000, 10_000, True)
    print(f"demo build (load_demo, uncached): wall {time.perf_counter() - w:.2f} s, cpu {time.process_time() - c:.2f} s (includes first-use imports)")
    c, w = time.process_time(), time.perf_counter()
    _build_demo(1, 10_000, 10_000, True)
    print(f"demo build, second seed:          wall {time.perf_counter() - w:.2f} s, cpu {time.process_time() - c:.2f} s")
    with tempfile.TemporaryDirectory() as d:
        demo.load_demo(0)
        c, w = time.process_time(), time.perf_counter()
        write_demo(d)
        print(f"write_demo (demo cached):         wall {time.perf_counter() - w:.2f} s, cpu {time.process_time() - c:.2f} s")
    env = capture_environment()
    print(json.dumps({k: env[k] for k in ("cpu", "cpu_count", "affinity", "torch", "torch_threads", "numpy", "pandas")}))
    if hasattr(os, "getloadavg"): print(f"load average at the end: {os.getloadavg()[0]:.2f} (timings are unreliable above ~1 per core)")


if __name__ == "__main__":
    main()
