"""README.md is rendered from nbs/index.ipynb and shows exactly two setup lines; .ci/run runs line 2 in a clean clone and
tools/check.py fails at the step that fails (both run on crafted copies, not read for strings)."""
import os, re, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import readme  # noqa: E402


def _setup_lines(text):
    return [l for l in text.splitlines() if l.startswith("python3 -m venv ")]


def test_readme_equals_the_rendering_of_index():
    import nbformat
    assert (ROOT / "README.md").read_text(encoding="utf-8") == readme.render(nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4))


def test_readme_has_two_setup_lines_demo_then_suite():
    lines = _setup_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(lines) == 2
    assert "-c constraints.txt" in lines[0] and lines[0].endswith("prodkit demo --out prodkit-demo")
    assert '".[dev]"' in lines[1] and lines[1].endswith("tools/check.py")


def test_the_tour_is_the_first_link_and_exists():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"\]\(([^)\s]+)\)", text).group(1)
    assert first == "nbs/tour.ipynb" and (ROOT / first).is_file()
    assert text.index("nbs/tour.ipynb") < text.index("## Two lines on a fresh machine")


def test_the_first_example_is_the_demo_drift_report_with_its_output():
    "The README's first Python example builds the demo, fits a reference profile and detects drift; its saved output shows the verdict."
    import nbformat
    nb = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code" and not c.source.lstrip().startswith("#|"))
    import ast
    calls = [n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id
             for n in ast.walk(ast.parse(first.source)) if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute))]
    assert {"load_demo", "fit", "detect_drift", "headline"} <= set(calls) and "evaluate_gates" not in calls, calls
    printed = "".join(o.get("text", "") for o in first.outputs if o.output_type == "stream")
    assert printed.startswith("DRIFT: 3 of 10 features drifted"), printed
    assert printed in (ROOT / "README.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------ .ci/run and tools/check.py, run on crafted copies
def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def _ci_repo(tmp_path, readme):
    "A git repository holding .ci/run and `readme`, committed; plus a file left uncommitted."
    src = tmp_path / "src"; (src / ".ci").mkdir(parents=True)
    shutil.copy2(ROOT / ".ci" / "run", src / ".ci" / "run")
    (src / "README.md").write_text(readme)
    _git(src, "init", "-q"); _git(src, "add", "."); _git(src, "commit", "-qm", "crafted")
    (src / "uncommitted.txt").write_text("not in the clone")
    return src


def _ci(tmp_path, src):
    "Run the crafted .ci/run with a stub `chromium` on PATH (so it never installs one) and scratch under tmp_path."
    stub = tmp_path / "bin"; stub.mkdir(exist_ok=True)
    (stub / "chromium").write_text("#!/bin/sh\nexit 0\n"); (stub / "chromium").chmod(0o755)
    env = {**os.environ, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmp_path),
           "PYTHONPATH": "/somewhere/else", "CI_PROBE": str(tmp_path / "probe.txt")}
    return subprocess.run(["bash", str(src / ".ci" / "run")], capture_output=True, text=True, env=env, timeout=120)


_PROBE = ('python3 -m venv --help >/dev/null && { pwd; echo "$HOME"; echo "${PYTHONPATH-unset}"; echo "$MPLBACKEND"; '
          'echo "$IPYTHONDIR"; ls -A; } > "$CI_PROBE"')


def test_ci_runs_readme_line_2_in_a_clean_clone_with_a_scratch_home(tmp_path):
    readme = f"# x\n\n```\npython3 -m venv first && touch \"$CI_PROBE.line1\"\n{_PROBE}\n```\n"
    r = _ci(tmp_path, _ci_repo(tmp_path, readme))
    assert r.returncode == 0, r.stderr
    cwd, home, pypath, backend, ipython, *files = (tmp_path / "probe.txt").read_text().splitlines()
    scratch = Path(cwd).parent
    assert Path(cwd).name == "prodkit" and scratch.parent == tmp_path and scratch.name.startswith("prodkit-ci.")
    assert home == str(scratch / "home") and ipython == str(scratch / "home" / "ipython") and backend == "Agg"
    assert pypath == "unset"                                   # the caller's PYTHONPATH does not leak into CI
    assert sorted(files) == [".ci", ".git", "README.md"]      # a clone of the commit: the uncommitted file is not there
    assert not (tmp_path / "probe.txt.line1").exists()        # line 1 (the demo) is not what CI runs


def test_ci_fails_when_line_2_fails(tmp_path):
    r = _ci(tmp_path, _ci_repo(tmp_path, "python3 -m venv a\npython3 -m venv --help >/dev/null && exit 7\n"))
    assert r.returncode == 7


