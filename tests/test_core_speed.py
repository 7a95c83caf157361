"""The fast path for small frames and records (the serving path) gives exactly what the general path gives: the same
problems, the same errors with the same messages, the same encoded numbers and the same probabilities, on many seeded
random frames, clean and broken. Speed itself is measured in benchmarks/predict_bench.py, never asserted here."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import prodkit.core as core
from prodkit.core import Predictor, Schema, TabularAdapter

N_FRAMES = 100


def _train(rng, n=60):
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s")
    return pd.DataFrame({
        "x": rng.normal(50, 10, n).round(2),                                        # numeric, never missing
        "xn": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1, n)),           # numeric, nullable
        "k": rng.integers(0, 9, n),                                                 # integer numeric
        "b": rng.random(n) < 0.5,                                                   # boolean
        "c": rng.choice(["red", "green", "blue"], n),                               # categorical, never missing
        "cn": pd.Series(rng.choice(["a", "b", None], n), dtype="str"),              # categorical, nullable
        "t": ts,                                                                    # datetime, naive
        "tz": ts.tz_localize("UTC"),                                                # datetime, aware
        "when": ts, "y": rng.integers(0, 2, n)})                                    # roles


def _mutate(df, rng, kind):
    "One thing a caller might send: most are fine, some break the schema, some are merely unusual dtypes."
    d = df.copy(); i = int(rng.integers(0, len(d))); col = lambda c: d[c].astype(object)
    if kind == "nan_in_x": d["x"] = d["x"].where(d.index != d.index[i])
    elif kind == "nan_in_xn": d["xn"] = d["xn"].where(d.index != d.index[i])
    elif kind == "inf": d["xn"] = d["xn"].mask(d.index == d.index[i], np.inf)
    elif kind == "out_of_range": d["x"] = d["x"] + 1000 * (d.index == d.index[i])
    elif kind == "unseen": v = col("c"); v.iloc[i] = "purple"; d["c"] = v.astype("str")
    elif kind == "none_in_c": v = col("c"); v.iloc[i] = None; d["c"] = v
    elif kind == "none_in_cn": v = col("cn"); v.iloc[i] = None; d["cn"] = v
    elif kind == "k_float": d["k"] = d["k"].astype("float64")
    elif kind == "k_float32": d["k"] = d["k"].astype("float32")
    elif kind == "x_text": d["x"] = d["x"].astype(str)
    elif kind == "x_Float64": d["x"] = d["x"].astype("Float64")
    elif kind == "x_all_none": d["xn"] = pd.Series([None] * len(d), index=d.index, dtype=object)
    elif kind == "x_bool": d["x"] = d["x"] > 50
    elif kind == "b_int": d["b"] = d["b"].astype(int)
    elif kind == "b_object": d["b"] = col("b")
    elif kind == "b_all_none": d["b"] = pd.Series([None] * len(d), index=d.index, dtype=object)
    elif kind == "c_object": d["c"] = col("c")
    elif kind == "c_string": d["cn"] = d["cn"].astype("string")
    elif kind == "c_category": d["c"] = d["c"].astype("category")
    elif kind == "c_numbers": v = col("c"); v.iloc[i] = 7; d["c"] = v
    elif kind == "c_nested": v = col("c"); v.iloc[i] = ["red"]; d["c"] = v
    elif kind == "c_bool": d["c"] = d["b"]
    elif kind == "c_np_str": d["c"] = pd.Series([np.str_(v) for v in d["c"]], index=d.index, dtype=object)
    elif kind == "drop": d = d.drop(columns=rng.choice(["x", "c", "b", "t"]))
    elif kind == "extra": d["zzz"] = 1.0
    elif kind == "dup": d = pd.concat([d, d[["x"]]], axis=1)
    elif kind == "reorder": d = d[list(rng.permutation(d.columns))]
    elif kind == "tz_naive": d["tz"] = d["t"]
    elif kind == "tz_aware": d["t"] = d["tz"]
    elif kind == "other_zone": d["tz"] = d["tz"].dt.tz_convert("Asia/Tokyo")
    elif kind == "nat": d["t"] = d["t"].where(d.index != d.index[i])
    elif kind == "features_only": d = d[["x", "xn", "k", "b", "c", "cn", "t", "tz"]]
    return d


MUTATIONS = ["nan_in_x", "nan_in_xn", "inf", "out_of_range", "unseen", "none_in_c", "none_in_cn", "k_float", "k_float32",
             "x_text", "x_Float64", "x_all_none", "x_bool", "b_int", "b_object", "b_all_none", "c_object", "c_string",
             "c_category", "c_numbers", "c_nested", "c_bool", "c_np_str", "drop", "extra", "dup", "reorder", "tz_naive",
             "tz_aware", "other_zone", "nat", "features_only"]


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    train = _train(rng)
    schema = Schema.infer(train, label="y", time="when")
    adapter = TabularAdapter(schema).fit(train)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(adapter.n_features_, 8), nn.Tanh(), nn.Linear(8, 3))
    return rng, schema, adapter, Predictor(net, adapter=adapter, output="logits")


def _frames(rng, pool, n_frames=N_FRAMES):
    for j in range(n_frames):
        n = int(rng.choice([1, 1, 1, 2, 3, 7, 40]))
        df = pool.iloc[np.sort(rng.choice(len(pool), n, replace=False))]
        kinds = list(rng.choice(MUTATIONS, int(rng.choice([0, 0, 1, 1, 2])), replace=False))
        for k in kinds:
            try: df = _mutate(df, rng, k)
            except (TypeError, ValueError): pass   # a mutation that does not apply after an earlier one (e.g. int() of None)
        yield j, kinds, df


def _outcome(fn):
    "What a call gives: ('ok', value) or ('error', class name, message)."
    try: return ("ok", fn())
    except Exception as e: return ("error", type(e).__name__, str(e))


def _same(a, b):
    if a[0] != b[0] or a[0] == "error": return a == b
    x, y = a[1], b[1]
    if isinstance(x, list): return [p.__dict__ for p in x] == [p.__dict__ for p in y]
    if isinstance(x, pd.DataFrame): return x is y
    return np.array_equal(np.asarray(x), np.asarray(y))


def _calls(schema, adapter, pred, df):
    return {"problems": lambda: schema.problems(df), "problems_allow": lambda: schema.problems(df, unseen="allow"),
            "problems_extra": lambda: schema.problems(df, extra="error"),
            "problems_range": lambda: schema.problems(df, check_range=True),
            "validate": lambda: schema.validate(df), "encode": lambda: adapter.encode(df),
            "encode_error": lambda: adapter.encode(df, unseen="error"), "encode_validated": lambda: adapter.encode(df, validated=True),
            "transform": lambda: adapter.transform(df), "predict_proba": lambda: pred.predict_proba(df)}


def _compare(setup, items, monkeypatch):
    _, schema, adapter, pred = setup
    fast_taken = general_only = 0
    for j, kinds, df in items:
        took = core._fast_values(schema, df) is not None
        fast_taken += took; general_only += not took
        fast = {k: _outcome(f) for k, f in _calls(schema, adapter, pred, df).items()}
        with monkeypatch.context() as m:
            m.setattr(core, "_FAST", False)
            assert core._fast_values(schema, df) is None
            general = {k: _outcome(f) for k, f in _calls(schema, adapter, pred, df).items()}
        for k in fast:
            assert _same(fast[k], general[k]), (j, kinds, k, fast[k], general[k])
    return fast_taken, general_only


def test_the_fast_path_equals_the_general_path_on_random_frames(setup, monkeypatch):
    rng, schema = setup[0], setup[1]
    pool = _train(np.random.default_rng(1), 200)
    fast_taken, general_only = _compare(setup, _frames(np.random.default_rng(2), pool), monkeypatch)
    assert fast_taken >= N_FRAMES // 4 and general_only >= N_FRAMES // 10, (fast_taken, general_only)   # both paths really ran


def _records(rng, pool, n=100):
    feats = ["x", "xn", "k", "b", "c", "cn", "t", "tz"]
    odd = [None, np.nan, "purple", "12.5", 3, True, np.float32(2.5), np.int8(4), ["red"], pd.Timestamp("2024-02-01"), 2**70]
    for j in range(n):
        r = pool.iloc[int(rng.integers(0, len(pool)))]
        rec = {c: (r[c].item() if hasattr(r[c], "item") else r[c]) for c in feats}
        for c in rng.choice(feats, int(rng.choice([0, 0, 1, 2])), replace=False):
            rec[c] = odd[int(rng.integers(0, len(odd)))]
        if rng.random() < 0.1: rec.pop(str(rng.choice(feats)))
        if rng.random() < 0.1: rec["extra"] = 1.0
        yield j, rec


def test_a_record_is_one_row_and_takes_the_fast_path(setup, monkeypatch):
    _, schema, adapter, pred = setup
    pool = _train(np.random.default_rng(3), 100)
    taken = 0
    for j, rec in _records(np.random.default_rng(4), pool):
        taken += core._fast_values(schema, rec) is not None
        frame = pd.DataFrame([rec])
        for name, f in (("encode", adapter.encode), ("predict_proba", pred.predict_proba)):
            fast = _outcome(lambda: f(rec))
            with monkeypatch.context() as m:
                m.setattr(core, "_FAST", False)
                general = _outcome(lambda: f(frame))
            assert _same(fast, general), (j, rec, name, fast, general)
    assert taken >= 30, taken


def test_a_series_row_is_a_record(setup):
    _, schema, adapter, pred = setup
    pool = _train(np.random.default_rng(5), 20)
    test = pool.drop(columns=["y", "when"])
    np.testing.assert_array_equal(pred.predict_proba(test.iloc[3]), pred.predict_proba(test.iloc[[3]]))


def test_a_list_of_records_is_a_frame(setup):
    _, schema, adapter, pred = setup
    pool = _train(np.random.default_rng(6), 5).drop(columns=["y", "when"])
    recs = pool.to_dict("records")
    np.testing.assert_array_equal(pred.predict_proba(recs), pred.predict_proba(pool))


def test_editing_a_schema_or_refitting_an_adapter_is_seen(setup):
    "The fast path caches what it reads of a schema and an adapter; a new feature list or new statistics are read again."
    rng = np.random.default_rng(7)
    train = _train(rng); row = train.iloc[[0]]
    ad = TabularAdapter(Schema.infer(train, label="y", time="when")).fit(train)
    before = ad.encode(row)
    ad.fit(train.assign(x=train.x * 2))   # new statistics
    with pytest.MonkeyPatch.context() as m:
        m.setattr(core, "_FAST", False); expect = ad.encode(row)
    np.testing.assert_array_equal(ad.encode(row), expect)
    assert not np.array_equal(before, expect)
    s = Schema.infer(train, label="y", time="when"); assert s.problems(row) == []
    s.features = [f for f in s.features if f.name != "c"] + [core.Feature("new", "numeric", "float64")]
    assert [p.problem for p in s.problems(row)] == ["missing_column"]


def test_a_frame_larger_than_the_fast_path_uses_the_general_path(setup):
    _, schema, adapter, pred = setup
    big = _train(np.random.default_rng(8), core._SMALL + 1)
    assert core._fast_values(schema, big) is None
    assert core._fast_values(schema, big.iloc[:core._SMALL]) is not None
