"""The Dask path (prodkit.scale) on a real `distributed.LocalCluster` with two worker processes: every result equals
the in-memory path on the same data, or lies within the stated bound where the bin edges come from a sample."""
import warnings

import numpy as np
import pandas as pd
import pytest
import dask.dataframe as dd
from distributed import Client, LocalCluster

from prodkit import scale
from prodkit.drift import ReferenceProfile, drift_over_time
from prodkit.monitor import Monitor


def frame(n, shift=0.0, seed=0):
    g = np.random.default_rng(seed)
    return pd.DataFrame({"a": g.normal(shift, 1, n), "b": g.exponential(1, n) * (1 + shift),
                         "c": g.choice(list("xyz"), n, p=[.5, .3, .2] if not shift else [.3, .3, .4]),
                         "t": pd.Timestamp("2026-03-01") + pd.to_timedelta(g.uniform(0, 21, n), unit="D")})


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("scale")
    ref, cur = frame(30_000), frame(24_000, shift=0.1, seed=1)
    dd.from_pandas(ref, npartitions=6).to_parquet(d / "ref")
    dd.from_pandas(cur, npartitions=5).to_parquet(d / "cur")
    return d, ref, cur


def _same_counts(p0, p1):
    for f in p0.features:
        a, b = p0.columns[f], p1.columns[f]
        if p0.kinds[f] == "numeric":
            np.testing.assert_array_equal(a["edges"], b["edges"])
            np.testing.assert_array_equal(a["counts"], b["counts"])
        else:
            assert dict(zip(a["categories"], a["counts"])) == dict(zip(b["categories"], b["counts"]))


def test_profile_and_comparison_equal_the_in_memory_path(client, data):
    d, ref, cur = data
    p1, p0 = scale.fit_profile(d / "ref", time="t"), ReferenceProfile.fit(ref, time="t")
    _same_counts(p0, p1)
    assert p1.n_rows == len(ref) and p1.meta["edge_error"] == 0.0
    np.testing.assert_array_equal(p1.sample_.keys, p0.sample_.keys)     # read once and profiled in memory: the same
    np.testing.assert_array_equal(p1.sample_.sample, p0.sample_.sample)  # row sample too
    cols = ["feature", "effect_size", "ci_low", "ci_high", "p_value", "p_adjusted", "drifted"]
    r0, r1 = p0.compare(cur, multivariate=False), scale.compare(p1, d / "cur", multivariate=False)
    pd.testing.assert_frame_equal(r0.table[cols].reset_index(drop=True), r1.table[cols].reset_index(drop=True))
    assert r1.summary["n_current"] == len(cur)


def test_multivariate_test_reads_a_uniform_sample(client, data):
    d, ref, cur = data
    p1 = scale.fit_profile(d / "ref", time="t")
    same = scale.compare(p1, dd.from_pandas(frame(24_000, seed=7), npartitions=4), seed=1)
    moved = scale.compare(p1, d / "cur", seed=1)
    assert same.summary["multivariate_auc"] < 0.56 < moved.summary["multivariate_auc"]


def test_sampled_edges_stay_within_the_stated_bound(client):
    "Every partition takes part: the sample is uniform, the DKW bound holds, and the achieved error is recorded."
    big = frame(120_000, seed=3)
    p = scale.fit_profile(dd.from_pandas(big, npartitions=8), time="t", bins=50, quantile_rows=5_000, seed=2)
    bound, err = p.meta["edge_bound"], p.meta["edge_error"]
    assert 0.01 < bound < 0.03 and 0 < err <= bound and p.meta["edge_partitions"] == p.meta["partitions"] == 8
    for f in ("a", "b"):
        share = p.columns[f]["counts"] / p.columns[f]["n"]
        assert p.columns[f]["n"] == len(big)
        assert np.all(np.abs(share[1:-1] - 1 / 50) <= 2 * err + 1 / 5_000), f   # inner bins: two edges, each off by err
        assert p.meta["bin_mass"][f] == [round(float(share[1:-1].min()), 6), round(float(share[1:-1].max()), 6)]
    p_again = scale.fit_profile(dd.from_pandas(big, npartitions=3), time="t", bins=50, quantile_rows=5_000, seed=2)
    assert p_again.n_rows == p.n_rows


