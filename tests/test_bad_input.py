"""Bad input everywhere: every `tests/cases_bad_input_*.py` contributes `CASES` (one mistake each); each must raise
the exact `ProdkitError` subclass named, with a message naming the problem and the fix. CLI cases must exit with
code 2 and a one-line message; jobs cases (a dying kernel, a cell over its timeout, an interrupted run) must end with
a clear exit code and leave no report that looks complete."""
import importlib.util
from pathlib import Path

import pytest

from prodkit.core import ProdkitError

HERE = Path(__file__).parent


def _collect():
    cases = []
    for f in sorted(HERE.glob("cases_bad_input_*.py")):
        spec = importlib.util.spec_from_file_location(f"_bad_input_{f.stem}", f)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cases += [c if isinstance(c, type(pytest.param(None))) else pytest.param(*c) for c in mod.CASES]
    return cases


CASES = _collect()


@pytest.mark.parametrize("fn, error, words", CASES)
def test_bad_input_raises_the_specific_error(fn, error, words):
    with pytest.raises(ProdkitError) as ei:
        fn()
    e = ei.value
    assert type(e) is error, f"expected {error.__name__}, got {type(e).__name__}: {e}"
    assert words.lower() in str(e).lower(), f"{words!r} not in message: {e}"


@pytest.mark.parametrize("fn, error, words", CASES)
def test_bad_input_message_says_the_fix(fn, error, words):
    with pytest.raises(ProdkitError) as ei:
        fn()
    assert ei.value.fix and "Fix:" in str(ei.value), f"no fix in: {ei.value}"


def _cases_per_file():
    "Each cases_bad_input_*.py file with the number of cases its CASES holds."
    out = {}
    for f in sorted(HERE.glob("cases_bad_input_*.py")):
        spec = importlib.util.spec_from_file_location(f"_bad_input_count_{f.stem}", f)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out[f.name] = len(mod.CASES)
    return out


def test_enough_distinct_cases():
    "Every case is its own: a unique id, its own callable, a ProdkitError subclass and words to find; no file is empty."
    ids = [c.id for c in CASES]
    assert all(ids), "every case needs an id"
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len({c.values[0] for c in CASES}) == len(CASES), "each case must have its own callable"
    assert all(isinstance(c.values[1], type) and issubclass(c.values[1], ProdkitError) for c in CASES)
    assert [c.id for c in CASES if not str(c.values[2]).strip()] == [], "empty words match every message"
    per_file = _cases_per_file()
    assert per_file and [f for f, n in per_file.items() if n == 0] == [], per_file


def test_bad_monitor_arguments_leave_no_file(tmp_path):
    from prodkit.monitor import Monitor
    p = tmp_path / "m.sqlite"
    for kw in ({"sample_rate": 0}, {"sample_rate": 2.0}, {"batch_size": 0}, {"synchronous": "OFF"}, {"flush_interval_s": -1}):
        with pytest.raises(ProdkitError):
            Monitor(lambda d: [[0.5, 0.5]] * len(d), p, version="v", **kw)
        assert not p.exists() and list(tmp_path.iterdir()) == []


def test_junk_store_is_left_untouched(tmp_path):
    from prodkit.monitor import Monitor
    p = tmp_path / "m.sqlite"
    junk = b"not a database" * 100
    p.write_bytes(junk)
    with pytest.raises(ProdkitError):
        Monitor(lambda d: [[0.5, 0.5]] * len(d), p, version="v")
    assert p.read_bytes() == junk


# ---------------------------------------------------------------------------------------------- the command line
import glob, os, signal, subprocess, sys, time

sys.path.insert(0, str(HERE))
_SCRIPT = Path(sys.executable).parent / "prodkit"
PRODKIT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "prodkit.cli"]


