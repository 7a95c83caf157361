"""Ctrl-C and SIGTERM stop the `prodkit` command within seconds, also on a busy machine: the first signal unwinds the job
(its clean-up runs) and exits 130/143 with one line; a second signal, or a clean-up that hangs, stops the process at
once without a traceback and kills the processes it started. The job here is a stand-in for `run_notebook` that sleeps
and starts a child process (as a kernel is), so each run costs one interpreter start, not a kernel; the kernel side is
tested with real kernels in tests/test_bad_input.py."""
import os, signal, subprocess, sys, time
from pathlib import Path

import psutil
import pytest

JOB = r'''
import os, subprocess, sys, time
from pathlib import Path
import prodkit.cli, prodkit.jobs
d, cleanup, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
if len(sys.argv) > 4: prodkit.cli.STOP_GRACE_S = float(sys.argv[4])
def job(*a, **k):
    kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (d / "kid.pid").write_text(str(kid.pid))
    try:
        (d / "running").write_text("1")
        time.sleep(600)
    finally:
        (d / "cleanup-started").write_text("1")
        if cleanup == "hang": time.sleep(600)
        kid.kill(); kid.wait()
        (d / "cleaned").write_text("1")
prodkit.jobs.run_notebook = job
args = ["run", "toy", "--out", str(d / "out"), "-q"]
if mode == "command":   # as the `prodkit` script calls it
    sys.argv = ["prodkit", *args]; sys.exit(prodkit.cli.main())
code = prodkit.cli.main(args)   # as a library: the caller's process must go on
print("RETURNED", code); sys.exit(0)
'''

BOUND_S = 20   # generous: the stop itself takes well under a second; this only catches a hang


def _start(tmp_path, cleanup="quick", grace=None, mode="command", **popen):
    (tmp_path / "job.py").write_text(JOB)
    args = [sys.executable, str(tmp_path / "job.py"), str(tmp_path), cleanup, mode] + ([str(grace)] if grace else [])
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    _wait_for(tmp_path / "running", p)
    return p


def _wait_for(path, p, within=180):
    deadline = time.time() + within
    while not path.exists():
        if p.poll() is not None: pytest.fail(f"the command ended early: {p.returncode} {p.stderr.read()}")
        if time.time() > deadline: p.kill(); pytest.fail(f"{path.name} never appeared")
        time.sleep(0.05)


def _lines(err): return [l for l in err.splitlines() if l.strip()]


def _kid_gone(tmp_path, within=10):
    pid = int((tmp_path / "kid.pid").read_text())
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE: return True
        except psutil.NoSuchProcess: return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return False


@pytest.fixture
def burners():
    "Processes spinning on the CPU, started when the test asks: a machine busy with other work."
    started = []
    yield lambda n=2: started.extend(subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n))
    for b in started: b.kill(); b.wait()


@pytest.mark.parametrize("rep", range(3))
def test_first_signal_unwinds_the_job_and_stops_within_seconds_on_a_busy_machine(tmp_path, burners, rep):
    sig = (signal.SIGINT, signal.SIGTERM)[rep % 2]
    p = _start(tmp_path)
    burners(2); time.sleep(0.5)   # both cores busy while the job stops
    t0 = time.time(); p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    took = time.time() - t0
    print(f"stopped {took:.2f} s after {signal.Signals(sig).name}")
    assert p.returncode == 128 + sig, (p.returncode, err)
    assert _lines(err) == ["prodkit run: " + ("interrupted" if sig == signal.SIGINT else "terminated")], err
    assert (tmp_path / "cleaned").exists(), "the job's clean-up did not run"
    assert _kid_gone(tmp_path)
    assert took < BOUND_S, f"took {took:.1f} s to stop"


def test_second_signal_during_a_stuck_clean_up_stops_at_once(tmp_path):
    p = _start(tmp_path, cleanup="hang")
    p.send_signal(signal.SIGINT)
    _wait_for(tmp_path / "cleanup-started", p)
    t0 = time.time(); p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "Traceback" not in err, (p.returncode, err)
    assert _lines(err) == ["prodkit run: interrupted (a second signal: stopped without waiting for the clean-up)"], err
    assert _kid_gone(tmp_path), "the child process outlived the command"
    assert time.time() - t0 < BOUND_S


def test_called_as_a_library_a_second_signal_never_ends_the_callers_process(tmp_path):
    p = _start(tmp_path, cleanup="hang", mode="library")
    p.send_signal(signal.SIGINT)
    _wait_for(tmp_path / "cleanup-started", p)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and out.strip() == "RETURNED 130", (p.returncode, out, err)
    assert _lines(err) == ["prodkit run: interrupted"], err
    assert _kid_gone(tmp_path), "the child process outlived the interrupted call"


def test_a_clean_up_that_hangs_is_cut_short(tmp_path):
    p = _start(tmp_path, cleanup="hang", grace=1)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143 and "Traceback" not in err, (p.returncode, err)
    assert _lines(err) == ["prodkit run: terminated (the clean-up took over 1.0 s: stopped)"], err
    assert _kid_gone(tmp_path) and not (tmp_path / "cleaned").exists()


def test_an_ignored_sigint_stays_ignored(tmp_path):
    "Started with SIGINT ignored (nohup, a background job of a script), the command keeps ignoring it; SIGTERM still stops it."
    p = _start(tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    p.send_signal(signal.SIGINT); time.sleep(1)
    assert p.poll() is None, "an ignored SIGINT stopped the command"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143 and _lines(err) == ["prodkit run: terminated"], err


def test_handlers_are_installed_before_torch_is_imported(tmp_path):
    script = ("import signal, sys\n"
              "seen, real = [], signal.signal\n"
              "def spy(s, h):\n"
              "    if s == signal.SIGTERM and callable(h): seen.append('torch' in sys.modules)\n"
              "    return real(s, h)\n"
              "signal.signal = spy\n"
              "from prodkit.cli import main\n"
              f"code = main(['export', '--model', {str(tmp_path / 'missing')!r}, '--out', {str(tmp_path / 'x.pt')!r}])\n"
              "print('SEEN', seen, 'TORCH', 'torch' in sys.modules, 'CODE', code)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.stdout.strip().splitlines()[-1] == "SEEN [False] TORCH True CODE 2", (r.stdout[-500:], r.stderr)
