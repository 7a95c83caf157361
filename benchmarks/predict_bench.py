"""One-row prediction latency on the serving path: `Predictor.predict_proba` on the demo churn model from a
DataFrame, a dict (one record), a record turned into a frame by the caller, and a tensor (the floor), plus the
adapter's encoding and the schema check alone. Prints the median of several repeats, in microseconds of CPU time per call.

    python benchmarks/predict_bench.py [--calls 2000] [--repeats 7]
"""
import argparse, platform, statistics, time

import numpy as np
import pandas as pd
import torch

from prodkit.demo import load_demo


def per_call_us(fn, calls:int, repeats:int) -> float:
    "Median over `repeats` of the mean time of `calls` calls of `fn`, in microseconds."
    fn(); fn()   # warm up
    runs = []
    for _ in range(repeats):
        t0 = time.process_time()   # CPU time: steadier than wall time on a shared machine
        for _ in range(calls): fn()
        runs.append((time.process_time() - t0) / calls * 1e6)
    return statistics.median(runs)


def main(calls:int=2000, repeats:int=7, threads:int=1):
    torch.set_num_threads(threads)
    d = load_demo(seed=0, n_reference=2000, n_current=200, digits=False)
    pred, adapter, schema = d.predictor, d.adapter, d.schema
    row = d.current.iloc[[0]]                          # one row with every column (label, timestamp too)
    feats = row[schema.names]                          # one row, feature columns only
    rec = {k: (v.item() if hasattr(v, "item") else v) for k, v in feats.iloc[0].to_dict().items()}
    t = adapter.transform(feats)
    assert np.allclose(pred.predict_proba(row), pred.predict_proba(t), atol=1e-6)
    cases = {
        "tensor (encoded row, the floor)": lambda: pred.predict_proba(t),
        "DataFrame, 1 row, all columns": lambda: pred.predict_proba(row),
        "DataFrame, 1 row, features only": lambda: pred.predict_proba(feats),
        "record -> pd.DataFrame([rec]) by the caller": lambda: pred.predict_proba(pd.DataFrame([rec])),
        "adapter.encode(1-row frame) alone": lambda: adapter.encode(feats),
        "schema.validate(1-row frame) alone": lambda: schema.validate(feats),
    }
    try:
        pred.predict_proba(rec); cases["dict (one record) passed as is"] = lambda: pred.predict_proba(rec)
    except Exception as e:
        print(f"a dict passed as is is not supported here: {type(e).__name__}: {str(e)[:100]}")
    big = d.current[schema.names]
    cases["DataFrame, 200 rows (per call)"] = lambda: pred.predict_proba(big)
    print(f"python {platform.python_version()}, torch {torch.__version__} ({threads} thread), pandas {pd.__version__}; "
          f"median of {repeats} x {calls} calls")
    floor = None
    for name, fn in cases.items():
        n = calls if "200 rows" not in name else max(calls // 20, 20)
        us = per_call_us(fn, n, repeats)
        floor = floor or us
        print(f"{name:<45} {us:9.1f} us   {us / floor:6.1f}x the tensor call")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000); ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(); main(a.calls, a.repeats, a.threads)
