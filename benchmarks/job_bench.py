"""Time the demo validation job end to end, split into kernel start, each template section and rendering,
and compare with its anchor: the same template run with plain papermill plus nbconvert's HTML export.

    python benchmarks/job_bench.py [--repeat 3] [--out DIR] [--sections-off] [--cpu] [--cells N] [--ahead N] [--imports N]
                                   [--template PATH]

The demo bundle is written once (not timed). Each repeat runs `prodkit.jobs.run_notebook` and the anchor
on the same inputs; the tables show the median over repeats. Section times come from the per-cell
timings papermill writes into the executed notebook, grouped by the template's `##` headings.
Target: `prodkit demo` end to end (a fresh process: imports, demo build, job, report) in 15 s or less on 2 cores;
it is timed first in each repeat. The job and its anchor run with the demo's parameters (`prodkit.cli.DEMO_PARAMETERS`).

Each `prodkit demo` run is split, from the times papermill writes into the executed notebook, into the moment papermill
started (the demo built and the inputs checked), the first cell's start (the kernel, started ahead, has booted and
imported the template's modules), the cells, and what follows them. A machine-speed probe (`_machine.py`) is printed
before and after the runs: this machine's speed moves within the hour, and the probe says how fast it was. Each run's
line also gives its load section's verdict on its own measurement (valid or not, and the p99 scheduling lag, from
results.json), and with `--ahead` the count over every `prodkit demo` run is printed.

With `--imports N` it also times, in N fresh Python processes, what the job's kernel must do before its first cell
can start: import `ipykernel` (the kernel's own boot) and then the template's top-level imports (what
`prodkit.kernels.start_kernel` preloads). With the cells and what follows them, that is the least `prodkit demo`
can take for the report it computes.

With `--cpu` it also reports the kernel's CPU seconds per section (`time.process_time()` read at the start of every
code cell of an instrumented copy of the template): a split that a busy, shared machine does not skew as it skews
wall time.
"""
import argparse, json, statistics, sys, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from _machine import speed_probe


def _sections(nb):
    "Seconds per `##` section of an executed notebook (cells before the first heading: 'setup'), and kernel start."
    meta = nb.metadata.get("papermill", {})
    out, name, first_start = {}, "setup (parameters, imports, loading)", None
    for c in nb.cells:
        if c.cell_type == "markdown":
            for line in c.source.splitlines():
                if line.startswith("## "): name = line[3:].strip()
            continue
        pm = c.metadata.get("papermill", {})
        if pm.get("start_time") and first_start is None: first_start = pm["start_time"]
        out[name] = out.get(name, 0.0) + float(pm.get("duration") or 0.0)
    kernel = (datetime.fromisoformat(first_start) - datetime.fromisoformat(meta["start_time"])).total_seconds() if first_start else float("nan")
    return kernel, out


def run_prodkit(params, out, template="validation"):
    from prodkit import jobs
    timed, originals = {}, {"render_html": jobs.render_html, "_execute": jobs._execute}
    def timer(name):
        def wrapped(*args, **kw):
            t = time.perf_counter(); r = originals[name](*args, **kw); timed[name] = time.perf_counter() - t; return r
        return wrapped
    for name in originals: setattr(jobs, name, timer(name))
    try:
        t = time.perf_counter()
        res = jobs.run_notebook(template, params, out)
        total = time.perf_counter() - t
    finally:
        for name, f in originals.items(): setattr(jobs, name, f)
    kernel, secs = _sections(nbformat.read(res.notebook, as_version=4))
    row = {"kernel start": kernel, **secs}
    row["kernel shutdown, notebook saves (papermill)"] = timed["_execute"] - sum(row.values())
    row["render HTML"] = timed["render_html"]
    row["checks, gates, verdict, results.json"] = total - timed["_execute"] - timed["render_html"]
    return row, total, res


_TICK = 'globals().setdefault("_cpu_ticks", []).append(({i}, __import__("time").process_time()))\n'


