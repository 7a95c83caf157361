"""Bad input to prodkit.scale (the Dask path): each case one mistake a user makes, the error class and the words that
name it. Every one fails before any partition is summarised, so no cluster is needed."""
import pytest

from prodkit.core import DataError, ParameterError, SchemaError


def _frame(n=300, seed=0):
    import numpy as np, pandas as pd
    g = np.random.default_rng(seed)
    return pd.DataFrame({"x": g.normal(size=n), "c": g.choice(["a", "b"], n),
                         "t": pd.Timestamp("2026-01-01") + pd.to_timedelta(g.uniform(0, 9, n), unit="D")})


def _folder(df=None, extra:bytes=None):
    "A Parquet dataset of two files in a new folder (and a stray non-Parquet file when `extra` is given)."
    import tempfile
    from pathlib import Path
    df = _frame() if df is None else df
    d = Path(tempfile.mkdtemp(prefix="prodkit-bad-scale-"))
    df.iloc[: len(df) // 2].to_parquet(d / "part.0.parquet"); df.iloc[len(df) // 2:].to_parquet(d / "part.1.parquet")
    if extra is not None: (d / "part.2.parquet").write_bytes(extra)
    return d


def _profile(**kw):
    from prodkit.drift import ReferenceProfile
    return ReferenceProfile.fit(_frame(), time="t", sample_rows=100, **kw)


def _scale(): 
    from prodkit import scale
    return scale


CASES = [
    pytest.param(lambda: _scale().fit_profile(_folder(), quantile_rows=0), ParameterError, "quantile_rows",
                 id="fit_profile-quantile-rows-zero"),
    pytest.param(lambda: _scale().fit_profile(_folder(), edge_partitions=0), ParameterError, "edge_partitions",
                 id="fit_profile-edge-partitions-zero"),
    pytest.param(lambda: _scale().fit_profile(_frame()), ParameterError, "already in memory",
                 id="fit_profile-pandas-frame"),
    pytest.param(lambda: _scale().fit_profile("/nonexistent/prodkit-reference"), DataError, "does not exist",
                 id="fit_profile-missing-folder"),
    pytest.param(lambda: _scale().fit_profile(_folder(_frame().iloc[:0])), DataError, "empty",
                 id="fit_profile-empty-dataset"),
    pytest.param(lambda: _scale().summarize(_profile(), _folder(extra=b"not parquet")), DataError, "parquet",
                 id="summarize-stray-file-in-dataset"),
    pytest.param(lambda: _scale().summarize(_profile(), _folder(_frame().drop(columns="x"))), SchemaError, "'x'",
                 id="summarize-missing-feature"),
    pytest.param(lambda: _scale().drift_over_time(_profile(), _folder(), freq="fortnight", time="t"), ParameterError,
                 "invalid frequency", id="drift_over_time-bad-freq"),
    pytest.param(lambda: _scale().drift_over_time(_profile(), _folder(), freq="1D", time="when"), ParameterError,
                 "time column 'when'", id="drift_over_time-missing-time-column"),
]