def test_ci_fails_without_a_second_setup_line(tmp_path):
    r = _ci(tmp_path, _ci_repo(tmp_path, "python3 -m venv only-one\n"))
    assert r.returncode == 1 and "README.md has no second setup line" in r.stderr
    assert not (tmp_path / "probe.txt").exists()


_TOY_NB = ["#| default_exp toy", "#| export\ndef twice(x): return 2 * x", "assert twice(2) == 4", "twice(3)"]


@pytest.fixture(scope="module")
def check_repo(tmp_path_factory):
    "A tiny repository in step: settings.ini, one module notebook, index.ipynb, its README, tools/, one passing test."
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    repo = tmp_path_factory.mktemp("base") / "repo"
    (repo / "nbs").mkdir(parents=True); (repo / "tools").mkdir(); (repo / "tests").mkdir()
    shutil.copy2(ROOT / "settings.ini", repo / "settings.ini")
    for t in ("check.py", "readme.py", "nbstats.py"): shutil.copy2(ROOT / "tools" / t, repo / "tools" / t)
    cells = [new_code_cell(s) for s in _TOY_NB]
    cells[-1].outputs = [new_output("execute_result", data={"text/plain": "6"})]   # the example keeps its output
    nbformat.write(new_notebook(cells=cells), repo / "nbs" / "00_toy.ipynb")
    index = new_notebook(cells=[new_markdown_cell("# toy\n\nA crafted README."), new_code_cell("1 + 1")])
    nbformat.write(index, repo / "nbs" / "index.ipynb")
    (repo / "README.md").write_text(readme.render(index), encoding="utf-8")
    (repo / "tests" / "test_toy.py").write_text("def test_toy():\n    assert True\n")
    r = subprocess.run([str(Path(sys.executable).parent / "nbdev_export")], cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (repo / "prodkit" / "toy.py").exists(), r.stderr
    r = subprocess.run([str(Path(sys.executable).parent / "nbdev_clean")], cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr                                       # the crafted notebooks start clean
    return repo


def _check(base, tmp_path, edit=None):
    repo = tmp_path / "repo"; shutil.copytree(base, repo)
    if edit: edit(repo)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PRODKIT_TEST_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, str(repo / "tools" / "check.py")], cwd=repo, capture_output=True, text=True,
                          env=env, timeout=300)


def test_check_passes_a_repository_in_step_after_every_step(check_repo, tmp_path):
    r = _check(check_repo, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for step in ("sync check (nbdev_export): exit 0", "README in step with nbs/index.ipynb: exit 0",
                 "notebooks clean (nbdev_clean on a copy of nbs/): exit 0",
                 "notebook form (tools/nbstats.py --check): exit 0", "notebook tests (nbdev_test): exit 0",
                 "pytest tests/ on two workers (all but the timing-sensitive tests): exit 0",
                 "pytest tests/ timing-sensitive tests, alone (marked serial in tests/conftest.py): exit 5",
                 "all checks passed"):
        assert step in r.stdout, step


def _edit_notebook(repo):
    import nbformat
    nb = nbformat.read(repo / "nbs" / "00_toy.ipynb", as_version=4)
    nb.cells[1].source = "#| export\ndef twice(x): return x + x"
    nbformat.write(nb, repo / "nbs" / "00_toy.ipynb")


def test_check_fails_when_a_notebook_was_not_exported(check_repo, tmp_path):
    r = _check(check_repo, tmp_path, _edit_notebook)
    assert r.returncode == 1 and "prodkit/ is out of step with nbs/" in r.stderr and "toy.py" in r.stderr, r.stderr
    assert "=== notebook tests" not in r.stdout                 # it stops at the first failing step


def test_check_fails_when_prodkit_was_edited_by_hand(check_repo, tmp_path):
    r = _check(check_repo, tmp_path, lambda repo: (repo / "prodkit" / "toy.py").write_text("def twice(x): return 3 * x\n"))
    assert r.returncode == 1 and "out of step" in r.stderr and "toy.py" in r.stderr, r.stderr


def test_check_fails_when_readme_differs_from_index(check_repo, tmp_path):
    r = _check(check_repo, tmp_path, lambda repo: (repo / "README.md").write_text("# edited by hand\n"))
    assert r.returncode == 1 and "README in step with nbs/index.ipynb: exit 1" in r.stdout
    assert "=== notebook tests" not in r.stdout


def _dirty(repo):
    "What running a notebook in Jupyter leaves behind: execution counts, cell metadata, the kernel's language_info."
    import json
    p = repo / "nbs" / "00_toy.ipynb"
    nb = json.loads(p.read_text(encoding="utf-8"))
    for i, c in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"): c["execution_count"] = i + 1
    nb["cells"][2]["metadata"] = {"scrolled": True, "execution": {"iopub.status.busy": "2026-11-30T06:00:00Z"}}
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}
    p.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def test_check_fails_when_a_notebook_is_not_clean_and_leaves_it_as_it_was(check_repo, tmp_path):
    r = _check(check_repo, tmp_path, _dirty)
    assert r.returncode == 1 and "notebooks clean (nbdev_clean on a copy of nbs/): exit 0" in r.stdout, r.stdout + r.stderr
    assert "nbdev_clean would change ['00_toy.ipynb']" in r.stderr, r.stderr   # only the dirty one is named
    assert "=== notebook tests" not in r.stdout                              # it stops there
    nb = (tmp_path / "repo" / "nbs" / "00_toy.ipynb").read_text(encoding="utf-8")
    assert '"execution_count": 1' in nb and "language_info" in nb           # the check cleaned a copy, not the notebook


