"""`prodkit serve` as a user runs it: a real server in a subprocess on 127.0.0.1, called over HTTP."""
import json, signal, sqlite3, subprocess, sys, threading, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor
import numpy as np, pandas as pd, pytest
from prodkit.serve import start_server, _free_port
from prodkit.versioning import load_bundle
from _serve_models import write_bundles


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    return write_bundles(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def clf(bundles, tmp_path_factory):
    "One classifier server for the tests that only call it: small limits, a monitor store."
    store = tmp_path_factory.mktemp("store") / "live.sqlite"
    s = start_server(bundles["clf"], max_rows=10, max_body_bytes=4000, monitor=store)
    s.store = store
    yield s
    s.stop()


def call(url, body, *, raw=False, timeout=30):
    "POST `body` (JSON-encoded unless raw bytes); return (status, parsed answer, headers)."
    data = body if raw else json.dumps(body).encode()
    req = urllib.request.Request(url + "/predict", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r: return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e: return e.code, json.loads(e.read()), e.headers


def get(url, path):
    with urllib.request.urlopen(url + path, timeout=10) as r: return r.status, r.read().decode()


def records(df): return json.loads(df.to_json(orient="records"))


def test_predictions_over_http_equal_the_bundle_in_process(bundles, clf):
    df = bundles["frame"].head(10)
    want = load_bundle(bundles["clf"]).predictor.predict_proba(df)
    status, ans, _ = call(clf.url, {"rows": records(df)})
    assert status == 200 and ans["task"] == "classification" and ans["model"].startswith("sha256:")
    got = np.array([[p["probabilities"]["no"], p["probabilities"]["yes"]] for p in ans["predictions"]])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert [p["prediction"] for p in ans["predictions"]] == list(np.array(["no", "yes"])[want.argmax(1)])
    assert set(ans["served_by"]) == {"primary"}


def test_the_column_form_answers_as_the_row_form(bundles, clf):
    df = bundles["frame"].head(4)
    rows = call(clf.url, records(df))[1]["predictions"]
    status, cols, _ = call(clf.url, {"columns": {c: df[c].tolist() for c in df.columns}})
    assert status == 200 and cols["predictions"] == rows


def test_metadata_names_the_model_it_serves(bundles, clf):
    meta = json.loads(get(clf.url, "/metadata")[1])
    assert meta["classes"] == ["no", "yes"] and [f["name"] for f in meta["schema"]["features"]] == ["age", "income", "plan"]
    assert meta["model"] == call(clf.url, records(bundles["frame"].head(1)))[1]["model"]


def test_a_regressor_answers_values(bundles):
    df = bundles["frame"].head(5)
    want = load_bundle(bundles["reg"]).predictor.predict(df)
    with start_server(bundles["reg"]) as s:
        status, ans, _ = call(s.url, records(df))
    assert status == 200 and ans["task"] == "regression"
    np.testing.assert_allclose([p["prediction"] for p in ans["predictions"]], want, atol=1e-5)
    assert "probabilities" not in ans["predictions"][0]


BAD = [  # (what, body, raw, status, words in the error)
    ("invalid JSON", b"{not json", True, 400, "not valid JSON"),
    ("wrong type", {"age": "old", "income": 1.0, "plan": "basic"}, False, 422, "wrong_type"),
    ("missing feature", {"age": 30.0, "plan": "basic"}, False, 422, "missing_feature"),
    ("unseen category", {"age": 30.0, "income": 1.0, "plan": "platinum"}, False, 422, "never seen"),
    ("too many rows", [{"age": 30.0, "income": 1.0, "plan": "basic"}] * 11, False, 413, "more than the limit of 10"),
    ("oversized body", b"[" + b" " * 5000 + b"]", True, 413, "more than the limit"),
    ("too deep", {"rows": [{"age": [[[[1]]]], "income": 1.0, "plan": "basic"}]}, False, 400, "nested deeper"),
    ("no rows", {"rows": []}, False, 400, "no rows"),
    ("not an object", b"42", True, 400, "JSON object"),
]


@pytest.mark.parametrize("what,body,raw,status,words", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_clear_4xx_answers(clf, what, body, raw, status, words):
    got, ans, _ = call(clf.url, body, raw=raw)
    assert got == status and words in ans["error"], (what, got, ans)
    assert "Traceback" not in json.dumps(ans)


def test_bad_requests_never_crash_the_server_and_are_counted(clf):
    for _, body, raw, _, _ in BAD: call(clf.url, body, raw=raw)
    assert get(clf.url, "/health")[0] == 200
    assert call(clf.url, {"age": 30.0, "income": 1.0, "plan": "basic"})[0] == 200    # still serving
    metrics = get(clf.url, "/metrics")[1]
    assert 'prodkit_requests_total{endpoint="predict",status="413"}' in metrics and 'status="422"' in metrics


def test_a_failing_primary_is_answered_by_the_fallback_and_counted(bundles):
    ok = {"age": 30.0, "income": 50.0, "plan": "basic"}
    with start_server(bundles["raising"], fallback=bundles["clf"]) as s:
        status, ans, _ = call(s.url, [ok, {**ok, "age": 5000.0}])
        assert status == 200 and ans["served_by"] == ["fallback", "fallback"]   # the whole batch failed on the primary
        assert call(s.url, ok)[1]["served_by"] == ["primary"]
        metrics = get(s.url, "/metrics")[1]
    assert 'prodkit_rows_total{served_by="fallback"} 2.0' in metrics and 'prodkit_rows_total{served_by="primary"} 1.0' in metrics


def test_flagged_invalid_rows_are_answered_per_row(bundles):
    ok = {"age": 30.0, "income": 50.0, "plan": "basic"}
    with start_server(bundles["clf"], on_invalid="flag") as s:
        status, ans, _ = call(s.url, [ok, {**ok, "plan": "platinum"}])
    assert status == 200 and ans["served_by"] == ["primary", "rejected"]
    assert ans["predictions"][1]["prediction"] is None and "platinum" in ans["predictions"][1]["reasons"]


def test_answered_rows_reach_the_monitor_store(bundles, clf):
    "Runs last of the `clf` tests: it stops the server and counts what the store holds."
    df = bundles["frame"].head(7)
    for i in range(len(df)): assert call(clf.url, records(df.iloc[[i]]))[0] == 200
    metrics = get(clf.url, "/metrics")[1]
    answered = int(float(next(l.split()[-1] for l in metrics.splitlines() if l.startswith('prodkit_rows_total{served_by="primary"}'))))
    assert clf.stop() == 0
    assert sqlite3.connect(clf.store).execute("select count(*) from predictions").fetchone()[0] == answered   # not the warm-up row


def test_sigterm_under_load_answers_every_request_and_loses_no_acknowledged_row(bundles, tmp_path):
    store = tmp_path / "drain.sqlite"
    row = records(bundles["frame"].head(1))
    s = start_server(bundles["slow"], monitor=store, max_batch=4)
    answers = []
    def client():
        while True:
            try: st, ans, _ = call(s.url, row, timeout=60)
            except OSError: return          # connection refused: the server stopped accepting
            answers.append(st)
            if st != 200: return
    with ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(client) for _ in range(8)]
        time.sleep(1.5)
        assert s.stop(timeout_s=60) == 0
        for f in futs: f.result()
    assert answers and set(answers) <= {200, 503}
    acked = answers.count(200)
    assert sqlite3.connect(store).execute("select count(*) from predictions").fetchone()[0] == acked


def test_an_overload_gets_503_with_retry_after_not_unbounded_latency(bundles):
    row = records(bundles["frame"].head(1))
    with start_server(bundles["slow"], max_batch=1, max_queue=2) as s:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda _: call(s.url, row, timeout=60), range(32)))
    statuses = [r[0] for r in results]
    assert 503 in statuses and 200 in statuses
    shed = next(r for r in results if r[0] == 503)
    assert shed[2].get("Retry-After") == "1" and "overloaded" in shed[1]["error"]


