"""Ctrl-C and SIGTERM stop a job within seconds every time, also while other processes load every core: the exit code
says so, the earlier report stays as it was, no private folder and no kernel remain."""
import glob, os, signal, subprocess, sys, time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _toy import toy_template  # noqa: E402

_SCRIPT = Path(sys.executable).parent / "prodkit"
PRODKIT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "prodkit.cli"]
REPEATS, BOUND_S = 5, 30.0   # a generous bound: it must hold on a busy machine


@pytest.fixture
def cpu_burners():
    "One busy-looping process per core for the duration of the test."
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    yield procs
    for p in procs: p.kill()
    for p in procs: p.wait()


def _wait_in_sleeping_cell(p, out, within=180):
    deadline = time.time() + within
    while time.time() < deadline:
        tmp = glob.glob(str(out / ".prodkit-run-*" / "toy.ipynb"))
        if tmp:
            text = Path(tmp[0]).read_text()
            if "time.sleep" in text and '"status": "running"' in text: return
        if p.poll() is not None: pytest.fail(f"the job ended early: {p.returncode} {p.stderr.read()}")
        time.sleep(0.2)
    p.kill(); pytest.fail("the job never reached the sleeping cell")


def _gone(procs, within=10):
    deadline = time.time() + within
    while time.time() < deadline:
        if not [q for q in procs if q.is_running() and q.status() != "zombie"]: return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_interrupt_stops_the_job_quickly_every_time_under_cpu_load(tmp_path, cpu_burners):
    import psutil
    toy = toy_template(tmp_path / "toy.ipynb")
    out = tmp_path / "out"
    assert subprocess.run([*PRODKIT, "run", str(toy), "--out", str(out), "-q"], capture_output=True).returncode == 0
    before = {f: (out / f).read_bytes() for f in os.listdir(out)}
    assert sorted(before) == ["results.json", "toy.html", "toy.ipynb"]
    took = []
    for i in range(REPEATS):
        sig, code, word = (signal.SIGINT, 130, "interrupted") if i % 2 == 0 else (signal.SIGTERM, 143, "terminated")
        p = subprocess.Popen([*PRODKIT, "run", str(toy), "-p", "sleep_s", "120", "--out", str(out), "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_in_sleeping_cell(p, out)
        kids = psutil.Process(p.pid).children(recursive=True)
        t0 = time.monotonic()
        p.send_signal(sig)
        try: _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill(); pytest.fail(f"repeat {i}: the job did not stop within 120 s of {sig.name}")
        took.append(time.monotonic() - t0)
        assert p.returncode == code and [l for l in err.splitlines() if l.strip()] == [f"prodkit run: {word}"], (i, p.returncode, err)
        assert sorted(os.listdir(out)) == sorted(before), (i, os.listdir(out))     # no private folder left, no new report
        assert {f: (out / f).read_bytes() for f in before} == before, i             # the earlier report is intact
        assert _gone(kids), f"repeat {i}: the kernel outlived the job"
    print(f"seconds from the signal to the exit, under load: {[round(t, 2) for t in took]}")
    assert max(took) < BOUND_S, took
