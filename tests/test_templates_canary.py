"""templates/canary.ipynb on real monitor stores: a canary with 20% more latency fails its gate, an A/A pair passes."""
import contextlib, json, time

import numpy as np
import pandas as pd
import pytest

from prodkit.jobs import run_notebook
from prodkit.monitor import Monitor

ROWS = pd.DataFrame({"a": np.linspace(-2, 2, 120), "b": np.linspace(1, -1, 120)})


def _model(ms):
    "A classifier that takes `ms` milliseconds a call."
    def model(df):
        time.sleep(ms / 1000)
        p = 1 / (1 + np.exp(-df["a"].to_numpy()))
        return np.c_[1 - p, p]
    return model


def _serve(stores, seed=0):
    """Send ROWS one call each through a Monitor per (path, ms, version) of `stores`, the stores taking turns call by
    call: a busy spell of the machine (other tests, other jobs) lengthens the calls of all of them alike."""
    with contextlib.ExitStack() as stack:   # every monitor opened is closed, also when a later one fails to open
        mons = [stack.enter_context(Monitor(_model(ms), path, task="classification", version=version, seed=seed))
                for path, ms, version in stores]
        for i in range(len(ROWS)):
            for m in mons: m.predict_proba(ROWS.iloc[[i]])
        for m in mons: m.flush()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("canary")
    # the same model twice (an A/A pair) and a canary 20% slower a call; calls of 20 ms, so that a loaded machine's
    # late wake-ups (a few ms, added to every call) leave the canary's increase well above the 10% allowed
    _serve([(d / "baseline.sqlite", 20, "v1"), (d / "same.sqlite", 20, "v1"), (d / "slower.sqlite", 24, "v2")])
    return d


@pytest.mark.parametrize("canary, exit_code, verdict, latency", [("same.sqlite", 0, "pass", "pass"),
                                                                  ("slower.sqlite", 1, "fail", "fail")], ids=["aa", "slower"])
def test_canary_gate_follows_the_verdict(stores, tmp_path, canary, exit_code, verdict, latency):
    r = run_notebook("canary", {"baseline": str(stores / "baseline.sqlite"), "canary": str(stores / canary),
                                "metrics": "latency_ms, confidence"}, tmp_path / "job")
    assert r.failed_cell is None, r.message
    q = r.results
    assert (q["canary.verdict"], q["canary.latency_ms_result"], q["canary.confidence_result"]) == (verdict, latency, "pass")
    assert r.exit_code == exit_code and [g["gate"] for g in r.gates.rows] == ["canary.passed == true"]
    if latency == "fail": assert 0.1 < q["canary.latency_ms_change"] < 0.3 and q["canary.latency_ms_p_value"] < 0.05
    page = r.html.read_text()
    assert f"canary {verdict.upper()}" in page and "data:image/png;base64" in page
    assert json.loads(r.results_json.read_text())["sections_off"] == {"canary.aa": "turned off (aa_splits=0)"}


def test_aa_calibration_shows_the_false_alarm_rate(stores, tmp_path):
    r = run_notebook("canary", {"baseline": str(stores / "baseline.sqlite"), "canary": str(stores / "same.sqlite"),
                                "aa_splits": 40, "metrics": "latency_ms"}, tmp_path / "job")
    assert r.failed_cell is None, r.message
    assert r.results["canary.aa.n_splits"] == 40 and 0 <= r.results["canary.aa.false_alarm_rate"] <= 0.2
    assert "false alarms" in r.html.read_text()


def test_one_store_two_versions_and_an_unknown_metric_fails_the_cell(stores, tmp_path):
    r = run_notebook("canary", {"baseline": str(stores / "baseline.sqlite"), "canary": str(stores / "baseline.sqlite"),
                                "canary_version": "v9"}, tmp_path / "job")
    assert r.exit_code == 3 and r.failed_cell["ename"] == "DataError"      # no rows of version v9: nothing to judge
    r = run_notebook("canary", {"baseline": str(stores / "baseline.sqlite"), "canary": str(stores / "same.sqlite"),
                                "metrics": "latency_ms, gpu_watts:increase"}, tmp_path / "job2")
    assert r.exit_code == 3 and "no column 'gpu_watts'" in r.failed_cell["evalue"]       # a metric the stores lack is an error