def test_one_pass_fit_reads_edges_from_a_few_partitions_and_counts_every_row(client, tmp_path):
    "12 files, edges from 2 of them: counts equal the in-memory counts on those edges; the row sample spans all files."
    big = frame(36_000, seed=6)
    dd.from_pandas(big, npartitions=12).to_parquet(tmp_path / "ref")
    p = scale.fit_profile(tmp_path / "ref", time="t", bins=20, quantile_rows=1_000, edge_partitions=2, sample_rows=3_000,
                          seed=4)
    assert (p.meta["edge_partitions"], p.meta["partitions"], p.meta["edge_bound"]) == (2, 12, None)
    mem = p.summarize(big)   # in memory, on the same edges
    for f in p.features:
        np.testing.assert_array_equal(p.columns[f]["counts"], mem.columns[f]["counts"])
    assert p.n_rows == len(big) and p.sample_.n_rows == len(big) and len(p.sample_.keys) == 3_000
    assert (p.sample_.start, p.sample_.end) == (big["t"].min(), big["t"].max())
    # a uniform sample of every file, not of the two read for the edges: its mean of `a` is the data's
    assert abs(np.nanmean(p.sample_.sample[:, p.features.index("a")]) - big["a"].mean()) < 4 / np.sqrt(3_000)
    again = scale.fit_profile(tmp_path / "ref", time="t", bins=20, quantile_rows=1_000, edge_partitions=2,
                              sample_rows=3_000, seed=4)
    np.testing.assert_array_equal(again.columns["a"]["edges"], p.columns["a"]["edges"])
    np.testing.assert_array_equal(again.sample_.sample, p.sample_.sample)
    p.save(tmp_path / "p.npz")
    assert scale.ReferenceProfile.load(tmp_path / "p.npz").meta["bin_mass"] == p.meta["bin_mass"]


def test_reference_sample_is_encoded_on_every_category_the_count_found(client):
    "Categories that only the counting pass saw get their own codes in the profile's row sample, not 'unseen'."
    g = np.random.default_rng(0)
    parts = [pd.DataFrame({"a": g.normal(size=600),
                           "c": g.choice(["x", "y"] if i < 5 else ["late1", "late2"], 600)}) for i in range(10)]
    data = dd.from_pandas(pd.concat(parts, ignore_index=True), npartitions=10)
    missed = 0
    for seed in range(8):
        p = scale.fit_profile(data, quantile_rows=100, edge_partitions=1, seed=seed)
        cats = p.columns["c"]["categories"]
        assert sorted(cats) == ["late1", "late2", "x", "y"] and p.columns["c"]["n"] == 6_000
        if cats[:2] != ["x", "y"]: continue   # the edge sample saw the late partitions: nothing to show
        missed += 1
        codes = p.sample_.sample[:, p.features.index("c")]
        for c in cats:
            assert abs(np.mean(codes == cats.index(c)) - 0.25) < 0.05, (seed, c)
    assert missed > 0
