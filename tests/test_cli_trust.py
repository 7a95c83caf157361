"""The `prodkit` command fails closed: options are checked before a kernel starts (exit 2, one line), `--no-gates`,
`--force` and `--trust-model` reach the job only when given, a model other than the validated one is refused, `export`
never replaces a file prodkit did not write, and a failure of prodkit or its environment is exit 4 with one line."""
import hashlib, json, os, subprocess, sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _toy import PARAMS, toy_template  # noqa: E402

HERE = Path(__file__).parent


def _main(*args):
    "Run the command in this process: exit code, stdout, stderr."
    import contextlib, io
    from prodkit.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: code = main([str(a) for a in args])
        except SystemExit as e: code = e.code
    return code, out.getvalue(), err.getvalue()


def _one_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def no_kernel(monkeypatch):
    "Any attempt to execute a notebook fails the test: the error must come before a kernel starts."
    import prodkit.jobs
    def refuse(*a, **k): raise AssertionError("a kernel was started")
    monkeypatch.setattr(prodkit.jobs, "_execute", refuse)


class _Res:
    "What `run_notebook` returns, as far as the command reads it."
    def __init__(self, code=0):
        self.exit_code, self.passed, self.message = code, code == 0, "toy: PASSED" if code == 0 else "toy: FAILED"
        self.gates = type("G", (), {"rows": []})()


@pytest.fixture
def calls(monkeypatch):
    "Replace `run_notebook` with a recorder: each call's arguments, no kernel."
    import prodkit.jobs
    seen = []
    def fake(template, parameters=None, out_dir=None, **kw):
        seen.append({"template": template, "parameters": dict(parameters or {}), "out_dir": out_dir, **kw}); return _Res()
    monkeypatch.setattr(prodkit.jobs, "run_notebook", fake)
    return seen


@pytest.fixture
def toy(tmp_path):
    return toy_template(tmp_path / "toy.ipynb")


@pytest.fixture
def trusting_toy(tmp_path):
    "The toy template with a `trust_model` parameter and a `model` path parameter, as the shipped templates declare them."
    return toy_template(tmp_path / "trusting.ipynb", params=PARAMS + "\nmodel = ''  # path: the model\ntrust_model = False  # bool: load any model")


# ------------------------------------------------------------------------------------------- 1. gates fail closed
@pytest.mark.parametrize("what", ["empty-text", "blank-text", "empty-file", "comment-file", "gates-without-list"])
def test_empty_gates_are_exit_2_before_the_kernel(tmp_path, toy, no_kernel, what):
    files = {"empty-file": "", "comment-file": "# gates: none yet\n\n", "gates-without-list": "gates:\n"}
    value = {"empty-text": "", "blank-text": "  ;  "}.get(what)
    if value is None:
        value = str(tmp_path / "gates.yaml"); Path(value).write_text(files[what])
    words = {"empty-text": "the gates text is empty", "blank-text": "the gates text declares no gate"}.get(
        what, "gates file declares no gate (it is empty, all comments, or `gates:` has no list)")
    code, _, err = _main("run", toy, "--gates", value, "--out", tmp_path / "out")
    line = _one_line(err)
    assert code == 2 and line.startswith(f"prodkit run: error: {words} (got {value!r})") and "--no-gates" in line, err
    assert not (tmp_path / "out").exists()


def test_unreadable_gates_file_is_exit_2(tmp_path, toy, no_kernel):
    bad = tmp_path / "gates.yaml"; bad.write_bytes(b"\xff\xfe gates")
    code, _, err = _main("run", toy, "--gates", bad, "--out", tmp_path / "out")
    assert code == 2 and "gates file" in _one_line(err) and str(bad) in err


def test_gates_file_that_cannot_be_read_is_exit_2(tmp_path, toy, no_kernel, monkeypatch):
    "A gates file the process may not read (as a non-root user would meet it) is a bad input, not a crash."
    gates = tmp_path / "gates.yaml"; gates.write_text("- toy.n >= 1\n")
    import builtins, io
    real = io.open
    def denied(file, *a, **k):
        if str(file) == str(gates): raise PermissionError(13, "Permission denied", str(file))
        return real(file, *a, **k)
    monkeypatch.setattr(io, "open", denied); monkeypatch.setattr(builtins, "open", denied)
    code, _, err = _main("run", toy, "--gates", gates, "--out", tmp_path / "out")
    line = _one_line(err)
    assert code == 2 and line.startswith("prodkit run: error: gates file could not be read: PermissionError: [Errno 13] Permission denied"), err


