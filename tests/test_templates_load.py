"""templates/load_test.ipynb pointed at a running `prodkit serve` (a real server on a free port of 127.0.0.1)."""
import sys
from pathlib import Path

import pytest

from prodkit.jobs import run_notebook
from prodkit.monitor import MonitorStore
from prodkit.serve import start_server

sys.path.insert(0, str(Path(__file__).parent))
from _serve_models import frame, write_bundles


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    "A classifier bundle served with a monitor store, and request rows for it."
    d = tmp_path_factory.mktemp("load_url")
    b = write_bundles(d)
    frame(200, seed=1).to_parquet(d / "rows.parquet")
    with start_server(b["clf"], monitor=d / "live.sqlite") as s:
        yield s, d, b


def test_load_test_drives_the_servers_predict(served, tmp_path):
    s, d, _ = served
    with MonitorStore(d / "live.sqlite") as st: before = len(st.window())
    r = run_notebook("load_test", {"url": s.url, "data": str(d / "rows.parquet"), "scenario": "server", "qps": 60.0,
                                   "duration_s": 1.5, "warmup_s": 0.2, "percentile": 50.0}, tmp_path / "job",
                     no_gates=True)      # a busy machine may mark the measurement invalid; what is checked here is where it went
    assert r.failed_cell is None and r.exit_code == 0, r.message
    n = r.results["load.n_requests"]
    assert n >= 40 and r.results["load.error_rate"] == 0
    with MonitorStore(d / "live.sqlite") as st: served_rows = len(st.window()) - before
    assert served_rows >= n            # every measured request (and the warm-up ones) reached the server's /predict
    page = r.html.read_text()
    assert f"the server at {s.url}" in page and "the client" in page


@pytest.mark.parametrize("params, words", [
    (lambda s, d, b: {"url": s.url, "model": str(b["clf"]), "data": str(d / "rows.parquet")}, "give exactly one of `model` and `url`, not both"),
    (lambda s, d, b: {"data": str(d / "rows.parquet")}, "give exactly one of `model` and `url`"),
    (lambda s, d, b: {"url": "127.0.0.1:8080", "data": str(d / "rows.parquet")}, "`url` must start with http:// or https://"),
], ids=["both", "neither", "no-scheme"])
def test_model_or_url_exactly_one_fails_closed(served, tmp_path, params, words):
    r = run_notebook("load_test", {**params(*served), "duration_s": 1.0, "warmup_s": 0.2}, tmp_path / "job")
    assert r.exit_code == 3 and r.failed_cell["ename"] == "ParameterError" and words in r.failed_cell["evalue"]
    assert "load.n_requests" not in r.results
