"""Fingerprints, manifests and model bundles: stable across processes, sensitive to every change, safe to load."""
import json, os, pickle, subprocess, sys, warnings, zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from prodkit.core import FileFormatError, ModelError, Predictor, TabularAdapter
from prodkit.versioning import (Manifest, code_version, fingerprint_data, fingerprint_model, fingerprint_schema,
                                load_bundle, load_model_file, save_bundle)

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, cwd=None) -> str:
    "Run `code` in a fresh interpreter (a different hash seed) and return its stdout."
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


FRAME_CODE = """
import numpy as np, pandas as pd
def make_frame():
    rng = np.random.default_rng(7); n = 50
    return pd.DataFrame({
        "f": np.where(rng.random(n) < .2, np.nan, rng.normal(size=n)), "i": rng.integers(0, 9, n),
        "s": pd.Series(rng.choice(["a", "b", None], n), dtype="str"), "o": pd.Series(rng.choice(["x", "y"], n), dtype=object),
        "c": pd.Categorical(rng.choice(["lo", "hi"], n), categories=["lo", "hi", "mid"]), "b": rng.random(n) < .5,
        "t": pd.date_range("2024-01-01", periods=n, freq="h"), "n": pd.array(np.where(rng.random(n) < .3, None, rng.integers(0, 5, n)), dtype="Int64"),
        "u": rng.integers(0, 5, n).astype("uint8"), "f32": rng.normal(size=n).astype("float32")})
"""
exec(FRAME_CODE)


def test_data_fingerprint_equal_in_a_fresh_process():
    fp = fingerprint_data(make_frame())
    assert _python(FRAME_CODE + "from prodkit.versioning import fingerprint_data; print(fingerprint_data(make_frame()))") == fp


def test_data_fingerprint_changes_with_any_single_cell():
    df = make_frame().drop(columns=["c"])
    base = fingerprint_data(df); seen = {base}
    for j, col in enumerate(df.columns):
        for i in (0, 17, 49):
            d = df.copy(); v = d.iat[i, j]
            if col in ("s", "o"): new = "zz"
            elif col == "b": new = not v
            elif col == "t": new = v + pd.Timedelta("1s")
            elif col == "n": new = 99
            elif col == "f": new = 1.5 if pd.isna(v) else np.nan
            else: new = v + 1
            d.iat[i, j] = new
            fp = fingerprint_data(d)
            assert fp not in seen, (col, i)
            seen.add(fp)


def test_data_fingerprint_order_dtype_and_names():
    df = make_frame(); fp = fingerprint_data(df)
    assert fingerprint_data(df[list(df.columns[::-1])]) != fp
    assert fingerprint_data(df.astype({"i": "float64"})) != fp
    assert fingerprint_data(df.astype({"f32": "float64"})) != fp
    assert fingerprint_data(df.rename(columns={"i": "j"})) != fp
    assert fingerprint_data(df.iloc[[1, 0, *range(2, len(df))]]) != fp
    assert fingerprint_data(df.iloc[:-1]) != fp
    assert fingerprint_data(df.set_axis(range(100, 150))) == fp
    assert fingerprint_data(df.set_axis(range(100, 150)), index=True) != fingerprint_data(df, index=True)


def test_data_fingerprint_survives_parquet(tmp_path):
    df = make_frame().drop(columns=["o"])      # object columns come back as str
    df.to_parquet(tmp_path / "x.parquet")
    assert fingerprint_data(tmp_path / "x.parquet") == fingerprint_data(df)


def test_data_fingerprint_large_frame():
    n = 200_000
    rng = np.random.default_rng(0)
    big = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(10)} | {"c": pd.Series(rng.choice(["a", "b"], n), dtype="str")})
    a, b = fingerprint_data(big), fingerprint_data(big.copy())
    assert a == b


MODEL_CODE = """
import torch
from torch import nn
def make_model():
    g = torch.Generator().manual_seed(3)
    m = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 2))
    with torch.no_grad():
        for p in m.parameters(): p.copy_(torch.randn(p.shape, generator=g))
        m[1].running_mean.copy_(torch.randn(7, generator=g))
    return m.eval()
"""
exec(MODEL_CODE)


