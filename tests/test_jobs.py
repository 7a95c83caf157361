"""prodkit.jobs end to end through papermill on a tiny template: exit codes, report, results.json, atomicity."""
import json, os, re, signal, subprocess, sys, time
from pathlib import Path

import nbformat
import pytest

from prodkit import jobs
from prodkit.core import FileFormatError, ParameterError
from prodkit.jobs import read_results, run_notebook

sys.path.insert(0, str(Path(__file__).parent))
from _toy import toy_template  # noqa: E402


@pytest.fixture
def toy(tmp_path):
    return toy_template(tmp_path / "toy.ipynb")


@pytest.fixture(scope="module")
def passed(tmp_path_factory):
    "One passing run shared by the tests that only read its outputs."
    d = tmp_path_factory.mktemp("passed")
    return run_notebook(toy_template(d / "toy.ipynb"), {"n": "5", "scale": 2}, d / "out"), d / "out"


def test_pass_writes_report_results_and_uses_our_python(passed):
    r, out = passed
    assert (r.exit_code, r.passed) == (0, True)
    assert sorted(os.listdir(out)) == ["results.json", "toy.html", "toy.ipynb"]
    assert r.results["toy.n"] == 5 and r.results["toy.scaled"] == 10.0 and r.results["toy.done"] is True   # "5" -> int, int 2 for float
    assert r.results["toy.python"] == sys.executable        # the kernel is the Python prodkit runs in
    assert read_results(out / "toy.ipynb") == r.results
    res = json.loads((out / "results.json").read_text())
    assert res["exit_code"] == 0 and res["status"] == "PASSED" and res["results"] == r.results and res["gated"] is True
    assert res["gates"] == [{"gate": "toy.n >= 3", "metric": "toy.n", "op": ">=", "threshold": 3, "value": 5, "passed": True, "reason": ""}]
    assert res["parameters"] == {"n": 5, "scale": 2.0, "gates": '["toy.n >= 3"]'}
    assert res["manifest"]["extra"]["job"]["template"] == "toy.ipynb" and res["manifest"]["code"]
    assert res["failed_cell"] is None


def test_report_opens_with_gates_has_no_code_and_embeds_figures(passed):
    r, _ = passed
    nb = nbformat.read(r.notebook, as_version=4)
    assert "prodkit-verdict" in nb.cells[0].metadata["tags"] and "<h2>Gates</h2>" in nb.cells[0].source
    assert "widgets" not in nb.metadata
    page = r.html.read_text()
    assert page.index("toy: <span") < page.index("PASS") < page.index("Toy job")      # verdict, gates, then the template
    assert re.search(r"data:image/png;base64,[A-Za-z0-9+/]{1000}", page)             # the figure is embedded
    assert "SECRET_SOURCE_MARKER" not in page and "record(" not in page and "plt.plot" not in page
    assert not re.search(r"<script[^>]*src=\"https?://", page)                      # nothing fetched to read it


def test_same_job_twice_gives_identical_results(passed, tmp_path):
    a, out = passed
    b = run_notebook(out.parent / "toy.ipynb", {"n": 5, "scale": 2.0}, tmp_path / "b")
    assert a.results == b.results
    ra, rb = (json.loads(p.read_text()) for p in (a.results_json, b.results_json))
    assert ra["manifest"]["extra"] == rb["manifest"]["extra"] and ra["gates"] == rb["gates"]


def test_gate_failure_is_exit_1(toy, tmp_path):
    r = run_notebook(toy, {"n": 2}, tmp_path / "out", gates="toy.n >= 3; toy.missing <= 1; toy.scaled > 0")
    assert r.exit_code == 1 and not r.passed
    assert [g["passed"] for g in r.gates.rows] == [False, False, True]
    assert r.gates.rows[1]["reason"] == "not recorded"
    assert "2 of 3 gates failed" in r.message
    res = json.loads(r.results_json.read_text())
    assert res["exit_code"] == 1 and res["passed"] is False
    assert "FAILED" in r.html.read_text().split("Toy job")[0]


def test_gates_from_a_yaml_file_and_template_parameter(toy, tmp_path):
    (tmp_path / "g.yaml").write_text("gates:\n  - toy.n == 7\n  - toy.done == true\n")
    r = run_notebook(toy, {"n": 7, "gates": str(tmp_path / "g.yaml")}, tmp_path / "b")
    assert r.exit_code == 0 and [g["gate"] for g in r.gates.rows] == ["toy.n == 7", "toy.done == true"]


