"""prodkit.jobs fails closed and never loses a report (issue 10): empty gates are errors, NOT GATED is never PASSED,
caveats and skipped sections fail the gates on them, a named label column is checked before the kernel, the old report
survives any failed run, foreign files and planted links are left alone, exit code 4 for environment failures."""
import errno, hashlib, json, os, re, shutil, subprocess, sys
from pathlib import Path

import nbformat
import pytest

from prodkit import jobs
from prodkit.core import FileFormatError, ParameterError
from prodkit.jobs import EXIT_ERROR, JobError, artifact_sha256, locate_template, run_notebook, templates_dir

sys.path.insert(0, str(Path(__file__).parent))
from _toy import toy_template  # noqa: E402

REPORT = ("toy.html", "toy.ipynb", "results.json")


@pytest.fixture
def toy(tmp_path):
    return toy_template(tmp_path / "toy.ipynb")


@pytest.fixture
def no_kernel(monkeypatch):
    "Starting a kernel fails the test: the error must come before."
    monkeypatch.setattr(jobs, "_execute", lambda *a, **k: pytest.fail("a kernel was started"))


@pytest.fixture(scope="module")
def old(tmp_path_factory):
    "A complete report of an earlier run (copied by each test that needs one)."
    d = tmp_path_factory.mktemp("old")
    r = run_notebook(toy_template(d / "toy.ipynb"), {}, d / "out")
    assert r.exit_code == 0, r.message
    return d / "out"


def _copy_old(old, tmp_path):
    out = tmp_path / "out"; shutil.copytree(old, out)
    return out, {f: (out / f).read_bytes() for f in REPORT}


def _assert_intact(out, before):
    "The earlier report is there byte for byte with its verdict and start time; no temp folder, nothing half-written."
    assert sorted(os.listdir(out)) == sorted(before), os.listdir(out)
    assert {f: (out / f).read_bytes() for f in before} == before
    res = json.loads(before["results.json"])
    assert res["status"] == "PASSED" and res["started_utc"] in before["toy.html"].decode()


# ------------------------------------------------------------------------------------------------ 1. gates fail closed
@pytest.mark.parametrize("gates, error, words", [
    ("", ParameterError, "the gates text is empty"),
    ("   ", ParameterError, "the gates text is empty"),
    ([], ParameterError, "the gate list is empty"),
    (";", ParameterError, "declares no gate"),
], ids=["empty-text", "whitespace", "empty-list", "only-separators"])
def test_empty_gates_are_refused_before_any_kernel(toy, tmp_path, no_kernel, gates, error, words):
    with pytest.raises(error, match=words) as e:
        run_notebook(toy, {}, tmp_path / "out", gates=gates)
    assert "--no-gates" in str(e.value) and not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["", "# gates are decided later\n# - quality.auc >= 0.8\n", "gates:\n", "gates: []\n", "[]\n"],
                         ids=["zero-bytes", "all-comments", "gates-key-no-list", "gates-key-empty-list", "empty-list"])
