"""The monitor under bad records and odd names: one bad record is rejected alone (counted, logged, kept with its
reason) while the rest of its batch is written; the caller never loses an answer because recording failed;
features named like the monitor's own columns come back intact; any file name works as a store."""
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from prodkit.core import FileFormatError, Predictor, TabularAdapter
from prodkit.monitor import MONITOR_PREFIX, Monitor


def _good(df): return np.column_stack([np.full(len(df), 0.25), np.full(len(df), 0.75)])


class _OneBad:
    "A model that answers call number `at` (1-based) badly, in the way `kind` says; every other call well."
    path_names = ("primary",)
    def __init__(self, kind, at=101): self.kind, self.at, self.calls = kind, at, 0
    def __call__(self, df): return self.serve(df)
    def serve(self, df):   # the GuardedModel interface: a frame of p_<class> and served_by
        self.calls += 1
        bad = self.calls == self.at
        P = _good(df)
        if bad and self.kind == "width": P = np.full((len(df), 3), 1 / 3)
        if bad and self.kind == "rows": P = np.vstack([P, P])
        out = pd.DataFrame({"p_0": P[:, 0], "p_1": P[:, 1]})
        out["served_by"] = pd.Series(["primary"] * len(out), dtype=object)
        if bad and self.kind == "binding": out["served_by"] = pd.Series([["not", "a", "string"]] * len(out), dtype=object)
        return out if not (bad and self.kind == "width") else out.assign(p_2=P[:, 2])


def _inputs(n, kind):
    df = pd.DataFrame({"a": np.arange(float(n)), "tag": pd.Series(["ok"] * n, dtype=object)})
    if kind == "json": df.at[100, "tag"] = {(1, 2): "a tuple key is not JSON"}
    return df


# `rows`: one call answered with 2 outputs for its 1 input; both outputs are rejected (neither can be matched to the input)
@pytest.mark.parametrize("kind, words, n_bad", [("width", "shape (3,)", 1), ("rows", "2 outputs for 1 input rows", 2),
                                                ("json", "keys must be", 1), ("binding", "is not a string", 1)])
@pytest.mark.parametrize("writer", ["process", "thread"])
def test_one_bad_record_among_200_good_is_rejected_alone(tmp_path, caplog, kind, words, n_bad, writer):
    df = _inputs(201, kind)
    model = _OneBad(kind)
    answers = []
    with caplog.at_level(logging.WARNING, logger="prodkit.monitor"):
        # a long flush interval: all 201 calls reach the writer as one batch, as in a busy service
        with Monitor(model, tmp_path / "m.sqlite", version="v1", flush_interval_s=30, writer=writer) as mon:
            for i in range(201): answers.append(mon.predict_proba(df.iloc[[i]]))
            st = mon.stats()
            w = mon.window()
    assert len(answers) == 201 and all(a is not None and len(a) >= 1 for a in answers)   # the caller got every answer
    assert (st["logged"], st["rejected"]) == (200, n_bad), st
    assert words in st["last_rejection"], st
    assert len(w) == 200 and w["a"].tolist() == [float(i) for i in range(201) if i != 100]
    with Monitor.open(tmp_path / "m.sqlite") as ro:
        assert ro.stats()["rejected"] == n_bad and words in ro.stats()["last_rejection"]
        rej = ro.rejections()
    assert len(rej) == n_bad and set(rej.model_version) == {"v1"} and set(rej.call_id) == {101}
    assert [r for r in caplog.records if r.name == "prodkit.monitor" and words in r.getMessage()]


def test_a_call_that_cannot_be_recorded_still_answers(tmp_path):
    def scalar(df): return np.float64(0.5)          # no row axis: nothing to record, but the caller asked for it
    with Monitor(scalar, tmp_path / "m.sqlite", version="v") as mon:
        out = mon.predict_proba(pd.DataFrame({"a": [1.0]}))
        st = mon.stats()
    assert float(out) == 0.5
    assert st["rejected"] == 1 and st["logged"] == 0 and "could not queue the call" in st["last_rejection"]


def test_a_failing_store_costs_records_not_answers(tmp_path):
    # the thread writer's connection can be closed under it (the process writer's child: tests/test_monitor_process.py)
    with Monitor(_good, tmp_path / "m.sqlite", version="v", flush_interval_s=0.02, writer="thread") as mon:
        mon.predict_proba(pd.DataFrame({"a": [1.0]})); assert mon.flush() == 1
        mon._writer.con.close()                     # the store becomes unusable, as with a vanished disk
        outs = [mon.predict_proba(pd.DataFrame({"a": [float(i)]})) for i in range(5)]
        assert all(o.shape == (1, 2) for o in outs)
        with pytest.raises(FileFormatError, match="could not write to its store"): mon.flush()
        st = mon.stats()
        assert st["lost"] == 5 and st["logged"] == 1 and st["last_store_error"]
        outs = mon.predict_proba(pd.DataFrame({"a": [9.0]}))     # still answers after the error was reported
        assert outs.shape == (1, 2)


def test_nan_outputs_are_recorded_not_rejected(tmp_path):
    "A model that answers NaN is what a monitor must show: the row is kept, with no prediction or confidence."
    with Monitor(lambda df: np.full((len(df), 2), np.nan), tmp_path / "m.sqlite", version="v") as mon:
        mon.predict_proba(pd.DataFrame({"a": [1.0, 2.0]}))
        w = mon.window(); st = mon.stats()
    assert st["rejected"] == 0 and len(w) == 2
    assert w["monitor.prediction"].isna().all() and w["monitor.confidence"].isna().all() and w["monitor.p_0"].isna().all()


