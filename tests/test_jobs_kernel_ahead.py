"""A job run in a kernel started ahead of it (`prodkit.kernels.start_kernel`) gives the report a fresh kernel gives:
the same results and figures. The kernel imported the template's modules before the first cell, bound no name in
the template's namespace, and is stopped when the job ends however it ends; it serves one job only."""
import json, sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _toy import toy_template  # noqa: E402

from prodkit.core import ParameterError
from prodkit.jobs import run_notebook
from prodkit.kernels import start_kernel

PROBE = ("import sys\nfrom prodkit.jobs import record\n"
         "record('probe', {'tabnanny_loaded': 'tabnanny' in sys.modules, 'bound': 'tabnanny' in globals() or 'importlib' in globals() or 'm' in globals()})")


def _template(path):
    "The toy template with a first cell that looks at what the kernel had imported, and a later top-level import."
    toy_template(path)
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(PROBE))
    nb.cells.append(nbformat.v4.new_code_cell("import tabnanny\nrecord('toy.tab', tabnanny.__name__)"))
    nb.cells.append(nbformat.v4.new_code_cell("plt.plot([0, 1])"))   # a figure shown without plt.show (the inline hook)
    nbformat.write(nb, str(path))
    return path


def _images(nb_path):
    nb = nbformat.read(str(nb_path), as_version=4)
    return [sum("image/png" in o.get("data", {}) for o in c.get("outputs", [])) for c in nb.cells if c.cell_type == "code"]


def test_a_kernel_started_ahead_gives_the_same_report_and_is_stopped(tmp_path):
    tpl = _template(tmp_path / "toy.ipynb")
    cold = run_notebook(tpl, {"n": 4}, tmp_path / "cold")
    ks = start_kernel(tpl)
    assert "tabnanny" in ks.preload and "matplotlib.pyplot" in ks.preload
    warm = run_notebook(tpl, {"n": 4}, tmp_path / "warm", kernel=ks)
    assert (cold.exit_code, warm.exit_code) == (0, 0)
    assert cold.results.pop("probe.tabnanny_loaded") is False and warm.results.pop("probe.tabnanny_loaded") is True
    assert warm.results["probe.bound"] is False   # the preload bound no name the template did not bind itself
    assert cold.results == warm.results
    assert _images(cold.notebook) == _images(warm.notebook) and _images(warm.notebook)[-1] == 1
    assert not ks.alive and ks.km is None and not ks.log_path.parent.exists()
    cells = nbformat.read(str(warm.notebook), as_version=4).cells
    assert [c.execution_count for c in cells if c.cell_type == "code"][:2] == [1, 2]   # the preload took no count


def test_the_kernel_is_stopped_when_the_job_refuses_its_parameters(tmp_path):
    tpl = _template(tmp_path / "toy.ipynb")
    ks = start_kernel(tpl)
    pid = ks.process.pid
    with pytest.raises(ParameterError, match="n"):
        run_notebook(tpl, {"n": "three"}, tmp_path / "out", kernel=ks)
    assert not ks.alive and ks.km is None
    import psutil
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_started_kernel_serves_one_job(tmp_path):
    tpl = _template(tmp_path / "toy.ipynb")
    with start_kernel(tpl, preload=()) as ks:
        assert ks.preload == ()
        run_notebook(tpl, {"n": 3}, tmp_path / "a", kernel=ks)
        with pytest.raises(ParameterError, match="a started kernel serves one job"):
            run_notebook(tpl, {"n": 3}, tmp_path / "b", kernel=ks)
    assert not (tmp_path / "b" / "results.json").exists()


def test_a_kernel_must_come_from_start_kernel_and_match_the_kernelspec(tmp_path):
    tpl = _template(tmp_path / "toy.ipynb")
    with pytest.raises(ParameterError, match="kernel must be a kernel started with prodkit.kernels.start_kernel"):
        run_notebook(tpl, {}, tmp_path / "a", kernel="python3")
    with start_kernel(tpl, preload=()) as ks:
        with pytest.raises(ParameterError, match="the kernel was started for kernelspec None, the job names 'python3'"):
            run_notebook(tpl, {}, tmp_path / "a", kernel=ks, kernel_name="python3")
        assert not ks.alive   # refused, and stopped with the job that refused it
    assert not (tmp_path / "a").exists() or not (tmp_path / "a" / "results.json").exists()


def test_the_demo_command_runs_its_job_in_the_kernel_it_started_ahead(tmp_path, monkeypatch):
    "`prodkit demo` starts the kernel before it builds the demo, and hands it to the job."
    import prodkit.cli, prodkit.jobs, prodkit.demo, prodkit.kernels
    seen = {}
    real_start = prodkit.kernels.start_kernel
    def start(template, **kw):
        seen["started_before_demo"] = "demo" not in seen
        return real_start(template, preload=(), **kw)
    def write_demo(d, seed=0, **kw):
        seen["demo"] = True
        return {"bundle": d / "b", "reference": d / "r", "current": d / "c"}
    def fake_run(template, params, out, kernel=None, **kw):
        seen["kernel_alive_in_job"] = kernel is not None and kernel.alive
        kernel.close()
        raise ParameterError("stop here", value=1, fix="none")
    monkeypatch.setattr(prodkit.kernels, "start_kernel", start)
    monkeypatch.setattr(prodkit.demo, "write_demo", write_demo)
    monkeypatch.setattr(prodkit.jobs, "run_notebook", fake_run)
    code = prodkit.cli.main(["demo", "--out", str(tmp_path / "d"), "-q"])
    assert code == 2 and seen == {"started_before_demo": True, "demo": True, "kernel_alive_in_job": True}


def test_a_bad_demo_parameter_is_exit_2_and_leaves_no_kernel(tmp_path, capsys):
    "The demo's kernel starts before its parameters are checked against the template; refusing them stops it."
    import psutil
    import prodkit.cli
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    code = prodkit.cli.main(["demo", "--out", str(tmp_path / "d"), "-q", "-p", "load_qps", "fast"])
    assert code == 2 and "load_qps" in capsys.readouterr().err
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], left
    assert not (tmp_path / "d" / "results.json").exists()


def test_the_demo_command_starts_its_kernel_before_it_imports_torch(tmp_path):
    "Checking the options imports torch (about 2 s); the kernel is started before that, so both proceed at once."
    import subprocess, sys, textwrap
    code = textwrap.dedent(f"""
        import sys, prodkit.kernels, prodkit.cli
        def start(template, **kw):
            print("TORCH_LOADED_AT_KERNEL_START", "torch" in sys.modules, flush=True)
            raise SystemExit(5)
        prodkit.kernels.start_kernel = start
        prodkit.cli.main(["demo", "--out", {str(tmp_path / 'd')!r}, "-q"])
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 5, r.stderr[-2000:]
    assert "TORCH_LOADED_AT_KERNEL_START False" in r.stdout, r.stdout


def test_a_bad_demo_gate_is_exit_2_and_leaves_no_kernel(tmp_path, capsys):
    "The gates are checked after the kernel has started (before the demo is written); refusing them stops it."
    import psutil
    import prodkit.cli
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    code = prodkit.cli.main(["demo", "--out", str(tmp_path / "d"), "-q", "--gates", "quality.auc >>> 0.8"])
    assert code == 2 and "gate" in capsys.readouterr().err
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], left
    assert not (tmp_path / "d" / "demo").exists()
