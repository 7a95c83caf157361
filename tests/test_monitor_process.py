"""The process writer (`Monitor(writer="process")`, the default): it stores the same bytes as the thread writer,
survives as the thread writer does when the monitor's process is killed, costs records and never answers when its
child dies, ignores a Ctrl-C until the monitor closes it, leaves no process behind, and shares a store."""
import gc, json, os, signal, sqlite3, subprocess, sys, textwrap, time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

from prodkit.core import FileFormatError, Schema
from prodkit.monitor import Monitor
from prodkit.monitor_writer import _input, _ipc, _message, _rows_batch


from _procs import ended as _ended, wait_until as _wait


def _proba(X):
    "Two class probabilities from the row count and position: frames, arrays and tensors alike; every 7th row NaN."
    n = len(X)
    p = (np.arange(n) % 10 + 0.5) / 10
    P = np.column_stack([1 - p, p])
    P[::7] = np.nan
    return P


def _odd_frame(n=12, seed=0):
    "Floats, ints, bools, strings, NaN, None, unicode, a nullable int, datetimes, categories, odd column names."
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "f": rng.normal(size=n) * 10.0 ** rng.integers(-6, 12, n), "nan": [np.nan, np.inf, -1.5] * (n // 3),
        "i": rng.integers(-5, 5, n), "i8": np.arange(n, dtype="int8"), "u64": np.arange(n, dtype="uint64") + 2**63,
        "b": rng.random(n) < 0.5, "s": rng.choice(["ams", 'a "b"', "é 中", "\\n"], n),
        "o": pd.Series(["x", None, 3] * (n // 3), dtype=object), "n": pd.array([1, None] * (n // 2), "Int64"),
        "t": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), unit="h"),
        "c": pd.Categorical(["a", "b"] * (n // 2)), 'we"ird name': np.arange(n, dtype="float32"), "": [True] * n,
        7: np.arange(n, dtype="float64")})


class _Guard:
    "Answers like a GuardedModel: a frame of p_<class> and served_by; every 5th row rejected."
    path_names = ("primary", "rule")
    def __call__(self, X): return self.serve(X)
    def serve(self, X):
        P = _proba(X)
        served = ["rejected" if i % 5 == 4 else "rule" if i % 2 else "primary" for i in range(len(X))]
        return pd.DataFrame({"p_no": P[:, 0], "p_yes": P[:, 1], "served_by": served})


def _store(path) -> tuple:
    "Everything a store holds but the times and latencies (which differ between two runs)."
    with sqlite3.connect(path) as c:
        return (c.execute("SELECT model_version, served_by, call_id, inputs, outputs, prediction, confidence "
                          "FROM predictions ORDER BY id").fetchall(),
                c.execute("SELECT model_version, call_id, row, reason FROM rejections ORDER BY id").fetchall(),
                c.execute("SELECT key, value FROM meta ORDER BY key").fetchall())


def _record(mon, df, guard=False):
    for i in range(len(df)): (mon.serve if guard else mon.predict_proba)(df.iloc[[i]])   # one-row calls: the bulk path
    for j in range(0, len(df), 5): (mon.serve if guard else mon.predict_proba)(df.iloc[j:j + 5])   # sampled slices
    if not guard:
        mon.predict_proba(df.iloc[:3].rename(columns={"s": "f"}))   # repeated names
        mon.predict_proba(np.arange(6.0).reshape(3, 2))                # an array
        mon.predict_proba(torch.arange(4.0).reshape(2, 2))             # a tensor
        mon.predict_proba(df.iloc[:2].rename(columns={"i": "monitor.i"}))   # a rejected call


@pytest.mark.parametrize("setup", ["plain", "schema", "sampled", "guard"])
def test_both_writers_store_the_same_bytes(tmp_path, setup):
    df = _odd_frame()
    kw = {"schema": Schema.infer(df[["f", "i", "s", "b", "t"]])} if setup == "schema" else (
        {"sample_rate": 0.5, "seed": 3} if setup == "sampled" else {})
    model = _Guard() if setup == "guard" else _proba
    stores = []
    for writer in ("thread", "process"):
        with Monitor(model, tmp_path / f"{writer}.sqlite", version="v", writer=writer, flush_interval_s=0.05, **kw) as mon:
            _record(mon, df, guard=setup == "guard")
            mon.flush()
        stores.append(_store(tmp_path / f"{writer}.sqlite"))
    thread, process = stores
    assert len(thread[0]) > len(df) and process == thread
    if setup == "plain":
        assert len(thread[1]) == 2   # the call with a prefixed column: both rows rejected, in both stores
        assert json.loads(thread[0][1][3])['we"ird name'] == 1.0 and json.loads(thread[0][2][3])["s"] in df["s"].tolist()
    if setup == "guard": assert {r[1] for r in thread[0]} == {"primary", "rule", "rejected"}


def test_a_killed_writer_process_costs_records_not_answers(tmp_path, caplog):
    with Monitor(_proba, tmp_path / "m.sqlite", version="v", flush_interval_s=0.02) as mon:
        mon.predict_proba(pd.DataFrame({"a": [1.0, 2.0]}))
        assert mon.flush() == 2
        child = mon._writer.proc
        os.kill(child.pid, signal.SIGKILL)
        assert _wait(lambda: child.poll() is not None)
        outs = [mon.predict_proba(pd.DataFrame({"a": [float(i)]})) for i in range(5)]   # still served
        assert all(o.shape == (1, 2) for o in outs)
        for _ in range(2):   # every flush says so, naming the exit
            with pytest.raises(FileFormatError, match="writer process exited with code -9"): mon.flush()
        st = mon.stats()
        assert (st["logged"], st["lost"]) == (2, 5), st
    assert mon._writer.proc.returncode == -signal.SIGKILL and not mon._writer.is_alive()
    with Monitor.open(tmp_path / "m.sqlite") as ro: assert ro.count() == 2


_CTRL_C = textwrap.dedent("""
    import sys, time, numpy as np, pandas as pd
    from prodkit.monitor import Monitor
    mon = Monitor(lambda df: np.tile([0.5, 0.5], (len(df), 1)), sys.argv[1], version="v", flush_interval_s=0.05)
    df = pd.DataFrame({"a": np.arange(20.0)})
    for i in range(10): mon.predict_proba(df.iloc[[i]])
    try:
        print("READY", mon.flush(), flush=True)
        while True: time.sleep(0.05)
    except KeyboardInterrupt:
        for i in range(10, 15): mon.predict_proba(df.iloc[[i]])
        n = mon.flush()   # the writer process still runs after the Ctrl-C: it commits these
        mon.close()
        print("CLOSED", n, mon._writer.proc.returncode, flush=True)
""")


def test_ctrl_c_reaches_the_process_group_but_the_writer_waits_for_the_monitor(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", _CTRL_C, str(tmp_path / "m.sqlite")], stdout=subprocess.PIPE,
                         text=True, start_new_session=True)   # a process group of its own, as a terminal's job
    try:
        assert p.stdout.readline().split() == ["READY", "10"]
        os.killpg(p.pid, signal.SIGINT)   # what Ctrl-C in a terminal does: the monitor's process and its writer
        out = p.stdout.read()
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL)
    assert out.split() == ["CLOSED", "15", "0"]