def test_model_fingerprint_stable_across_processes_and_files(tmp_path):
    m = make_model(); fp = fingerprint_model(m)
    assert _python(MODEL_CODE + "from prodkit.versioning import fingerprint_model; print(fingerprint_model(make_model()))") == fp
    save = "import warnings; warnings.simplefilter('ignore'); torch.jit.save(torch.jit.script(make_model()), r'{}')"
    _python(MODEL_CODE + save.format(tmp_path / "a.pt") + "; print('ok')")
    _python(MODEL_CODE + save.format(tmp_path / "b.pt") + "; print('ok')")
    assert (tmp_path / "a.pt").read_bytes() != (tmp_path / "b.pt").read_bytes()   # torch writes a random serialization id
    assert fingerprint_model(tmp_path / "a.pt") == fingerprint_model(tmp_path / "b.pt")
    assert fingerprint_model(load_model_file(tmp_path / "a.pt")) == fp


def test_model_fingerprint_sensitive_to_parameters_and_buffers():
    m = make_model(); fp = fingerprint_model(m)
    for name, t in [*m.named_parameters(), *m.named_buffers()]:
        if not t.is_floating_point(): continue
        m2 = make_model(); t2 = dict([*m2.named_parameters(), *m2.named_buffers()])[name]
        with torch.no_grad(): t2.view(-1)[0] += 1e-3
        assert fingerprint_model(m2) != fp, name


def test_schema_fingerprint():
    df = make_frame()
    ad = TabularAdapter(label="b").fit(df.drop(columns=["t", "n"]))
    fp = fingerprint_schema(ad.schema)
    assert fingerprint_schema(ad) == fp and fingerprint_schema(ad.schema.to_dict()) == fp
    other = TabularAdapter(label="b").fit(df.drop(columns=["t", "n"]).assign(i=df.i + 100)).schema
    assert fingerprint_schema(other) != fp       # the observed range changed


def test_code_version_in_and_out_of_git(tmp_path):
    assert code_version(tmp_path)["git_commit"] is None
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    git = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True, env=env)
    git("init", "-q"); (tmp_path / "a.py").write_text("x = 1\n"); git("add", "a.py"); git("commit", "-qm", "first")
    v = code_version(tmp_path / "a.py")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert v["git_commit"] == head and v["git_dirty"] is False
    (tmp_path / "a.py").write_text("x = 2\n")
    assert code_version(tmp_path)["git_dirty"] is True
    for k in ("prodkit", "python", "torch", "numpy", "pandas", "scikit-learn", "lime", "papermill"): assert k in v


def _manifest(df, model, seed=0):
    return Manifest("job").add_data("reference", df).add_model("model", model).add_schema(TabularAdapter().fit(df[["f", "i", "s"]]).schema).add_seed("split", seed)


def test_manifest_round_trip_and_diff(tmp_path):
    df, m = make_frame(), make_model()
    a = _manifest(df, m); a.extra["timings"] = {"total_s": 3.2}; a.extra["note"] = "x"
    path = a.save(tmp_path / "manifest.json")
    assert json.loads(path.read_text())["format"] == "prodkit-manifest"
    back = Manifest.load(path)
    assert back.to_dict() == a.to_dict()
    b = _manifest(df.copy(), make_model()); b.extra["timings"] = {"total_s": 9.9}; b.extra["note"] = "x"; b.created = "2031-01-01T00:00:00+00:00"
    d = a.diff(b)
    assert d.identical and d.summary["n_changed"] == 0 and "created" in d.ignored
    c = _manifest(df.assign(i=df.i.where(df.index != 3, 100)), m, seed=1); c.extra["note"] = "y"
    d2 = back.diff(c)
    # the changed cell changes the data and (its range) the schema
    assert d2.changed == ["data.reference.fingerprint", "extra.note", "schemas.schema.fingerprint", "seeds.split"]
    fr = d2.to_frame()
    assert list(fr.columns) == ["key", "left", "right", "changed"] and fr.changed.head(3).all()
    assert a.diff(path).identical                         # diff against a saved manifest
    assert not a.diff(c, ignore=()).identical


