"""templates/README.md's recipe, run as written: copy validation.ipynb, delete the guard section, add a row-count section."""
import json, os, re, subprocess, sys
from pathlib import Path

import nbformat
import pytest

from prodkit.demo import write_demo
from prodkit.jobs import run_notebook, template_parameters

README = Path(__file__).parents[1] / "templates" / "README.md"
SECURITY_OFF = {f"run_{p}": False for p in ("load", "drift", "explain", "export", "robustness", "privacy", "leakage", "cost")}


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    "The README's script run in a fresh folder (it writes my_validation.ipynb there), and small demo data."
    d = tmp_path_factory.mktemp("readme")
    (script,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (d / "copy_validation.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(README.parents[1]), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "copy_validation.py"], cwd=d, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    return d, write_demo(d / "demo", seed=0, n_reference=600, n_current=600, digits=False)


def test_the_copy_lost_the_guard_section_and_gained_the_row_count_section(copy):
    d, _ = copy
    nb = nbformat.read(d / "my_validation.ipynb", as_version=4)
    heads = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert "## Row counts" == heads[-1] and not any(h.startswith("## Guarded inference") for h in heads)
    assert "## Security, privacy and cost" in heads                       # the section after the deleted one is kept
    ps = template_parameters(d / "my_validation.ipynb")
    assert "run_guard" not in ps and ps["min_rows"].type == "int" and ps["run_rows"].default is True
    assert "guard." not in ps["gates"].default and ps["gates"].default.startswith("rows.enough == true; ")


@pytest.mark.parametrize("min_rows, exit_code", [(100, 0), (20000, 1)])
def test_the_copy_runs_and_its_new_gate_decides(copy, tmp_path, min_rows, exit_code):
    d, demo = copy
    r = run_notebook(d / "my_validation.ipynb", {"model": demo["bundle"], "reference": demo["reference"], "current": demo["current"],
                                                 "min_rows": min_rows, **SECURITY_OFF}, tmp_path / "out",
                     gates=["rows.enough == true"])           # the demo's quality on 600 rows is not what this test is about
    assert r.failed_cell is None, r.message
    assert r.results["rows.labelled"] == 600 and r.results["rows.enough"] is (min_rows <= 600)
    assert not any(k.startswith("guard.") for k in r.results)
    assert r.exit_code == exit_code