def test_check_fails_when_a_notebook_drops_its_outputs(check_repo, tmp_path):
    def strip(repo):
        import nbformat
        nb = nbformat.read(repo / "nbs" / "00_toy.ipynb", as_version=4)
        for c in nb.cells: c.outputs = []
        nbformat.write(nb, repo / "nbs" / "00_toy.ipynb")
    r = _check(check_repo, tmp_path, strip)
    assert r.returncode == 1 and "notebook form (tools/nbstats.py --check): exit 1" in r.stdout and "no code cell keeps an output" in r.stdout + r.stderr
    assert "=== notebook tests" not in r.stdout


def test_check_fails_when_a_notebook_test_fails(check_repo, tmp_path):
    def break_test(repo):
        import nbformat
        nb = nbformat.read(repo / "nbs" / "00_toy.ipynb", as_version=4)
        nb.cells[2].source = "assert twice(2) == 5"
        nbformat.write(nb, repo / "nbs" / "00_toy.ipynb")
    r = _check(check_repo, tmp_path, break_test)
    assert r.returncode == 1 and "notebook tests (nbdev_test): exit 1" in r.stdout and "=== pytest" not in r.stdout


def test_check_fails_when_a_timing_sensitive_test_fails(check_repo, tmp_path):
    "The serial part runs after the parallel part, and its failure fails the check."
    def add(repo):
        (repo / "tests" / "test_timed.py").write_text(
            "import pytest\n\n@pytest.mark.serial\ndef test_timed():\n    assert 1 == 2\n")
    r = _check(check_repo, tmp_path, add)
    assert r.returncode == 1 and "(all but the timing-sensitive tests): exit 0" in r.stdout, r.stdout + r.stderr
    assert "alone (marked serial in tests/conftest.py): exit 1" in r.stdout and "all checks passed" not in r.stdout


def test_check_fails_when_pytest_collects_no_tests(check_repo, tmp_path):
    r = _check(check_repo, tmp_path, lambda repo: (repo / "tests" / "test_toy.py").unlink())
    assert r.returncode == 1 and "pytest collected no tests" in r.stderr and "all checks passed" not in r.stdout


def _readme_exit_codes(text):
    rows = re.findall(r"^\| ([0-9][0-9, ]*) \| (.+) \|$", text, re.M)
    return {int(c): meaning for codes, meaning in rows for c in codes.split(",")}


def test_readme_exit_codes_are_the_commands():
    "The README's exit-code table and the command's help list the same codes, with exit 1 reserved for a failed gate."
    from prodkit.cli import EXIT_CODES
    readme_codes = _readme_exit_codes((ROOT / "README.md").read_text(encoding="utf-8"))
    help_codes = {int(c) for c in re.findall(r"^\s+(\d+)\s", EXIT_CODES, re.M) + re.findall(r"; (\d+) terminated", EXIT_CODES)}
    assert set(readme_codes) == help_codes == {0, 1, 2, 3, 4, 130, 143}, (sorted(readme_codes), sorted(help_codes))
    assert "nothing else exits 1" in readme_codes[1] and "nothing else exits 1" in EXIT_CODES
    assert "before any cell runs" in readme_codes[2] and "prodkit or its environment failed" in readme_codes[4]


def test_every_option_the_readme_names_exists():
    "Each `--option` in the README is an option of some prodkit command, so the README cannot advertise a flag that is gone."
    from prodkit.cli import parser
    sub = next(a for a in parser()._actions if a.dest == "command")
    options = {o for p in sub.choices.values() for a in p._actions for o in a.option_strings}
    from prodkit.serve import _parser as serve_parser      # `prodkit serve` parses its own options
    options |= {o for a in serve_parser()._actions for o in a.option_strings}
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert {"--trust-model", "--no-gates", "--expect-results", "--expect-sha256", "--force", "--cell-timeout"} <= named
    assert named - options == set(), sorted(named - options)


def test_readme_says_a_model_artifact_is_code():
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "A model artifact is code." in text and "from a trusted source" in text and "`--trust-model`" in text
