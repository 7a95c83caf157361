"""Monitoring end to end: acknowledged rows survive SIGKILL, windows keep dtypes for drift, concurrent readers,
seeded sampling rates, model versions, and a store shared by successive monitors."""
import json, os, signal, sqlite3, subprocess, sys, textwrap, time

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from prodkit.core import DataError, FileFormatError, Predictor, Schema, TabularAdapter
from prodkit.monitor import Monitor, MonitorStore


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 90, n), "income": rng.lognormal(10, 1, n), "city": rng.choice(["ams", "ber", "cph"], n),
                         "member": rng.random(n) < 0.5, "signup": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
                         "ts": pd.Timestamp("2026-03-01") + pd.to_timedelta(np.arange(n), unit="h"), "label": rng.integers(0, 2, n)})


@pytest.fixture(scope="module")
def model():
    df = _frame()
    ad = TabularAdapter(label="label", time="ts").fit(df)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(ad.n_features_, 2))
    return df, ad, m


_CHILD = textwrap.dedent("""
    import sys, time, numpy as np, pandas as pd
    from prodkit.monitor import Monitor
    def model(df): return np.column_stack([np.full(len(df), 0.25), np.full(len(df), 0.75)])
    mon = Monitor(model, sys.argv[1], version="v1", flush_interval_s=0.05, writer=sys.argv[2])
    rows = pd.DataFrame({"a": np.arange(4.0), "b": list("wxyz")})
    i = 0
    while True:
        mon.predict_proba(rows.iloc[[i % 4]]); i += 1
        if i % 100 == 0: print("FLUSHED", mon.flush(), flush=True)
        elif i % 10 == 0: print("ACK", mon.acknowledged, flush=True)
""")


def _children(pid:int) -> list:
    "The process ids of the children of `pid` (Linux /proc)."
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f: kids += [int(k) for k in f.read().split()]
    return kids


from _procs import ended as _ended, wait_until


def _wait_ended(pids, timeout_s=60.0) -> bool: return wait_until(lambda: all(map(_ended, pids)), timeout_s)


@pytest.mark.parametrize("writer, kill_after", [("process", 3), ("process", 11), ("thread", 3)])
def test_acknowledged_rows_survive_sigkill(tmp_path, kill_after, writer):
    # the monitor's process is killed; a writer process commits what it was handed and exits
    store = tmp_path / "m.sqlite"
    p = subprocess.Popen([sys.executable, "-c", _CHILD, str(store), writer], stdout=subprocess.PIPE, text=True)
    acked = flushed = 0; seen_flush = 0
    try:
        for line in p.stdout:
            kind, n = line.split(); n = int(n)
            if kind == "FLUSHED": flushed = n; seen_flush += 1
            acked = max(acked, n)
            if seen_flush >= kill_after: break
        kids = _children(p.pid)
    finally:
        os.kill(p.pid, signal.SIGKILL); p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    assert len(kids) == (1 if writer == "process" else 0)
    assert _wait_ended(kids)   # the writer process saw the end of its input, committed and exited
    assert flushed >= 100 * kill_after
    with Monitor.open(store) as ro:
        n = ro.count()
        assert n >= acked >= flushed
        w = ro.window()
    assert len(w) == n and w["b"].isin(list("wxyz")).all() and (w["monitor.p_1"] == 0.75).all()
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    # the store keeps working after the crash: a new monitor appends to it
    with Monitor(lambda df: np.tile([0.5, 0.5], (len(df), 1)), store, version="v2") as mon:
        mon.predict_proba(pd.DataFrame({"a": [1.0], "b": ["w"]}))
        assert mon.flush() == n + 1
    with Monitor.open(store) as ro:
        assert ro.versions().model_version.tolist() == ["v1", "v2"]


