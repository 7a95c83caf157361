"""End-to-end tests of prodkit.export: methods, parity, data-dependent branches, optimization and quantization
fallbacks, dict/tuple outputs, artifact safety, the manifest, fresh-process round trips, skew, and export from paths."""
import io, json, os, subprocess, sys, zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from prodkit.core import FileFormatError, ModelError, ParameterError, Predictor, ProdkitError, TabularAdapter
from prodkit.export import (ExportError, ExportReport, check_serving_skew, compare_outputs, export_bundle, export_torchscript,
                            exported_predictor, load_exported, parity_inputs, read_manifest, _quiet)

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = "method max_abs_err max_rel_err agreement passed eager_p50_ms exported_p50_ms speedup size_bytes".split()


class Branchy(nn.Module):
    "Data-dependent branch on the input's sum: tracing bakes in one side."
    def __init__(self):
        super().__init__(); self.lin = nn.Linear(4, 3)
    def forward(self, x):
        if x.sum() > 0: return self.lin(x)
        return -self.lin(x) * 2


class Unscriptable(nn.Module):
    "A Python lambda attribute: torch.jit.script cannot compile it, tracing records it fine."
    def __init__(self):
        super().__init__(); self.lin = nn.Linear(4, 3); self.act = lambda t: t.clamp(min=0) + 0.5
    def forward(self, x): return self.act(self.lin(x))


class UnscriptableBranchy(Unscriptable):
    def forward(self, x):
        if x.sum() > 0: return self.act(self.lin(x))
        return self.lin(x)


class BakedBatch(Unscriptable):
    "Unscriptable, and the trace bakes the example's batch size in (a tensor converted to a Python int)."
    def forward(self, x):
        n = int(x.shape[0])
        return self.act(self.lin(x)) + torch.arange(n, dtype=x.dtype)[:, None] / 7


class DictOut(nn.Module):
    def __init__(self):
        super().__init__(); self.a = nn.Linear(5, 3); self.b = nn.Linear(5, 2)
    def forward(self, x):
        return {"logits": self.a(x), "embedding": torch.tanh(self.b(x))}


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__(); self.a = nn.Linear(5, 3)
    def forward(self, x):
        z = self.a(x)
        return z, z.softmax(-1), x.mean(1)


def _make(cls, seed=0):
    torch.manual_seed(seed); return cls().eval()


def _leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# ---------------------------------------------------------------- data-dependent branches are never saved wrong
@pytest.mark.parametrize("method,suffix,refused", [("auto", ".pt", None), ("script", ".pt", None),
                                                   ("trace", ".pt", "trace"), ("export", ".pt2", "export"), ("auto", ".pt2", "export")])
def test_branch_never_saved_wrong(tmp_path, method, suffix, refused):
    "Scripting keeps both branches; tracing and torch.export cannot, so they are refused (named), never saved wrong."
    model = _make(Branchy); x = torch.rand(32, 4)            # every example row takes the first branch
    path = tmp_path / f"m{suffix}"
    if refused:
        with pytest.raises(ExportError) as ei:
            export_torchscript(model, x, path, method=method, repeats=0)
        e = ei.value
        assert _leftovers(tmp_path) == []                     # nothing at path, no temporary files
        assert ("data-dependent branch" in str(e)) if refused == "trace" else ("export failed" in str(e))
        assert set(e.reasons) == {refused}
        return
    rep = export_torchscript(model, x, path, method=method, repeats=0)
    assert rep.method == "script"
    loaded, _ = load_exported(path)
    for inp in (x, -x, torch.randn(50, 4), -torch.rand(1, 4)):  # both branches, other batch sizes
        torch.testing.assert_close(loaded(inp), model(inp))


def test_unscriptable_falls_back_to_trace(tmp_path):
    model = _make(Unscriptable); x = torch.randn(40, 4)
    rep = export_torchscript(model, x, tmp_path / "u.pt", repeats=0)
    assert rep.method == "trace" and rep.passed
    assert rep.attempts["script"].startswith("script failed") and "act" in rep.attempts["script"] and rep.attempts["trace"] == "ok"
    loaded, man = load_exported(tmp_path / "u.pt")
    assert man["method"] == "trace" and "script failed" in man["attempts"]["script"]
    z = torch.randn(3, 4) * 5
    torch.testing.assert_close(loaded(z), model(z))