def test_no_gates_reaches_the_job_and_excludes_gates(tmp_path, toy, calls):
    code, _, _ = _main("run", toy, "--no-gates", "--out", tmp_path / "out")
    assert code == 0 and calls[-1]["no_gates"] is True and calls[-1]["gates"] is None
    code, _, err = _main("run", toy, "--no-gates", "--gates", "toy.n >= 1", "--out", tmp_path / "out")
    assert code == 2 and "not allowed with argument" in err and len(calls) == 1


def test_flags_not_given_are_not_passed(tmp_path, toy, calls):
    assert _main("run", toy, "--out", tmp_path / "out")[0] == 0
    assert "no_gates" not in calls[-1] and "force" not in calls[-1] and "trust_model" not in calls[-1]["parameters"]
    assert calls[-1]["cell_timeout_s"] == 600


@pytest.mark.parametrize("cmd", ["run", "validate", "demo"])
def test_force_reaches_the_job(tmp_path, toy, calls, monkeypatch, cmd):
    import prodkit.demo
    monkeypatch.setattr(prodkit.demo, "write_demo", lambda d, seed=0, **kw: {"bundle": d / "b", "reference": d / "r", "current": d / "c"})
    args = {"run": ["run", toy], "validate": ["validate", "-m", "b", "-r", "r", "-c", "c"], "demo": ["demo"]}[cmd]
    code, _, err = _main(*args, "--force", "--out", tmp_path / "out")
    assert code == 0, err
    assert calls[-1]["force"] is True and calls[-1]["template"] == (str(toy) if cmd == "run" else "validation")


# ------------------------------------------------------------------------------------------- 2. options and exit codes
@pytest.mark.parametrize("value", ["2.5", "nan", "inf", "0", "-1", "1e3", "ten"])
def test_bad_cell_timeout_is_exit_2_with_the_fix(tmp_path, toy, no_kernel, value):
    code, _, err = _main("run", toy, "--cell-timeout", value, "--out", tmp_path / "out")
    line = _one_line(err)
    assert code == 2 and f"--cell-timeout must be a whole number of seconds from 1 to 604800 (got '{value}')" in line
    assert "Fix: e.g. --cell-timeout 600" in line and not (tmp_path / "out").exists()


def test_cell_timeout_reaches_the_job_as_whole_seconds(tmp_path, toy, calls):
    assert _main("run", toy, "--cell-timeout", "15", "--out", tmp_path / "out")[0] == 0
    assert calls[-1]["cell_timeout_s"] == 15 and type(calls[-1]["cell_timeout_s"]) is int


@pytest.mark.parametrize("exc, words", [
    (OSError(28, "No space left on device"), "failed: OSError: [Errno 28] No space left on device"),
    (PermissionError(13, "Permission denied", "/ro/out"), "failed: PermissionError: [Errno 13] Permission denied: '/ro/out'"),
    (KeyError("results"), "failed: prodkit itself raised KeyError: 'results'"),
])
def test_a_failure_during_the_job_is_exit_4_with_one_line(tmp_path, toy, monkeypatch, exc, words):
    import prodkit.jobs
    def crash(*a, **k): raise exc
    monkeypatch.setattr(prodkit.jobs, "run_notebook", crash)
    code, _, err = _main("run", toy, "--out", tmp_path / "out")
    assert code == 4 and _one_line(err).startswith(f"prodkit run: {words}"), err


def test_an_error_that_carries_its_exit_code_keeps_it(tmp_path, toy, monkeypatch):
    "prodkit.jobs.JobError is a ProdkitError carrying `exit_code` 4: the command exits with it, not with 2."
    import prodkit.jobs
    from prodkit.core import ProdkitError
    def crash(*a, **k): raise ProdkitError("the kernel could not start", value="python3", fix="check --kernel", exit_code=4)
    monkeypatch.setattr(prodkit.jobs, "run_notebook", crash)
    code, _, err = _main("run", toy, "--out", tmp_path / "out")
    assert code == 4 and _one_line(err) == "prodkit run: error: the kernel could not start (got 'python3'). Fix: check --kernel"


def test_debug_shows_the_traceback(tmp_path, toy, monkeypatch):
    import prodkit.jobs
    def crash(*a, **k): raise KeyError("results")
    monkeypatch.setattr(prodkit.jobs, "run_notebook", crash)
    code, _, err = _main("run", toy, "--out", tmp_path / "out", "--debug")
    assert code == 4 and "Traceback" in err and err.strip().splitlines()[-1].startswith("prodkit run: failed:")