def test_window_is_ready_for_drift(model, tmp_path):
    df, ad, m = model
    pred = Predictor(m, adapter=ad)
    with Monitor(pred, tmp_path / "w.sqlite") as mon:
        for i in range(0, 60, 6): mon.predict_proba(df.iloc[i:i + 6])
        w = mon.window()
    feats = ad.schema.names
    assert list(w.columns[:len(feats)]) == feats and "ts" in w.columns and "label" not in w.columns
    for f in ad.schema.features:
        assert str(w[f.name].dtype) == f.dtype, (f.name, w[f.name].dtype, f.dtype)
    pd.testing.assert_frame_equal(w[feats].reset_index(drop=True), df[feats].reset_index(drop=True), check_dtype=False)
    ad.schema.validate(w)
    np.testing.assert_allclose(w[["monitor.p_0", "monitor.p_1"]].to_numpy(), pred.predict_proba(df), atol=1e-6)
    assert w["ts"].is_monotonic_increasing and w["ts"].dtype.kind == "M"
    np.testing.assert_allclose(w["monitor.confidence"], pred.predict_proba(df).max(1), atol=1e-6)
    assert set(w.columns) >= {f"monitor.{c}" for c in ("time", "prediction", "confidence", "latency_ms", "model_version", "served_by")}
    assert not set(w.columns) & {"prediction", "confidence", "latency_ms", "model_version", "served_by", "p_0", "p_1"}


def test_reader_sees_rows_while_writer_runs(model, tmp_path):
    df, ad, m = model
    store = tmp_path / "r.sqlite"
    mon = Monitor(Predictor(m, adapter=ad), store, flush_interval_s=0.02)
    ro = Monitor.open(store)
    counts = []
    for k in range(5):
        for i in range(20): mon.predict_proba(df.iloc[[i]])
        mon.flush(); counts.append(ro.count())
    assert counts == [20, 40, 60, 80, 100]
    mon.close(); ro.close()
    with pytest.raises(Exception, match="closed"): mon.predict_proba(df.iloc[[0]])


def test_sampling_rate_and_seed(model, tmp_path):
    df, ad, m = model
    def run(seed, name):
        with Monitor(Predictor(m, adapter=ad), tmp_path / name, sample_rate=0.1, seed=seed) as mon:
            for i in range(0, 3000, 60): mon.predict_proba(pd.concat([df] * 1))
            return mon.window()
    a, b = run(7, "a.sqlite"), run(7, "b.sqlite")
    assert len(a) == len(b) and (a["age"].to_numpy() == b["age"].to_numpy()).all()
    # 3000 rows at 10%: mean 300, sd 16.4
    assert 220 < len(a) < 380


def test_versions_follow_the_model(model, tmp_path):
    df, ad, m = model
    store = tmp_path / "v.sqlite"
    with Monitor(Predictor(m, adapter=ad), store) as mon:
        mon.predict_proba(df.head(5)); v1 = mon.version
    torch.manual_seed(3)
    m2 = nn.Sequential(nn.Linear(ad.n_features_, 2))
    with Monitor(Predictor(m2, adapter=ad), store) as mon:
        mon.predict_proba(df.head(7)); v2 = mon.version
    assert v1 != v2
    with Monitor.open(store) as ro:
        v = ro.versions()
        assert v.model_version.tolist() == [v1, v2] and v.n.tolist() == [5, 7]
        assert len(ro.window(model_version=v2)) == 7


def test_guarded_model_under_monitor_records_paths(model, tmp_path):
    from prodkit.guard import FaultyModel, GuardedModel
    df, ad, m = model
    g = GuardedModel(FaultyModel(Predictor(m, adapter=ad), error_rate=0.3, seed=1), fallbacks=[("rule", lambda d: np.full(len(d), 0.4))],
                     adapter=ad, on_invalid="flag")
    with Monitor(g, tmp_path / "g.sqlite") as mon:
        for i in range(50): mon.predict_proba(df.iloc[[i]])
        bad = df.iloc[[0]].copy(); bad["income"] = np.nan
        with pytest.raises(DataError, match="1 input rows were rejected"): mon.predict_proba(bad)
        w, r = mon.window(), mon.rejected_window()
    assert len(w) == 50 and len(r) == 1                   # rejected inputs are recorded, apart from the served rows
    by = w["monitor.served_by"]
    assert (by == "rule").sum() == g.counts["served.rule"] and (by == "primary").sum() == g.counts["served.primary"]
    assert w.loc[by == "rule", "monitor.p_1"].eq(0.4).all()
    assert r["monitor.served_by"].tolist() == ["rejected"] and np.isnan(r["monitor.p_1"]).all() and np.isnan(r["income"]).all()


def test_refuses_bad_stores(tmp_path):
    (tmp_path / "plain.sqlite").unlink(missing_ok=True)
    con = sqlite3.connect(tmp_path / "plain.sqlite"); con.execute("CREATE TABLE t(x)"); con.commit(); con.close()
    with pytest.raises(FileFormatError, match="not a prodkit monitor store"): Monitor.open(tmp_path / "plain.sqlite")
    with pytest.raises(FileFormatError, match="is a folder"): Monitor.open(tmp_path)
    with pytest.raises(FileFormatError, match="folder of the monitor store does not exist"):
        Monitor(lambda d: np.ones((len(d), 2)) / 2, tmp_path / "no" / "m.sqlite", version="x")