def test_empty_gates_file_is_refused(toy, tmp_path, no_kernel, text):
    g = tmp_path / "gates.yaml"; g.write_text(text)
    with pytest.raises(FileFormatError, match="gates file declares no gate") as e:
        run_notebook(toy, {}, tmp_path / "out", gates=g)
    assert str(g) in str(e.value) and "Fix:" in str(e.value)
    with pytest.raises(FileFormatError, match="gates file declares no gate"):   # given as the template's own parameter
        run_notebook(toy, {"gates": str(g)}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unreadable_gates_file_is_refused(toy, tmp_path, no_kernel):
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(FileFormatError, match="gates file is not a regular file"):
        run_notebook(toy, {}, tmp_path / "out", gates=tmp_path / "dir.yaml")
    (tmp_path / "latin1.yaml").write_bytes("- caf\xe9.x >= 1\n".encode("latin-1"))
    with pytest.raises(FileFormatError, match="gates file could not be read"):
        run_notebook(toy, {}, tmp_path / "out", gates=tmp_path / "latin1.yaml")


def test_empty_gates_parameter_does_not_drop_the_default_silently(toy, tmp_path, no_kernel):
    with pytest.raises(ParameterError, match="the gates text is empty"):
        run_notebook(toy, {"gates": ""}, tmp_path / "out")
    tpl = toy_template(tmp_path / "nogates.ipynb", params="n = 3  # int: how many\nscale = 1.0\nfail = False\nsleep_s = 0.0")
    with pytest.raises(ParameterError, match="declares no gates and none were given"):
        run_notebook(tpl, {}, tmp_path / "out")
    with pytest.raises(ParameterError, match="not both"):
        run_notebook(toy, {}, tmp_path / "out", gates="toy.n >= 1", no_gates=True)


def test_no_gates_runs_but_is_never_reported_as_passed(toy, tmp_path):
    r = run_notebook(toy, {}, tmp_path / "out", no_gates=True)
    assert (r.exit_code, r.passed, r.gated, r.status) == (0, False, False, "NOT GATED")
    assert "NOT GATED" in r.message and "PASSED" not in r.message
    res = json.loads(r.results_json.read_text())
    assert res["status"] == "NOT GATED" and res["passed"] is False and res["gated"] is False and res["gates"] == []
    assert res["parameters"]["gates"] == "[]"                       # the template's default gates were not run either
    top = r.html.read_text().split("Toy job")[0]
    assert "NOT GATED" in top and "Nothing was gated" in top and "PASSED" not in top
    nb = nbformat.read(r.notebook, as_version=4)
    assert "NOT GATED" in nb.cells[0].source and nb.metadata["prodkit"]["status"] == "NOT GATED"


# ------------------------------------------------------------------ 2, 3. caveats and skipped sections fail their gates
def _noted_template(path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Noted job"),
        nbformat.v4.new_code_cell("gates = 'quality.auc >= 0.5'  # str: gates", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from prodkit.jobs import record, record_caveat, skip_section\n"
                                  "record('quality', {'auc': 0.99, 'n': 300})\n"
                                  "record_caveat('quality.auc', 'only 1 positive among 300 labelled rows <script>alert(1)</script>')\n"
                                  "skip_section('drift', 'no reference data [x](javascript:alert(2))')")])
    nbformat.write(nb, str(path))
    return path


def test_caveats_and_skipped_sections_fail_their_gates_with_the_reason(tmp_path):
    tpl = _noted_template(tmp_path / "noted.ipynb")
    r = run_notebook(tpl, {}, tmp_path / "out", gates="quality.auc >= 0.5; quality.n >= 100; drift.share_drifted <= 0.2")
    assert r.exit_code == 1
    rows = {g["gate"]: (g["passed"], g["reason"]) for g in r.gates.rows}
    assert rows["quality.auc >= 0.5"] == (False, "unreliable: only 1 positive among 300 labelled rows <script>alert(1)</script>")
    assert rows["quality.n >= 100"] == (True, "")
    assert rows["drift.share_drifted <= 0.2"] == (False, "section skipped: no reference data [x](javascript:alert(2))")
    assert "sections skipped: drift (no reference data" in r.message
    res = json.loads(r.results_json.read_text())
    assert res["skipped_sections"] == {"drift": "no reference data [x](javascript:alert(2))"}
    assert res["caveats"] == {"quality.auc": "only 1 positive among 300 labelled rows <script>alert(1)</script>"}
    page = r.html.read_text()
    top = page.split("Noted job")[0]
    assert "Sections skipped for missing input" in top and "no reference data" in top and "only 1 positive among 300" in top
    assert "<script>alert(1)" not in page and not re.search(r"<a [^>]*javascript", page)     # shown as text, never as markup