def test_drift_over_time_windows_run_in_parallel_and_match(client, data):
    d, ref, cur = data
    p0 = ReferenceProfile.fit(ref, time="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for freq in ("7D", "W"):
            t0 = drift_over_time(p0, cur, freq=freq, time="t", progress=False, min_rows=100)
            t1 = scale.drift_over_time(p0, d / "cur", freq=freq, time="t", min_rows=100)
            pd.testing.assert_frame_equal(t0.windows.reset_index(drop=True), t1.windows.reset_index(drop=True))
            pd.testing.assert_frame_equal(t0.effects.reset_index(drop=True), t1.effects.reset_index(drop=True))
            assert list(t0.skipped["n"]) == list(t1.skipped["n"])


def test_monitor_store_round_trip(client, tmp_path, data):
    d, ref, cur = data
    store = tmp_path / "live.sqlite"
    with Monitor(lambda df: df["a"].to_numpy(), store, task="regression", version="v1") as mon:
        for i in range(0, 600, 200): mon(cur.iloc[i:i + 200][["a", "b", "c"]])
    files = scale.export_store(store, tmp_path / "pq", freq="1D")
    assert sum(len(pd.read_parquet(f)) for f in files) == 600
    assert not list((tmp_path / "pq").glob(".*.tmp"))
    p0 = ReferenceProfile.fit(ref[["a", "b", "c"]])
    r1 = scale.compare(p0, tmp_path / "pq", multivariate=False)
    r0 = p0.compare(pd.concat([pd.read_parquet(f) for f in files]), multivariate=False)
    pd.testing.assert_series_equal(r0.table["p_value"], r1.table["p_value"])
    (tmp_path / "theirs").mkdir(); (tmp_path / "theirs" / "a.parquet").write_bytes(b"not mine")
    with pytest.raises(Exception, match="was not written by export_store"):
        scale.export_store(store, tmp_path / "theirs")
    assert (tmp_path / "theirs" / "a.parquet").read_bytes() == b"not mine"


def test_a_parquet_folder_and_its_dask_frame_give_the_same_summary(client, data):
    "The Parquet reader of prodkit.scale takes the files in Dask's order and reads what Dask would read."
    d, ref, cur = data
    p0 = ReferenceProfile.fit(ref, time="t", sample_rows=2_000)
    a, b = scale.summarize(p0, d / "cur", seed=5), scale.summarize(p0, dd.read_parquet(d / "cur"), seed=5)
    for f in p0.features:
        np.testing.assert_array_equal(a.columns[f]["counts"], b.columns[f]["counts"])
    np.testing.assert_array_equal(a.keys, b.keys)
    np.testing.assert_array_equal(a.sample, b.sample)
    assert (a.n_rows, a.start, a.end) == (b.n_rows, b.start, b.end)


def test_results_do_not_depend_on_partitioning(client, data):
    d, ref, cur = data
    p0 = ReferenceProfile.fit(ref, time="t")
    a = scale.summarize(p0, dd.from_pandas(cur, npartitions=2))
    b = scale.summarize(p0, dd.from_pandas(cur, npartitions=7))
    for f in p0.features:
        np.testing.assert_array_equal(a.columns[f]["counts"], b.columns[f]["counts"])
    assert a.n_rows == b.n_rows == len(cur)


def test_drift_functions_hand_dask_data_to_scale(client, data):
    "ReferenceProfile.fit/.summarize/.compare, detect_drift and drift_over_time take a Dask frame or a Parquet folder."
    from prodkit.drift import detect_drift
    d, ref, cur = data
    via, direct = ReferenceProfile.fit(d / "ref", time="t", sample_rows=2_000), scale.fit_profile(d / "ref", time="t",
                                                                                                   sample_rows=2_000)
    _same_counts(via, direct)
    assert via.n_rows == len(ref) and via.meta["edge_error"] == direct.meta["edge_error"]
    np.testing.assert_array_equal(via.sample_.keys, direct.sample_.keys)
    dcur = dd.from_pandas(cur, npartitions=5)
    w0, w1 = via.summarize(dcur, seed=3), scale.summarize(via, dcur, seed=3)
    assert w0.n_rows == len(cur) and len(w0.keys) == 2_000
    np.testing.assert_array_equal(w0.keys, w1.keys)
    cols = ["feature", "effect_size", "p_value", "p_adjusted", "drifted"]
    r0, r1 = via.compare(dcur, n_boot=50), scale.compare(via, dcur, n_boot=50)
    pd.testing.assert_frame_equal(r0.table[cols], r1.table[cols])
    assert r0.summary["multivariate_auc"] == r1.summary["multivariate_auc"]
    r2 = detect_drift(dd.from_pandas(ref, npartitions=3), d / "cur", time="t", multivariate=False, n_boot=50)
    r3 = scale.compare(dd.from_pandas(ref, npartitions=3), d / "cur", time="t", multivariate=False, n_boot=50)
    pd.testing.assert_frame_equal(r2.table[cols], r3.table[cols])
    assert r2.summary["n_current"] == len(cur)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = drift_over_time(via, d / "cur", freq="7D", time="t", progress=False, min_rows=100)
        t1 = scale.drift_over_time(via, d / "cur", freq="7D", time="t", min_rows=100)
    pd.testing.assert_frame_equal(t0.windows, t1.windows)
    pd.testing.assert_frame_equal(t0.effects, t1.effects)


def test_merged_partition_samples_reach_the_sample_size_asked_for(client):
    "Before: four partitions of 5,000 rows merged to a 5,000-row sample although sample_rows=10,000."
    p = ReferenceProfile.fit(frame(20_000, seed=4), time="t", sample_rows=10_000)
    w = scale.summarize(p, dd.from_pandas(frame(20_000, seed=5), npartitions=4))
    assert w.n_rows == 20_000 and len(w.keys) == len(w.sample) == 10_000


def test_auto_freq_on_dask_matches_the_in_memory_choice(client, data):
    d, ref, cur = data
    p0 = ReferenceProfile.fit(ref, time="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = drift_over_time(p0, cur, freq="auto", time="t", progress=False, min_rows=2_000, multivariate=False)
        t1 = drift_over_time(p0, d / "cur", freq="auto", time="t", progress=False, min_rows=2_000, multivariate=False)
        t7 = scale.drift_over_time(p0, d / "cur", freq="7D", time="t", min_rows=2_000)
    assert len(t1.windows) == 3   # 21 days of 24,000 rows: days hold ~1,100, weeks ~8,000
    pd.testing.assert_frame_equal(t0.windows, t1.windows)
    pd.testing.assert_frame_equal(t1.windows, t7.windows)