def test_demo_window_round_trips_exactly(tmp_path):
    from prodkit.demo import load_demo
    demo = load_demo(seed=0, n_reference=1000, n_current=1000, digits=False)
    cur = demo.current.iloc[:300]
    with Monitor(demo.predictor, tmp_path / "d.sqlite") as mon:
        for i in range(0, 300, 30): mon.predict_proba(cur.iloc[i:i + 30])
        w = mon.window()
    names = demo.schema.names
    pd.testing.assert_frame_equal(w[names], cur[names].reset_index(drop=True))   # exact values and dtypes
    assert demo.schema.time in w.columns and demo.schema.label not in w.columns
    np.testing.assert_allclose(w[["monitor.p_0", "monitor.p_1"]].to_numpy(), demo.predictor.predict_proba(cur), atol=1e-6)


def test_window_feeds_drift_detection_like_the_data_itself(tmp_path):
    from prodkit import drift
    from prodkit.demo import load_demo
    demo = load_demo(seed=0, n_reference=1000, n_current=1000, digits=False)
    cur = demo.current.iloc[-400:]
    with Monitor(demo.predictor, tmp_path / "d.sqlite") as mon:
        mon.predict_proba(cur)
        w = mon.window()
    names = demo.schema.names
    a = drift.detect_drift(demo.reference[names], w[names], schema=demo.schema, seed=0)
    b = drift.detect_drift(demo.reference[names], cur[names].reset_index(drop=True), schema=demo.schema, seed=0)
    assert a.summary == b.summary


@pytest.mark.slow
def test_drift_monitoring_template_reads_its_window_from_a_monitor_store(tmp_path):
    """The drift template given a monitor store finds what it finds on the same rows given as a file."""
    from prodkit.demo import load_demo
    from prodkit.drift import ReferenceProfile
    from prodkit.jobs import run_notebook
    d = load_demo(seed=0, n_reference=1000, n_current=1000, digits=False)
    ReferenceProfile.fit(d.reference, schema=d.schema).save(tmp_path / "ref.npz")
    cur = d.current.iloc[-600:]
    with Monitor(d.predictor, tmp_path / "m.sqlite") as mon:
        for i in range(0, 600, 100): mon.predict_proba(cur.iloc[i:i + 100])
    cur[d.schema.names].to_parquet(tmp_path / "cur.parquet")
    a = run_notebook("drift_monitoring", {"profile": str(tmp_path / "ref.npz"), "monitor_store": str(tmp_path / "m.sqlite"),
                                          "multivariate": False}, tmp_path / "a")
    b = run_notebook("drift_monitoring", {"profile": str(tmp_path / "ref.npz"), "current": str(tmp_path / "cur.parquet"),
                                          "multivariate": False}, tmp_path / "b")
    assert a.exit_code in (0, 1) and a.exit_code == b.exit_code, (a.message, b.message)   # 1: a drift gate failed, in both
    assert a.results["drift.n_current"] == b.results["drift.n_current"] == 600
    same = ("drift.n_drifted", "drift.share_drifted", "drift.top_feature", "drift.max_effect", "drift.dataset_drift")
    assert [k for k in same if k not in a.results or k not in b.results] == []   # a number both runs lack is no agreement
    assert {k: a.results[k] for k in same} == {k: b.results[k] for k in same}


