"""The `prodkit` command in a subprocess: help texts, exit codes 0/1/2/3, one-line errors."""
import json, os, re, subprocess, sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _toy import toy_template  # noqa: E402

_SCRIPT = Path(sys.executable).parent / "prodkit"
PRODKIT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "prodkit.cli"]


def cli(*args, cwd=None):
    return subprocess.run([*PRODKIT, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def _main(*args):
    "Run the command in this process (cheap): exit code, stdout, stderr."
    import contextlib, io
    from prodkit.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: code = main([str(a) for a in args])
        except SystemExit as e: code = e.code
    return code, out.getvalue(), err.getvalue()


def test_help_as_script_and_with_python_dash_m():
    r = cli("--help")
    assert r.returncode == 0 and "usage: prodkit" in r.stdout and "exit codes" in r.stdout
    for c in ("demo", "validate", "run", "templates"): assert c in r.stdout
    r = subprocess.run([sys.executable, "-m", "prodkit.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("prodkit ")


@pytest.mark.parametrize("cmd", ["demo", "validate", "run", "templates"])
def test_subcommand_help(cmd, capsys):
    from prodkit.cli import main
    with pytest.raises(SystemExit) as e: main([cmd, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and f"usage: prodkit {cmd}" in out
    assert ("exit codes:" in out) == (cmd != "templates"), out      # the commands that run a job list their exit codes


def test_templates_lists_validation_and_its_parameters():
    code, out, _ = _main("templates")
    assert code == 0
    assert "validation" in out.splitlines(), out                    # the template's name on a line of its own
    for p in ("model", "reference", "current", "label", "gates", "seed", "run_drift"): assert f"  {p} " in out
    assert "(required)" in out


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


def test_bad_input_in_a_subprocess_is_exit_2_one_line_no_traceback(tmp_path):
    toy = toy_template(tmp_path / "toy.ipynb")
    r = cli("run", toy, "-p", "bogus", "1", "--out", tmp_path / "out")
    assert r.returncode == 2 and "prodkit run: error: unknown parameter `bogus`" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, words", [
    (["-p", "n", "lots"], "parameter `n` of template `toy` must be an integer"),
    (["-p", "nn", "3"], "did you mean `n`?"),
    (["--gates", "toy.n =< 3"], "a gate must read"),
    (["--gates", "missing-gates.yaml"], "gates file does not exist"),
    (["-y", "[1, 2]"], "-y must be a YAML mapping"),
    (["-y", "seed: [1"], "-y is not valid YAML"),
    (["--gates", ""], "the gates text is empty"),
    (["--cell-timeout", "nan"], "--cell-timeout must be a whole number of seconds"),
    (["--trust-model"], "declares no `trust_model` parameter"),
])
def test_bad_input_is_exit_2_one_line(tmp_path, args, words):
    toy = toy_template(tmp_path / "toy.ipynb")
    code, out, err = _main("run", toy, *args, "--out", tmp_path / "out")
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, words", [
    (["--gates", ""], "prodkit run: error: the gates text is empty (got '')"),
    (["--cell-timeout", "2.5"], "prodkit run: error: --cell-timeout must be a whole number of seconds from 1 to 604800 (got '2.5')"),
])
def test_bad_options_in_a_subprocess_are_exit_2_one_line(tmp_path, args, words):
    toy = toy_template(tmp_path / "toy.ipynb")
    r = cli("run", toy, *args, "--out", tmp_path / "out")
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(words) and "Fix:" in lines[0], r.stderr
    assert not (tmp_path / "out").exists()


def test_help_lists_every_exit_code():
    r = cli("run", "--help")
    listed = re.findall(r"^  (\d+) ", r.stdout, re.M) + re.findall(r"; (\d+) terminated", r.stdout)
    assert sorted(map(int, listed)) == [0, 1, 2, 3, 4, 130, 143], listed
    assert "nothing else exits 1" in r.stdout and "--no-gates" in r.stdout and "--trust-model" in r.stdout


def test_unknown_template_and_missing_inputs_are_exit_2(tmp_path):
    code, _, err = _main("run", "no_such_template", "--out", tmp_path / "o")
    assert code == 2 and "unknown template `no_such_template`" in err and "validation" in err
    code, _, err = _main("validate", "--model", tmp_path / "nope", "--reference", tmp_path / "r.csv", "--current", tmp_path / "c.csv", "--out", tmp_path / "o")
    assert code == 2 and "path does not exist" in err
    code, _, err = _main("validate", "--model", tmp_path)   # argparse: missing required options
    assert code == 2 and "required" in err
