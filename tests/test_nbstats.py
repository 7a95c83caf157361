"""tools/nbstats.py on two tiny crafted module notebooks: one that meets issue 14's targets, one that misses each."""
import subprocess, sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nbstats  # noqa: E402


def _write(folder, name, cells):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), folder / name)


def _good(folder):
    "Two export cells of 3 and 5 lines, 5 lines of example and test (imports do not count), one kept output."
    _write(folder, "00_good.ipynb", [
        new_code_cell("#| default_exp good"),
        new_markdown_cell("# Good\n> small cells"),
        new_code_cell("#| export\nimport math\n\nfrom pathlib import Path\nX = 1"),
        new_code_cell("#| hide\nfrom fastcore.test import *"),
        new_code_cell("#| export\ndef double(x):\n    \"Twice x.\"\n    y = 2 * x\n    return y\n# end"),
        new_code_cell("double(2)", outputs=[new_output("execute_result", {"text/plain": "4"}, execution_count=1)]),
        new_code_cell("test_eq(double(2), 4)\ntest_eq(double(0), 0)\nshow_doc(double)\na = double(1); b = 2\ntest_eq(a, b)"),
        new_code_cell("#| hide\nimport nbdev; nbdev.nbdev_export()"),
    ])


def _bad(folder):
    "One export cell of 70 lines (written `#|export`), a 1-line test, no output: misses every target."
    body = "\n".join(f"    y{i} = x + {i}" for i in range(68))
    _write(folder, "10_bad.ipynb", [
        new_code_cell("#| default_exp bad"),
        new_code_cell(f"#|export\ndef big(x):\n{body}\n    return x"),          # no space after `#|`: still an export
        new_code_cell("test_eq(big(1), 1)"),
    ])


def _run(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "nbstats.py"), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_counts_of_a_notebook_that_meets_the_targets(tmp_path):
    _good(tmp_path / "nbs")
    lib = tmp_path / "pkg"; lib.mkdir()
    (lib / "good.py").write_text("a = 1; b = 2; s = ';'  # ; in a comment\n" + "x" * 121 + "\nc = 3\n")
    rows, total = nbstats.stats(tmp_path / "nbs", lib)
    (r,) = rows
    assert (r["module"], r["export_cells"], r["cell_lines"], r["median"], r["max"]) == ("good", 2, [3, 5], 4, 5)
    assert r["example_lines"] == 5 and r["ratio"] == 5 / 8                  # `double(2)` + four test lines
    assert (r["code_cells"], r["with_outputs"]) == (7, 1)
    assert (r["semicolons"], r["lines"], r["long_lines"]) == (2, 3, 1)     # tokens: the `;` in a string or comment is no join
    assert (total["export_cells"], total["median"], total["semicolons"], total["long_lines"]) == (2, 4, 2, 1)
    assert nbstats.failures(rows, total) == []


def test_check_passes_on_the_good_notebook(tmp_path):
    _good(tmp_path / "nbs")
    r = _run("--check", "--nbs", tmp_path / "nbs", "--lib", tmp_path / "pkg")
    assert r.returncode == 0, r.stderr
    assert "00_good.ipynb" in r.stdout and "all targets met" in r.stdout and r.stderr == ""


def test_check_fails_on_each_missed_target(tmp_path):
    _bad(tmp_path / "nbs")
    rows, total = nbstats.stats(tmp_path / "nbs", tmp_path / "pkg")
    assert (rows[0]["cell_lines"], rows[0]["example_lines"], rows[0]["with_outputs"]) == ([70], 1, 0)
    r = _run("--check", "--nbs", tmp_path / "nbs", "--lib", tmp_path / "pkg")
    assert r.returncode == 1
    fails = r.stderr.splitlines()
    assert fails == ["FAILED: median export cell is 70 lines (target: at most 15)",
                     "FAILED: 10_bad.ipynb: 1 export cell(s) over 60 lines (longest 70)",
                     "FAILED: example and test lines per exported line is 0.01 (target: at least 0.5)",
                     "FAILED: 10_bad.ipynb: no code cell keeps an output"], r.stderr


def test_one_bad_notebook_fails_the_check_next_to_a_good_one(tmp_path):
    _good(tmp_path / "nbs"); _bad(tmp_path / "nbs")
    r = _run("--check", "--nbs", tmp_path / "nbs", "--lib", tmp_path / "pkg")
    assert r.returncode == 1 and "10_bad.ipynb: no code cell keeps an output" in r.stderr
    assert "00_good.ipynb" not in r.stderr
    assert _run("--nbs", tmp_path / "nbs", "--lib", tmp_path / "pkg").returncode == 0    # without --check it only prints


def test_no_notebook_is_a_failure_not_a_pass(tmp_path):
    (tmp_path / "nbs").mkdir()
    r = _run("--check", "--nbs", tmp_path / "nbs", "--lib", tmp_path / "pkg")
    assert r.returncode == 1 and "no module notebook" in r.stderr


def test_named_notebooks_are_checked_alone(tmp_path):
    "Notebooks given as paths are the only ones measured: the good one passes alone, the bad one fails alone."
    nbs = tmp_path / "nbs"; _good(nbs); _bad(nbs)
    lib = tmp_path / "pkg"; lib.mkdir()
    (lib / "good.py").write_text("a = 1\n"); (lib / "bad.py").write_text("a = 1; b = 2\n")
    good = _run(nbs / "00_good.ipynb", "--check", "--lib", lib)
    assert good.returncode == 0, good.stderr
    assert "00_good.ipynb" in good.stdout and "10_bad.ipynb" not in good.stdout and "all targets met" in good.stdout
    bad = _run(nbs / "10_bad.ipynb", "--check", "--lib", lib)
    assert bad.returncode == 1 and "10_bad.ipynb: no code cell keeps an output" in bad.stderr and "00_good" not in bad.stdout
    rows, total = nbstats.stats(nbs, lib, [nbs / "10_bad.ipynb"])
    assert [r["notebook"] for r in rows] == ["10_bad.ipynb"] and total["semicolons"] == 1   # only bad.py's code counts


def test_a_named_notebook_that_does_not_exist_is_an_error(tmp_path):
    _good(tmp_path / "nbs")
    r = _run(tmp_path / "nbs" / "99_missing.ipynb", "--check", "--nbs", tmp_path / "nbs")
    assert r.returncode != 0 and "no such notebook" in r.stderr and "99_missing.ipynb" in r.stderr
