"""Model artifacts are data until trusted (issue 10): each test builds a hostile artifact in a tmp folder and checks that
prodkit refuses it before torch reads it, and that nothing it carries runs. Normal artifacts still load by default."""
import hashlib, io, json, os, pickle, re, subprocess, shutil, sys, threading, zipfile
from pathlib import Path
from typing import Tuple

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from prodkit.core import FileFormatError, Predictor, TabularAdapter
from prodkit.export import check_serving_skew, export_bundle, export_torchscript, exported_predictor, load_exported
from prodkit.versioning import (UnsafeArtifactError, artifact_digest, code_version, fingerprint_data, load_bundle,
                                load_model_file, save_bundle)


class _Touch:
    "Unpickling this creates a file: the proof that a pickle ran."
    def __init__(self, p): self.p = str(p)
    def __reduce__(self): return (Path.touch, (Path(self.p),))


def _rewrite(src, dst, replace:dict):
    """Copy zip `src` to `dst`, replacing the entries whose name ends with a match of a key of `replace` (a regex) by its value
    (bytes, or a function of the old bytes)."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w") as zo:
        for i in zi.infolist():
            data = zi.read(i)
            for k, v in replace.items():
                if re.search(f"(?:{k})$", i.filename): data = v(data) if callable(v) else v
            zo.writestr(i.filename, data)
    return dst


@pytest.fixture(scope="module")
def tab(tmp_path_factory):
    "A small tabular model exported to .pt2 and .pt with its adapter, and the training-side pipeline."
    d = tmp_path_factory.mktemp("tab")
    df = pd.DataFrame({"a": np.linspace(0, 1, 40), "b": np.tile(["x", "y"], 20)})
    ad = TabularAdapter().fit(df)
    torch.manual_seed(0); net = nn.Sequential(nn.Linear(ad.n_features_, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    for name in ("m.pt2", "m.pt"):
        export_torchscript(net, df, d / name, adapter=ad, output="logits", classes=["no", "yes"], repeats=0)
    return d, df, Predictor(net, adapter=ad, output="logits", classes=["no", "yes"])


def _every_pt2_loader(path, df, pipeline):
    return [lambda: load_exported(path), lambda: exported_predictor(path), lambda: check_serving_skew(path, df, pipeline)]


def test_pt2_with_a_swapped_pickle_entry_is_refused_by_every_loader(tab, tmp_path):
    d, df, pipe = tab
    marker = tmp_path / "pwned"
    buf = io.BytesIO(); torch.save(((_Touch(marker),), {}), buf)
    bad = _rewrite(d / "m.pt2", tmp_path / "bad.pt2", {r"data/sample_inputs/model\.pt": buf.getvalue()})
    for load in _every_pt2_loader(bad, df, pipe):
        with pytest.raises(UnsafeArtifactError, match=r"data/sample_inputs/model.pt.*pickle global pathlib"):
            load()
    assert not marker.exists()


def test_pt2_with_a_legacy_pickle_entry_is_refused(tab, tmp_path):
    d, df, pipe = tab
    marker = tmp_path / "pwned"
    buf = io.BytesIO(); torch.save(((_Touch(marker),), {}), buf, _use_new_zipfile_serialization=False)
    bad = _rewrite(d / "m.pt2", tmp_path / "bad.pt2", {r"data/sample_inputs/model\.pt": buf.getvalue()})
    with pytest.raises(UnsafeArtifactError, match="torch would unpickle it as a legacy file"):
        load_exported(bad)
    assert not marker.exists()


def test_pt2_with_a_pickled_weight_is_refused(tab, tmp_path):
    d, df, pipe = tab
    marker = tmp_path / "pwned"
    buf = io.BytesIO(); torch.save(_Touch(marker), buf)
    def cfg(data):
        c = json.loads(data); first = next(iter(c["config"].values())); first["use_pickle"] = True; return json.dumps(c)
    with zipfile.ZipFile(d / "m.pt2") as z:
        weight = json.loads(z.read(next(n for n in z.namelist() if n.endswith("model_weights_config.json"))))
    wname = next(iter(weight["config"].values()))["path_name"]
    bad = _rewrite(d / "m.pt2", tmp_path / "bad.pt2", {r"model_weights_config\.json": cfg, f"data/weights/{wname}": buf.getvalue()})
    with pytest.raises(UnsafeArtifactError, match=f"data/weights/{wname}"):
        load_exported(bad)
    assert not marker.exists()


def test_pt2_graph_may_call_only_allowed_ops(tab, tmp_path):
    d, df, pipe = tab
    evil = lambda data: data.replace(b'"torch.ops.aten.linear.default"', b'"torch.os.system"', 1)
    with pytest.raises(UnsafeArtifactError, match="graph calls 'torch.os.system'"):
        load_exported(_rewrite(d / "m.pt2", tmp_path / "op.pt2", {r"models/model\.json": evil}))
    sym = lambda data: json.dumps(_with_expr(json.loads(data), "__import__('os').system('touch x')")).encode()
    with pytest.raises(UnsafeArtifactError, match="shape expression"):
        load_exported(_rewrite(d / "m.pt2", tmp_path / "sym.pt2", {r"models/model\.json": sym}))


def _with_expr(obj, expr):
    "Set the first `expr_str` found in a serialized program to `expr`."
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            if "expr_str" in o: o["expr_str"] = expr; return obj
            stack.extend(o.values())
        elif isinstance(o, list): stack.extend(o)
    raise AssertionError("no expr_str in the program (export with a dynamic batch)")


def test_unknown_and_duplicated_entries_are_refused(tab, tmp_path):
    d, _, _ = tab
    extra = tmp_path / "extra.pt2"; shutil.copy(d / "m.pt2", extra)
    with zipfile.ZipFile(extra, "a") as z:
        root = z.namelist()[0].split("/")[0]
        z.writestr(f"{root}/data/aotinductor/model.so", b"\x7fELF")
    with pytest.raises(UnsafeArtifactError, match="data/aotinductor/model.so"):
        load_exported(extra)
    dup = tmp_path / "dup.pt"; shutil.copy(d / "m.pt", dup)
    with zipfile.ZipFile(dup, "a") as z, pytest.warns(UserWarning):
        z.writestr(z.namelist()[0], b"x")
    with pytest.raises(UnsafeArtifactError, match="duplicated"):
        load_exported(dup)


class _Hostile(nn.Module):
    "Creates a file while it is loaded (__setstate__ with torch.from_file) and reads one when it predicts."
    def __init__(self, create:str, read:str):
        super().__init__(); self.create, self.read = create, read
        self.w = nn.Parameter(torch.ones(3, 2)); self.buf = torch.zeros(1, dtype=torch.uint8)
    @torch.jit.export
    def __getstate__(self) -> Tuple[str, str, bool, torch.Tensor]: return (self.create, self.read, self.training, self.w)
    @torch.jit.export
    def __setstate__(self, state:Tuple[str, str, bool, torch.Tensor]) -> None:
        self.create, self.read, self.training, self.w = state[0], state[1], state[2], state[3]
        self.buf = torch.from_file(self.create, shared=True, size=8, dtype=torch.uint8)
    def forward(self, x):
        secret = torch.from_file(self.read, shared=False, size=1, dtype=torch.uint8)
        return x @ self.w + secret.float().sum() * 0


def test_hostile_torchscript_is_refused_unless_trusted(tmp_path):
    created, secret = tmp_path / "created", tmp_path / "secret"; secret.write_bytes(b"s")
    with torch.no_grad():
        sm = torch.jit.script(_Hostile(str(created), str(secret)))
    torch.jit.save(sm, str(tmp_path / "hostile.pt"))
    b = save_bundle(tmp_path / "bundle", sm, None, task="regression", example=torch.ones(2, 3))
    created.unlink(missing_ok=True)                    # saving parity-checked the module; start clean
    for load in (lambda: load_model_file(tmp_path / "hostile.pt"), lambda: load_bundle(tmp_path / "hostile.pt"),
                 lambda: load_bundle(b), lambda: export_bundle(b, tmp_path / "out.pt", repeats=0)):
        with pytest.raises(UnsafeArtifactError) as ei:
            load()
        assert "__setstate__" in str(ei.value) and "torch.from_file" in str(ei.value)
        assert not created.exists()
    m = load_bundle(b, trust=True).model                  # the user said they trust it: it loads, and its code ran
    assert created.exists() and m(torch.ones(1, 3)).shape == (1, 2)


@pytest.mark.parametrize("src, word", [
    ("def forward(self, x: Tensor) -> Tensor:\n  return ops.myns.evil(x)\n", "custom op namespace 'myns'"),
    ("def forward(self, x: Tensor) -> Tensor:\n  _0 = torch.save(x, \"/tmp/x\")\n  return x\n", "torch.save"),
    ("def forward(self, x: Tensor) -> Tensor:\n  return ops.prim.rpc_sync(\"w\", x)\n", "network"),
    ("def forward(self, x: Tensor) -> Tensor:\n  c = torch.classes.myns.Sock()\n  return x\n", "custom TorchScript class"),
])
def test_torchscript_sources_outside_the_allow_list_are_refused(tmp_path, src, word):
    good = tmp_path / "good.pt"
    torch.jit.save(torch.jit.script(nn.Linear(3, 2)), str(good))
    def patch(data):
        code = data.decode()
        head = code[:code.index("  def forward")]
        return (head + "  " + src.replace("\n", "\n  ").rstrip() + "\n").encode()
    bad = _rewrite(good, tmp_path / "bad.pt", {r"code/__torch__/torch/nn/modules/linear(/___torch_mangle_\d+)?\.py": patch})
    with pytest.raises(UnsafeArtifactError, match=word):
        load_model_file(bad)


def test_normal_artifacts_still_load_by_default(tab, tmp_path):
    d, df, pipe = tab
    from prodkit.demo import write_demo
    paths = write_demo(tmp_path / "demo", n_reference=300, n_current=300)
    for key in ("bundle", "digits_bundle"):
        b = load_bundle(paths[key], expect_sha256=artifact_digest(paths[key]))
        assert b.meta["name"].startswith("demo-")
    assert check_serving_skew(d / "m.pt2", df, pipe).passed and check_serving_skew(d / "m.pt", df, pipe).passed
    q = export_torchscript(nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 3)), torch.randn(64, 16), tmp_path / "q.pt",
                           quantize=True, quant_bounds={"agreement": 0.0, "prob_mae": 1.0, "rel_rmse": 1.0}, repeats=0)
    assert q.quantization["kept"] and load_exported(tmp_path / "q.pt")[0](torch.randn(2, 16)).shape == (2, 3)


def test_expected_digest_is_enforced(tab, tmp_path):
    d, df, pipe = tab
    ok = "sha256:" + hashlib.sha256((d / "m.pt2").read_bytes()).hexdigest()
    assert artifact_digest(d / "m.pt2") == ok
    assert load_exported(d / "m.pt2", expect_sha256=ok.upper()[7:])[1]["artifact"] == "pt2"   # bare hex, any case
    other = artifact_digest(d / "m.pt")
    for load in (lambda: load_exported(d / "m.pt2", expect_sha256=other), lambda: exported_predictor(d / "m.pt2", expect_sha256=other),
                 lambda: check_serving_skew(d / "m.pt2", df, pipe, expect_sha256=other)):
        with pytest.raises(FileFormatError, match=f"SHA-256 {ok}, not the expected {other}"):
            load()
    torch.manual_seed(0)
    ad = TabularAdapter().fit(df)
    b = save_bundle(tmp_path / "b", nn.Linear(ad.n_features_, 1), ad, task="regression")
    digest = artifact_digest(b)
    assert digest == "sha256:" + hashlib.sha256((b / "bundle.json").read_bytes()).hexdigest()
    assert load_bundle(b, expect_sha256=digest).meta["task"] == "regression"
    with pytest.raises(FileFormatError, match="not the expected"):
        load_bundle(b, expect_sha256=other)
    with pytest.raises(FileFormatError, match="not the expected"):
        export_bundle(b, tmp_path / "x.pt", expect_sha256=other, repeats=0)


def test_device_file_listed_in_bundle_does_not_hang(tmp_path):
    if not os.path.exists("/dev/zero"): pytest.skip("no /dev/zero on this system")
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0]}); ad = TabularAdapter().fit(df)
    b = save_bundle(tmp_path / "b", nn.Linear(ad.n_features_, 1), ad, task="regression")
    meta = json.loads((b / "bundle.json").read_text())
    os.symlink("/dev/zero", b / "zero")
    meta["files"]["zero"] = meta["files"]["model.pt"]; (b / "bundle.json").write_text(json.dumps(meta))
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("e", pytest.raises(FileFormatError, load_bundle, b)), daemon=True)
    t.start(); t.join(60)
    assert not t.is_alive(), "load_bundle hung on a device file"
    assert "outside the bundle folder" in str(out["e"].value)
    os.unlink(b / "zero"); os.mkfifo(b / "zero")         # a FIFO inside the folder: not a regular file, and no blocking open
    t = threading.Thread(target=lambda: out.__setitem__("e", pytest.raises(FileFormatError, load_bundle, b)), daemon=True)
    t.start(); t.join(60)
    assert not t.is_alive() and "not a regular file" in str(out["e"].value)


def test_code_version_runs_no_hook_of_an_untrusted_repository(tmp_path):
    if not shutil.which("git"): pytest.skip("git is not installed")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    run = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True, env=env)
    run("init", "-q"); (tmp_path / "f.txt").write_text("1"); run("add", "f.txt"); run("commit", "-qm", "c")
    marker = tmp_path.parent / f"{tmp_path.name}-pwned"
    hook = tmp_path / "hook.sh"; hook.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n"); hook.chmod(0o755)
    for key in ("core.fsmonitor", "core.pager", "diff.external", "filter.x.clean", "filter.x.process"):
        run("config", key, str(hook))
    (tmp_path / ".gitattributes").write_text("*.txt filter=x\n")
    (tmp_path / "f.txt").write_text("22")
    v = code_version(tmp_path)
    assert len(v["git_commit"]) == 40 and v["git_dirty"] is True
    assert not marker.exists()


def test_fingerprints_are_type_aware():
    obj = lambda *v: pd.DataFrame({"x": pd.Series(list(v), dtype=object)})
    import datetime
    pairs = [(obj(1, 2), obj("1", "2")), (obj(True), obj("True")), (obj(datetime.date(2024, 1, 2)), obj("2024-01-02")),
             (obj(1.5), obj("1.5")), (obj(1, "a"), obj("1", "a")), (pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"x": [1.0, 2.0]})),
             (pd.DataFrame({"x": [1, 2]}, dtype="int64"), pd.DataFrame({"x": [1, 2]}, dtype="int32"))]
    for a, b in pairs:
        assert fingerprint_data(a) != fingerprint_data(b), (a.x.tolist(), b.x.tolist())
    for a, _ in pairs:
        assert fingerprint_data(a) == fingerprint_data(a.copy())
    code = "import pandas as pd; from prodkit.versioning import fingerprint_data; print(fingerprint_data(pd.DataFrame({'x': pd.Series([1, 'a', None], dtype=object)})))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "7"})
    assert other.stdout.strip() == fingerprint_data(obj(1, "a", None))


def test_artifact_writes_use_fresh_temporary_names_and_never_follow_links(tmp_path):
    victim = tmp_path / "victim.txt"; victim.write_text("keep")
    out = tmp_path / "out"; out.mkdir()
    for pid in range(os.getpid() - 2, os.getpid() + 3):    # the names the old code used
        os.symlink(victim, out / f".m.pt.{pid}.tmp")
    torch.manual_seed(0)
    export_torchscript(nn.Linear(3, 2), torch.randn(8, 3), out / "m.pt", repeats=0)
    assert victim.read_text() == "keep"
    assert sorted(p.name for p in out.iterdir() if not p.is_symlink()) == ["m.pt"]
    assert load_exported(out / "m.pt")[1]["artifact"] == "torchscript"


def test_save_bundle_replaces_a_linked_bundle_without_touching_its_target(tmp_path):
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0]}); ad = TabularAdapter().fit(df)
    elsewhere = save_bundle(tmp_path / "elsewhere", nn.Linear(ad.n_features_, 1), ad, task="regression")
    before = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    os.symlink(elsewhere, tmp_path / "link")
    save_bundle(tmp_path / "link", nn.Linear(ad.n_features_, 1), ad, task="regression", name="new")
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == before      # the link's target is untouched
    assert not (tmp_path / "link").is_symlink() and load_bundle(tmp_path / "link").meta["name"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "link"]   # no temporary or old folder left
