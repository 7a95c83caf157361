"""Shared test configuration: keep Jupyter, IPython and matplotlib out of the home folder."""
import os, signal, tempfile
from pathlib import Path

_scratch = Path(os.environ.get("PRODKIT_TEST_HOME") or tempfile.mkdtemp(prefix="prodkit-test-home-"))
for var, sub in [("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"), ("JUPYTER_CONFIG_DIR", "jupyter-config"),
                 ("JUPYTER_DATA_DIR", "jupyter-data"), ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")]:
    os.environ.setdefault(var, str(_scratch / sub))
os.environ.setdefault("MPLBACKEND", "Agg")

# The tests that press Ctrl-C send SIGINT to `prodkit` processes they start, which inherit this process's SIGINT
# disposition. A suite started with SIGINT ignored (a background job of a non-interactive shell: `bash .ci/run &`,
# nohup) would start them ignoring it, and `prodkit` deliberately keeps an ignored SIGINT ignored
# (test_an_ignored_sigint_stays_ignored), so those tests would wait for a stop that never comes. The children get
# the default disposition: a handler here is reset to SIG_DFL in every process this one starts.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Timing-sensitive tests: they measure latencies, deadlines, signals and timeouts against the wall clock, so
# tools/check.py runs them alone after the rest of the suite has run on two workers (pytest-xdist), never beside
# another CPU-bound test of the suite itself. They must still pass on a busy machine; they need not share it with
# the suite's own other half.
_SERIAL_MODULES = {"test_load.py", "test_serve.py", "test_jobs_interrupt.py", "test_cli_signals.py",
                   "test_templates_load.py", "test_guard.py"}
_SERIAL_TESTS = {"test_cell_timeout_is_exit_3", "test_killed_run_keeps_the_old_report",
                 "test_interrupted_run_exits_130_and_keeps_the_old_report", "test_terminated_run_leaves_no_report",
                 "test_cell_over_its_timeout_exits_3_on_the_command_line", "test_acknowledged_rows_survive_sigkill"}


def pytest_collection_modifyitems(config, items):
    import pytest
    for item in items:
        if item.path.name in _SERIAL_MODULES or item.originalname in _SERIAL_TESTS:
            item.add_marker(pytest.mark.serial)