def test_unscriptable_with_branch_is_refused_with_both_reasons(tmp_path):
    model = _make(UnscriptableBranchy)
    with pytest.raises(ExportError) as ei:
        export_torchscript(model, torch.rand(30, 4), tmp_path / "ub.pt", repeats=0)
    e = ei.value
    assert set(e.reasons) == {"script", "trace"} and isinstance(e, ProdkitError)
    assert "script failed" in e.reasons["script"] and "data-dependent branch" in e.reasons["trace"]
    assert "nothing was written" in str(e) and _leftovers(tmp_path) == []


def test_trace_with_baked_batch_size_fails_parity_on_generated_batches(tmp_path):
    model = _make(BakedBatch)
    with pytest.raises(ExportError) as ei:
        export_torchscript(model, torch.randn(16, 4), tmp_path / "bb.pt", method="trace", repeats=0)
    reason = ei.value.reasons["trace"]
    assert "parity failed" in reason and "batch_1" in reason
    assert not (tmp_path / "bb.pt").exists()


# ---------------------------------------------------------------- dict / tuple outputs
@pytest.mark.parametrize("cls", [DictOut, TupleOut])
@pytest.mark.parametrize("method", ["script", "trace"])
def test_structured_outputs(tmp_path, cls, method):
    model = _make(cls); x = torch.randn(24, 5)
    rep = export_torchscript(model, x, tmp_path / "s.pt", method=method, repeats=0)
    assert rep.passed and rep.summary["max_abs_err"] <= 1e-5
    loaded, man = load_exported(tmp_path / "s.pt")
    leaves = [o["path"] for o in man["outputs"]]
    assert leaves == (["out['embedding']", "out['logits']"] if cls is DictOut else ["out[0]", "out[1]", "out[2]"])
    z = torch.randn(9, 5)
    got, want = loaded(z), model(z)
    r = compare_outputs(want, got, rtol=1e-5, atol=1e-6)
    assert r["passed"], r


def test_parity_compares_every_leaf():
    a = {"logits": torch.ones(4, 3), "aux": (torch.zeros(4), torch.ones(4))}
    b = {"logits": torch.ones(4, 3), "aux": (torch.zeros(4), torch.ones(4) + 1e-3)}
    r = compare_outputs(a, b, agreement=True)
    assert not r["passed"] and "out['aux'][1]" in r["note"] and r["agreement"] == 1.0
    assert abs(r["max_abs_err"] - 1e-3) < 1e-6


# ---------------------------------------------------------------- optimization fallbacks
def _timer(ms:dict, default=5.0, spread=0.01):
    "A recorded timing: every call of candidate k takes about ms[k] (eager and the unnamed: `default`)."
    calls = []
    def timer(fns, inputs, repeats):
        calls.append((sorted(fns), int(inputs[0].shape[0]), repeats))
        return {k: [ms.get(k, default) * (1 + spread * i) for i in range(repeats)] for k in fns}
    timer.calls = calls
    return timer