# ------------------------------------------------------------------------------ 4. a named label column must exist
def test_named_label_column_missing_is_exit_2_before_the_kernel(tmp_path, no_kernel):
    tpl = toy_template(tmp_path / "lab.ipynb", params="table = ''  # path: the rows, CSV or Parquet\n"
                                                       "label = 'label'  # str: column of table: the label\nn = 3  # int: how many\n"
                                                       "scale = 1.0\nfail = False\nsleep_s = 0.0\ngates = 'toy.n >= 3'")
    (tmp_path / "rows.csv").write_text("age,income,label\n1,2,0\n")
    with pytest.raises(ParameterError, match=re.escape("parameter `label`: no column 'churned' in the table data")) as e:
        run_notebook(tpl, {"table": tmp_path / "rows.csv", "label": "churned"}, tmp_path / "out")
    assert "age, income, label" in str(e.value) and not (tmp_path / "out").exists()


def test_templates_declare_their_label_columns():
    for name, table in (("validation", "current"), ("load_test", "data")):
        assert jobs._column_of(jobs.template_parameters(name)["label"]) == table


# ------------------------------------------------------------------------------------------ 5. reports are never lost
@pytest.mark.parametrize("kw, error", [({"cell_timeout_s": 2.5}, ParameterError), ({"gates": ""}, ParameterError),
                                       ({"kernel_name": "no-such-kernel"}, ParameterError)], ids=["bad-timeout", "empty-gates", "no-kernel"])
def test_bad_option_keeps_the_old_report(old, toy, tmp_path, no_kernel, kw, error):
    out, before = _copy_old(old, tmp_path)
    with pytest.raises(error):
        run_notebook(toy, {}, out, **kw)
    _assert_intact(out, before)


def test_kernel_that_cannot_start_is_exit_4_and_keeps_the_old_report(old, toy, tmp_path, monkeypatch):
    import papermill
    out, before = _copy_old(old, tmp_path)
    def no_start(*a, **k): raise RuntimeError("Kernel didn't respond in 60 seconds")
    monkeypatch.setattr(papermill, "execute_notebook", no_start)
    with pytest.raises(JobError, match="Kernel didn't respond") as e:
        run_notebook(toy, {}, out)
    assert e.value.exit_code == EXIT_ERROR == 4 and "Fix:" in str(e.value)
    _assert_intact(out, before)


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS], ids=["disk-full", "read-only"])
def test_write_failure_is_exit_4_and_keeps_the_old_report(old, toy, tmp_path, monkeypatch, err):
    out, before = _copy_old(old, tmp_path)
    real = jobs._write_synced
    def failing(path, text):
        if path.name.endswith(".html"): raise OSError(err, os.strerror(err), str(path))
        return real(path, text)
    monkeypatch.setattr(jobs, "_write_synced", failing)
    with pytest.raises(JobError, match=re.escape(os.strerror(err))) as e:
        run_notebook(toy, {"n": 7}, out)
    assert e.value.exit_code == 4
    _assert_intact(out, before)


def test_read_only_out_dir_is_exit_4_before_the_kernel(toy, tmp_path, monkeypatch, no_kernel):
    def read_only(*a, **k): raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(jobs.tempfile, "mkdtemp", read_only)
    with pytest.raises(JobError, match="the output folder cannot be written") as e:
        run_notebook(toy, {}, tmp_path / "out")
    assert e.value.exit_code == 4


def test_a_new_run_replaces_the_old_report_completely(old, toy, tmp_path):
    out, before = _copy_old(old, tmp_path)
    r = run_notebook(toy, {"n": 9}, out)
    assert r.exit_code == 0 and sorted(os.listdir(out)) == sorted(REPORT)
    res = json.loads((out / "results.json").read_text())
    assert res["results"]["toy.n"] == 9 and all((out / f).read_bytes() != before[f] for f in REPORT)


