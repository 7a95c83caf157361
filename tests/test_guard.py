"""Guarded inference end to end: fallback rates under injected faults, deadlines that never block, outputs that are
always checked, per-row validation that agrees with `Schema.problems`, thread safety, and use as a model elsewhere."""
import subprocess, sys, textwrap, threading, time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck
from torch import nn

from prodkit.core import DataError, ModelError, Predictor, Schema, SchemaError, TabularAdapter
from prodkit.guard import AllPathsFailedError, FaultyModel, GuardedModel, fault_rates, row_problems


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=200), "y": rng.uniform(0, 5, 200), "c": rng.choice(["a", "b", "c"], 200)})
    ad = TabularAdapter().fit(train)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(ad.n_features_, 8), nn.ReLU(), nn.Linear(8, 2))
    return train, ad, m


def rule(df): return np.where(df["x"].to_numpy() > 0, 0.8, 0.2)


def test_fallback_rate_follows_injected_error_rate(setup):
    train, ad, m = setup
    flaky = FaultyModel(Predictor(m, adapter=ad), error_rate=0.05, seed=11)
    g = GuardedModel(flaky, fallbacks=[("rule", rule)], schema=ad.schema)
    n = 2000
    for i in range(n): g.predict_proba(train.iloc[[i % 200]])
    c = g.counts
    assert c["calls"] == n and c["failed_calls"] == 0
    assert c["served.rule"] == flaky.injected["error"] == c["failures.primary.error"]
    # binomial(2000, 0.05): mean 100, sd 9.7 -> a 5-sigma band
    assert 50 < c["served.rule"] < 150
    rep = g.report(bin_s=0.05)
    assert rep.summary["fallback_rate"] == pytest.approx(c["served.rule"] / n)
    assert rep.summary["served_share.primary"] + rep.summary["served_share.rule"] == pytest.approx(1.0)
    assert int(rep.to_frame()["calls"].sum()) == n


