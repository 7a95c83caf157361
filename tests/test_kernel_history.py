"""A job's kernel keeps no IPython history: the user's `history.sqlite` (in their IPython folder) gets none of the
job's cells or the parameters injected into them, whether the kernel starts with the job (nbclient gives it an
in-memory history) or ahead of it (`start_kernel`, as `prodkit demo` does: prodkit turns the history off)."""
import sqlite3, sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _toy import toy_template  # noqa: E402

from prodkit.jobs import run_notebook
from prodkit.kernels import start_kernel


def _history(ipython_dir: Path) -> list:
    "The cells IPython recorded in the profile's history database (none when there is no database)."
    db = ipython_dir / "profile_default" / "history.sqlite"
    if not db.exists(): return []
    with sqlite3.connect(db) as c:
        return [r[0] for r in c.execute("select source from history")]


@pytest.mark.parametrize("ahead", [False, True], ids=["kernel with the job", "kernel started ahead"])
def test_a_job_writes_nothing_into_the_users_ipython_history(tmp_path, monkeypatch, ahead):
    ipython_dir = tmp_path / "ipython"
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))   # the kernel's IPython folder (it inherits the environment)
    tpl = toy_template(tmp_path / "toy.ipynb")
    res = run_notebook(tpl, {"n": 4}, tmp_path / "out", kernel=start_kernel(tpl) if ahead else None)
    assert res.exit_code == 0
    assert (ipython_dir / "profile_default").is_dir()    # the kernel did use this folder
    assert _history(ipython_dir) == []


def test_a_named_ipykernel_spec_gets_the_option_and_another_kernel_keeps_its_argv(monkeypatch):
    from jupyter_client.kernelspec import KernelSpec
    from prodkit.kernels import _NO_HISTORY, _kernel_manager_class
    specs = {"py": KernelSpec(argv=["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], language="python"),
             "other": KernelSpec(argv=["otherkernel", "--conn", "{connection_file}"], language="other")}
    for name, spec in specs.items():
        km = _kernel_manager_class(name)(kernel_name=name)
        monkeypatch.setattr(km.kernel_spec_manager, "get_kernel_spec", lambda n, spec=spec: spec)
        argv = km.kernel_spec.argv
        assert (argv[-1] == _NO_HISTORY) == (name == "py"), (name, argv)
    assert specs["other"].argv == ["otherkernel", "--conn", "{connection_file}"]
