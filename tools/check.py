"""The whole test suite, as CI runs it (README line 2 ends with this script).

    python tools/check.py

1. sync check: `nbdev_export` must not change `prodkit/` (the notebooks in nbs/ are the source);
2. README.md must equal its rendering from nbs/index.ipynb (tools/readme.py --check);
3. the notebooks are clean: `nbdev_clean` run on a copy of nbs/ must not change any notebook (the working tree is
   never modified);
4. the notebooks' form: `tools/nbstats.py --check` (cell sizes, examples and tests per exported line, outputs kept);
5. notebook tests: `nbdev_test`;
6. `pytest tests/` on two workers (pytest-xdist, one test file per worker), then the tests marked `serial` in
   tests/conftest.py (latencies, deadlines, signals) alone; exit code 5 ("no tests collected") of the first part is
   a failure, not a pass.
Jupyter, IPython and matplotlib write into a scratch folder, never the home folder. Exits non-zero on
the first failing step.
"""
import hashlib, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool(name):
    "An executable of the environment this script runs in (the venv's bin folder), else from PATH."
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else (shutil.which(name) or name)


def _snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.py")) if "__pycache__" not in p.parts}


def _env():
    env = dict(os.environ)
    scratch = Path(env.get("PRODKIT_TEST_HOME") or tempfile.mkdtemp(prefix="prodkit-check-"))
    for var, sub in [("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"), ("JUPYTER_CONFIG_DIR", "jupyter-config"),
                     ("JUPYTER_DATA_DIR", "jupyter-data"), ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")]:
        env.setdefault(var, str(scratch / sub))
    env.setdefault("PRODKIT_TEST_HOME", str(scratch))
    env.setdefault("MPLBACKEND", "Agg")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _run(title, cmd, env):
    print(f"\n=== {title}: {' '.join(cmd)}", flush=True)
    t = time.perf_counter()
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    print(f"=== {title}: exit {rc} in {time.perf_counter() - t:.0f} s", flush=True)
    return rc


def _notebooks(folder):
    "The notebooks under `folder` as {relative path: bytes}, skipping folders nbdev skips (`.ipynb_checkpoints`, `_x`)."
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.ipynb"))
            if not any(part.startswith((".", "_")) for part in p.relative_to(folder).parent.parts)}


def _unclean_notebooks(env):
    "Names of the notebooks in nbs/ that `nbdev_clean` would change; it runs on a copy, so nbs/ is never touched."
    nbs = ROOT / "nbs"
    before = _notebooks(nbs)
    with tempfile.TemporaryDirectory(prefix="prodkit-clean-") as d:
        copy = Path(d) / "nbs"
        for rel, data in before.items():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True); (copy / rel).write_bytes(data)
        rc = _run("notebooks clean (nbdev_clean on a copy of nbs/)", [_tool("nbdev_clean"), "--fname", str(copy)], env)
        if rc: return [f"nbdev_clean exited {rc}"]
        after = _notebooks(copy)
    return sorted(rel for rel in before if before[rel] != after.get(rel))


def main():
    env, t0 = _env(), time.perf_counter()
    before = _snapshot(ROOT / "prodkit")
    if _run("sync check (nbdev_export)", [_tool("nbdev_export")], env): return 1
    after = _snapshot(ROOT / "prodkit")
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        print(f"FAILED: nbdev_export changed {changed}: prodkit/ is out of step with nbs/; export and commit both", file=sys.stderr)
        return 1
    if _run("README in step with nbs/index.ipynb", [sys.executable, "tools/readme.py", "--check"], env): return 1
    unclean = _unclean_notebooks(env)
    if unclean:
        print(f"FAILED: nbdev_clean would change {unclean}: run nbdev_clean on them and commit the result", file=sys.stderr)
        return 1
    if _run("notebook form (tools/nbstats.py --check)", [sys.executable, "tools/nbstats.py", "--check"], env): return 1
    if _run("notebook tests (nbdev_test)", [_tool("nbdev_test"), "--n_workers", "2"], env): return 1
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    rc = _run("pytest tests/ on two workers (all but the timing-sensitive tests)",
              pytest + ["-n", "2", "--dist", "loadfile", "-m", "not serial", "tests/"], env)
    if rc == 5: print("FAILED: pytest collected no tests", file=sys.stderr)
    if rc: return 1
    rc = _run("pytest tests/ timing-sensitive tests, alone (marked serial in tests/conftest.py)",
              pytest + ["-m", "serial", "tests/"], env)
    if rc not in (0, 5): return 1        # 5: this repository has no timing-sensitive tests, which is not a failure
    print(f"\nall checks passed in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