# ------------------------------------------------------------------ 6. files prodkit did not write are never touched
@pytest.mark.parametrize("fname, content", [("toy.html", "<html>my thesis</html>"), ("toy.ipynb", '{"cells": [], "metadata": {}}'),
                                            ("results.json", '{"config": 1}')], ids=["html", "notebook", "results-json"])
def test_foreign_file_in_out_is_refused_unless_forced(toy, tmp_path, no_kernel, fname, content):
    out = tmp_path / "out"; out.mkdir(); (out / fname).write_text(content)
    with pytest.raises(ParameterError, match=re.escape(f"{fname} in the output folder was not written by prodkit")) as e:
        run_notebook(toy, {}, out)
    assert "force" in str(e.value) and (out / fname).read_text() == content and os.listdir(out) == [fname]


def test_force_replaces_a_foreign_file(toy, tmp_path):
    out = tmp_path / "out"; out.mkdir(); (out / "toy.html").write_text("<html>my thesis</html>")
    r = run_notebook(toy, {}, out, force=True)
    assert r.exit_code == 0 and '<meta name="generator" content="prodkit">' in (out / "toy.html").read_text()


def test_symlinked_report_name_is_refused_and_its_target_untouched(toy, tmp_path, no_kernel):
    target = tmp_path / "elsewhere.txt"; target.write_text("keep me")
    out = tmp_path / "out"; out.mkdir(); (out / "toy.ipynb").symlink_to(target)
    with pytest.raises(ParameterError, match="toy.ipynb in the output folder was not written by prodkit"):
        run_notebook(toy, {}, out)
    assert target.read_text() == "keep me" and (out / "toy.ipynb").is_symlink()


def test_clean_stale_removes_only_marked_folders_of_dead_processes(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"]); dead.wait()
    mine = jobs._make_tmp(tmp_path)                                                   # ours, alive
    stale = jobs._make_tmp(tmp_path)
    (stale / jobs._TMP_MARKER).write_text(json.dumps({"prodkit": "run", "pid": dead.pid}))
    unmarked = tmp_path / f".prodkit-run-{dead.pid}-0000"; unmarked.mkdir(); (unmarked / "thesis.docx").write_text("x")
    forged = tmp_path / ".prodkit-run-forged"; forged.mkdir(); (forged / jobs._TMP_MARKER).write_text("not json")
    jobs._clean_stale(tmp_path)
    assert mine.exists() and not stale.exists() and (unmarked / "thesis.docx").exists() and forged.exists()


# --------------------------------------------------------------- 7. unpredictable temp names, planted links not followed
def test_planted_symlinks_are_never_followed(toy, tmp_path):
    outside = tmp_path / "outside"; outside.mkdir(); (outside / "precious.txt").write_text("keep me")
    out = tmp_path / "out"; out.mkdir()
    planted = [out / f".prodkit-run-{os.getpid()}-deadbeef", out / ".prodkit-run-999999-cafe", out / "kernel.log", out / "new-toy.html"]
    for p in planted: p.symlink_to(outside, target_is_directory=True)
    r = run_notebook(toy, {}, out)
    assert r.exit_code == 0
    assert sorted(os.listdir(outside)) == ["precious.txt"] and (outside / "precious.txt").read_text() == "keep me"
    assert all(p.is_symlink() for p in planted)                         # not ours: left where they are
    assert sorted(f for f in os.listdir(out) if not f.startswith(".")) == sorted(REPORT + ("kernel.log", "new-toy.html"))


def test_private_folder_names_are_unpredictable(tmp_path):
    a, b = jobs._make_tmp(tmp_path), jobs._make_tmp(tmp_path)
    assert a != b and str(os.getpid()) not in a.name and a.name.startswith(".prodkit-run-")
    assert oct(a.stat().st_mode & 0o777) == "0o700"


# ------------------------------------------------------------------- 8. a bare name is the shipped template, always
def test_bare_name_runs_the_shipped_template_not_a_local_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "validation").write_text("print('local code')")
    (tmp_path / "validation.ipynb").write_text("{}")
    (tmp_path / "load_test").mkdir()
    assert locate_template("validation") == templates_dir() / "validation.ipynb"
    assert locate_template("load_test") == templates_dir() / "load_test.ipynb"
    assert "model" in jobs.template_parameters("load_test")            # a local folder named like it breaks nothing
    assert locate_template("./validation.ipynb") == (tmp_path / "validation.ipynb").resolve()
    with pytest.raises(FileFormatError, match="template notebook does not exist"):
        locate_template("./load_test")