def test_raising_cell_is_exit_3_with_report_and_cell_named(toy, tmp_path):
    r = run_notebook(toy, {"fail": True}, tmp_path / "out")
    assert r.exit_code == 3
    assert r.failed_cell["index"] == 5 and r.failed_cell["ename"] == "ValueError" and r.failed_cell["evalue"] == "asked to fail"
    assert "cell 5 raised ValueError: asked to fail" in r.message
    page = r.html.read_text()
    top = page.split("Toy job")[0]
    assert "The run FAILED: cell 5 raised" in top and "ValueError" in top
    res = json.loads(r.results_json.read_text())
    assert res["exit_code"] == 3 and res["failed_cell"]["index"] == 5
    assert "toy.done" not in res["results"] and res["results"]["toy.n"] == 3          # results up to the failure are kept
    nb = nbformat.read(r.notebook, as_version=4)
    assert any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", []))


def test_cell_timeout_is_exit_3(toy, tmp_path):
    r = run_notebook(toy, {"sleep_s": 120}, tmp_path / "out", cell_timeout_s=10)
    assert r.exit_code == 3 and r.failed_cell["index"] == 4
    assert r.failed_cell["ename"] == "CellTimeoutError" and r.failed_cell["evalue"] == "the cell exceeded cell_timeout_s=10 s"
    assert "cell 4 raised CellTimeoutError: the cell exceeded cell_timeout_s=10 s (first line: time.sleep(sleep_s))" in r.message
    assert r.html.exists() and r.results_json.exists()


@pytest.mark.parametrize("params, words", [
    ({"m": 1}, "unknown parameter `m`"),
    ({"nn": 1}, "did you mean `n`?"),
    ({"n": "three"}, "parameter `n` of template `toy` must be an integer"),
    ({"n": 2.5}, "must be an integer"),
    ({"fail": "maybe"}, "must be a bool"),
    ({"scale": True}, "must be a float"),
])
def test_bad_parameters_exit_2_before_any_kernel(toy, tmp_path, monkeypatch, params, words):
    started = []
    monkeypatch.setattr(jobs, "_execute", lambda *a, **k: started.append(1))
    from jupyter_client import AsyncKernelManager
    monkeypatch.setattr(AsyncKernelManager, "start_kernel", lambda *a, **k: started.append(1))
    with pytest.raises(ParameterError, match=re.escape(words)):
        run_notebook(toy, params, tmp_path / "out")
    assert started == [] and not (tmp_path / "out").exists()


