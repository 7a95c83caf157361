"""Eager vs exported latency (batch 1 and batch 256) and artifact size for the demo MLP and the digits CNN.

Everything is measured in one run, on the same inputs, and printed as ratios. Each artifact is saved to a file,
then loaded back the same way (`load_exported`, which also reads plain TorchScript), freshly for every timing
run, warmed up with the same number of calls, and timed with the calls of each round in a seeded random order
(a fixed cyclic order always runs one contender right after the eager model, which costs it 7-10%):

- `speedup`: eager p50 / artifact p50 (> 1: the artifact is faster) for prodkit's shipped TorchScript artifact
  (`method='auto'`: every faithful candidate timed as a fresh load of its saved bytes, the fastest kept), a plain
  `torch.jit.script` + `torch.jit.save` artifact (the anchor: what one writes by hand), and prodkit's `.pt2`
  (torch.export) artifact;
- `vs plain`: plain script p50 / artifact p50 (>= 1: at least as fast as the anchor), the median over `--runs`
  runs with its range (a range that straddles 1 is a tie within this machine's noise);
- `size_ratio`: artifact bytes / `torch.save(state_dict)` bytes;
- `export_cost`: wall time of prodkit's checked export (build every candidate, save, reload, parity on 8
  batches, time the candidates, write) / wall time of plain script + save.
Then, per model, the candidates `auto` timed (its own measurement, recorded in the report) and why it kept one,
and whether the shipped file holds the very program that was timed. The CPU time of the run is printed last.

    python benchmarks/export_bench.py [--repeats 200] [--runs 3] [--export-repeats 30] [--seed 0] [--threads N] [--order-bias]
                                      [--json out.json]
"""
import argparse, io, json, tempfile, time, warnings
from pathlib import Path

import numpy as np
import torch

from prodkit.core import capture_environment
from prodkit.demo import load_demo
from prodkit.export import _program_digest, export_torchscript, load_exported, time_calls

ARTIFACTS = ("prodkit.pt", "plain_script", "prodkit.pt2")


def _plain_script(model, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(model), str(path))


def _load(files, reverse=False):
    "Every artifact loaded the same way, freshly: prodkit's loader (plain TorchScript has no manifest); `reverse`: last first."
    order = list(files)[::-1] if reverse else list(files)
    return {k: load_exported(files[k], require_manifest=False)[0] for k in order}


def _cyclic(fns, inputs, repeats, warmup=10):
    "The old bench's order: round-robin, each round starting one further on, so every function keeps its neighbours."
    times, names = {k: [] for k in fns}, list(fns)
    with torch.no_grad():
        for _ in range(warmup):
            for f in fns.values(): f(*inputs)
        for i in range(repeats):
            for k in names[i % len(names):] + names[:i % len(names)]:
                t0 = time.perf_counter(); fns[k](*inputs); times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: float(np.median(v)) for k, v in times.items()}


def order_bias(model, files, x, repeats):
    "Speedups at batch 1 in the old bench's fixed cyclic order (eager, prodkit.pt, plain_script, prodkit.pt2): the bias it had."
    t = _cyclic({"eager": model, **_load(files)}, (x[:1],), repeats)
    return {k: t["eager"] / t[k] for k in ("prodkit.pt", "plain_script")}