# ---------------------------------------------------------------------- 9. options checked before any kernel starts
@pytest.mark.parametrize("timeout", [2.5, float("nan"), float("inf"), 0, -1, True, None], ids=str)
def test_bad_cell_timeout_is_exit_2_before_any_kernel(toy, tmp_path, no_kernel, timeout):
    with pytest.raises(ParameterError, match="cell_timeout_s must be"):
        run_notebook(toy, {}, tmp_path / "out", cell_timeout_s=timeout)
    assert not (tmp_path / "out").exists()


def test_unknown_kernel_is_exit_2_before_any_kernel(toy, tmp_path, no_kernel):
    with pytest.raises(ParameterError, match="no kernelspec named `no-such-kernel`"):
        run_notebook(toy, {}, tmp_path / "out", kernel_name="no-such-kernel")


# ------------------------------------------------------------------------ 10. the validated artifact's digest is kept
def test_results_record_the_sha256_of_the_model_artifact(tmp_path):
    tpl = toy_template(tmp_path / "art.ipynb", params="model = ''  # path: model bundle folder\nfile = ''  # path | None: model bundle or file\n"
                                                       "n = 3  # int: how many\nscale = 1.0\nfail = False\nsleep_s = 0.0\ngates = 'toy.n >= 3'")
    bundle = tmp_path / "bundle"; bundle.mkdir(); (bundle / "bundle.json").write_text('{"files": {}}'); (bundle / "model.pt").write_bytes(b"w")
    single = tmp_path / "model.pt"; single.write_bytes(b"weights")
    r = run_notebook(tpl, {"model": bundle, "file": single}, tmp_path / "out", open_inputs=False)
    art = json.loads(r.results_json.read_text())["artifacts"]
    assert art == {"model": {"path": str(bundle.resolve()), "kind": "bundle", "sha256": hashlib.sha256(b'{"files": {}}').hexdigest()},
                   "file": {"path": str(single.resolve()), "kind": "file", "sha256": hashlib.sha256(b"weights").hexdigest()}}
    assert r.artifacts == art and artifact_sha256(single) == hashlib.sha256(b"weights").hexdigest()


def test_reports_of_earlier_prodkit_versions_are_recognised(tmp_path):
    "Reports written before the markers existed (verdict cell tag, verdict words, results keys) may still be replaced."
    old_html = tmp_path / "v.html"; old_html.write_text("<html><h2>Gates</h2><p><small>Run started 2026-01-01 00:00:00 UTC. "
                                                        "Each gate compares a number recorded by a section below with its threshold.</small></p></html>")
    old_nb = tmp_path / "v.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("<h1>v</h1>", metadata={"tags": ["prodkit-verdict"]})]), str(old_nb))
    old_res = tmp_path / "results.json"
    old_res.write_text(json.dumps({"template": "v", "exit_code": 0, "status": "PASSED", "results": {}, "gates": [], "started_utc": "x"}))
    assert jobs._is_prodkit_report(old_html, "html") and jobs._is_prodkit_report(old_nb, "notebook")
    assert jobs._is_prodkit_report(old_res, "results_json")
    plain_nb = tmp_path / "mine.ipynb"; nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# notes")]), str(plain_nb))
    assert not jobs._is_prodkit_report(plain_nb, "notebook")