def test_features_named_like_the_monitors_columns_come_back_intact(tmp_path):
    n = 40; rng = np.random.default_rng(0)
    names = ["confidence", "latency_ms", "p_0", "p_1", "prediction", "model_version", "served_by", "time", "timestamp", "version"]
    df = pd.DataFrame({c: rng.normal(size=n) for c in names})
    df["label"] = rng.integers(0, 2, n)
    ad = TabularAdapter(label="label").fit(df)
    torch.manual_seed(0)
    pred = Predictor(nn.Sequential(nn.Linear(ad.n_features_, 2)), adapter=ad)
    with Monitor(pred, tmp_path / "m.sqlite") as mon:
        mon.predict_proba(df)
        w = mon.window()
    pd.testing.assert_frame_equal(w[names], df[names])                # every feature, untouched
    P = pred.predict_proba(df)
    np.testing.assert_allclose(w[["monitor.p_0", "monitor.p_1"]].to_numpy(), P, atol=1e-6)
    np.testing.assert_allclose(w["monitor.confidence"], P.max(1), atol=1e-6)
    assert (w["monitor.latency_ms"] > 0).all() and w["monitor.time"].dtype.kind == "M"
    own = [c for c in w.columns if c not in names]
    assert own and all(c.startswith(MONITOR_PREFIX) for c in own), own


@pytest.mark.parametrize("name", ["a#b.sqlite", "a?b.sqlite", "a%b.sqlite", "a%20b.sqlite", "a b.sqlite", "é ü 中.sqlite",
                                  "x?mode=ro.sqlite", "#?%.sqlite"])
def test_store_paths_with_uri_characters(tmp_path, name):
    d = tmp_path / "dir #?%"; d.mkdir()
    with Monitor(_good, d / name, version="v") as mon:
        mon.predict_proba(pd.DataFrame({"a": [1.0, 2.0]}))
        assert mon.flush() == 2
        assert len(mon.window()) == 2
    with Monitor.open(d / name) as ro:
        assert ro.count() == 2 and ro.window()["a"].tolist() == [1.0, 2.0]
    with Monitor(_good, d / name, version="v2") as mon:      # a second writer appends to the same file
        mon.predict_proba(pd.DataFrame({"a": [3.0]})); assert mon.flush() == 3
    made = sorted(p.name for p in d.iterdir())
    assert made and all(p.startswith(name) for p in made), made          # no file under a cut or decoded name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir #?%"]


def test_a_store_written_before_rejections_were_kept_still_reads(tmp_path):
    import sqlite3
    p = tmp_path / "old.sqlite"
    with Monitor(_good, p, version="v") as mon: mon.predict_proba(pd.DataFrame({"a": [1.0]}))
    con = sqlite3.connect(p); con.execute("DROP TABLE rejections"); con.commit(); con.close()
    with Monitor.open(p) as ro:
        assert ro.stats() == {"logged": 1, "rejected": 0, "last_rejection": None} and len(ro.rejections()) == 0
    with Monitor(_good, p, version="v") as mon:                  # a writer adds the table and carries on
        mon.predict_proba(pd.DataFrame({"a": [2.0]})); assert mon.flush() == 2


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_an_unforeseen_writer_failure_loses_the_batch_not_the_writer(tmp_path, monkeypatch, writer):
    with Monitor(_good, tmp_path / "m.sqlite", version="v", flush_interval_s=0.02, writer=writer) as mon:
        real = type(mon._writer)._records
        def broken(self, items, rejects): raise MemoryError("simulated")
        monkeypatch.setattr(type(mon._writer), "_records", broken)
        out = mon.predict_proba(pd.DataFrame({"a": [1.0, 2.0]}))
        with pytest.raises(FileFormatError, match="MemoryError"): mon.flush()
        assert out.shape == (2, 2) and mon._writer.is_alive()
        monkeypatch.setattr(type(mon._writer), "_records", real)
        assert mon.predict_proba(pd.DataFrame({"a": [3.0]})).shape == (1, 2)
        assert mon.flush() == 1
        st = mon.stats()
    assert (st["logged"], st["lost"]) == (1, 2) and "MemoryError" in st["last_store_error"]


def test_prefixed_input_columns_are_rejected_call_by_call_even_when_names_repeat(tmp_path):
    "The column check is cached per set of names: frames with the same names share its verdict, new names get their own."
    ok = pd.DataFrame({"a": np.arange(6.0), "b": list("uvwxyz")})
    bad = ok.rename(columns={"b": "monitor.b"})
    with Monitor(lambda df: np.tile([0.5, 0.5], (len(df), 1)), tmp_path / "m.sqlite", version="v", flush_interval_s=30) as mon:
        for i in range(6): mon.predict_proba((bad if i in (2, 4) else ok).iloc[[i]])
        mon.predict_proba(bad.rename(columns={"a": "c"}).iloc[[0]])     # new names, same clash
        st = mon.stats()
        w = mon.window()
    assert (st["logged"], st["rejected"]) == (4, 3), st
    assert "'monitor.b' uses the prefix" in st["last_rejection"]
    assert w["a"].tolist() == [0.0, 1.0, 3.0, 5.0]