def run_cpu(params, out, template="validation"):
    "Kernel CPU seconds per `##` section: every code cell of a copy of the template first notes `time.process_time()`."
    import papermill as pm
    from prodkit.jobs import locate_template
    out.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(locate_template(template), as_version=4)
    names, name = {}, "setup (parameters, imports, loading)"
    for i, c in enumerate(nb.cells):
        if c.cell_type == "markdown":
            for line in c.source.splitlines():
                if line.startswith("## "): name = line[3:].strip()
        elif "parameters" not in c.metadata.get("tags", []):
            names[i] = name
            c.source = _TICK.format(i=i) + c.source
    ticks = out / "ticks.json"
    nb.cells.append(nbformat.v4.new_code_cell(_TICK.format(i=-1) + f"open({str(ticks)!r}, 'w').write(__import__('json').dumps(_cpu_ticks))"))
    nbformat.write(nb, out / "instrumented.ipynb")
    pm.execute_notebook(str(out / "instrumented.ipynb"), str(out / "executed.ipynb"), parameters=params, kernel_name="python3",
                        progress_bar=False)
    t = json.loads(ticks.read_text())
    secs, cells = {}, {}
    for (i, t0), (_, t1) in zip(t, t[1:]):
        secs[names[i]] = secs.get(names[i], 0.0) + t1 - t0
        cells[i] = t1 - t0
    return secs, cells, nb


def run_anchor(params, out, template="validation"):
    "Plain papermill with the venv's python3 kernelspec, then nbconvert HTML without inputs."
    import papermill as pm
    from nbconvert import HTMLExporter
    from prodkit.jobs import locate_template
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    pm.execute_notebook(str(locate_template(template)), str(out / "validation.ipynb"), parameters=params,
                        kernel_name="python3", progress_bar=False)
    t_exec = time.perf_counter() - t
    body, _ = HTMLExporter(exclude_input=True).from_filename(str(out / "validation.ipynb"))
    (out / "validation.html").write_text(body)
    return t_exec, time.perf_counter() - t


# `prodkit demo` with `prodkit.kernels.start_kernel` replaced by a stand-in that starts nothing: the job then starts
# its own kernel after the demo is built, as it did before the kernel was started ahead (`--ahead`)
_NOT_AHEAD = ("import contextlib, sys, prodkit.kernels, prodkit.cli\n"
              "prodkit.kernels.start_kernel = lambda *a, **k: contextlib.nullcontext(None)\n"
              "sys.argv = ['prodkit', *sys.argv[1:]]; sys.exit(prodkit.cli.main())\n")


def run_cli(out, ahead=True):
    ("Wall seconds of `prodkit demo --out OUT` in a fresh process, as a user runs it: imports, demo build, job, report; "
     "with `ahead=False`, without starting the job's kernel before the demo is built.")
    import subprocess
    exe = Path(sys.executable).parent / "prodkit"
    cmd = ([str(exe)] if exe.exists() else [sys.executable, "-m", "prodkit.cli"]) if ahead else [sys.executable, "-c", _NOT_AHEAD]
    t, t_wall = time.perf_counter(), time.time()
    r = subprocess.run([*cmd, "demo", "--out", str(out), "-q"], capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0: raise SystemExit(f"prodkit demo exited {r.returncode}: {r.stderr[-2000:]}")
    sp = _cli_split(out / "validation.ipynb", t_wall, took)
    res = json.loads((out / "results.json").read_text())["results"]   # the load section's own verdict on its measurement
    sp["load valid"], sp["load lag p99"] = res.get("load.valid"), res.get("load.lag_p99_ms")
    return took, sp


def _load_note(sp) -> str:
    "How the run's load section judged its measurement: valid or not, and its p99 scheduling lag."
    if sp.get("load valid") is None: return "no load section"
    return f"load section {'valid' if sp['load valid'] else 'INVALID'} (lag p99 {sp['load lag p99']:.2f} ms)"


_IMPORTS = ("import sys, time, importlib\nt0 = time.perf_counter(); import ipykernel.kernelapp\nt1 = time.perf_counter()\n"
            "for m in sys.argv[1:]: importlib.import_module(m)\nprint(t1 - t0, time.perf_counter() - t1)\n")


def time_imports(template, n):
    ("Seconds a fresh Python takes to import ipykernel (the kernel's boot) and then the template's top-level imports "
     "(what a job's kernel preloads), in `n` processes: two lists.")
    import subprocess
    from prodkit.kernels import template_imports
    mods = template_imports(template)
    boot, imp = [], []
    for _ in range(n):
        r = subprocess.run([sys.executable, "-c", _IMPORTS, *mods], capture_output=True, text=True, check=True)
        b, i = map(float, r.stdout.split()[-2:])
        boot.append(b); imp.append(i)
    return boot, imp, mods


def _utc(stamp):
    return datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc).timestamp()


