"""The `prodkit` command in a subprocess: help texts, exit codes 0/1/2/3, one-line errors."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _toy import toy_template  # noqa: E402

_SCRIPT = Path(sys.executable).parent / "prodkit"
PRODKIT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "prodkit.cli"]


def cli(*args, cwd=None):
    return subprocess.run([*PRODKIT, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_help():
    r = cli("--help")
    assert r.returncode == 0 and "usage: prodkit" in r.stdout and "exit codes" in r.stdout
    for c in ("demo", "validate", "run", "templates"): assert c in r.stdout


@pytest.mark.parametrize("cmd", ["demo", "validate", "run", "templates"])
def test_subcommand_help(cmd, capsys):
    from prodkit.cli import main
    with pytest.raises(SystemExit) as e: main([cmd, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and f"usage: prodkit {cmd}" in out and ("exit codes" in out or cmd == "templates")


def test_python_dash_m_works_too():
    r = subprocess.run([sys.executable, "-m", "prodkit.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("prodkit ")


def test_templates_lists_validation_and_its_parameters():
    r = cli("templates")
    assert r.returncode == 0
    assert r.stdout.startswith("validation") or "\nvalidation\n" in r.stdout
    for p in ("model", "reference", "current", "label", "gates", "seed", "run_drift"): assert f"  {p} " in r.stdout


def test_run_exit_codes(tmp_path):
    toy = toy_template(tmp_path / "toy.ipynb")
    r = cli("run", toy, "-p", "n", "5", "-y", "scale: 2", "--out", tmp_path / "ok")
    assert r.returncode == 0, r.stderr
    assert "PASS  toy.n >= 3" in r.stdout and "toy: PASSED" in r.stdout
    assert json.loads((tmp_path / "ok" / "results.json").read_text())["results"]["toy.scaled"] == 10.0

    r = cli("run", toy, "-p", "n", "1", "--gates", "toy.n >= 3", "--out", tmp_path / "gate")
    assert r.returncode == 1 and "FAIL  toy.n >= 3" in r.stdout and "FAILED" in r.stderr

    r = cli("run", toy, "-p", "fail", "true", "--out", tmp_path / "cell")
    assert r.returncode == 3 and "cell 5 raised ValueError: asked to fail" in r.stderr
    assert (tmp_path / "cell" / "toy.html").exists()


@pytest.mark.parametrize("args, words", [
    (["-p", "bogus", "1"], "unknown parameter `bogus`"),
    (["-p", "n", "lots"], "parameter `n` of template `toy` must be an integer"),
    (["--gates", "toy.n =< 3"], "a gate must read"),
    (["-y", "[1, 2]"], "-y must be a YAML mapping"),
])
def test_bad_input_is_exit_2_one_line_no_traceback(tmp_path, args, words):
    toy = toy_template(tmp_path / "toy.ipynb")
    r = cli("run", toy, *args, "--out", tmp_path / "out")
    assert r.returncode == 2 and words in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_unknown_template_and_missing_inputs_are_exit_2(tmp_path):
    r = cli("run", "no_such_template", "--out", tmp_path / "o")
    assert r.returncode == 2 and "unknown template `no_such_template`" in r.stderr and "validation" in r.stderr
    r = cli("validate", "--model", tmp_path / "nope", "--reference", tmp_path / "r.csv", "--current", tmp_path / "c.csv", "--out", tmp_path / "o")
    assert r.returncode == 2 and "path does not exist" in r.stderr
    r = cli("validate", "--model", tmp_path)   # argparse: missing required options
    assert r.returncode == 2 and "required" in r.stderr
