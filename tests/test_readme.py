"""README.md is rendered from nbs/index.ipynb, shows exactly two setup lines, and .ci/run runs line 2."""
import re, subprocess, sys
from pathlib import Path

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


def test_ci_runs_readme_line_2_exactly():
    ci = (ROOT / ".ci" / "run").read_text()
    # the line .ci/run extracts is README's second setup line, and it is run as written
    got = subprocess.run(["bash", "-c", "grep -m2 '^python3 -m venv ' README.md | sed -n 2p"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert got == _setup_lines((ROOT / "README.md").read_text())[1]
    assert "grep -m2 '^python3 -m venv ' README.md | sed -n 2p" in ci and 'bash -c "$line2"' in ci
    assert re.search(r'export HOME="\$scratch/home"', ci) and "git clone" in ci


def test_check_script_runs_every_step_and_fails_on_no_tests():
    src = (ROOT / "tools" / "check.py").read_text()
    for step in ('"nbdev_export"', '"nbdev_test"', '"pytest"', "rc == 5", "readme.py"):
        assert step in src


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
    assert "before any kernel starts" in readme_codes[2] and "prodkit or its environment failed" in readme_codes[4]


def test_every_option_the_readme_names_exists():
    "Each `--option` in the README is an option of some prodkit command, so the README cannot advertise a flag that is gone."
    from prodkit.cli import parser
    sub = next(a for a in parser()._actions if a.dest == "command")
    options = {o for p in sub.choices.values() for a in p._actions for o in a.option_strings}
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert {"--trust-model", "--no-gates", "--expect-results", "--expect-sha256", "--force", "--cell-timeout"} <= named
    assert named - options == set(), sorted(named - options)


def test_readme_says_a_model_artifact_is_code():
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "A model artifact is code." in text and "from a trusted source" in text and "`--trust-model`" in text