def test_a_taken_port_and_a_missing_model_are_clear_errors(bundles, tmp_path):
    import socket
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0)); held.listen(); port = held.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "prodkit.serve", str(bundles["clf"]), "--port", str(port)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 4 and f"cannot listen on 127.0.0.1:{port}" in r.stderr
    r = subprocess.run([sys.executable, "-m", "prodkit.serve", str(tmp_path / "nope"), "--port", str(_free_port())], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_a_bad_request_sharing_a_batch_gets_its_422_and_the_others_are_answered(bundles, tmp_path):
    "Rows are checked per batch in the worker thread: a bad request there is refused alone, and never reaches the store."
    store, df = tmp_path / "mixed.sqlite", bundles["frame"].head(6)
    bad = {"age": 30.0, "income": 1.0, "plan": "platinum"}
    bodies = [records(df.iloc[[i]]) for i in range(6)] + [[bad], [bad]]
    want = load_bundle(bundles["clf"]).predictor.predict_proba(df)
    with start_server(bundles["clf"], max_batch=64, max_wait_ms=300, monitor=store) as s:
        with ThreadPoolExecutor(8) as pool: results = list(pool.map(lambda b: call(s.url, b), bodies))
        metrics = get(s.url, "/metrics")[1]
    assert [r[0] for r in results] == [200] * 6 + [422] * 2
    assert all("never seen" in r[1]["error"] and r[1]["details"][0]["rows"] == [0] for r in results[6:])
    got = np.array([[r[1]["predictions"][0]["probabilities"][c] for c in ("no", "yes")] for r in results[:6]])
    np.testing.assert_allclose(got, want, atol=1e-6)
    batches = float(next(l.split()[-1] for l in metrics.splitlines() if l.startswith("prodkit_batch_rows_count")))
    assert batches < 6   # some requests shared a forward pass (and the bad ones did not stop it)
    assert sqlite3.connect(store).execute("select count(*) from predictions").fetchone()[0] == 6


def test_the_forward_pass_threads_are_an_option_checked_before_loading(bundles):
    r = subprocess.run([sys.executable, "-m", "prodkit.serve", str(bundles["clf"]), "--port", str(_free_port()), "--threads", "0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "threads" in r.stderr
    with start_server(bundles["clf"], threads=2) as s:
        assert call(s.url, records(bundles["frame"].head(2)))[0] == 200