def bench_model(name, model, x_example, x_big, tmp, repeats, export_repeats=30, runs=3, seed=0, bias=False):
    model = model.eval()
    files = {"prodkit.pt": tmp / f"{name}.pt", "plain_script": tmp / f"{name}_plain.pt", "prodkit.pt2": tmp / f"{name}.pt2"}
    t0 = time.perf_counter(); rep = export_torchscript(model, x_example, files["prodkit.pt"], repeats=export_repeats, seed=seed)
    t_prodkit = time.perf_counter() - t0
    t0 = time.perf_counter(); _plain_script(model, files["plain_script"]); t_plain = time.perf_counter() - t0
    export_torchscript(model, x_example, files["prodkit.pt2"], repeats=0)
    buf = io.BytesIO(); torch.save(model.state_dict(), buf); sd_bytes = len(buf.getvalue())
    sizes = {k: p.stat().st_size for k, p in files.items()}
    rows = []
    for b, n_rep in ((1, repeats), (x_big.shape[0], max(repeats // 4, 10))):
        per_run = []
        for r in range(runs):      # fresh loads each run, in alternating order: one load's luck is not every run's
            fns = {"eager": model, **_load(files, reverse=r % 2 == 1)}
            per_run.append(time_calls(fns, (x_big[:b],), repeats=n_rep, warmup=10, seed=seed + r))
        med = {k: float(np.median([t[k] for t in per_run])) for k in ("eager", *ARTIFACTS)}
        for k in ARTIFACTS:
            vs = [t["plain_script"] / t[k] for t in per_run]
            rows.append({"model": name, "batch": b, "artifact": k, "eager_p50_ms": med["eager"], "artifact_p50_ms": med[k],
                         "speedup": med["eager"] / med[k], "vs_plain": float(np.median(vs)), "vs_plain_min": min(vs),
                         "vs_plain_max": max(vs), "size_bytes": sizes[k], "size_ratio": sizes[k] / sd_bytes})
    bias = order_bias(model, files, x_big, repeats) if bias else None
    shipped = _program_digest(files["prodkit.pt"].read_bytes())
    kept = rep.candidates[rep.candidates.chosen]
    return rows, {"model": name, "variant": rep.variant, "method": rep.method, "max_abs_err": rep.summary["max_abs_err"],
                  "export_s": t_prodkit, "plain_script_s": t_plain, "export_cost": t_prodkit / t_plain,
                  "choice": rep.choice, "order_bias": bias, "shipped_is_timed": shipped == kept.program_sha256.iloc[0] == rep.program_sha256,
                  "candidates": rep.candidates.drop(columns=["note"]).to_dict("records")}


def _print(rows, exports, env, a):
    print(f"torch {env['torch']}, {env['torch_threads']} threads, {env['cpu']} ({env['cpu_count']} cores); repeats {a.repeats} "
          f"at batch 1, {max(a.repeats // 4, 10)} at 256; {a.runs} runs of fresh loads (p50: median over the runs)\n")
    print(f"{'model':<11} {'batch':>5} {'artifact':<13} {'eager ms':>9} {'artifact ms':>11} {'speedup':>8} "
          f"{'vs plain (range)':>21} {'bytes':>8} {'size/state_dict':>15}")
    for r in rows:
        vs = f"{r['vs_plain']:.2f}x ({r['vs_plain_min']:.2f}-{r['vs_plain_max']:.2f})"
        print(f"{r['model']:<11} {r['batch']:>5} {r['artifact']:<13} {r['eager_p50_ms']:>9.4f} {r['artifact_p50_ms']:>11.4f} "
              f"{r['speedup']:>7.2f}x {vs:>21} {r['size_bytes']:>8} {r['size_ratio']:>14.2f}x")
    print()
    for e in exports:
        print(f"{e['model']}: prodkit chose {e['method']} ({e['variant']}), max abs err {e['max_abs_err']:.2g}; checked export "
              f"{e['export_s']:.2f} s vs plain script+save {e['plain_script_s']:.3f} s (export_cost {e['export_cost']:.0f}x); "
              f"the shipped file holds the program timed: {e['shipped_is_timed']}")
        print(f"  auto: {e['choice']}")
        if e["order_bias"]:
            print("  the old bench's fixed cyclic order (eager, prodkit.pt, plain_script, prodkit.pt2), batch 1: "
                  + ", ".join(f"{k} {v:.2f}x eager" for k, v in e["order_bias"].items()))
        for c in e["candidates"]:
            if c["faithful"]:
                print(f"    {c['candidate']:<24} batch {int(c['batch_size']):>3}: p50 {c['median_ms']:.4f} ms (IQR {c['iqr_ms']:.4f}), "
                      f"{c['speedup']:.2f}x eager{'  <- kept' if c['chosen'] else ''}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200, help="timed calls at batch 1 (a quarter of it at batch 256), per run")
    ap.add_argument("--runs", type=int, default=3, help="timing runs, each on fresh loads of every artifact")
    ap.add_argument("--export-repeats", type=int, default=30, help="timed calls per candidate and batch size in auto's choice")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--order-bias", action="store_true",
                    help="also time the artifacts in the old bench's fixed cyclic order (the bias it had)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's own); 1 is steadier on a shared, oversubscribed machine")
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    demo = load_demo(a.seed)
    rng = np.random.default_rng(a.seed)
    idx = torch.from_numpy(rng.choice(len(demo.current), 256, replace=False))
    x_mlp = demo.adapter.transform(demo.current.iloc[idx.numpy()])
    x_cnn = demo.digits.X_test[torch.from_numpy(rng.integers(0, len(demo.digits.X_test), 256))]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        r1, e1 = bench_model("churn_mlp", demo.model, x_mlp[:64], x_mlp, tmp, a.repeats, a.export_repeats, a.runs, a.seed, a.order_bias)
        r2, e2 = bench_model("digits_cnn", demo.digits.model, x_cnn[:64], x_cnn, tmp, a.repeats, a.export_repeats, a.runs, a.seed,
                        a.order_bias)
    env = capture_environment()
    _print(r1 + r2, (e1, e2), env, a)
    print(f"\nwall {time.perf_counter() - wall0:.1f} s, CPU {time.process_time() - cpu0:.1f} s (this process, all threads)")
    if a.json: Path(a.json).write_text(json.dumps({"rows": r1 + r2, "export": [e1, e2], "environment": env}, indent=1))


if __name__ == "__main__":
    main()
