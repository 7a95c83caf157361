"""Statistical behaviour of prodkit.drift, with seeded repetitions (the issue's 'done means' list)."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from prodkit.core import Predictor, Schema, TabularAdapter
from prodkit.drift import (PageHinkley, ReferenceProfile, WindowSummary, detect_drift, drift_over_time,
                           performance_over_time)

ALPHA = 0.05


def frame(n, g, shift=0.0, p=8, cats=True):
    "p independent normal features (x0 shifted by `shift` sd) and two categorical ones."
    d = {f"x{i}": g.normal(size=n) for i in range(p)}
    d["x0"] = d["x0"] + shift
    if cats:
        d["c0"] = g.choice(np.array(["a", "b", "c", "d"]), n, p=[.4, .3, .2, .1])
        d["c1"] = g.choice(np.array(["u", "v"]), n)
    return pd.DataFrame(d)


def upper(k_expected_rate, reps):
    "Largest count of false alarms still consistent (one-sided, 1%) with a true rate of `k_expected_rate`."
    return int(stats.binom.ppf(0.99, reps, k_expected_rate))


@pytest.fixture(scope="module")
def ref10k():
    return ReferenceProfile.fit(frame(10_000, np.random.default_rng(100)))


@pytest.mark.parametrize("m,reps", [(100, 200), (100_000, 25)])
def test_false_alarm_rate_no_shift(ref10k, m, reps):
    g = np.random.default_rng(m)
    dataset, feature = 0, 0
    for i in range(reps):
        r = ref10k.compare(frame(m, g), multivariate=False, seed=i)
        dataset += r.summary["dataset_drift"]; feature += r.summary["n_drifted"]
    assert dataset <= upper(ALPHA, reps), (dataset, reps)
    assert feature / (reps * 10) <= ALPHA


def test_false_alarm_rate_with_multivariate(ref10k):
    "The domain classifier joins the Holm family: the dataset-level false alarm rate stays near alpha."
    g = np.random.default_rng(7); reps = 40
    alarms = sum(ref10k.compare(frame(1000, g), seed=i).summary["dataset_drift"] for i in range(reps))
    assert alarms <= upper(ALPHA, reps), alarms


def test_power_for_a_0p3_sd_shift_at_1000_rows(ref10k):
    g = np.random.default_rng(3); reps = 60
    hits = 0
    for i in range(reps):
        r = ref10k.compare(frame(1000, g, shift=0.3), multivariate=False, seed=i)
        hits += "x0" in r.drifted_features
        assert set(r.drifted_features) <= {"x0"}
    assert hits / reps >= 0.8, hits


def test_negligible_shift_at_1m_rows_is_not_drift():
    g = np.random.default_rng(4)
    prof = ReferenceProfile.fit(frame(1_000_000, g, p=2, cats=False))
    for i in range(2):
        r = prof.compare(frame(1_000_000, g, shift=0.01, p=2, cats=False), multivariate=False, seed=i)
        t = r.to_frame().set_index("feature")
        assert t.loc["x0", "p_adjusted"] < ALPHA  # a p-value alone would call it drift ...
        assert not r.summary["dataset_drift"] and t.loc["x0", "effect_size"] < 0.03  # ... the tolerance does not


def test_correlation_change_found_by_the_multivariate_test(ref10k):
    g = np.random.default_rng(5)
    for i in range(4):
        cur = frame(2000, g); cur["x1"] = 0.8 * cur["x0"] + 0.6 * cur["x1"]  # x1 stays N(0, 1)
        r = ref10k.compare(cur, seed=i)
        assert r.drifted_features == [] and r.summary["multivariate_drift"] and r.summary["dataset_drift"]
        attr = r.multivariate["attribution"]
        assert sorted(attr, key=attr.get)[-2:] in (["x0", "x1"], ["x1", "x0"])


def test_new_category_of_5_percent_is_flagged(ref10k):
    g = np.random.default_rng(6)
    for i in range(10):
        cur = frame(2000, g); new = g.random(2000) < 0.05
        cur.loc[new, "c0"] = "brand_new"
        r = ref10k.compare(cur, multivariate=False, seed=i)
        row = r.to_frame().set_index("feature").loc["c0"]
        assert r.drifted_features == ["c0"] and "unseen categories" in row["reasons"] and "brand_new" in row["unseen_examples"]


def test_missing_rate_change_is_a_signal_of_its_own(ref10k):
    g = np.random.default_rng(8); cur = frame(5000, g)
    cur.loc[g.random(5000) < 0.1, "x3"] = np.nan
    row = ref10k.compare(cur, multivariate=False).to_frame().set_index("feature").loc["x3"]
    assert row["drifted"] and row["reasons"] == "missing rate" and abs(row["missing_cur"] - 0.1) < 0.02


def test_bh_is_never_stricter_than_holm(ref10k):
    cur = frame(300, np.random.default_rng(9), shift=0.25)
    h = ref10k.compare(cur, multivariate=False).to_frame().set_index("feature")["p_adjusted"]
    b = ref10k.compare(cur, multivariate=False, correction="bh").to_frame().set_index("feature")["p_adjusted"]
    assert (b <= h + 1e-12).all()


def test_bins_come_from_the_reference_only(ref10k, tmp_path):
    g = np.random.default_rng(10)
    edges = ref10k.columns["x0"]["edges"].copy()
    ref10k.compare(frame(500, g, shift=3.0), multivariate=False)
    np.testing.assert_array_equal(ref10k.columns["x0"]["edges"], edges)
    back = ReferenceProfile.load(ref10k.save(tmp_path / "p.npz"))
    np.testing.assert_array_equal(back.columns["x0"]["edges"], edges)
    cur = frame(800, g, shift=0.5)
    a = ref10k.compare(cur, seed=1).to_frame(); b = back.compare(cur, seed=1).to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_chunk_summaries_merge_to_the_whole(ref10k):
    g = np.random.default_rng(11); cur = frame(9000, g, shift=0.2)
    parts = [ref10k.summarize(cur.iloc[i:i + 3000], seed=i) for i in range(0, 9000, 3000)]
    merged = parts[0] + parts[1] + parts[2]
    whole = ref10k.summarize(cur)
    assert isinstance(merged, WindowSummary) and merged.n_rows == 9000
    for f in ref10k.features:
        np.testing.assert_array_equal(merged.columns[f]["counts"], whole.columns[f]["counts"])
    a = ref10k.compare(merged, multivariate=False, seed=0).to_frame().set_index("feature")
    b = ref10k.compare(whole, multivariate=False, seed=0).to_frame().set_index("feature")
    np.testing.assert_allclose(a["effect_size"], b.loc[a.index, "effect_size"])


def test_same_seed_same_numbers(ref10k):
    cur = frame(1500, np.random.default_rng(12), shift=0.2)
    a, b = ref10k.compare(cur, seed=3), ref10k.compare(cur, seed=3)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert json.dumps(a.summary) == json.dumps(b.summary)


def _labelled(n, g, shift=0.0, flip=0.0):
    x = g.normal(shift, 1, n); p1 = 1 / (1 + np.exp(-3 * x))
    y = (g.random(n) < p1).astype(int); f = g.random(n) < flip; y[f] = 1 - y[f]
    return pd.DataFrame({"x": x, "z": g.normal(size=n), "label": y})


def test_output_confidence_and_calibration_drift():
    import torch
    g = np.random.default_rng(13); ref = _labelled(5000, g)
    schema = Schema.infer(ref, label="label"); net = torch.nn.Linear(2, 1)
    with torch.no_grad(): net.weight[:] = torch.tensor([[3.0, 0.0]]); net.bias.zero_()
    pred = Predictor(net, adapter=TabularAdapter(schema).fit(ref), output="logits")
    r = detect_drift(ref, _labelled(3000, g, shift=0.7, flip=0.25), schema=schema, predictor=pred)
    s = r.summary
    assert s["output_drift"] and s["calibration_drift"] and s["calibration_change"] > 0.05
    assert r.calibration["accuracy_cur"] < r.calibration["accuracy_ref"] - 0.1
    r0 = detect_drift(ref, _labelled(3000, g), schema=schema, predictor=pred)
    assert not r0.summary["output_drift"] and not r0.summary["confidence_drift"] and not r0.summary["calibration_drift"]


def test_drift_over_time_finds_when_it_starts():
    g = np.random.default_rng(14)
    ref = frame(5000, g, p=3)
    data = pd.concat([frame(2000, g, p=3), frame(2000, g, shift=0.5, p=3)], ignore_index=True)
    data["ts"] = pd.date_range("2024-01-01", periods=4000, freq="h")
    tl = drift_over_time(ref, data, time="ts", freq="14D", progress=False)
    w = tl.to_frame(); change = data["ts"].iloc[2000]
    assert not w.loc[w["end"] < change, "dataset_drift"].any() and w.loc[w["start"] > change, "dataset_drift"].all()
    assert tl.summary["features_drifted"] == "x0"


def test_page_hinkley_false_alarm_rate_is_as_stated():
    g = np.random.default_rng(15); reps = 300; fitted = {}
    for rate, fa in ((0.1, 0.05), (0.3, 0.1)):
        ph = PageHinkley(false_alarm=fa).fit((g.random(5000) < rate).astype(float), horizon=2000, seed=1)
        streams = (g.random((reps, 2000)) < rate).astype(float)
        alarms = sum(len(ph.detect(s)) > 0 for s in streams)
        assert alarms <= upper(fa, reps), (rate, fa, alarms)
        assert alarms >= stats.binom.ppf(0.001, reps, fa / 4)  # calibrated, not absurdly conservative
        fitted[rate] = ph
    late = np.r_[g.random(1000) < 0.1, g.random(1000) < 0.25].astype(float)
    assert 1000 <= fitted[0.1].detect(late)[0] < 1300


def test_performance_over_time_separates_covariate_shift_from_concept_change():
    g = np.random.default_rng(16)
    def scored(n, shift=0.0, flip=0.0):
        X = pd.DataFrame({"a": g.normal(shift, 1, n), "b": g.normal(size=n)}); p = 1 / (1 + np.exp(-(2 * X.a - X.b)))
        y = (g.random(n) < p).astype(int); f = g.random(n) < flip; y[f] = 1 - y[f]
        return X, y, p.to_numpy()
    Xr, yr, sr = scored(4000)
    parts = [scored(1500), scored(1500, shift=1.5), scored(1500, flip=0.3)]  # no change, covariate shift, concept change
    X = pd.concat([p[0] for p in parts], ignore_index=True); y = np.concatenate([p[1] for p in parts]); s = np.concatenate([p[2] for p in parts])
    t = pd.Series(pd.date_range("2024-01-01", periods=len(y), freq="h"))
    X = X.assign(ts=t)
    pt = performance_over_time(y, s, time="ts", chunk_size=1500, reference=(yr, sr), X=X, X_reference=Xr, progress=False)
    w = pt.to_frame()
    assert not w.loc[0, "degraded"] and abs(w.loc[0, "change"]) < 0.05
    # covariate shift: the realised change is mostly what the reweighted reference predicts
    assert abs(w.loc[1, "concept_effect"]) < 0.04 and abs(w.loc[1, "covariate_effect"] - w.loc[1, "change"]) < 0.05
    # concept change: performance drops beyond what the (absent) covariate shift explains
    assert w.loc[2, "degraded"] and w.loc[2, "concept_effect"] < -0.15 and abs(w.loc[2, "covariate_effect"]) < 0.04
    assert pt.alarms["time"].iloc[0] >= t.iloc[3000]
    assert pt.summary["first_alarm"].startswith(str(t.iloc[3000].date())[:7])


def test_demo_drifting_features_and_concept_drift_date():
    from prodkit.demo import load_demo
    d = load_demo(digits=False)
    rep = detect_drift(d.reference, d.current, schema=d.schema, predictor=d.predictor)
    assert set(rep.drifted_features) == set(d.info["drifting_features"])
    assert rep.summary["output_drift"] and rep.summary["multivariate_drift"]
    ref, cur, names = d.reference, d.current, d.schema.names
    pt = performance_over_time(cur["label"], d.predictor.predict_proba(cur)[:, 1], time="timestamp", freq="14D",
                               reference=(ref["label"], d.predictor.predict_proba(ref)[:, 1]), X=cur[names + ["timestamp"]], X_reference=ref[names],
                               progress=False)
    w = pt.to_frame(); date = pd.Timestamp(d.info["concept_drift_date"])
    first = w[w["degraded"]].iloc[0]
    assert first["start"] <= date <= first["end"] + pd.Timedelta("1D")
    assert not w.loc[w["end"] < date - pd.Timedelta("14D"), "degraded"].any()
    after = w[w["start"] > date]
    assert (after["concept_effect"] < -0.04).all() and (after["covariate_effect"].abs() < 0.03).all()
    assert after["alarms"].sum() > w.loc[w["end"] < date, "alarms"].sum()


def _tiny_bundle(tmp_path):
    import torch
    from prodkit.versioning import save_bundle
    g = np.random.default_rng(17); n = 3000
    t = pd.date_range("2024-01-01", periods=2 * n, freq="h")
    x = np.r_[g.normal(size=n), g.normal(0.6, 1, n)]
    df = pd.DataFrame({"x": x, "z": g.normal(size=2 * n), "c": g.choice(["a", "b"], 2 * n), "timestamp": t})
    df["label"] = (g.random(2 * n) < 1 / (1 + np.exp(-2 * df["x"]))).astype(int)
    ref, cur = df.iloc[:n].reset_index(drop=True), df.iloc[n:].reset_index(drop=True)
    schema = Schema.infer(ref, label="label", time="timestamp"); adapter = TabularAdapter(schema).fit(ref)
    net = torch.nn.Linear(adapter.n_features_, 1)
    with torch.no_grad(): net.weight.zero_(); net.weight[0, 0] = 2.0 * adapter.stats_["x"]["std"]; net.bias.fill_(2.0 * adapter.stats_["x"]["mean"])
    save_bundle(tmp_path / "bundle", net, adapter, output="logits", classes=[0, 1])
    pred = Predictor(net, adapter=adapter, output="logits", classes=[0, 1])
    ReferenceProfile.fit(ref, schema=schema, predictor=pred).save(tmp_path / "profile.npz")
    cur.to_parquet(tmp_path / "current.parquet")
    return tmp_path


def test_drift_monitoring_template_runs_and_gates(tmp_path):
    from prodkit.jobs import run_notebook
    d = _tiny_bundle(tmp_path)
    res = run_notebook("templates/drift_monitoring.ipynb",
                       {"profile": str(d / "profile.npz"), "current": str(d / "current.parquet"), "model": str(d / "bundle"),
                        "start": "2024-06-01", "freq": "7D", "gates": "drift.share_drifted <= 0.2"}, d / "job")
    out = json.loads((d / "job" / "results.json").read_text())
    r = out["results"]
    assert r["drift.n_drifted"] == 1 and r["drift.top_feature"] == "x" and r["drift.output_drift"] is True
    assert r["drift.n_current"] < 3000 and "drift.timeline.n_windows" in r and "drift.concept.metric" in r
    assert res.summary["exit_code"] == 1 and out["gates"][0]["passed"] is False  # 1 of 3 features drifted > 0.2
    assert "data:image/png" in (d / "job" / "drift_monitoring.html").read_text()


# ---- properties of the statistics (hypothesis)
from hypothesis import example, given, settings, strategies as st
from hypothesis.extra.numpy import arrays


@settings(max_examples=40, deadline=None)
@given(arrays(float, st.integers(1, 30), elements=st.floats(0, 1)), st.sampled_from(["holm", "bh"]))
def test_adjusted_pvalues_are_at_least_raw_and_keep_order(p, method):
    from prodkit.drift import adjust_pvalues
    a = adjust_pvalues(p, method)
    assert (a >= p - 1e-12).all() and (a <= 1).all()
    o = np.argsort(p, kind="stable")
    assert (np.diff(a[o]) >= -1e-12).all()
    if method == "holm": assert (a >= adjust_pvalues(p, "bh") - 1e-12).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(-2, 2), st.floats(0.3, 3))
@example(332, 2.0, 1.0)   # much of the current in the reference's wide top bins: linear reading was off by 0.057
@example(0, -2.0, 0.5)   # the CDFs cross in the reference's widest (lowest) bin: reading that bin linearly was 0.042 off
def test_binned_wasserstein_and_ks_match_the_exact_ones(seed, shift, scale):
    from scipy.stats import ks_2samp, wasserstein_distance
    g = np.random.default_rng(seed); a = g.normal(size=3000); b = g.normal(shift, scale, 2000)
    prof = ReferenceProfile.fit(pd.DataFrame({"v": a}))
    row = prof.compare(pd.DataFrame({"v": b}), multivariate=False, n_boot=0).to_frame().iloc[0]
    w = wasserstein_distance(a, b)
    assert abs(row["wasserstein"] - w) <= 0.02 * scale + 0.01 * w
    ks = ks_2samp(a, b).statistic
    assert ks - 0.012 <= row["ks"] <= ks + 1e-9  # the binned KS never exceeds the exact one


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.integers(1, 400), min_size=1, max_size=5))
def test_merging_chunk_summaries_is_order_free(seed, sizes):
    g = np.random.default_rng(seed)
    prof = ReferenceProfile.fit(pd.DataFrame({"v": g.normal(size=500), "c": g.choice(list("abc"), 500)}), sample_rows=50)
    chunks = [pd.DataFrame({"v": g.normal(size=n), "c": g.choice(list("abcd"), n)}) for n in sizes]
    s = [prof.summarize(c, seed=i) for i, c in enumerate(chunks)]
    fwd, bwd = s[0], s[-1]
    for x in s[1:]: fwd = fwd + x
    for x in s[-2::-1]: bwd = bwd + x
    for f in ("v", "c"):
        np.testing.assert_array_equal(fwd.columns[f]["counts"], bwd.columns[f]["counts"])
    assert fwd.n_rows == sum(sizes) and fwd.columns["c"]["n_unseen"] == sum((c["c"] == "d").sum() for c in chunks)
    np.testing.assert_array_equal(np.sort(fwd.keys), np.sort(bwd.keys))


def test_explorer_is_a_widget_in_a_kernel_and_a_png_in_html():
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import numpy as np, pandas as pd\nfrom prodkit.drift import detect_drift\ng = np.random.default_rng(0)\n"
        "r = detect_drift(pd.DataFrame({'x': g.normal(size=2000)}), pd.DataFrame({'x': g.normal(0.5, 1, 1000)}), multivariate=False)\n"
        "r.explore()")])
    NotebookClient(nb, timeout=120).execute()
    data = nb.cells[0].outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data and "image/png" in data
    nb.metadata.pop("widgets", None)  # as prodkit.jobs does before rendering the report
    html, _ = HTMLExporter(exclude_input=True).from_notebook_node(nb)
    assert "data:image/png;base64" in html


def test_no_global_random_state_is_used(ref10k):
    from prodkit.core import no_random
    g = np.random.default_rng(18)
    with no_random(strict=True):
        ref10k.compare(frame(800, g, shift=0.2), seed=1)
        PageHinkley().fit(g.random(200), horizon=100).detect(g.random(300))


def test_profile_from_partitions_matches_the_in_memory_one(tmp_path):
    g = np.random.default_rng(19); big = frame(40_000, g)
    paths = []
    for i in range(4):
        p = tmp_path / f"part{i}.parquet"; big.iloc[i * 10_000:(i + 1) * 10_000].to_parquet(p); paths.append(p)
    exact = ReferenceProfile.fit(big)
    chunked = ReferenceProfile.fit_chunks(paths, quantile_rows=8000)  # bins from a 20% sample, counts over all rows
    assert chunked.n_rows == 40_000 and chunked.columns["c0"]["categories"][:2] == exact.columns["c0"]["categories"][:2]
    cur = frame(3000, g, shift=0.3)
    a = exact.compare(cur, multivariate=False).to_frame().set_index("feature")
    b = chunked.compare(cur, multivariate=False).to_frame().set_index("feature")
    assert a["drifted"].equals(b.loc[a.index, "drifted"])
    np.testing.assert_allclose(a["effect_size"], b.loc[a.index, "effect_size"], atol=0.02)


def test_multiclass_and_regression_outputs():
    import torch
    g = np.random.default_rng(20)
    def data(n, shift=0.0):
        x = g.normal(shift, 1, n); return pd.DataFrame({"x": x, "z": g.normal(size=n), "label": np.digitize(x, [-0.5, 0.5])})
    ref = data(4000); schema = Schema.infer(ref, label="label"); adapter = TabularAdapter(schema).fit(ref)
    net3 = torch.nn.Linear(2, 3)
    with torch.no_grad(): net3.weight[:] = torch.tensor([[-4.0, 0], [0, 0], [4.0, 0]]); net3.bias[:] = torch.tensor([-2.0, 0, -2.0])
    clf = Predictor(net3, adapter=adapter, output="logits", classes=[0, 1, 2])
    r = detect_drift(ref, data(2000, shift=0.8), schema=schema, predictor=clf, multivariate=False)
    t = r.to_frame().set_index("feature")
    assert t.loc["prediction:class", "kind"] == "categorical" and t.loc["prediction:class", "drifted"]
    assert set(t.index) >= {"confidence:max_proba", "confidence:entropy"} and r.calibration is not None
    reg = Predictor(torch.nn.Linear(2, 1), adapter=adapter, task="regression")
    rr = detect_drift(ref, data(2000, shift=0.8), schema=schema, predictor=reg, multivariate=False)
    tr = rr.to_frame().set_index("feature")
    assert "prediction:value" in tr.index and "confidence:entropy" not in tr.index and rr.calibration is None


def test_merging_small_partitions_keeps_the_sample_size_asked_for(tmp_path):
    "Before: a merge kept max(len(a), len(b)) rows, so four partitions of 5,000 rows gave 5,000, not 10,000."
    g = np.random.default_rng(0)
    prof = ReferenceProfile.fit(frame(20_000, g, cats=False), sample_rows=10_000)
    cur = frame(20_000, g, cats=False)
    parts = [prof.summarize(cur.iloc[i:i + 5_000], seed=i) for i in range(0, 20_000, 5_000)]
    assert [len(p.keys) for p in parts] == [5_000] * 4
    merged = (parts[0] + parts[1]) + (parts[2] + parts[3])
    assert merged.n_rows == 20_000 and len(merged.keys) == len(merged.sample) == 10_000
    assert np.all(np.diff(merged.keys) >= 0) and merged.keys.max() < min(p.keys.max() for p in parts)
    few = prof.summarize(cur.iloc[:3_000]) + prof.summarize(cur.iloc[3_000:6_000], seed=1)
    assert len(few.keys) == 6_000   # fewer rows than asked: every row
    prof.save(tmp_path / "p.npz")
    assert ReferenceProfile.load(tmp_path / "p.npz").sample_.sample_rows == 10_000


def test_fit_chunks_profile_equals_fit_when_the_sample_holds_every_row():
    g = np.random.default_rng(3)
    df = frame(4_000, g)
    chunked = ReferenceProfile.fit_chunks([df.iloc[i:i + 1_000] for i in range(0, 4_000, 1_000)], sample_rows=500)
    whole = ReferenceProfile.fit(df, sample_rows=500)
    assert chunked.n_rows == 4_000
    for f in whole.features:
        np.testing.assert_array_equal(chunked.columns[f]["counts"], whole.columns[f]["counts"])