def _cli_split(nb_path, t_wall, took):
    ("Seconds since the command started at which papermill started (the demo built, the inputs checked), the first "
     "code cell started (once the kernel, started ahead, had booted and imported the template's modules) and the last "
     "one ended, from the times papermill writes into the executed notebook; and the time after it.")
    nb = nbformat.read(nb_path, as_version=4)
    cells = [c.metadata.papermill for c in nb.cells if c.cell_type == "code" and c.metadata.get("papermill", {}).get("start_time")]
    start, first, last = (_utc(nb.metadata.papermill["start_time"]) - t_wall, _utc(cells[0]["start_time"]) - t_wall,
                          _utc(cells[-1]["end_time"]) - t_wall)
    return {"papermill start": start, "first cell": first, "last cell end": last, "after": took - last}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (median reported)")
    ap.add_argument("--out", help="folder for the demo and the reports (default: a temporary folder)")
    ap.add_argument("--template", default="validation", help="the template to time: its name or a notebook path (default: validation)")
    ap.add_argument("--cpu", action="store_true", help="also report the kernel's CPU seconds per section (one more run per repeat)")
    ap.add_argument("--cells", type=int, default=0, metavar="N", help="with --cpu, also list the N cells with the most kernel CPU")
    ap.add_argument("--ahead", type=int, default=0, metavar="N", help="also run `prodkit demo` N times with and N times without its kernel started ahead, alternated, and print both medians")
    ap.add_argument("--imports", type=int, default=0, metavar="N", help="also time, in N fresh processes, the kernel's boot and the template's imports: what must happen before the first cell")
    ap.add_argument("--sections-off", action="store_true", help="turn off the run_* sections (load, drift, explain, export, guard, and the security parts)")
    a = ap.parse_args(argv)
    import logging; logging.getLogger("papermill").setLevel(logging.ERROR)
    from prodkit.core import capture_environment
    from prodkit.demo import write_demo
    root = Path(a.out or tempfile.mkdtemp(prefix="prodkit-job-bench-"))
    probes = [speed_probe()]
    t = time.perf_counter(); paths = write_demo(root / "demo", seed=0, digits=False); t_demo = time.perf_counter() - t
    from prodkit.cli import DEMO_PARAMETERS   # what `prodkit demo` passes (its fast model is loaded at a higher rate)
    params = {"model": paths["bundle"], "reference": paths["reference"], "current": paths["current"], "seed": 0,
              **DEMO_PARAMETERS}
    if a.sections_off: params.update({k: False for k in ("run_load", "run_drift", "run_explain", "run_export", "run_guard",
                                                         "run_robustness", "run_privacy", "run_leakage", "run_cost")})
    rows, totals, anchors, cpus, cell_cpus, clis = [], [], [], [], [], []
    for i in range(a.repeat):
        if not a.sections_off: clis.append(run_cli(root / f"cli-{i}"))
        row, total, res = run_prodkit(params, root / f"prodkit-{i}", a.template)
        rows.append(row); totals.append(total)
        anchors.append(run_anchor(params, root / f"anchor-{i}", a.template))
        if a.cpu:
            secs, cells, nb = run_cpu(params, root / f"cpu-{i}", a.template)
            cpus.append(secs); cell_cpus.append(cells)
    env = capture_environment()
    print(f"demo validation job, median of {a.repeat} run(s); python {env['python']}, torch {env['torch']}, "
          f"{env['affinity']} cores ({env['cpu']}); demo written in {t_demo:.1f} s (not counted); exit code {res.exit_code}")
    probes.append(speed_probe())
    print(f"machine speed probe (benchmarks/_machine.py, 10^7 pure-Python multiply-adds): {probes[0]:.2f} CPU s before "
          f"the runs, {probes[1]:.2f} after the timed job runs (a larger probe: a slower machine at that moment)")
    print(f"\n{'step':<48} {'seconds':>8}")
    for k in rows[0]:
        print(f"{k:<48} {statistics.median(r.get(k, 0.0) for r in rows):8.2f}")
    if cpus:
        print(f"\n{'section: kernel CPU (all its threads)':<48} {'cpu s':>8}")
        for k in cpus[0]: print(f"{k:<48} {statistics.median(c.get(k, 0.0) for c in cpus):8.2f}")
        print(f"{'total kernel CPU':<48} {statistics.median(sum(c.values()) for c in cpus):8.2f}")
        if a.cells:
            top = sorted(cell_cpus[0], key=lambda i: -statistics.median(c.get(i, 0.0) for c in cell_cpus))[:a.cells]
            print(f"\n{'heaviest cells: kernel CPU (first line of the cell)':<60} {'cpu s':>8}")
            for i in top:
                first = next((l for l in nb.cells[i].source.splitlines()[1:] if l.strip() and not l.startswith("#")), "")[:58]
                print(f"{i:>3} {first:<56} {statistics.median(c.get(i, 0.0) for c in cell_cpus):8.2f}")
    total = statistics.median(totals)
    a_exec, a_total = statistics.median(x[0] for x in anchors), statistics.median(x[1] for x in anchors)
    print(f"{'total (prodkit run_notebook)':<48} {total:8.2f}")
    print(f"\nanchor: papermill execute {a_exec:.2f} s + nbconvert HTML {a_total - a_exec:.2f} s = {a_total:.2f} s")
    print(f"ratio prodkit job / anchor: {total / a_total:.2f}x  (prodkit adds parameter checks, gates, verdict, results.json and atomic writes, and stops the kernel at once)")
    if clis:
        e2e = statistics.median(c[0] for c in clis)
        print(f"\n`prodkit demo` end to end (fresh process: imports, demo build, job, report): {e2e:.2f} s "
              f"(runs: {', '.join(f'{c[0]:.1f}' for c in clis)})")
        for took, sp in clis:
            print(f"  {took:.1f} s: papermill started at {sp['papermill start']:.2f} s (demo built, inputs checked), the "
                  f"first cell at {sp['first cell']:.2f} s ({sp['first cell'] - sp['papermill start']:.2f} s after papermill started: its client's start, and the kernel started ahead finishing its imports), the last cell ended at "
                  f"{sp['last cell end']:.2f} s ({sp['last cell end'] - sp['first cell']:.2f} s of cells), then "
                  f"{sp['after']:.2f} s (kernel stop, last save, HTML, gates); {_load_note(sp)}")
        print(f"target: `prodkit demo` end to end <= 15 s on 2 cores: {'met' if e2e <= 15 else 'NOT met'} ({e2e:.1f} s)")
    if a.ahead:
        runs = {True: [], False: []}
        for i in range(a.ahead):
            for ahead in ((True, False) if i % 2 == 0 else (False, True)):
                runs[ahead].append(run_cli(root / f"ab-{i}-{int(ahead)}", ahead=ahead))
        print(f"\n`prodkit demo`, the job's kernel started ahead (booting while the demo is built) or not, {a.ahead} runs each, "
              f"alternated: median {statistics.median(c[0] for c in runs[True]):.2f} s ahead ({', '.join(f'{c[0]:.1f}' for c in runs[True])}) "
              f"against {statistics.median(c[0] for c in runs[False]):.2f} s not ({', '.join(f'{c[0]:.1f}' for c in runs[False])})")
        every = [c[1] for v in runs.values() for c in v] + [c[1] for c in clis]
        lags = ", ".join(f"{s['load lag p99']:.2f}" for s in every if s.get("load lag p99") is not None)
        print(f"the load section's measurement (800 req/s in the job's kernel) was valid in "
              f"{sum(bool(s.get('load valid')) for s in every)} of {len(every)} `prodkit demo` runs (lag p99 {lags} ms)")
        print(f"machine speed probe after these runs: {speed_probe():.2f} CPU s")
    if a.imports:
        boot, imp, mods = time_imports(a.template, a.imports)
        b, m = statistics.median(boot), statistics.median(imp)
        print(f"\nbefore the first cell, a fresh Python in {a.imports} runs: imports ipykernel in {b:.2f} s (median; "
              f"{', '.join(f'{x:.2f}' for x in boot)}), then the template's {len(mods)} top-level imports in {m:.2f} s "
              f"({', '.join(f'{x:.2f}' for x in imp)})")
        if clis:
            cells = statistics.median(sp["last cell end"] - sp["first cell"] for _, sp in clis)
            after = statistics.median(sp["after"] for _, sp in clis)
            print(f"least `prodkit demo` time for this report: {b + m:.2f} s to the first cell + {cells:.2f} s of cells + "
                  f"{after:.2f} s after them = {b + m + cells + after:.2f} s (python's own start and the kernel's launch not counted)")
        print(f"machine speed probe after these runs: {speed_probe():.2f} CPU s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