def test_manifest_diff_in_a_fresh_process(tmp_path):
    a = _manifest(make_frame(), make_model())
    a.save(tmp_path / "a.json")
    code = FRAME_CODE + MODEL_CODE + f"""
from prodkit.versioning import Manifest
from prodkit.core import TabularAdapter
df = make_frame()
m = Manifest("job").add_data("reference", df).add_model("model", make_model()).add_schema(TabularAdapter().fit(df[["f", "i", "s"]]).schema).add_seed("split", 0)
m.save(r"{tmp_path / 'b.json'}"); print("ok")"""
    _python(code)
    d = Manifest.load(tmp_path / "a.json").diff(tmp_path / "b.json")
    assert d.identical, d.to_frame().query("changed")


def _tabular():
    rng = np.random.default_rng(0); n = 300
    df = pd.DataFrame({"x": rng.normal(size=n), "k": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
                       "flag": rng.random(n) < .4, "y": rng.integers(0, 2, n)})
    df.loc[::17, "x"] = np.nan
    ad = TabularAdapter(label="y").fit(df)
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Linear(ad.n_features_, 6), nn.Tanh(), nn.Linear(6, 1))
    with torch.no_grad():
        for p in net.parameters(): p.copy_(torch.randn(p.shape, generator=g))
    return df, ad, net


def test_bundle_round_trip_in_a_fresh_process(tmp_path):
    df, ad, net = _tabular()
    path = save_bundle(tmp_path / "b", net, ad, classes=["stay", "churn"], name="t", metrics={"auc": 0.5})
    expected = Predictor(net, adapter=ad, output="logits").predict_proba(df)
    b = load_bundle(path)
    np.testing.assert_array_equal(b.predictor.predict_proba(df), expected)
    assert list(b.predictor.predict(df[:3])) == list(np.asarray(["stay", "churn"])[expected[:3].argmax(1)])
    assert b.meta["fingerprints"]["model"] == fingerprint_model(net) == fingerprint_model(path)
    assert b.meta["fingerprints"]["schema"] == fingerprint_schema(ad.schema)
    df.to_parquet(tmp_path / "df.parquet")
    out = _python(f"""
import numpy as np, pandas as pd
from prodkit.versioning import load_bundle
p = load_bundle(r"{path}").predictor.predict_proba(pd.read_parquet(r"{tmp_path / 'df.parquet'}"))
np.save(r"{tmp_path / 'p.npy'}", p); print("ok")""")
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), expected)


def test_bundle_save_is_atomic(tmp_path):
    df, ad, net = _tabular()
    path = save_bundle(tmp_path / "b", net, ad)
    before = load_bundle(path).predictor.raw(df)

    class Branchy(nn.Module):
        def __init__(self): super().__init__(); self.lin = nn.Linear(ad.n_features_, 1)
        def forward(self, x):
            if float(x.sum()) > 0: return self.lin(x) * float(np.float32(2))
            return -self.lin(x)
    with pytest.raises(ModelError, match="does not reproduce the eager model"):
        save_bundle(path, Branchy(), ad)
    assert sorted(os.listdir(tmp_path)) == ["b"]              # no temporary folders left
    np.testing.assert_array_equal(load_bundle(path).predictor.raw(df), before)   # the old bundle is intact


def test_bundle_without_adapter_for_tensors(tmp_path):
    g = torch.Generator().manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    X = torch.rand(10, 1, 8, 8, generator=g)
    b = load_bundle(save_bundle(tmp_path / "img", cnn, None, classes=[0, 1, 2], example=X[:4]))
    assert b.adapter is None and b.schema is None and b.meta["input"]["shape"] == [None, 1, 8, 8]
    np.testing.assert_array_equal(b.predictor.predict_proba(X), Predictor(cnn, output="logits").predict_proba(X))


def test_no_jit_deprecation_warnings_leak(tmp_path):
    df, ad, net = _tabular()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        load_bundle(save_bundle(tmp_path / "b", net, ad)).predictor.predict(df)
        load_model_file(tmp_path / "b" / "model.pt")
    assert not [x for x in w if issubclass(x.category, DeprecationWarning) and "torch.jit" in str(x.message)]


class _Evil:
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (os.system, (f"touch {self.marker}",))