def test_exit_4_in_a_subprocess_prints_one_line(tmp_path):
    "A full disk while the report is written: exit 4, one line, no traceback (the runner is replaced in the child process)."
    toy = toy_template(tmp_path / "toy.ipynb")
    script = ("import sys, prodkit.jobs\n"
              "def full(*a, **k): raise OSError(28, 'No space left on device', 'out/toy.html')\n"
              "prodkit.jobs.run_notebook = full\n"
              "from prodkit.cli import main\n"
              f"sys.exit(main(['run', {str(toy)!r}, '--out', {str(tmp_path / 'out')!r}]))\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 4, r.stderr
    assert r.stderr.strip().splitlines() == ["prodkit run: failed: OSError: [Errno 28] No space left on device: 'out/toy.html' "
                                             "(check the disk space and that the folders are writable)"]


# ------------------------------------------------------------------------------------------- 4. supply chain
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    import torch
    from torch import nn
    from prodkit.versioning import save_bundle
    torch.manual_seed(0)
    return save_bundle(tmp_path_factory.mktemp("b") / "bundle", nn.Linear(3, 2), None, output="logits", example=torch.zeros(2, 3))


def _sha(p): return hashlib.sha256(Path(p).read_bytes()).hexdigest()


@pytest.fixture
def exports(monkeypatch):
    "Replace `export_bundle` with a recorder that writes nothing."
    import prodkit.export
    seen = []
    class Rep:
        summary = {"passed": True, "max_abs_err": 0.0}
        def headline(self): return "export passed (fake)"
    def fake(model, out, **kw): seen.append({"model": model, "out": out, **kw}); return Rep()
    monkeypatch.setattr(prodkit.export, "export_bundle", fake)
    return seen


def test_export_refuses_a_model_other_than_the_expected_one(tmp_path, bundle, exports):
    good, other = _sha(Path(bundle) / "bundle.json"), "ab" * 32
    code, _, err = _main("export", "-m", bundle, "-o", tmp_path / "m.pt", "--expect-sha256", other)
    line = _one_line(err)
    assert code == 2 and f"has sha256 {good}, not the expected {other}" in line and exports == []
    assert not (tmp_path / "m.pt").exists()
    assert _main("export", "-m", bundle, "-o", tmp_path / "m.pt", "--expect-sha256", good.upper())[0] == 0 and len(exports) == 1
    assert exports[-1]["expect_sha256"] == good   # the loader checks it again as it reads the bundle
    assert _main("export", "-m", bundle, "-o", tmp_path / "m.pt", "--expect-sha256", "sha256:" + good)[0] == 0 and len(exports) == 2


def test_expect_results_takes_the_digest_a_validation_recorded(tmp_path, bundle, exports, calls):
    good = _sha(Path(bundle) / "bundle.json")
    res = tmp_path / "results.json"
    res.write_text(json.dumps({"artifacts": {"model": {"path": str(bundle), "sha256": good}}}))
    assert _main("export", "-m", bundle, "-o", tmp_path / "m.pt", "--expect-results", res)[0] == 0 and len(exports) == 1
    res.write_text(json.dumps({"artifacts": {"model": {"path": str(bundle), "sha256": "0" * 64}}}))
    code, _, err = _main("validate", "-m", bundle, "-r", "r.csv", "-c", "c.csv", "--expect-results", res, "--out", tmp_path / "o")
    assert code == 2 and f"has sha256 {good}, not the expected {'0' * 64}" in _one_line(err) and calls == []
    res.write_text(json.dumps({"exit_code": 0, "results": {}}))   # a results.json without the digest
    code, _, err = _main("export", "-m", bundle, "-o", tmp_path / "m.pt", "--expect-results", res)
    assert code == 2 and "records no model digest (artifacts.model.sha256)" in _one_line(err) and len(exports) == 1


@pytest.mark.parametrize("value", ["abc", "g" * 64, "0" * 63])
def test_expect_sha256_must_be_a_digest(tmp_path, bundle, exports, value):
    code, _, err = _main("export", "-m", bundle, "-o", tmp_path / "m.pt", "--expect-sha256", value)
    assert code == 2 and "64 hexadecimal digits" in _one_line(err) and exports == []


def test_run_checks_the_model_parameter_digest(tmp_path, bundle, trusting_toy, toy, calls):
    good = _sha(Path(bundle) / "bundle.json")
    assert _main("run", trusting_toy, "-p", "model", bundle, "--expect-sha256", good, "--out", tmp_path / "o")[0] == 0
    code, _, err = _main("run", trusting_toy, "-p", "model", bundle, "--expect-sha256", "1" * 64, "--out", tmp_path / "o")
    assert code == 2 and "not the expected 1111" in _one_line(err) and len(calls) == 1
    code, _, err = _main("run", toy, "--expect-sha256", good, "--out", tmp_path / "o")   # the toy has no model parameter
    assert code == 2 and "check the `model` parameter" in _one_line(err) and len(calls) == 1


def test_a_device_is_not_hashed_for_ever(tmp_path, exports):
    code, _, err = _main("export", "-m", "/dev/zero", "-o", tmp_path / "m.pt", "--expect-sha256", "0" * 64)
    assert code == 2 and "not a regular file" in _one_line(err) and exports == []


# ------------------------------------------------------------------------------------------- 5. trust
def test_trust_model_reaches_export_and_the_template(tmp_path, bundle, exports, calls, trusting_toy):
    assert _main("export", "-m", bundle, "-o", tmp_path / "m.pt")[0] == 0
    assert "trust" not in exports[-1] and "expect_sha256" not in exports[-1]
    assert _main("export", "-m", bundle, "-o", tmp_path / "m.pt", "--trust-model")[0] == 0 and exports[-1]["trust"] is True
    assert _main("run", trusting_toy, "--trust-model", "--out", tmp_path / "o")[0] == 0
    assert calls[-1]["parameters"]["trust_model"] is True


def test_trust_model_on_a_template_that_cannot_honour_it_is_refused(tmp_path, toy, calls):
    code, _, err = _main("run", toy, "--trust-model", "--out", tmp_path / "o")
    assert code == 2 and "declares no `trust_model` parameter" in _one_line(err) and calls == []


# ------------------------------------------------------------------------------------------- 3. files prodkit did not write
def test_export_never_replaces_a_file_it_did_not_write(tmp_path, bundle, exports):
    thesis, config = tmp_path / "thesis.docx", tmp_path / "config.json"
    thesis.write_bytes(b"PK\x03\x04 four years of work"); config.write_text('{"database": "prod"}')
    code, _, err = _main("export", "-m", bundle, "-o", thesis)
    assert code == 2 and f"--out {thesis} exists and prodkit did not write it" in _one_line(err) and "--force" in err
    code, _, err = _main("export", "-m", bundle, "-o", tmp_path / "new.pt", "--json", config)
    assert code == 2 and f"--json {config} exists and prodkit did not write it" in _one_line(err)
    assert exports == [] and thesis.read_bytes() == b"PK\x03\x04 four years of work" and config.read_text() == '{"database": "prod"}'
    assert _main("export", "-m", bundle, "-o", tmp_path / "new.pt", "--json", config, "--force")[0] == 0
    written = json.loads(config.read_text())
    assert written["prodkit"] == "export-summary" and written["passed"] is True
    assert _main("export", "-m", bundle, "-o", tmp_path / "new.pt", "--json", config)[0] == 0   # its own summary: replaced
    assert len(exports) == 2 and not list(tmp_path.glob(".config.json*"))


def test_export_replaces_its_own_artifact(tmp_path, bundle, exports):
    import torch
    from torch import nn
    from prodkit.export import export_torchscript
    out = tmp_path / "m.pt"
    export_torchscript(nn.Linear(3, 2).eval(), torch.zeros(4, 3), out, repeats=2, progress=False)
    assert _main("export", "-m", bundle, "-o", out)[0] == 0 and exports[-1]["out"] == str(out)
    code, _, err = _main("export", "-m", bundle, "-o", tmp_path)   # a folder is never replaced, even with --force
    assert code == 2 and "--out names a folder" in _one_line(err)


# ------------------------------------------------------------------------------------------- 6. a name is a template
def test_run_help_says_a_path_is_written_as_a_path():
    code, out, _ = _main("run", "--help")
    assert code == 0 and "./job.ipynb" in out and "a bare name never runs a local file" in " ".join(out.split())


def test_each_gate_line_says_pass_fail_or_skip(tmp_path, toy, monkeypatch):
    "A default gate of a section turned off (passed=None) prints SKIP, never FAIL or PASS."
    import prodkit.jobs
    res = _Res(1)
    res.gates.rows = [{"gate": "quality.auc >= 0.8", "value": 0.9, "passed": True, "reason": ""},
                      {"gate": "load.p99_ms <= 50", "value": None, "passed": None, "reason": "section skipped: run_load is false"},
                      {"gate": "drift.share_drifted <= 0.2", "value": 0.5, "passed": False, "reason": "0.5 <= 0.2 is false"}]
    monkeypatch.setattr(prodkit.jobs, "run_notebook", lambda *a, **k: res)
    code, out, _ = _main("run", toy, "--out", tmp_path / "out")
    words = [l.split()[0] for l in out.splitlines() if l.startswith("  ")]
    assert code == 1 and words == ["PASS", "SKIP", "FAIL"], out