def test_primary_answers_equal_the_predictor_exactly(setup):
    train, ad, m = setup
    g = GuardedModel(m, fallbacks=[rule], adapter=ad)
    p = Predictor(m, adapter=ad)
    np.testing.assert_allclose(g.predict_proba(train), p.predict_proba(train), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(g.predict(train), p.predict(train))
    df = g.serve(train)
    assert (df.served_by == "primary").all() and (df.reasons == "").all()
    assert list(df.index) == list(train.index)
    assert g.path_names == ["primary", "fallback1"]


def test_chain_order_previous_version_then_rule(setup):
    train, ad, m = setup
    torch.manual_seed(1)
    prev = nn.Sequential(nn.Linear(ad.n_features_, 2))
    def down(X): raise ConnectionError("primary unavailable")
    g = GuardedModel(down, fallbacks={"previous": Predictor(prev, adapter=ad), "rule": rule}, schema=ad.schema)
    df = g.serve(train.head(20))
    assert (df.served_by == "previous").all()
    np.testing.assert_allclose(df[["p_0", "p_1"]].to_numpy(), Predictor(prev, adapter=ad).predict_proba(train.head(20)), atol=1e-7)
    assert df.reasons.str.startswith("primary: error: ConnectionError: primary unavailable").all()
    g2 = GuardedModel(down, fallbacks={"previous": FaultyModel(Predictor(prev, adapter=ad), nan_rate=1.0), "rule": rule}, schema=ad.schema)
    df = g2.serve(train.head(5))
    assert (df.served_by == "rule").all()
    assert "previous: invalid_output: NaN or infinite probabilities" in df.reasons.iloc[0]
    assert g2.counts["failures.previous.invalid_output"] == 1


def test_timeout_abandons_hung_call_and_never_blocks(setup):
    train, ad, _ = setup
    release = threading.Event()
    def hung(df): release.wait(30); return np.full(len(df), 0.5)
    g = GuardedModel(hung, fallbacks=[("rule", rule)], schema=ad.schema, timeout_ms=50)
    t0 = time.perf_counter()
    answers = [g.answer(train.iloc[[i]]) for i in range(10)]
    took = time.perf_counter() - t0
    release.set()
    assert all(a.served_by == "rule" for a in answers)
    assert took < 5.0  # ten deadlines of 50 ms, not ten hung calls of 30 s
    assert g.counts["failures.primary.timeout"] == 10
    assert answers[0].reasons == ("primary: timeout: timeout after 50 ms",)


def test_a_model_hung_for_good_never_piles_up_threads(setup):
    train, ad, _ = setup
    release = threading.Event()
    def hung(df): release.wait(60); return np.full(len(df), 0.5)
    g = GuardedModel(hung, fallbacks=[("rule", rule)], schema=ad.schema, timeout_ms=50, max_abandoned=4)
    before = threading.active_count()
    with ThreadPoolExecutor(8) as ex:
        served = list(ex.map(lambda i: g.answer(train.iloc[[i % 200]]).served_by, range(200)))
    assert served == ["rule"] * 200
    # at most max_abandoned hung threads, plus one per caller that started before the count was reached
    assert threading.active_count() - before <= 4 + 8
    c = g.counts
    assert c["failures.primary.timeout"] + c["failures.primary.overloaded"] == 200 and c["failures.primary.timeout"] <= 4 + 8
    release.set()


def test_hung_worker_does_not_keep_the_process_alive(tmp_path):
    code = textwrap.dedent("""
        import threading, numpy as np
        from prodkit.guard import GuardedModel
        def hung(X): threading.Event().wait()
        g = GuardedModel(hung, fallbacks=[lambda X: np.full(len(X), 0.3)], timeout_ms=20)
        print(g.answer(np.zeros((1, 3))).served_by)
    """)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "fallback1"
    assert time.perf_counter() - t0 < 60


def test_deadline_threads_are_reused_and_a_forked_child_starts_its_own():
    # calls one after another share one thread; a child forked while a thread idles (its thread stays behind) gets a
    # thread of its own instead of handing its call to a thread that is not there, which would time out every call
    code = textwrap.dedent("""
        import os, threading, time
        from prodkit.guard import _call_with_deadline, _Timeout
        from prodkit.guard import _CALL_THREADS
        loc, new = threading.local(), []
        def first(x):
            if not hasattr(loc, "seen"): loc.seen = new.append(1)
        for _ in range(20):
            _call_with_deadline(first, 0, 5.0)
            t = time.monotonic()   # the thread lists itself idle just after it answered
            while not _CALL_THREADS.idle and time.monotonic() - t < 10: time.sleep(0.001)
        assert len(new) == 1, len(new)
        pid = os.fork()
        if pid == 0:
            try: ok = _call_with_deadline(lambda x: x + 1, 1, 2.0) == 2
            except _Timeout: ok = False
            os._exit(0 if ok else 3)
        print(os.waitpid(pid, 0)[1] >> 8)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0", out.stdout + out.stderr


def test_all_paths_failing_raises_with_every_reason(setup):
    train, ad, _ = setup
    def boom(df): raise RuntimeError("boom")
    g = GuardedModel(boom, fallbacks=[("nan", lambda df: np.full(len(df), np.nan)), ("shape", lambda df: np.ones((len(df) + 1, 2)) / 2)],
                     schema=ad.schema)
    with pytest.raises(AllPathsFailedError) as ei:
        g.predict_proba(train.head(3))
    e = ei.value
    assert e.rows == [0, 1, 2]
    assert e.reasons[0] == ["primary: error: RuntimeError: boom", "nan: invalid_output: NaN or infinite probabilities",
                            "shape: invalid_output: returned shape (4, 2) for 3 rows, expected (3, classes)"]
    assert "no path gave a valid answer for 3 of 3 rows" in str(e)
    assert g.counts["failed_calls"] == 1 and g.events()["failed"].tolist() == [True]


bad_outputs = st.lists(st.sampled_from(["ok", "nan", "inf", "big", "neg", "unnormalised"]), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds_primary=bad_outputs, seed=st.integers(0, 1000))
def test_never_returns_an_unchecked_answer(setup, kinds_primary, seed):
    train, ad, _ = setup
    n = len(kinds_primary)
    rng = np.random.default_rng(seed)
    def make(kinds):
        def f(df):
            p = rng.dirichlet([1, 1, 1], size=len(df))
            for i, k in enumerate(kinds[:len(df)]):
                if k == "nan": p[i, 0] = np.nan
                elif k == "inf": p[i, 1] = np.inf
                elif k == "big": p[i] = [1.5, -0.25, -0.25]
                elif k == "neg": p[i] = [-0.1, 0.6, 0.5]
                elif k == "unnormalised": p[i] = [0.5, 0.5, 0.5]
            return p
        return f
    kinds_fb = list(rng.choice(["ok", "nan", "big"], size=n))
    g = GuardedModel(make(kinds_primary), fallbacks=[("fb", make(kinds_fb))], schema=ad.schema)
    X = train.head(n)
    expected_failed = [i for i in range(n) if kinds_primary[i] != "ok" and kinds_fb[[j for j in range(n) if kinds_primary[j] != "ok"].index(i)] != "ok"]
    if expected_failed:
        with pytest.raises(AllPathsFailedError) as ei: g.serve(X)
        assert ei.value.rows == expected_failed
        return
    df = g.serve(X)
    P = df[["p_0", "p_1", "p_2"]].to_numpy()
    assert np.isfinite(P).all() and (P >= 0).all() and (P <= 1).all()
    np.testing.assert_allclose(P.sum(1), 1, atol=1e-3)
    assert df.served_by.tolist() == ["primary" if k == "ok" else "fb" for k in kinds_primary]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nan_rows=st.sets(st.integers(0, 29)), unseen_rows=st.sets(st.integers(0, 29)), inf_rows=st.sets(st.integers(0, 29)))
def test_row_problems_agrees_with_schema_problems_row_by_row(setup, nan_rows, unseen_rows, inf_rows):
    train, ad, _ = setup
    schema = ad.schema
    X = train.head(30).copy()
    X.loc[list(nan_rows), "c"] = None
    X["x"] = X["x"].astype("float64")
    X.loc[list(unseen_rows), "c"] = "zz"
    X.loc[list(inf_rows), "y"] = np.inf
    X = X.sample(frac=1.0, random_state=1)  # a shuffled, non-range index: positions, not labels
    rp = row_problems(X, schema)
    truth = {i: [p.problem for p in schema.problems(X.iloc[[i]])] for i in range(len(X))}
    assert {i: [p.problem for p in ps] for i, ps in rp.items()} == {i: v for i, v in truth.items() if v}


def test_invalid_rows_flagged_or_rejected(setup):
    train, ad, m = setup
    X = train.head(6).copy(); X.loc[X.index[[1, 4]], "x"] = np.nan
    g = GuardedModel(m, adapter=ad)
    with pytest.raises(SchemaError) as ei: g.serve(X)
    assert sorted(ei.value.rows) == [1, 4] and ei.value.problems[0].problem == "unexpected_null"
    assert "2 of 6 input rows are invalid: row 1: column 'x' has 1 missing values" in str(ei.value)
    gf = GuardedModel(m, adapter=ad, on_invalid="flag")
    df = gf.serve(X)
    assert df.served_by.tolist() == ["primary", "rejected", "primary", "primary", "rejected", "primary"]
    assert df.prediction.isna().tolist() == [False, True, False, False, True, False]
    np.testing.assert_allclose(df.iloc[[0, 2]][["p_0", "p_1"]].to_numpy(), Predictor(m, adapter=ad).predict_proba(X.iloc[[0, 2]]), atol=1e-7)
    assert gf.counts["rejected_rows"] == 2 and gf.counts["served.primary"] == 4
    allbad = X.iloc[[1, 4]]
    df = gf.serve(allbad)
    assert df.served_by.tolist() == ["rejected", "rejected"]


def test_unseen_and_range_options(setup):
    train, ad, m = setup
    X = train.head(3).copy(); X.loc[X.index[0], "c"] = "new"; X.loc[X.index[1], "y"] = 99.0
    assert GuardedModel(m, adapter=ad, unseen="allow").serve(X).served_by.tolist() == ["primary"] * 3
    with pytest.raises(SchemaError, match="never seen in training"): GuardedModel(m, adapter=ad).serve(X)
    with pytest.raises(SchemaError, match="outside the training range"):
        GuardedModel(m, adapter=ad, unseen="allow", check_range=True).serve(X)


def test_counters_exact_under_concurrency(setup):
    train, ad, m = setup
    flaky = FaultyModel(Predictor(m, adapter=ad), error_rate=0.1, nan_rate=0.05, seed=5)
    g = GuardedModel(flaky, fallbacks=[("rule", rule)], schema=ad.schema)
    with ThreadPoolExecutor(16) as ex:
        served = list(ex.map(lambda i: g.answer(train.iloc[[i % 200]]).served_by, range(1000)))
    c = g.counts
    assert c["calls"] == 1000 and len(g.events()) == 1000
    assert c["served.rule"] == served.count("rule") == c["failures.primary.error"] + c["failures.primary.invalid_output"]
    # the injector draws error before nan in the same call: a call with both counts as an error
    assert c["failures.primary.error"] == flaky.injected["error"]


def test_regression_paths(setup):
    train, ad, _ = setup
    torch.manual_seed(0)
    reg = nn.Linear(ad.n_features_, 1)
    g = GuardedModel(FaultyModel(Predictor(reg, adapter=ad, task="regression"), nan_rate=1.0),
                     fallbacks=[("mean", lambda df: np.full(len(df), 2.5))], schema=ad.schema, task="regression")
    df = g.serve(train.head(4))
    assert df.served_by.tolist() == ["mean"] * 4 and df.prediction.tolist() == [2.5] * 4
    assert g.answer(train.head(1)).value == 2.5
    np.testing.assert_allclose(GuardedModel(reg, adapter=ad, task="regression").predict(train.head(4)),
                               Predictor(reg, adapter=ad, task="regression").predict(train.head(4)), atol=1e-6)


def test_torchscript_primary_and_tensor_inputs(setup):
    train, ad, m = setup
    sm = torch.jit.script(m)
    g = GuardedModel(sm, fallbacks=[rule], adapter=ad)
    X = ad.transform(train.head(8))
    np.testing.assert_allclose(g.predict_proba(X), Predictor(m).predict_proba(X), atol=1e-6)
    with pytest.raises(DataError, match="expects"): g.predict_proba(X[:, :2])


def test_event_log_is_bounded_and_rates_bin_in_time(setup):
    train, ad, m = setup
    g = GuardedModel(FaultyModel(rule, error_rate=0.5, seed=0), fallbacks=[("rule", rule)], schema=ad.schema, max_events=50)
    for i in range(120): g.answer(train.iloc[[i]])
    ev = g.events()
    assert len(ev) == 50 and g.counts["calls"] == 120
    r = fault_rates(ev, bin_s=3600)
    assert len(r) == 1 and r.calls.iloc[0] == 50
    assert r.error_rate.iloc[0] == pytest.approx(ev.error.mean()) and r.fallback_rate.iloc[0] == pytest.approx(ev.fallback.mean())
    assert fault_rates(ev.iloc[:0]).empty


def test_guarded_model_works_under_the_load_evaluator(setup):
    from prodkit import load
    train, ad, m = setup
    flaky = FaultyModel(Predictor(m, adapter=ad), error_rate=0.05, stall_rate=0.02, stall_ms=300, seed=0)
    g = GuardedModel(flaky, fallbacks=[("rule", rule)], schema=ad.schema, timeout_ms=100)
    # as a plain callable (probabilities) and through `answer` (each request tagged with the path that served it)
    rep = load.evaluate_under_load(g, train, scenario="server", qps=50, duration_s=1, warmup_s=0.2, timeout_ms=1000, seed=0, progress=False)
    assert rep.summary["error_rate"] == 0 and rep.summary["timeout_rate"] == 0
    g.reset()
    rep = load.evaluate_under_load(g.answer, train, scenario="server", qps=50, duration_s=2, warmup_s=0.2, timeout_ms=1000, seed=0, progress=False)
    s = rep.summary
    assert s["error_rate"] == 0 and s["timeout_rate"] == 0
    c = g.counts
    assert c["failed_calls"] == 0 and c["served.rule"] == c["failures.primary.error"] + c["failures.primary.timeout"]
    req = rep.requests[rep.requests.status == "ok"]
    assert set(req.tag) <= {"primary", "rule"}
    # every request the harness saw is one guarded call, and the tags count the same paths as the guard
    assert len(req) == c["calls"] and (req.tag == "rule").sum() == c["served.rule"]


def test_frames_are_checked_once_per_call(setup, monkeypatch):
    "The guard's per-row check is the only schema check: the predictor path encodes the checked rows without a second one."
    train, ad, m = setup
    # more rows than core's small-frame fast path takes (256), so the adapter's check is `Schema.validate` itself
    train = pd.concat([train, train], ignore_index=True)
    p = Predictor(m, adapter=ad, output="logits")
    g = GuardedModel(p)
    expected = p.predict_proba(train)
    calls = []
    real = Schema.validate
    monkeypatch.setattr(Schema, "validate", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    np.testing.assert_array_equal(g.predict_proba(train), expected)
    assert calls == []
    # a frame the guard did not check against the adapter's own schema is still checked by the adapter
    other = GuardedModel(p, schema=Schema.from_dict(ad.schema.to_dict()))
    np.testing.assert_array_equal(other.predict_proba(train), expected)
    assert len(calls) == 1


def test_hostile_column_and_path_names_are_kept_as_data_and_escaped_in_html():
    "A column and a fallback named like markup: reasons quote them verbatim, the report's HTML shows them as text, the plot draws."
    import io
    import matplotlib.pyplot as plt
    from bs4 import BeautifulSoup
    col, path = '<img src=x onerror="alert(1)"> $\\undefinedcmd$', "<script>alert(1)</script>"
    rng = np.random.default_rng(0)
    train = pd.DataFrame({col: rng.normal(size=50), "c": rng.choice(["[a](javascript:alert(1))", "b"], 50)})
    ad = TabularAdapter().fit(train)
    g = GuardedModel(nn.Linear(ad.n_features_, 2), adapter=ad, fallbacks=[(path, lambda df: np.full((len(df), 2), 0.5))], on_invalid="flag")
    bad = train.head(3).copy(); bad.loc[bad.index[0], col] = np.nan
    served = g.serve(bad)
    assert served.served_by.iloc[0] == "rejected" and repr(col) in served.reasons.iloc[0]
    rep = g.report(bin_s=0.1)
    assert f"served_share.{path}" in rep.summary
    soup = BeautifulSoup(rep._repr_html_(), "html.parser")
    assert not soup.find_all(["img", "script", "a"]) and path in soup.get_text()
    ax = rep.plot().ax_; ax.figure.savefig(io.BytesIO(), format="png"); plt.close(ax.figure)


@pytest.fixture(scope="module")
def diabetes():
    "A small torch regressor trained on scikit-learn's bundled diabetes data, and a weaker 'previous version'."
    from sklearn.datasets import load_diabetes
    df = load_diabetes(as_frame=True).frame
    ad = TabularAdapter(label="target").fit(df)
    X, y = ad.transform(df), torch.tensor(df["target"].to_numpy(), dtype=torch.float32)[:, None]
    def fit(hidden, steps, seed):
        torch.manual_seed(seed)
        m = nn.Sequential(nn.Linear(ad.n_features_, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        opt = torch.optim.Adam(m.parameters(), lr=0.1)
        for _ in range(steps):
            opt.zero_grad(); loss = ((m(X) - y) ** 2).mean(); loss.backward(); opt.step()
        return Predictor(m.eval(), adapter=ad, task="regression")
    return df, ad, fit(16, 150, 0), fit(4, 60, 1)


def test_regressor_fallback_chain_under_injected_faults(diabetes):
    """A regression guard: regressors and a rule along the chain, deadlines, every answer the value of the path that served it."""
    df, ad, current, previous = diabetes
    feats = df.drop(columns="target")
    mean = float(df["target"].mean())
    primary = FaultyModel(current, error_rate=0.15, stall_rate=0.1, stall_ms=300, nan_rate=0.1, seed=0)
    replica = FaultyModel(previous, error_rate=0.3, seed=1)
    g = GuardedModel(primary, fallbacks=[("previous", replica), ("mean", lambda d: mean)], schema=ad.schema, timeout_ms=100, on_invalid="flag")
    assert g.task == "regression"            # read from the primary's Predictor, through the FaultyModel
    reqs = feats.sample(80, random_state=0).reset_index(drop=True)
    reqs.loc[[5, 40], "bmi"] = np.nan        # two requests the model never saw missing
    with ThreadPoolExecutor(4) as ex: answers = list(ex.map(lambda i: g.answer(reqs.iloc[[i]]), range(len(reqs))))
    by = pd.Series([a.served_by for a in answers])
    assert by[[5, 40]].tolist() == ["rejected", "rejected"] and answers[5].value is None
    assert {"primary", "previous", "mean"} <= set(by), by.value_counts()
    ok = reqs.drop(index=[5, 40])
    want = {"primary": pd.Series(current.predict(ok), index=ok.index), "previous": pd.Series(previous.predict(ok), index=ok.index)}
    for i, a in enumerate(answers):
        if a.served_by in want: assert abs(a.value - want[a.served_by][i]) < 1e-6 * max(1.0, abs(want[a.served_by][i])), (i, a)
        elif a.served_by == "mean": assert a.value == mean and a.reasons[-1].startswith("previous: ")
    c = g.counts
    assert c["failed_calls"] == 0 and c["rejected_rows"] == 2
    # each kind of injected fault was met and absorbed (a loaded machine may turn some into timeouts, never the reverse)
    assert 0 < c["failures.primary.error"] <= primary.injected["error"]
    assert 0 < c["failures.primary.invalid_output"] <= primary.injected["nan"]
    assert c["failures.primary.timeout"] > 0 and primary.injected["stall"] > 0
    s = g.report(bin_s=0.5).summary
    assert s["failed_rate"] == 0 and s["served_share.primary"] + s["served_share.previous"] + s["served_share.mean"] == pytest.approx(1)
    # a batch: one answer per row, rejected rows flagged, values in the label's units
    out = g.serve(reqs.head(8))
    assert list(out.columns) == ["prediction", "served_by", "reasons"] and out["prediction"].between(0, 400).sum() >= 7


def test_fault_injection_evaluation_of_a_regressor(diabetes):
    """The validation run's guard check works for a regressor: a chain of regressors and a one-value rule, every call answered."""
    from prodkit.guard import evaluate_guard
    df, ad, current, _ = diabetes
    rep = evaluate_guard(current, df.sample(120, random_state=1), rule=float(df["target"].mean()), error_rate=0.1, stall_rate=0.05,
                         stall_ms=300, bad_share=0.05, seed=0)
    s = rep.summary
    assert s["calls"] == 120 and s["failed_rate"] == 0
    assert s["primary_max_abs_diff"] < 1e-3            # float32 values in the label's units (25..346)
    served = pd.Series([a.served_by for a in rep.answers])
    assert s["rejected_rows"] == (served == "rejected").sum() > 0
    assert (served == "primary").sum() > 0 and s["primary_error_rate"] > 0 and s["primary_timeout_rate"] > 0
    for a in rep.answers:
        if a.served_by == "rule": assert a.value == pytest.approx(df["target"].mean())
        elif a.served_by != "rejected": assert isinstance(a.value, float) and np.isfinite(a.value)
    import json; json.dumps(rep.summary, allow_nan=False)   # JSON-able, as the validation template records it


class _Bundle:
    "What a loaded bundle offers the guard: its predictor."
    def __init__(self, predictor): self.predictor = predictor


def test_guarded_model_is_a_scorer_with_the_task_of_its_primary(setup):
    """One vocabulary: the guard's `task` is read from the primary (through a wrapper or a bundle), it is a `Scorer`
    that `as_predictor` takes as it is, and a path of the other task is refused when the guard is built."""
    from prodkit.core import ParameterError, Scorer, as_predictor
    train, ad, m = setup
    torch.manual_seed(1)
    reg = Predictor(nn.Linear(ad.n_features_, 1), adapter=ad, task="regression")
    g = GuardedModel(_Bundle(reg), fallbacks=[("mean", lambda d: 1.5)], schema=ad.schema)
    assert isinstance(g, Scorer) and as_predictor(g) is g and (g.task, g.classes_) == ("regression", None)
    np.testing.assert_allclose(g(train.head(5)), reg.predict(train.head(5)), atol=1e-6)
    with pytest.raises(ParameterError, match="predict_proba is for classifiers"): g.predict_proba(train.head(2))
    assert not hasattr(g, "output")
    clf = GuardedModel(Predictor(m, adapter=ad, classes=["no", "yes"]), fallbacks=[rule])
    assert (clf.task, clf.classes_) == ("classification", ["no", "yes"])
    assert clf.predict(train.head(3)).tolist() == Predictor(m, adapter=ad, classes=["no", "yes"]).predict(train.head(3)).tolist()
    with pytest.raises(ParameterError, match="path 'clf' is a classifier but the guard serves task='regression'"):
        GuardedModel(FaultyModel(reg), fallbacks=[("clf", Predictor(m, adapter=ad))])
    with pytest.raises(ParameterError, match="path 'primary' is a regressor"): GuardedModel(reg, task="classification")
    plain = GuardedModel(lambda d: np.full(len(d), 2.0), task="regression", schema=ad.schema)
    assert plain.task == "regression" and plain.predict(train.head(2)).tolist() == [2.0, 2.0]


def test_a_bare_torch_path_is_wrapped_with_the_guards_adapter_and_task(setup):
    train, ad, m = setup
    torch.manual_seed(2)
    lin = nn.Linear(ad.n_features_, 1)
    g = GuardedModel(lin, adapter=ad, task="regression")
    assert g.paths[0][1] == "predictor" and g.paths[0][2].task == "regression"
    np.testing.assert_allclose(g.predict(train.head(4)), Predictor(lin, adapter=ad, task="regression").predict(train.head(4)), atol=1e-6)


def test_evaluate_guard_takes_a_bundle(setup):
    from prodkit.guard import evaluate_guard
    train, ad, m = setup
    rep = evaluate_guard(_Bundle(Predictor(m, adapter=ad)), train.head(30), rule=[0.5, 0.5], error_rate=0.3, stall_rate=0.0,
                         bad_share=0.0, threads=2, seed=0)
    s = rep.summary
    assert (s["calls"], s["failed_rate"]) == (30, 0.0) and s["primary_max_abs_diff"] < 1e-6 and s["primary_error_rate"] > 0
