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