def test_no_writer_process_is_left_after_close_or_garbage_collection(tmp_path):
    mon = Monitor(_proba, tmp_path / "a.sqlite", version="v")
    mon.predict_proba(pd.DataFrame({"a": [1.0]}))
    pid = mon._writer.proc.pid
    mon.close()
    assert _ended(pid) and mon._writer.proc.returncode == 0
    mon = Monitor(_proba, tmp_path / "b.sqlite", version="v")
    mon.predict_proba(pd.DataFrame({"a": [1.0]}))
    pid, writer = mon._writer.proc.pid, mon._writer
    del mon
    gc.collect()
    assert _wait(lambda: _ended(pid), 30) and writer.proc.returncode == 0
    with Monitor.open(tmp_path / "b.sqlite") as ro: assert ro.count() == 1   # committed before it exited


def test_two_monitors_write_one_store(tmp_path):
    store = tmp_path / "m.sqlite"
    df = pd.DataFrame({"a": np.arange(40.0)})
    with Monitor(_proba, store, version="v1", flush_interval_s=0.01) as m1, \
         Monitor(_proba, store, version="v2", flush_interval_s=0.01) as m2:
        for i in range(40): (m1 if i % 2 else m2).predict_proba(df.iloc[[i]])
        m1.flush(); m2.flush()
        assert (m1.stats()["logged"], m2.stats()["logged"]) == (20, 20)
    with Monitor.open(store) as ro:
        assert ro.count() == 40 and sorted(ro.window()["a"].tolist()) == df["a"].tolist()
        assert ro.versions().set_index("model_version")["n"].to_dict() == {"v1": 20, "v2": 20}


def test_the_writer_module_imports_neither_torch_nor_pandas():
    code = "import sys, prodkit.monitor_writer; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'pandas'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["[]"], out.stderr


def test_the_writer_process_refuses_a_batch_of_a_type_it_does_not_take(tmp_path):
    store = tmp_path / "m.sqlite"
    with Monitor(_proba, store, version="v") as mon: mon.predict_proba(pd.DataFrame({"a": [1.0]}))
    good = _rows_batch([1.0], [0.5], ["v"], [None], [2], np.array([[0.5, 0.5]]), [_input("a", pa.array([2.0]))])
    odd = _rows_batch([1.0], [0.5], ["v"], [None], [3], np.array([[0.5, 0.5]]),
                      [_input("d", pa.array([1], pa.date32()))])   # a type the writer does not format
    cfg = json.dumps({"path": str(store), "synchronous": "NORMAL", "classes": None})
    body = (_message(b"R", _ipc(odd)) + _message(b"R", _ipc(good)) + _message(b"C", b'{"seq": 1, "shape": [2]}'))
    out = subprocess.run([sys.executable, "-m", "prodkit.monitor_writer", cfg], input=body, capture_output=True,
                         timeout=120)
    ans = json.loads(out.stdout)
    assert out.returncode == 0 and (ans["logged"], ans["lost"]) == (1, 1) and "date32" in ans["error"], ans
    with Monitor.open(store) as ro: assert ro.count() == 2


def test_the_writer_process_keeps_committing_when_nobody_reads_its_answers(tmp_path):
    # the monitor's process died with messages still in the pipe: the child commits them all, answering nobody
    store = tmp_path / "m.sqlite"
    with Monitor(_proba, store, version="v") as mon: mon.predict_proba(pd.DataFrame({"a": [1.0]}))
    batch = _rows_batch([1.0], [0.5], ["v"], [None], [2], np.array([[0.5, 0.5]]), [_input("a", pa.array([2.0]))])
    cfg = json.dumps({"path": str(store), "synchronous": "NORMAL", "classes": None})
    from prodkit.monitor import _CHILD
    p = subprocess.Popen([sys.executable, "-c", _CHILD, cfg], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()   # nobody reads: the first answer meets a broken pipe
    for seq in (1, 2, 3):
        p.stdin.write(_message(b"R", _ipc(batch)) + _message(b"C", json.dumps({"seq": seq, "shape": [2]}).encode()))
    p.stdin.close()
    assert p.wait(timeout=120) == 0, p.stderr.read()
    with Monitor.open(store) as ro: assert ro.count() == 4