def test_pickles_are_refused_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps(_Evil(marker)))
    torch.save({"state": _Evil(marker)}, tmp_path / "zipped.pt")
    torch.save(_tabular()[2], tmp_path / "module.pt")
    for name, words in [("legacy.pt", "Python pickle"), ("zipped.pt", "pickled torch.save file"), ("module.pt", "pickled torch.save file")]:
        with pytest.raises(FileFormatError, match=words):
            load_model_file(tmp_path / name)
    # a pickle smuggled into a bundle, with bundle.json updated to match, is refused too
    df, ad, net = _tabular()
    b = save_bundle(tmp_path / "b", net, ad)
    (b / "model.pt").write_bytes((tmp_path / "zipped.pt").read_bytes())
    meta = json.loads((b / "bundle.json").read_text())
    from prodkit.versioning import artifact_digest
    meta["files"]["model.pt"] = artifact_digest(b / "model.pt"); (b / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(FileFormatError, match="never unpickles"):
        load_bundle(b)
    with pytest.raises(FileFormatError, match="never unpickles"):
        fingerprint_model(b)
    assert not marker.exists()


def test_fake_torchscript_archive_is_refused(tmp_path):
    p = tmp_path / "fake.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/code/__torch__/m.py", "garbage"); z.writestr("archive/constants.pkl", b"\x80\x02garbage")
        z.writestr("archive/data.pkl", b"\x80\x02garbage")
    with pytest.raises(FileFormatError, match="data.pkl: not a readable pickle"):   # refused by the inspection, before torch reads it
        load_model_file(p)
    with pytest.raises(FileFormatError, match="damaged TorchScript archive"):
        load_model_file(p, trust=True)


from hypothesis import given, settings, strategies as st

_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=60, deadline=None)
@given(st.lists(_floats, min_size=1, max_size=30), st.data())
def test_property_any_changed_float_cell_changes_the_fingerprint(values, data):
    df = pd.DataFrame({"v": values, "k": [str(i % 3) for i in range(len(values))]})
    i = data.draw(st.integers(0, len(values) - 1)); new = data.draw(_floats)
    old = values[i]
    same = (np.isnan(old) and np.isnan(new)) or old == new          # NaN payloads and -0.0 are canonical
    changed = df.copy(); changed.loc[i, "v"] = new
    assert (fingerprint_data(changed) == fingerprint_data(df)) == same
    assert fingerprint_data(df) == fingerprint_data(df.copy())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=5) | st.none(), min_size=1, max_size=20), st.data())
def test_property_any_changed_text_cell_changes_the_fingerprint(values, data):
    df = pd.DataFrame({"s": pd.Series(values, dtype="str")})
    i = data.draw(st.integers(0, len(values) - 1)); new = data.draw(st.text(max_size=5) | st.none())
    changed = df.copy(); changed.loc[i, "s"] = new
    assert (fingerprint_data(changed) == fingerprint_data(df)) == (values[i] == new)


def test_update_bundle_meta_adds_keys_and_the_bundle_still_loads_in_a_fresh_process(tmp_path):
    from prodkit.core import ParameterError
    from prodkit.versioning import BUNDLE_CORE_KEYS, artifact_digest, update_bundle_meta
    df, ad, net = _tabular()
    path = save_bundle(tmp_path / "b", net, ad, classes=["stay", "churn"], name="t", metrics={"auc": 0.5})
    raw = (path / "bundle.json").read_bytes()
    written = set(json.loads(raw))
    assert written <= BUNDLE_CORE_KEYS, written - BUNDLE_CORE_KEYS   # every key save_bundle writes is protected
    for key in sorted(written):
        with pytest.raises(ParameterError, match="written by save_bundle"): update_bundle_meta(path, **{key: 1})
    assert (path / "bundle.json").read_bytes() == raw
    update_bundle_meta(path, lineage=[{"verdict": "promote"}])
    meta = update_bundle_meta(path, lineage=lambda old: [*old, {"verdict": "reject"}], approved=True)
    assert [e["verdict"] for e in meta["lineage"]] == ["promote", "reject"] and meta["metrics"] == {"auc": 0.5}
    out = _python(f"""
from prodkit.versioning import load_bundle
b = load_bundle(r"{path}", expect_sha256="{artifact_digest(path)}")
print([e["verdict"] for e in b.meta["lineage"]], b.meta["approved"], b.meta["name"])""")
    assert out.strip().splitlines()[-1] == "['promote', 'reject'] True t"