def _cli(*args, timeout=600):
    return subprocess.run([*PRODKIT, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    import prodkit.cli  # noqa: F401  (the command must import; a failure here is a failure, not a skip)
    from prodkit.demo import write_demo
    d = tmp_path_factory.mktemp("demo")
    paths = write_demo(d / "demo", seed=0)
    (d / "bad.parquet").write_bytes(b"PAR1 not a parquet file")
    import pickle
    (d / "model.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    (d / "gates.yaml").write_text("gates: [quality.auc >= 0.5\n")
    return {k: str(v) for k, v in paths.items()} | {"dir": str(d)}


CLI_CASES = [  # (argument list with {placeholders}, words of the one-line message), each found before a kernel starts
    pytest.param(["run", "no_such_template", "--out", "{dir}/o"], "unknown template `no_such_template`", id="cli-unknown-template"),
    pytest.param(["run", "{dir}/missing.ipynb", "--out", "{dir}/o"], "template notebook does not exist", id="cli-missing-template-file"),
    pytest.param(["run", "validation", "-p", "sed", "1", "--out", "{dir}/o"], "did you mean `seed`?", id="cli-unknown-parameter"),
    pytest.param(["validate", "-m", "{bundle}", "-r", "{reference}", "-c", "{current}", "--seed", "x", "--out", "{dir}/o"],
                 "argument --seed: invalid int value", id="cli-seed-not-an-int"),
    pytest.param(["validate", "-m", "{bundle}", "-r", "{reference}", "-c", "{current}", "-p", "run_drift", "perhaps", "--out", "{dir}/o"],
                 "parameter `run_drift` of template `validation` must be a bool", id="cli-bool-parameter-not-bool"),
    pytest.param(["validate", "-m", "{dir}/nope", "-r", "{reference}", "-c", "{current}", "--out", "{dir}/o"],
                 "parameter `model`: path does not exist", id="cli-missing-model"),
    pytest.param(["validate", "-m", "{bundle}", "-r", "{dir}/nope.parquet", "-c", "{current}", "--out", "{dir}/o"],
                 "parameter `reference`: path does not exist", id="cli-missing-reference"),
    pytest.param(["validate", "-m", "{bundle}", "-r", "{reference}", "-c", "{current}", "--gates", "quality.auc >= high", "--out", "{dir}/o"],
                 "orders by >= but its threshold is not a number", id="cli-gate-threshold-not-a-number"),
    pytest.param(["validate", "-m", "{bundle}", "-r", "{reference}", "-c", "{current}", "--gates", "{dir}/gates.yaml", "--out", "{dir}/o"],
                 "gates file is not valid YAML/JSON", id="cli-corrupt-gates-file"),
    pytest.param(["run", "validation", "-y", "[1, 2]", "--out", "{dir}/o"], "-y must be a YAML mapping", id="cli-yaml-not-a-mapping"),
]


@pytest.mark.parametrize("args, words", CLI_CASES)
def test_cli_bad_input_exits_2_with_one_line(demo_files, args, words):
    r = _cli(*[a.format(**demo_files) for a in args])
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert words in lines[-1], r.stderr
    assert "Traceback" not in r.stderr
    if "argument --seed" not in words:  # argparse prints its usage line first; prodkit's own errors are one line
        assert len(lines) == 1 and lines[0].startswith("prodkit ") and "Fix:" in lines[0], r.stderr
    assert not os.path.exists(os.path.join(demo_files["dir"], "o", "validation.html"))


# Bad files that exist are found before the kernel starts (the template declares what its path parameters hold):
# exit 2 with one line, no report.
CLI_DATA_CASES = [
    pytest.param(["validate", "-m", "{bundle}", "-r", "{reference}", "-c", "{dir}/bad.parquet", "--out", "{dir}/o"],
                 "current data file could not be read as parquet", id="cli-corrupt-current-data"),
    pytest.param(["validate", "-m", "{dir}/model.pkl", "-r", "{reference}", "-c", "{current}", "--out", "{dir}/o"],
                 "prodkit never unpickles model files", id="cli-pickled-model"),
    pytest.param(["validate", "-m", "{bundle}", "-r", "{dir}/bad.parquet", "-c", "{current}", "--out", "{dir}/o"],
                 "reference data file could not be read as parquet", id="cli-corrupt-reference-data"),
]


@pytest.mark.parametrize("args, words", CLI_DATA_CASES)
def test_cli_bad_files_are_refused_before_the_kernel(demo_files, args, words):
    r = _cli(*[a.format(**demo_files) for a in args])
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("prodkit validate: error:") and "Fix:" in lines[0], r.stderr
    assert not os.path.exists(os.path.join(demo_files["dir"], "o", "validation.html"))


@pytest.fixture
def no_kernel(monkeypatch):
    "Any attempt to execute a notebook fails the test: the error must come before a kernel starts."
    import prodkit.jobs
    def refuse(*a, **k): raise AssertionError("a kernel was started")
    monkeypatch.setattr(prodkit.jobs, "_execute", refuse)


@pytest.mark.parametrize("what", ["pickle-file", "pickle-in-bundle"])
def test_pickled_model_is_exit_2_without_a_kernel_and_never_unpickled(demo_files, tmp_path, capsys, no_kernel, what):
    import pickle, shutil
    from prodkit.cli import main
    marker = tmp_path / "UNPICKLED"
    if what == "pickle-file":
        pkl = tmp_path / "model.pkl"; pkl.write_bytes(pickle.dumps(_Booby(marker)))
        code = main(["validate", "-m", str(pkl), "-r", demo_files["reference"], "-c", demo_files["current"], "--out", str(tmp_path / "o")])
        words = "never unpickles model files"
    else:   # a bundle whose model file was swapped for a pickle: the bundle's digests catch it
        bundle = tmp_path / "bundle"; shutil.copytree(demo_files["bundle"], bundle)
        (bundle / "model.pt").write_bytes(pickle.dumps(_Booby(marker)))
        code = main(["validate", "-m", str(bundle), "-r", demo_files["reference"], "-c", demo_files["current"], "--out", str(tmp_path / "o")])
        words = "bundle file model.pt was changed or damaged"
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not marker.exists(), "a pickle was unpickled"
    assert not (tmp_path / "o" / "validation.html").exists()


def test_corrupt_table_is_exit_2_without_a_kernel(demo_files, tmp_path, capsys, no_kernel):
    from prodkit.cli import main
    empty = tmp_path / "empty.csv"; empty.write_text("a,b\n")
    for path, words in ((demo_files["dir"] + "/bad.parquet", "current data file could not be read as parquet"),
                        (str(empty), "current data is empty (0 rows)")):
        code = main(["validate", "-m", demo_files["bundle"], "-r", demo_files["reference"], "-c", path, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and words in err, err


@pytest.mark.slow
def test_data_that_do_not_fit_the_model_are_still_found_by_the_template(demo_files, tmp_path):
    "A readable table that misses a feature column is not a bad file: the template's load cell finds it (exit 3, FAILED)."
    import pandas as pd
    cur = pd.read_parquet(demo_files["current"])
    feature = next(c for c in cur.columns if c not in ("label", "timestamp"))
    cur.drop(columns=[feature]).to_parquet(tmp_path / "cur.parquet")
    r = _cli("validate", "-m", demo_files["bundle"], "-r", demo_files["reference"], "-c", tmp_path / "cur.parquet", "--out", tmp_path / "o", "-q")
    assert r.returncode == 3, r.stderr
    assert feature in r.stderr and "Traceback" not in r.stderr
    html = (tmp_path / "o" / "validation.html").read_text()
    assert "FAILED" in html and ">PASSED<" not in html


# ---------------------------------------------------------------------------------------------- jobs that end badly
def _toy_with(tmp_path, middle_cell):
    import nbformat
    from _toy import toy_template
    p = toy_template(tmp_path / "toy.ipynb")
    nb = nbformat.read(p, as_version=4)
    nb.cells[4].source = middle_cell + "\nSECRET_SOURCE_MARKER = 1"
    nbformat.write(nb, p)
    return p


def _looks_failed(out, stem="toy"):
    "The report and results say FAILED; nothing claims the run passed."
    import json
    res = json.loads((out / "results.json").read_text())
    html = (out / f"{stem}.html").read_text()
    return res["exit_code"] == 3 and res["passed"] is False and "FAILED" in html and ">PASSED<" not in html and "toy.done" not in res["results"]


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["import os; os._exit(1)", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                         ids=["jobs-kernel-exits", "jobs-kernel-sigkill"])
def test_dying_kernel_is_exit_3_and_the_report_says_failed(tmp_path, cell):
    from prodkit.jobs import run_notebook
    toy = _toy_with(tmp_path, cell)
    r = run_notebook(toy, {}, tmp_path / "out")
    assert r.exit_code == 3 and r.failed_cell["ename"] == "DeadKernelError"
    assert _looks_failed(tmp_path / "out")
    assert "Kernel died" in r.message


@pytest.mark.slow
def test_dying_kernel_names_the_cell(tmp_path):
    from prodkit.jobs import run_notebook
    r = run_notebook(_toy_with(tmp_path, "import os; os._exit(1)"), {}, tmp_path / "out")
    assert r.failed_cell["index"] == 4 and "cell 4" in r.message and "Kernel died" in r.message
    assert r.failed_cell["first_line"] == "import os; os._exit(1)"   # the cell that was running, not the next one


@pytest.mark.slow
def test_dying_kernel_keeps_its_last_words_out_of_stderr(tmp_path, capfd):
    from prodkit.jobs import run_notebook
    cell = "import os, sys; sys.__stderr__.write('KERNEL-LAST-WORDS\\n'); sys.__stderr__.flush(); os._exit(1)"
    r = run_notebook(_toy_with(tmp_path, cell), {}, tmp_path / "out")
    assert r.exit_code == 3 and "KERNEL-LAST-WORDS" in r.message and r.failed_cell["kernel_log"].endswith("KERNEL-LAST-WORDS")
    err = capfd.readouterr().err
    assert "KERNEL-LAST-WORDS" not in err and "Kernel died while waiting" not in err, err
    assert _looks_failed(tmp_path / "out") and not list((tmp_path / "out").glob(".prodkit-run-*"))


@pytest.mark.slow
def test_cell_over_its_timeout_exits_3_on_the_command_line(tmp_path):
    import prodkit.cli  # noqa: F401  (the command must import; a failure here is a failure, not a skip)
    from _toy import toy_template
    toy = toy_template(tmp_path / "toy.ipynb")
    r = _cli("run", toy, "-p", "sleep_s", "120", "--cell-timeout", "15", "--out", tmp_path / "out", "-q")
    assert r.returncode == 3, r.stderr
    last = [l for l in r.stderr.splitlines() if l.strip()][-1]
    assert last.startswith("toy: FAILED: cell 4 raised CellTimeoutError: the cell exceeded cell_timeout_s=15 s") and "time.sleep" in last, r.stderr
    assert "-----" not in r.stderr, r.stderr   # not nbclient's separator line
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr   # the kernel's own traceback (ZMQError) and nbclient's log lines stay out of it
    assert _looks_failed(tmp_path / "out")


def _start_and_wait_in_sleeping_cell(tmp_path, old_report=True):
    import prodkit.cli  # noqa: F401  (the command must import; a failure here is a failure, not a skip)
    from _toy import toy_template
    toy = toy_template(tmp_path / "toy.ipynb")
    out = tmp_path / "out"
    if old_report: assert _cli("run", toy, "--out", out, "-q").returncode == 0          # an old, complete report
    p = subprocess.Popen([*PRODKIT, "run", str(toy), "-p", "sleep_s", "60", "--out", str(out), "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        tmp = glob.glob(str(out / ".prodkit-run-*" / "toy.ipynb"))
        if tmp and "time.sleep" in Path(tmp[0]).read_text() and '"status": "running"' in Path(tmp[0]).read_text(): break
        time.sleep(0.2)
    else:
        p.kill(); pytest.fail("the job never reached the sleeping cell")
    import psutil
    return p, out, psutil.Process(p.pid).children(recursive=True)


def _gone(procs, within=15):
    deadline = time.time() + within
    while time.time() < deadline:
        alive = [q for q in procs if q.is_running() and q.status() != "zombie"]
        if not alive: return True
        time.sleep(0.2)
    for q in alive: q.kill()
    return False


@pytest.mark.slow
def test_interrupted_run_exits_130_and_keeps_the_old_report(tmp_path):
    p, out, kids = _start_and_wait_in_sleeping_cell(tmp_path)
    before = {f: (out / f).read_bytes() for f in ("toy.ipynb", "toy.html", "results.json")}
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and [l for l in err.splitlines() if l.strip()] == ["prodkit run: interrupted"], err
    assert sorted(os.listdir(out)) == sorted(before)   # the old report, no new one, no hidden .prodkit-run-* folder
    assert {f: (out / f).read_bytes() for f in before} == before
    assert _gone(kids), "the kernel outlived the interrupted run"


@pytest.mark.slow
def test_terminated_run_leaves_no_report(tmp_path):
    p, out, kids = _start_and_wait_in_sleeping_cell(tmp_path, old_report=False)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGTERM, (p.returncode, err)
    assert [l for l in err.splitlines() if l.strip()] == ["prodkit run: terminated"], err
    assert os.listdir(out) == []   # no report, and no hidden .prodkit-run-* folder left behind
    assert _gone(kids), "the kernel outlived the terminated run"


# ---------------------------------------------------------------------------------------------- untrusted pickles
class _Booby:
    "Unpickling this creates a marker file: proof that a pickle was loaded."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (Path(self.marker),))


def test_pickled_model_files_are_refused_and_never_unpickled(tmp_path):
    import pickle, zipfile
    from prodkit.core import FileFormatError
    from prodkit import versioning
    marker = tmp_path / "UNPICKLED"
    raw = tmp_path / "model.pkl"; raw.write_bytes(pickle.dumps(_Booby(marker)))
    zipped = tmp_path / "model.pt"   # the layout of torch.save: a zip archive holding data.pkl
    with zipfile.ZipFile(zipped, "w") as z: z.writestr("model/data.pkl", pickle.dumps(_Booby(marker))); z.writestr("model/version", "3")
    for p in (raw, zipped):
        with pytest.raises(FileFormatError, match="never unpickles"):
            versioning.load_model_file(p)
    from prodkit import demo
    paths = demo.write_demo(tmp_path / "demo", seed=0)
    bundle = Path(paths["bundle"])
    (bundle / "model.pt").write_bytes(raw.read_bytes())
    with pytest.raises(FileFormatError, match="model.pt was changed or damaged"):   # the checksum in bundle.json is checked first
        versioning.load_bundle(bundle)
    assert not marker.exists(), "a pickle was unpickled"