def test_path_parameters_that_declare_a_kind_are_opened_before_any_kernel(tmp_path, monkeypatch):
    from prodkit.core import DataError
    tpl = toy_template(tmp_path / "tbl.ipynb", params="table = ''  # path: the rows, CSV or Parquet\nn = 3  # int: how many\n"
                                                      "scale = 1.0\nfail = False\nsleep_s = 0.0\ngates = 'toy.n >= 3'")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not parquet"); (tmp_path / "empty.csv").write_text("a\n")
    monkeypatch.setattr(jobs, "_execute", lambda *a, **k: pytest.fail("a kernel was started"))
    with pytest.raises(FileFormatError, match="table data file could not be read as parquet"):
        run_notebook(tpl, {"table": tmp_path / "bad.parquet"}, tmp_path / "out")
    with pytest.raises(DataError, match=re.escape("table data is empty (0 rows)")):
        run_notebook(tpl, {"table": tmp_path / "empty.csv"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    monkeypatch.undo()   # open_inputs=False leaves the file to the template (which does not read it)
    r = run_notebook(tpl, {"table": tmp_path / "bad.parquet"}, tmp_path / "out", open_inputs=False)
    assert r.exit_code == 0, r.message


def test_bad_gates_exit_2_before_any_kernel(toy, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "_execute", lambda *a, **k: pytest.fail("a kernel was started"))
    with pytest.raises(ParameterError, match="a gate must read"):
        run_notebook(toy, {}, tmp_path / "out", gates=["toy.n => 3"])
    with pytest.raises(FileFormatError, match="gates file does not exist"):
        run_notebook(toy, {}, tmp_path / "out", gates=tmp_path / "nope.yaml")


def _old_report(passed, tmp_path):
    "A copy of a complete earlier report, and its bytes."
    import shutil
    _, src = passed
    out = tmp_path / "out"; shutil.copytree(src, out)
    return out, {f: (out / f).read_bytes() for f in ("toy.ipynb", "toy.html", "results.json")}


def _intact(out, before):
    "The earlier report is there byte for byte, keeps its verdict and start time, and nothing else was left."
    assert sorted(os.listdir(out)) == sorted(before), os.listdir(out)
    assert {f: (out / f).read_bytes() for f in before} == before
    res = json.loads(before["results.json"])
    assert res["status"] == "PASSED" and res["started_utc"] and res["started_utc"] in before["toy.html"].decode()


def test_failed_postprocessing_keeps_the_old_report(passed, toy, tmp_path, monkeypatch):
    out, before = _old_report(passed, tmp_path)
    def boom(nb): raise RuntimeError("renderer crashed")
    monkeypatch.setattr(jobs, "render_html", boom)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        run_notebook(toy, {"n": 4}, out)
    _intact(out, before)                    # the old report stays, no half-written new one, no temp folder


_KILL = """
import sys
from prodkit.jobs import run_notebook
run_notebook(sys.argv[1], {"sleep_s": 60}, sys.argv[2])
"""


def test_killed_run_keeps_the_old_report(passed, toy, tmp_path):
    out, before = _old_report(passed, tmp_path)
    p = subprocess.Popen([sys.executable, "-c", _KILL, str(toy), str(out)], start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:                            # wait until the kernel is in the sleeping cell
            tmp = list(out.glob(".prodkit-run-*/toy.ipynb"))
            if tmp and "time.sleep" in tmp[0].read_text() and '"status": "running"' in tmp[0].read_text(): break
            time.sleep(0.2)
        else: pytest.fail("the job never reached the sleeping cell")
    finally:
        os.killpg(p.pid, signal.SIGKILL); p.wait()
    assert {f: (out / f).read_bytes() for f in before} == before   # killed mid-run: the old report is untouched
    assert [f for f in os.listdir(out) if not f.startswith(".")] == sorted(before)
    assert run_notebook(toy, {}, out).exit_code == 0            # the next run cleans the dead run's folder
    assert sorted(os.listdir(out)) == ["results.json", "toy.html", "toy.ipynb"]


def _switch_template(path):
    "A template with a section `extra` that the user may turn off (`run_extra`), and default gates on it."
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Switch job"),
        nbformat.v4.new_code_cell("run_extra = True  # bool: run the extra section\n"
                                  "gates = 'base.n >= 1; extra.x <= 1'  # str: default gates", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from prodkit.jobs import record, skip_section\nrecord('base.n', 2)\n"
                                  "if run_extra: record('extra.x', 0.5)\n"
                                  "else:\n    skip_section('extra', 'turned off (run_extra=False)', on_purpose=True)\n    print('Extra section skipped.')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_section_turned_off_skips_its_default_gates_but_not_the_users(tmp_path):
    tpl = _switch_template(tmp_path / "switch.ipynb")
    r = run_notebook(tpl, {"run_extra": False}, tmp_path / "off")
    assert (r.exit_code, r.passed) == (0, True), r.message
    assert [(g["gate"], g["passed"], g["reason"]) for g in r.gates.rows] == [
        ("base.n >= 1", True, ""), ("extra.x <= 1", None, "skipped (a default gate): turned off (run_extra=False)")]
    res = json.loads(r.results_json.read_text())
    assert res["sections_off"] == {"extra": "turned off (run_extra=False)"} and res["skipped_sections"] == {}
    verdict = r.html.read_text().split("Switch job")[0]
    assert "SKIPPED" in verdict and "1 default gates skipped" in verdict and "turned off (run_extra=False)" in verdict
    # the same gate written by the user fails: the user asked for a number the job did not measure
    u = run_notebook(tpl, {"run_extra": False}, tmp_path / "user", gates=["extra.x <= 1"])
    assert u.exit_code == 1 and u.gates.rows[0]["passed"] is False and "this gate was given for it" in u.gates.rows[0]["reason"]
    # gates given as the template's `gates` parameter are the user's too
    n = run_notebook(tpl, {"run_extra": False, "gates": "extra.x <= 1"}, tmp_path / "param")
    assert n.exit_code == 1 and [g["gate"] for g in n.gates.failed] == ["extra.x <= 1"]
