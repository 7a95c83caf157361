"""The writer's bulk path: one-row frames stacked without pd.concat write the same JSON, floats keep their exact text
and value, a batch mixing frames, arrays and sampled calls keeps its order, and a full batch wakes the writer."""
import json, threading, time

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st

from prodkit.monitor import Monitor, _FORMAT, _Writer, _float_texts, _frame_json, _stack_blocks


def _mixed(n=6, seed=0):
    "Every kind of column a frame brings, numeric and not interleaved (so blocks hold scattered columns)."
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "f": rng.normal(size=n) * 10.0 ** rng.integers(-6, 12, n), "s": rng.choice(["ams", 'a "b"', "é"], n),
        "i": rng.integers(-5, 5, n), "o": pd.Series(["x", None] * (n // 2), dtype=object), "g": rng.normal(size=n),
        "b": rng.random(n) < 0.5, "f32": rng.normal(size=n).astype("float32"),
        "n": pd.array([1, None] * (n // 2), "Int64"),
        "t": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), unit="h"),
        "c": pd.Categorical(["a", "b"] * (n // 2)),
        "nan": [np.nan, np.inf] * (n // 2), 7: np.arange(n, dtype="float64")})


def test_rows_cut_from_one_frame_take_the_block_path():
    # if pandas changes its internals, the writer falls back to pd.concat (right, but several times slower): say so
    df = _mixed()
    assert _stack_blocks([df.iloc[[i]] for i in range(len(df))]) is not None
    assert _stack_blocks([df.iloc[i:i + 2] for i in range(0, len(df), 2)]) is not None


@pytest.mark.parametrize("keep", [None, ["g", "s", "missing", "f"]])
def test_stacked_frames_write_what_one_concatenated_frame_writes(keep):
    df = _mixed(8)
    parts = [df.iloc[[i]] for i in range(len(df))] + [df.iloc[2:5]]
    got = _frame_json(parts, keep)
    want = _frame_json([pd.concat(parts, ignore_index=True)], keep)   # one frame: no stacking
    assert got == want and len(got) == len(df) + 3
    rows = [json.loads(t) for t in got]
    if keep is None:
        assert list(rows[0]) == [str(c) for c in df.columns]
        assert [r["f"] for r in rows[:8]] == df["f"].tolist() and [r["s"] for r in rows[:8]] == df["s"].tolist()
        assert [r["nan"] for r in rows[:2]][1] == np.inf and np.isnan(rows[0]["nan"])
    else: assert list(rows[0]) == ["g", "s", "f"]


def test_frames_that_differ_go_through_concat_and_keep_their_values():
    a = pd.DataFrame({"x": [0.5], "s": ["p"]})
    b = pd.DataFrame({"x": ["q"], "s": [1.5]})   # same names, other dtypes
    c = pd.DataFrame({"s": ["r"], "x": [2.5]})   # other order
    assert _stack_blocks([a, b]) is None and _stack_blocks([a, c]) is None
    assert [json.loads(t) for t in _frame_json([a, b, c])] == [{"x": 0.5, "s": "p"}, {"x": "q", "s": 1.5},
                                                                {"x": 2.5, "s": "r"}]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40))
@example([0.0, -0.0, 1.0, 1e-4, 9.999e-5, 1e9, 999999999.5, 1e10, 12345678901.25, 1e16, 5e-324, 1.7976931348623157e308])
def test_float_texts_are_what_json_dumps_writes(xs):
    assert _float_texts(np.array(xs, dtype="float64")) == [json.dumps(x) for x in xs]


def test_a_batch_of_frames_arrays_and_sampled_calls_keeps_its_order(tmp_path):
    w = _Writer(tmp_path / "w.sqlite", {"format": _FORMAT, "classes": ["no", "yes"]}, 512, 60.0, "NORMAL")
    df = pd.DataFrame({"a": [0.5, 1.5, 2.5], "b": ["x", "y", "z"]})
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    items = [(1.0, 0.1, "v", 1, df.iloc[[0]], None, P[:1], None),
             (2.0, 0.2, "v", 2, np.array([[7.0, 8.0], [9.0, 10.0]]), None, P[:2], None),
             (3.0, 0.3, "v", 3, df, np.array([0, 2]), P, ["primary", "rule", "primary"])]
    rows = w._rows(items)
    assert [r[0] for r in rows] == [1.0, 2.0, 2.0, 3.0, 3.0] and [r[4] for r in rows] == [1, 2, 2, 3, 3]
    assert [r[5] for r in rows] == ['{"a": 0.5, "b": "x"}', "[7.0, 8.0]", "[9.0, 10.0]", '{"a": 0.5, "b": "x"}',
                                    '{"a": 2.5, "b": "z"}']
    assert [r[3] for r in rows] == [None, None, None, "primary", "primary"]
    assert [r[6] for r in rows] == ["[0.9, 0.1]", "[0.9, 0.1]", "[0.2, 0.8]", "[0.9, 0.1]", "[0.6, 0.4]"]
    assert [r[7] for r in rows] == ['"no"', '"no"', '"yes"', '"no"', '"no"']
    w.con.close()


class _CountingEvent(threading.Event):
    def __init__(self):
        super().__init__()
        self.sets = 0
    def set(self):
        self.sets += 1
        super().set()


def test_a_full_batch_wakes_the_writer_once_and_is_committed_without_a_flush(tmp_path):
    def model(X): return np.column_stack([np.full(len(X), 0.25), np.full(len(X), 0.75)])
    # the interval is a minute: only a full batch (4 calls) can wake the writer before it
    with Monitor(model, tmp_path / "m.sqlite", version="v", batch_size=4, flush_interval_s=60.0) as mon:
        time.sleep(0.05)   # the writer is asleep in its wait
        w = mon._writer
        old, ev = w.wake, _CountingEvent()
        w.wake = ev
        old.set(); time.sleep(0.05)   # the writer wakes once and now waits on the counting event
        df = pd.DataFrame({"a": np.arange(3.0)})
        for i in range(3): mon.predict_proba(df.iloc[[i]])
        time.sleep(0.1)
        assert (ev.sets, mon.acknowledged) == (0, 0)   # three calls: still queued
        mon.predict_proba(df.iloc[[0]])
        deadline = time.time() + 10
        while mon.acknowledged < 4 and time.time() < deadline: time.sleep(0.01)
        assert (ev.sets, mon.acknowledged) == (1, 4)


def test_a_bad_call_in_a_bulk_checked_batch_is_rejected_alone(tmp_path):
    # the batch is checked in bulk; a call that fails the bulk check is found and rejected by the per-call check
    w = _Writer(tmp_path / "w.sqlite", {"format": _FORMAT, "classes": ["no", "yes"]}, 512, 60.0, "NORMAL",
                keep=["a"], shape=(2,))
    df = pd.DataFrame({"a": [0.5, 1.5, 2.5]})
    P = np.array([[0.9, 0.1]])
    items = [(1.0, 0.1, "v", 1, df.iloc[[0]], None, P, None),
             (2.0, float("nan"), "v", 2, df.iloc[[1]], None, P, None),   # a latency that is not a number
             (3.0, 0.3, "v", 3, df.iloc[[2]], None, np.ones((1, 3)) / 3, None),   # three classes, the store has two
             (4.0, 0.4, "v", 4, df.iloc[[2]], None, P, None)]
    rows, rejects = w._records(items, [])
    assert [r[4] for r in rows] == [1, 4] and [r[5] for r in rows] == ['{"a": 0.5}', '{"a": 2.5}']
    assert [(r[2], r[3]) for r in rejects] == [(2, 0), (3, 0)]
    assert "not a finite number" in rejects[0][4] and "outputs of shape (2,)" in rejects[1][4]
    w.con.close()


def _writer(tmp_path):
    return _Writer(tmp_path / "w.sqlite", {"format": _FORMAT, "classes": ["no", "yes"]}, 4096, 60.0, "NORMAL",
                   keep=["a", "s"], shape=(2,))


def _calls(n, seed=0):
    "n one-row calls cut from one frame, as the monitor queues them."
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "s": rng.choice(["ams", 'a "b"', "é"], n)})
    p = rng.random(n)
    return df, [(1000.0 + i, 0.5, "v", i + 1, df.iloc[[i]], None, np.array([[1 - p[i], p[i]]]), None) for i in range(n)]


def test_rows_of_every_statement_size_are_stored_in_order_with_their_values(tmp_path):
    # 297 rows: one 256-row statement, one of 32, two of 4 and one single row
    w = _writer(tmp_path)
    df, items = _calls(297)
    rows, rejects = w._records(items, [])
    w._commit(rows, rejects)
    got = w.con.execute("SELECT call_id, time, inputs, outputs, prediction FROM predictions ORDER BY id").fetchall()
    assert (w.acknowledged, w.logged, w.rejected) == (297, 297, 0)
    assert [g[0] for g in got] == list(range(1, 298)) and [g[1] for g in got] == [1000.0 + i for i in range(297)]
    assert [json.loads(g[2]) for g in got] == df.to_dict("records")
    assert [json.loads(g[3]) for g in got] == [it[6][0].tolist() for it in items]
    assert [json.loads(g[4]) for g in got] == ["yes" if it[6][0, 1] > it[6][0, 0] else "no" for it in items]
    w.con.close()


def test_a_refused_row_inside_a_many_row_statement_is_rejected_alone(tmp_path):
    w = _writer(tmp_path)
    _, items = _calls(300)
    rows, rejects = w._records(items, [])
    rows[150] = rows[150][:2] + (None,) + rows[150][3:]   # a model version the table refuses (NOT NULL)
    w._commit(rows, rejects)
    ids = [r[0] for r in w.con.execute("SELECT call_id FROM predictions ORDER BY id")]
    assert ids == [i for i in range(1, 301) if i != 151]
    assert (w.acknowledged, w.logged, w.rejected) == (299, 299, 1)
    assert "the store refused the record" in w.last_rejection
    w.con.close()


def test_string_columns_of_several_arrow_chunks_stack_like_one_frame():
    parts = [pd.DataFrame({"x": [float(i), i + 0.5], "s": [f"p{i}", None]}) for i in range(3)]
    df = pd.concat(parts, ignore_index=True)   # its string column holds one arrow chunk per part
    assert df["s"].array._pa_array.num_chunks == 3
    frames = [df.iloc[1:4], df.iloc[[0]], df.iloc[3:6]]
    assert _stack_blocks(frames) is not None
    assert _frame_json(frames) == _frame_json([pd.concat(frames, ignore_index=True)])
    assert [json.loads(t)["s"] for t in _frame_json(frames)] == [None, "p1", None, "p0", None, "p2", None]