def test_flush_and_stats_take_their_timeout_in_seconds(tmp_path):
    "Time arguments carry their unit: `timeout_s`; the old unit-less name is refused."
    with Monitor(lambda df: np.tile([0.5, 0.5], (len(df), 1)), tmp_path / "t.sqlite", version="v1") as mon:
        mon.predict_proba(pd.DataFrame({"a": [1.0, 2.0], "b": ["w", "x"]}))
        assert mon.flush(timeout_s=5.0) == 2
        assert mon.stats(timeout_s=5.0)["logged"] == 2
        with pytest.raises(TypeError, match="timeout"): mon.flush(timeout=5.0)


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_one_row_frames_are_captured_and_stored_as_frames_are(writer, tmp_path, monkeypatch):
    # a server's new one-row frame per call: its values are copied (nothing the garbage collector tracks is queued),
    # and the store holds exactly what the frame itself gives (kept frames: `_capture` turned off)
    import gc
    import prodkit.monitor as pm
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=40), "n": rng.integers(-3, 9, 40), "u": rng.integers(0, 9, 40).astype("uint16"),
                       "b": rng.random(40) < 0.5, "f32": rng.normal(size=40).astype("float32"),
                       "city": rng.choice(["ams", "ber", None], 40), "plan": pd.array(rng.choice(["free", None], 40), dtype="string[pyarrow]")})
    df.loc[5, "x"] = np.nan
    def f(d): p = 1 / (1 + np.exp(-d["x"].fillna(0).to_numpy())); return np.column_stack([1 - p, p])
    calls = [df.iloc[[i]] for i in range(40)] + [df.iloc[[3, 4]], pd.DataFrame([{"x": 1.5, "n": 2, "u": np.uint16(3), "b": True,
                                                                                   "f32": np.float32(0.25), "city": "cph", "plan": "pro"}])]
    def stored(capture):
        if not capture: monkeypatch.setattr(pm, "_capture", lambda w, X: None)
        with Monitor(f, tmp_path / f"{writer}-{capture}.sqlite", version="v", writer=writer, flush_interval_s=3600,
                     batch_size=10**6) as mon:
            for X in calls: mon.predict_proba(X)
            if capture:   # what waits for the writer: the one-row frames as plain values, untracked once collected
                items = []
                while True:
                    try: items.append(mon._writer.q.get_nowait())
                    except Exception: break
                for it in items: mon._writer.q.put(it)
                kinds = [m[0] for m in items]
                assert kinds.count("cap") == 41 and kinds[40] == "rec" and isinstance(items[40][1][4], pd.DataFrame)
                gc.collect()
                assert not any(gc.is_tracked(m) for m in items if m[0] == "cap")
            assert mon.flush() == 43
        monkeypatch.undo()
        with MonitorStore(tmp_path / f"{writer}-{capture}.sqlite") as st: w = st.window()
        return w.drop(columns=["monitor.time", "monitor.latency_ms"])
    pd.testing.assert_frame_equal(stored(True), stored(False))


def test_a_captured_call_with_a_bad_output_is_rejected_alone(tmp_path):
    calls = iter([np.array([[0.3, 0.7]]), np.array([[0.1, 0.2, 0.7]]), np.array([[0.6, 0.4]])])
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
    with Monitor(lambda d: next(calls), tmp_path / "m.sqlite", version="v", flush_interval_s=3600) as mon:
        for i in range(3): mon.predict_proba(df.iloc[[i]])
        assert mon.flush() == 2
        s = mon.stats()
    assert s["rejected"] == 1 and "shape (3,)" in s["last_rejection"]


def test_captured_views_and_unusual_numeric_dtypes_are_stored_as_frames_are(tmp_path, monkeypatch):
    # a captured numpy block travels as its bytes: byte order, width and memory layout must not change a value
    import prodkit.monitor as pm
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"be": rng.normal(size=12).astype(">f8"), "h": rng.normal(size=12).astype("float16"),
                       "i8": rng.integers(-5, 5, 12).astype("int8"), "u32": rng.integers(0, 9, 12).astype("uint32"),
                       "s": rng.choice(["<b>x</b>", "é", ""], 12)})
    view = pd.DataFrame(np.asfortranarray(rng.normal(size=(12, 3))), columns=["x", "y", "z"])   # slices are strided views
    def f(d): return np.tile([0.4, 0.6], (len(d), 1))
    for name, data in (("dtypes", df), ("view", view)):
        out = []
        for capture in (True, False):
            if not capture: monkeypatch.setattr(pm, "_capture", lambda w, X: None)
            with Monitor(f, tmp_path / f"{name}{capture}.sqlite", version="v", writer="thread") as mon:
                for i in range(12):
                    if capture: assert pm._capture(mon._writer, data.iloc[i:i + 1]) is not None
                    mon.predict_proba(data.iloc[i:i + 1])
                assert mon.flush() == 12
            monkeypatch.undo()
            with MonitorStore(tmp_path / f"{name}{capture}.sqlite") as st:
                out.append(st.window().drop(columns=["monitor.time", "monitor.latency_ms"]))
        pd.testing.assert_frame_equal(out[0], out[1])