def test_optimized_artifact_that_fails_parity_is_not_kept(tmp_path, monkeypatch):
    model = _make(lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    real_opt, real_freeze = torch.jit.optimize_for_inference, torch.jit.freeze
    def wrong_opt(m, *a, **k):                      # an "optimization" that changes the numbers
        torch.manual_seed(99)
        with _quiet(): return real_freeze(torch.jit.script(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()))
    monkeypatch.setattr(torch.jit, "optimize_for_inference", wrong_opt)
    fast_but_wrong = _timer({"script/frozen+optimized": 0.01, "trace/frozen+optimized": 0.01, "script/frozen": 1.0})
    rep = export_torchscript(model, torch.randn(20, 4), tmp_path / "o.pt", timer=fast_but_wrong, repeats=5)
    assert rep.variant == "frozen" and "parity failed" in rep.attempts["script/frozen+optimized"]
    c = rep.candidates.set_index("candidate")
    assert not c.loc["script/frozen+optimized", "faithful"] and not c.loc["trace/frozen+optimized", "faithful"]
    assert "parity failed" in c.loc["script/frozen+optimized", "note"]
    assert all("optimized" not in n for names, _, _ in fast_but_wrong.calls for n in names)   # never even timed
    def unsaveable(m, *a, **k): raise RuntimeError("cannot save mkldnn tensors")
    monkeypatch.setattr(torch.jit, "optimize_for_inference", unsaveable)
    monkeypatch.setattr(torch.jit, "freeze", unsaveable)
    rep = export_torchscript(model, torch.randn(20, 4), tmp_path / "p.pt", timer=_timer({"script/frozen": 0.01}), repeats=5)
    assert rep.variant == "plain" and "did not save and reload" in rep.attempts["script/frozen"]
    assert read_manifest(tmp_path / "p.pt")["variant"] == "plain"
    rep = export_torchscript(model, torch.randn(20, 4), tmp_path / "q.pt", optimize=False, repeats=0)
    assert rep.variant == "plain" and set(rep.attempts) == {"script", "trace"}
    assert rep.candidates.candidate.tolist() == ["script/plain", "trace/plain"]


def _chosen_by_table(cand):
    "The candidate the recorded table says is fastest: smallest geometric mean of median / best median over batch sizes."
    t = cand[cand.faithful]
    med = t.pivot(index="candidate", columns="batch_size", values="median_ms")
    score = np.exp(np.log(med / med.min()).mean(axis=1))
    return score.idxmin(), score


@pytest.mark.parametrize("speeds,expect", [
    ({"script/plain": 2.0, "script/frozen": 3.0, "script/frozen+optimized": 4.0, "trace/plain": 2.5}, "script/plain"),
    ({"script/plain": 4.0, "script/frozen": 3.0, "script/frozen+optimized": 1.0, "trace/plain": 2.5}, "script/frozen+optimized"),
    ({"script/plain": 4.0, "script/frozen": 3.0, "script/frozen+optimized": 4.0, "trace/plain": 1.0}, "trace/plain"),
], ids=["plain", "frozen+optimized", "trace"])
def test_auto_keeps_the_fastest_faithful_candidate_of_the_recorded_table(tmp_path, speeds, expect):
    model = _make(lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    timer = _timer({**speeds, "trace/frozen": 9.0, "trace/frozen+optimized": 9.0})
    rep = export_torchscript(model, torch.randn(20, 4), tmp_path / "m.pt", timer=timer, repeats=7)
    fastest, _ = _chosen_by_table(rep.candidates)
    assert f"{rep.method}/{rep.variant}" == fastest == expect
    assert rep.candidates[rep.candidates.chosen].candidate.unique().tolist() == [expect]
    assert read_manifest(tmp_path / "m.pt")["variant"] == rep.variant
    # timed at the default batch sizes, every faithful candidate with the eager model, `repeats` calls each
    assert [(b, r) for _, b, r in timer.calls] == [(1, 7), (256, 7)]
    assert set(timer.calls[0][0]) == {"eager"} | set(rep.candidates.query("faithful").candidate)
    s = rep.summary
    assert s["speedup"] == pytest.approx(5.0 / speeds[expect] / 1.0, rel=0.05) and s["speedup_b256"] > 1


def test_ties_within_noise_go_to_the_simplest_and_the_choice_is_deterministic(tmp_path):
    model = _make(lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    # frozen+optimized 3% faster than plain, but the calls spread over +-10%: a tie, so plain (the simplest) ships
    noisy = {"script/plain": 1.0, "script/frozen": 0.99, "script/frozen+optimized": 0.97, "trace/plain": 0.98,
             "trace/frozen": 0.98, "trace/frozen+optimized": 0.98}
    reps = [export_torchscript(model, torch.randn(20, 4), tmp_path / f"t{i}.pt", timer=_timer(noisy, spread=0.02),
                               repeats=11, seed=3) for i in range(2)]
    assert [(r.method, r.variant) for r in reps] == [("script", "plain")] * 2
    assert reps[0].choice == reps[1].choice and "within the measured noise of the fastest, script/frozen+optimized" in reps[0].choice
    assert _chosen_by_table(reps[0].candidates)[0] == "script/frozen+optimized"
    # 3% apart with steady calls is still a tie (within _pick's 5% floor); 20% apart with steady calls is not
    steady = export_torchscript(model, torch.randn(20, 4), tmp_path / "s.pt", timer=_timer(noisy, spread=0.0001), repeats=11)
    assert (steady.method, steady.variant) == ("script", "plain")
    apart = {**noisy, "script/frozen+optimized": 0.8}
    steady = export_torchscript(model, torch.randn(20, 4), tmp_path / "a.pt", timer=_timer(apart, spread=0.0001), repeats=11)
    assert (steady.method, steady.variant) == ("script", "frozen+optimized")
    assert export_torchscript(model, torch.randn(20, 4), tmp_path / "n.pt", timer=_timer(apart, spread=0.3),
                              repeats=11).variant == "plain"                       # the same gap in noisy calls: a tie


def test_batch_sizes_are_the_users_and_shape_the_summary(tmp_path):
    model = _make(lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    timer = _timer({})
    rep = export_torchscript(model, torch.randn(20, 4), tmp_path / "b.pt", batch_sizes=(1, 8, 64), timer=timer, repeats=3)
    assert [b for _, b, _ in timer.calls] == [1, 8, 64]
    assert sorted(rep.candidates.dropna(subset=["batch_size"]).batch_size.unique()) == [1, 8, 64]
    assert {"speedup_b8", "speedup_b64"} <= set(rep.summary) and "speedup_b256" not in rep.summary
    assert rep.latency.batch_size.tolist() == [1, 8, 64]
    untimed = export_torchscript(model, torch.randn(20, 4), tmp_path / "u.pt", repeats=0)
    assert (untimed.method, untimed.variant) == ("script", "plain") and "not timed" in untimed.choice
    assert untimed.summary["speedup"] is None


def test_real_timing_keeps_a_faithful_candidate_recorded_in_the_table(tmp_path):
    model = _make(lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    rep = export_torchscript(model, torch.randn(20, 4), tmp_path / "r.pt", repeats=5, batch_sizes=(1, 32))
    c = rep.candidates
    kept = c[c.chosen]
    assert kept.faithful.all() and set(kept.candidate) == {f"{rep.method}/{rep.variant}"}
    assert (c[c.faithful].median_ms > 0).all() and (c[c.faithful].p25_ms <= c[c.faithful].p75_ms).all()
    assert rep.plot(kind="candidates").ax_.get_title() == "candidates (* kept)"
    assert "p50 ms, batch 32" in rep._repr_html_()


# ---------------------------------------------------------------- quantization
def _trained_classifier(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(600, 20, generator=g); w = torch.randn(20, 4, generator=g); y = (X @ w).argmax(1)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 4))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(150):
        opt.zero_grad(); nn.functional.cross_entropy(net(X), y).backward(); opt.step()
    return net.eval(), X, y


def test_quantization_kept_within_bounds_and_refused_outside(tmp_path):
    net, X, y = _trained_classifier()
    rep = export_torchscript(net, X[:200], tmp_path / "q.pt", quantize=True, labels=y[:200], repeats=3)
    q, s = rep.quantization, rep.summary
    assert q["applied"] and q["kept"] and q["metric"] == "accuracy_drop" and q["value"] <= 0.01 and q["agreement"] >= 0.99
    assert s["quantized"] and s["quant_size_bytes"] < 0.5 * s["float_size_bytes"]
    assert s["float_p50_ms"] > 0 and s["quant_p50_ms"] > 0
    man = read_manifest(tmp_path / "q.pt")
    assert man["quantized"] and man["quantization"]["kept"]
    loaded, _ = load_exported(tmp_path / "q.pt")
    assert (loaded(X[200:]).argmax(1) == net(X[200:]).argmax(1)).double().mean() >= 0.97
    # bounds no int8 model can meet: the float artifact is written, and the report says why
    rep2 = export_torchscript(net, X[:200], tmp_path / "f.pt", quantize=True, quant_bounds={"agreement": 1.0, "prob_mae": 1e-9}, repeats=0)
    assert rep2.quantization["applied"] and not rep2.quantization["kept"] and "outside bounds" in rep2.quantization["reason"]
    assert rep2.summary["passed"] and rep2.summary["max_rel_err"] <= 1e-4 and not read_manifest(tmp_path / "f.pt")["quantized"]
    assert set(rep2.to_frame().candidate) == {"exported", "quantized"}


def test_quantize_without_linear_layers_says_so(tmp_path):
    model = _make(lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()))
    rep = export_torchscript(model, torch.rand(8, 1, 5, 5), tmp_path / "c.pt", quantize=True, repeats=0)
    assert not rep.quantization["applied"] and "no eager nn.Linear" in rep.quantization["reason"]


# ---------------------------------------------------------------- report, manifest, determinism
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    "A classifier with an adapter exported once: (net, adapter, frame, report, path)."
    tmp = tmp_path_factory.mktemp("exported")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    df = pd.DataFrame({"a": np.linspace(-1, 1, 50), "b": np.tile(["u", "v"], 25), "c": np.arange(50) % 4 == 0})
    ad = TabularAdapter().fit(df)
    rep = export_torchscript(net, df, tmp / "t.pt", adapter=ad, output="logits", classes=["no", "yes"], repeats=3, seed=3,
                             progress=True)
    return net, ad, df, rep, tmp / "t.pt"


def test_report_summary_has_every_key_and_a_consistent_speedup(exported):
    s = exported[3].summary; json.dumps(s)
    assert [k for k in SUMMARY_KEYS if k not in s] == [] and s["passed"] is True and s["n_rows"] >= 256 and s["n_batch_sizes"] >= 2
    assert s["eager_p50_ms"] > 0 and s["exported_p50_ms"] > 0 and s["speedup"] == pytest.approx(s["eager_p50_ms"] / s["exported_p50_ms"])


def test_report_frame_lists_every_parity_check(exported):
    fr = exported[3].to_frame()
    assert {"candidate", "check", "batch_size", "max_abs_err", "max_rel_err", "agreement", "passed"} <= set(fr.columns)
    assert {"given", "batch_1", "sign_flipped", "scaled_x10", "random"} <= set(fr.check)


def test_report_plots_and_html(exported):
    rep = exported[3]
    assert rep.plot().ax_.get_title().startswith("parity") and len(rep.plot(kind="latency").ax_.patches) >= 4
    assert "export passed" in rep._repr_html_()


def test_manifest_inside_the_artifact_describes_model_inputs_and_parity(exported):
    from prodkit.versioning import fingerprint_model, fingerprint_schema
    net, ad, _, rep, path = exported
    man = read_manifest(path)
    assert man["fingerprints"]["model"] == fingerprint_model(net) and man["fingerprints"]["schema"] == fingerprint_schema(ad.schema)
    assert man["adapter"] == ad.to_dict() and man["schema"] == ad.schema.to_dict()
    assert man["inputs"] == [{"name": "input0", "shape": [None, 4], "dtype": "float32", "dynamic_batch": True}]
    assert man["torch_version"] == torch.__version__ and man["method"] == rep.method in ("script", "trace") and man["classes"] == ["no", "yes"]
    assert man["parity"]["max_abs_err"] == rep.summary["max_abs_err"] and len(man["parity"]["checks"]) == len(rep.to_frame())


def test_same_seed_same_checks_and_numbers(exported, tmp_path):
    net, ad, df, _, _ = exported     # repeats=0: the shipped variant must not depend on how fast this machine ran
    rep1 = export_torchscript(net, df, tmp_path / "t1.pt", adapter=ad, repeats=0, seed=3)
    rep2 = export_torchscript(net, df, tmp_path / "t2.pt", adapter=ad, repeats=0, seed=3)
    pd.testing.assert_frame_equal(rep1.to_frame(), rep2.to_frame())


def test_read_manifest_does_not_load_the_model(tmp_path, monkeypatch):
    torch.manual_seed(0); net = nn.Sequential(nn.Linear(3, 2))
    export_torchscript(net, torch.randn(10, 3), tmp_path / "a.pt", repeats=0)
    export_torchscript(net, torch.randn(10, 3), tmp_path / "a.pt2", repeats=0)
    def boom(*a, **k): raise AssertionError("the model was loaded")
    monkeypatch.setattr(torch.jit, "load", boom); monkeypatch.setattr(torch.export, "load", boom); monkeypatch.setattr(torch, "load", boom)
    assert read_manifest(tmp_path / "a.pt")["artifact"] == "torchscript"
    assert read_manifest(tmp_path / "a.pt2")["artifact"] == "pt2"


def test_existing_file_is_kept_when_export_fails(tmp_path):
    path = tmp_path / "m.pt"; path.write_bytes(b"previous artifact")
    with pytest.raises(ExportError):
        export_torchscript(_make(UnscriptableBranchy), torch.rand(10, 4), path, repeats=0)
    assert path.read_bytes() == b"previous artifact" and _leftovers(tmp_path) == ["m.pt"]


# ---------------------------------------------------------------- bad files given to load_exported
def _artifact(tmp_path):
    torch.manual_seed(0); net = nn.Sequential(nn.Linear(3, 2))
    export_torchscript(net, torch.randn(10, 3), tmp_path / "good.pt", repeats=0)
    return net, (tmp_path / "good.pt").read_bytes()


def test_corrupt_and_foreign_files_give_clear_errors(tmp_path, monkeypatch):
    net, good = _artifact(tmp_path)
    (tmp_path / "trunc.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.pt").write_text("hello")
    (tmp_path / "empty.pt").write_bytes(b"")
    torch.save(net, tmp_path / "pickled_module.pt")
    torch.save(net.state_dict(), tmp_path / "state.pt")
    torch.save(net, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z: z.writestr("a/readme.txt", "hi")
    with _quiet(): torch.jit.save(torch.jit.script(net), tmp_path / "plain.pt")
    with zipfile.ZipFile(io.BytesIO(good)) as zin, zipfile.ZipFile(tmp_path / "badman.pt", "w") as zout:
        for n in zin.namelist(): zout.writestr(n, b"{not json" if n.endswith("prodkit_manifest.json") else zin.read(n))
    flipped = bytearray(good); i = good.index(b"data.pkl") + 200; flipped[i:i + 64] = bytes(64)
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    def boom(*a, **k): raise AssertionError("torch.load must never be called (it would unpickle)")
    monkeypatch.setattr(torch, "load", boom)
    cases = {"trunc.pt": "not a TorchScript or .pt2 archive", "text.pt": "not a TorchScript or .pt2 archive",
             "empty.pt": "not a TorchScript or .pt2 archive", "pickled_module.pt": "never unpickles", "state.pt": "never unpickles",
             "legacy.pt": "legacy torch.save", "other.zip": "neither TorchScript nor .pt2", "plain.pt": "without a prodkit manifest",
             "badman.pt": "manifest inside the artifact is corrupt", "flipped.pt": "damaged", "missing.pt": "does not exist", ".": "is a folder"}
    for name, words in cases.items():
        with pytest.raises(FileFormatError) as ei:
            load_exported(tmp_path / name)
        assert words in str(ei.value), (name, str(ei.value))
    with pytest.raises(FileFormatError, match="damaged"):   # bytes changed inside a stored entry: caught by the zip checksums
        load_exported(tmp_path / "flipped.pt")


# ---------------------------------------------------------------- demo models round-trip in a fresh process
_CHILD = r"""
import sys, numpy as np, torch
from prodkit.export import load_exported
for artifact, xin, yout in zip(*[iter(sys.argv[1:])] * 3):
    module, manifest = load_exported(artifact)
    with torch.no_grad(): out = module(torch.from_numpy(np.load(xin)))
    np.save(yout, out.numpy())
    print(manifest["method"], manifest["artifact"])
"""


def _fresh_process_outputs(jobs, tmp_path):
    "Load each (artifact, inputs) in one new Python process; return its outputs and the printed method/artifact pairs."
    args = []
    for i, (artifact, x) in enumerate(jobs):
        np.save(tmp_path / f"x{i}.npy", x.numpy()); args += [str(artifact), str(tmp_path / f"x{i}.npy"), str(tmp_path / f"y{i}.npy")]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.split("\n")
    return [np.load(tmp_path / f"y{i}.npy") for i in range(len(jobs))], [lines[i].split() for i in range(len(jobs))]


@pytest.fixture(scope="module")
def demo():
    from prodkit.demo import load_demo
    return load_demo()


def test_demo_mlp_and_digits_cnn_round_trip_in_a_fresh_process(tmp_path, demo):
    x = demo.adapter.transform(demo.current.head(300)); dg = demo.digits
    rep = export_torchscript(demo.model, x[:64], tmp_path / "mlp.pt", adapter=demo.adapter, output="logits", classes=[0, 1], repeats=0)
    assert rep.passed and rep.task == "classification" and rep.summary["agreement"] == 1.0
    rep2 = export_torchscript(dg.model, dg.X_test[:64], tmp_path / "cnn.pt", output="logits", classes=list(range(10)), repeats=0)
    assert rep2.passed and rep2.task == "classification" and rep2.summary["n_rows"] >= 256
    export_torchscript(dg.model, dg.X_test[:64], tmp_path / "cnn.pt2", repeats=0)
    (y_mlp, y_cnn, y_pt2), meta = _fresh_process_outputs(
        [(tmp_path / "mlp.pt", x), (tmp_path / "cnn.pt", dg.X_test), (tmp_path / "cnn.pt2", dg.X_test[:5])], tmp_path)
    assert meta == [[rep.method, "torchscript"], [rep2.method, "torchscript"], ["export", "pt2"]]
    with torch.no_grad(): want_mlp, want_cnn = demo.model(x).numpy(), dg.model(dg.X_test).numpy()
    np.testing.assert_allclose(y_mlp, want_mlp, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y_cnn, want_cnn, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y_pt2, want_cnn[:5], rtol=1e-4, atol=1e-5)
    y = dg.y_test.numpy()
    assert (y_cnn.argmax(1) == y).mean() == pytest.approx((want_cnn.argmax(1) == y).mean()) and (y_cnn.argmax(1) == y).mean() > 0.9


def test_training_serving_skew_on_raw_rows(tmp_path, demo):
    export_torchscript(demo.model, demo.reference.head(64), tmp_path / "m.pt", adapter=demo.adapter, output="logits", classes=[0, 1], repeats=0)
    rows = demo.current.sample(500, random_state=0)
    sk = check_serving_skew(tmp_path / "m.pt", rows, demo.predictor)
    assert sk.passed and sk.agreement == 1.0 and sk.max_abs_diff <= 1e-5 and sk.summary["n_skewed_features"] == 0
    np.testing.assert_array_equal(exported_predictor(tmp_path / "m.pt").predict(rows), demo.predictor.predict(rows))
    # the training side refit its scaler on the production period: the skew is found and named
    num = next(f.name for f in demo.schema.features if f.kind == "numeric")
    refit = TabularAdapter(demo.schema).fit(pd.concat([demo.reference, demo.current]))
    sk2 = check_serving_skew(tmp_path / "m.pt", rows, Predictor(demo.model, adapter=refit, output="logits", classes=[0, 1]))
    assert not sk2.passed and sk2.summary["n_skewed_features"] >= 1 and num in set(sk2.to_frame().feature)
    assert sk2.to_frame().max_abs_diff.iloc[0] > 1e-3


def test_export_bundle_from_paths(tmp_path, demo):   # the demo fixture builds the cached demo that write_demo reuses
    from prodkit.demo import write_demo
    paths = write_demo(tmp_path / "demo")
    rep = export_bundle(paths["bundle"], tmp_path / "out" / "churn.pt", repeats=0)
    man = read_manifest(tmp_path / "out" / "churn.pt")
    assert rep.passed and man["adapter"] is not None and man["output"] == "logits" and man["classes"] == [0, 1]
    assert man["versioning"]["format"] == "prodkit-bundle"
    cur = pd.read_parquet(paths["current"]).head(200)
    from prodkit.versioning import load_bundle
    assert check_serving_skew(tmp_path / "out" / "churn.pt", cur, load_bundle(paths["bundle"]).predictor).passed
    rep = export_bundle(paths["bundle"], tmp_path / "out" / "churn.pt2", data=paths["reference"], repeats=0)
    assert rep.artifact == "pt2"
    rep = export_bundle(paths["digits_bundle"], tmp_path / "out" / "digits.pt", repeats=0)
    assert read_manifest(tmp_path / "out" / "digits.pt")["inputs"][0]["shape"] == [None, 1, 8, 8]
    with pytest.raises(ParameterError, match="input_shape must be positive integers"):
        export_bundle(paths["digits_bundle"], tmp_path / "out" / "d2.pt", input_shape=(0, 8))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["churn.pt", "churn.pt2", "digits.pt"]


class NeedsTwoRows(nn.Module):
    def __init__(self):
        super().__init__(); self.lin = nn.Linear(4, 2)
    def forward(self, x):
        assert x.shape[0] > 1, "batch of one"
        return self.lin(x - x.mean(0))


class FixedBatch(nn.Module):
    def __init__(self):
        super().__init__(); self.lin = nn.Linear(4, 2)
    def forward(self, x): return self.lin(x.view(16, 4))


def test_checks_the_eager_model_rejects_are_skipped_and_named(tmp_path):
    rep = export_torchscript(_make(NeedsTwoRows), torch.randn(16, 4), tmp_path / "n.pt", repeats=0)
    fr = rep.to_frame(); sk = fr[fr.candidate == "skipped"]
    assert list(sk.check) == ["batch_1"] and "batch of one" in sk.note.iloc[0]
    assert rep.summary["n_checks"] == 7 and rep.summary["n_rows"] == 16 + 7 + 5 * 256
    with pytest.raises(ModelError, match="accepted only 16 rows in batch sizes \\[16\\]"):
        export_torchscript(_make(FixedBatch), torch.randn(16, 4), tmp_path / "f.pt", repeats=0)
    assert _leftovers(tmp_path) == ["n.pt"]


# ---------------------------------------------------------------- one task vocabulary
def test_the_task_decides_agreement_and_is_recorded(tmp_path):
    "task= replaces classifier=: a classifier reports argmax agreement, a regressor none; the manifest and the loaded Predictor say which."
    torch.manual_seed(0)
    net, x = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)), torch.randn(32, 5)
    with pytest.raises(TypeError):
        export_torchscript(net, x, tmp_path / "old.pt", classifier=True, repeats=0)   # the old spelling is gone
    inferred = export_torchscript(net, x, tmp_path / "c.pt", repeats=0)             # 3 output columns: a classifier
    said = export_torchscript(net, x, tmp_path / "r.pt", task="regression", repeats=0)
    single = export_torchscript(nn.Linear(5, 1), x, tmp_path / "s.pt", repeats=0)  # one column: inferred regression
    got = [(r.task, r.summary["agreement"], read_manifest(tmp_path / f)["task"], exported_predictor(tmp_path / f).task)
           for r, f in ((inferred, "c.pt"), (said, "r.pt"), (single, "s.pt"))]
    assert got == [("classification", 1.0, "classification", "classification"), ("regression", None, "regression", "regression"),
                   ("regression", None, "regression", "regression")]
    assert "classifier" not in read_manifest(tmp_path / "c.pt")
    assert inferred.checks.agreement.notna().all() and said.checks.agreement.isna().all()
    with pytest.raises(ParameterError, match="`task` must be one of"):
        export_torchscript(net, x, tmp_path / "bad.pt", task="ranking", repeats=0)


def test_export_bundle_takes_the_task_from_the_bundle(tmp_path):
    from prodkit.versioning import save_bundle
    torch.manual_seed(0)
    save_bundle(tmp_path / "reg", nn.Linear(4, 1), None, task="regression", example=torch.rand(8, 4))
    rep = export_bundle(tmp_path / "reg", tmp_path / "reg.pt", repeats=0)
    assert rep.task == "regression" and read_manifest(tmp_path / "reg.pt")["task"] == "regression"
    with pytest.raises(ParameterError, match="contradicts the bundle"):
        export_bundle(tmp_path / "reg", tmp_path / "c.pt", task="classification", repeats=0)
    assert not (tmp_path / "c.pt").exists()


def test_reports_plot_through_their_kinds(tmp_path):
    import matplotlib.pyplot as plt
    torch.manual_seed(0)
    rep = export_torchscript(nn.Linear(4, 2), torch.randn(16, 4), tmp_path / "m.pt", repeats=2)
    assert rep.plot() is rep and rep.ax_.get_title() == f"parity: {rep.method} ({rep.variant})"
    assert rep.plot(kind="latency").ax_.get_title() == "eager vs exported"
    with pytest.raises(ParameterError, match="`kind` must be one of"):
        rep.plot(kind="speed")
    plt.close("all")
