"""Bad inputs to prodkit.export: each case is one mistake a user makes, the error class it must raise, and words of the message."""
import pytest

from prodkit.core import DataError, FileFormatError, ModelError, ParameterError, SchemaError
from prodkit.versioning import UnsafeArtifactError


def _net(n_in=4):
    import torch
    from torch import nn
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(n_in, 8), nn.ReLU(), nn.Linear(8, 2))


def _in_tmp(fn):
    "Run fn(folder) inside a temporary folder that is removed afterwards."
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d: return fn(Path(d))


def _export(x=None, path="m.pt", model=None, **kw):
    import torch
    from prodkit.export import export_torchscript
    x = torch.randn(8, 4) if x is None else x
    kw.setdefault("repeats", 0)
    return _in_tmp(lambda d: export_torchscript(_net() if model is None else model, x, d / path, **kw))


def _not_a_module():
    import torch
    return _export(model=lambda x: x * 2)


def _empty():
    import torch
    return _export(torch.zeros(0, 4))


def _nan():
    import torch
    x = torch.randn(8, 4); x[3, 1] = float("nan")
    return _export(x)


def _batch_mismatch():
    import torch
    return _export((torch.randn(8, 4), torch.randn(7, 4)))


def _wrong_width():
    import torch
    return _export(torch.randn(8, 5))


def _scalar():
    import torch
    return _export(torch.tensor(1.0))


def _frame_without_adapter():
    import pandas as pd
    return _export(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))


def _frame_missing_column():
    import pandas as pd
    from prodkit.core import TabularAdapter
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.5], "c": [1.0, 1.0, 2.0], "d": [0.0, 0.0, 1.0]})
    return _export(train.drop(columns="c"), adapter=TabularAdapter().fit(train))


def _check_inputs_wrong_shape():
    import torch
    return _export(check_inputs=[torch.randn(5, 3)])


def _nondeterministic():
    import torch
    from torch import nn
    class Noisy(nn.Module):
        def __init__(self): super().__init__(); self.lin = nn.Linear(4, 2)
        def forward(self, x): return self.lin(x) + torch.rand(x.shape[0], 2)
    return _export(model=Noisy())


def _returns_string():
    from torch import nn
    class Talky(nn.Module):
        def forward(self, x): return "not a tensor"
    return _export(model=Talky())


def _load_missing():
    from prodkit.export import load_exported
    return _in_tmp(lambda d: load_exported(d / "nope.pt"))


def _load_garbage():
    from prodkit.export import load_exported
    def go(d):
        (d / "m.pt").write_bytes(b"\x00\x01garbage" * 50); return load_exported(d / "m.pt")
    return _in_tmp(go)


def _load_pickled_module():
    import torch
    from prodkit.export import load_exported
    def go(d):
        torch.save(_net(), d / "m.pt"); return load_exported(d / "m.pt")
    return _in_tmp(go)


def _manifest_of_plain_torchscript():
    import warnings, torch
    from prodkit.export import read_manifest
    def go(d):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning); torch.jit.save(torch.jit.script(_net()), d / "m.pt")
        return read_manifest(d / "m.pt")
    return _in_tmp(go)


def _skew_without_adapter():
    import pandas as pd, torch
    from prodkit.core import Predictor, TabularAdapter
    from prodkit.export import check_serving_skew, export_torchscript
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.5], "c": [1.0, 1.0, 2.0], "d": [0.0, 0.0, 1.0]})
    ad = TabularAdapter().fit(train)
    def go(d):
        export_torchscript(_net(), torch.randn(8, 4), d / "m.pt", repeats=0)        # exported without adapter=
        return check_serving_skew(d / "m.pt", train, Predictor(_net(), adapter=ad))
    return _in_tmp(go)


def _bundle_missing():
    from prodkit.export import export_bundle
    return _in_tmp(lambda d: export_bundle(d / "no_bundle", d / "m.pt"))


def _bad_input_shape():
    import torch
    from prodkit.export import export_bundle
    def go(d):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning); torch.jit.save(torch.jit.script(_net()), d / "model.pt")
        return export_bundle(d / "model.pt", d / "out.pt", input_shape=(-4,))
    return _in_tmp(go)


def _exported(d, name="m.pt2"):
    import torch
    from prodkit.export import export_torchscript
    export_torchscript(_net(), torch.randn(8, 4), d / name, repeats=0)
    return d / name


def _swap_entry(src, dst, suffix, payload):
    import zipfile
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w") as zo:
        for i in zi.infolist(): zo.writestr(i.filename, payload if i.filename.endswith(suffix) else zi.read(i))
    return dst


class _Touch:
    def __init__(self, p): self.p = str(p)
    def __reduce__(self):
        from pathlib import Path
        return (Path.touch, (Path(self.p),))


def _load_hostile_pt2():
    import io, torch
    from prodkit.export import load_exported
    def go(d):
        buf = io.BytesIO(); torch.save(((_Touch(d / "pwned"),), {}), buf)
        return load_exported(_swap_entry(_exported(d), d / "bad.pt2", "data/sample_inputs/model.pt", buf.getvalue()))
    return _in_tmp(go)


def _load_wrong_digest():
    from prodkit.export import load_exported
    return _in_tmp(lambda d: load_exported(_exported(d, "m.pt"), expect_sha256="sha256:" + "1" * 64))


def _predictor_wrong_digest():
    from prodkit.export import exported_predictor
    return _in_tmp(lambda d: exported_predictor(_exported(d, "m.pt"), expect_sha256="f" * 64))


def _load_malformed_digest():
    from prodkit.export import load_exported
    return _in_tmp(lambda d: load_exported(_exported(d, "m.pt"), expect_sha256="sha1:abc"))


def _load_device_file():
    from prodkit.export import load_exported
    return load_exported("/dev/zero")


def _manifest_adapter_malformed():
    import json, zipfile
    from prodkit.export import exported_predictor
    def go(d):
        src = _exported(d, "m.pt")
        with zipfile.ZipFile(src) as z:
            name = next(n for n in z.namelist() if n.endswith("prodkit_manifest.json")); man = json.loads(z.read(name))
        man["adapter"] = {"schema": [1, 2]}
        return exported_predictor(_swap_entry(src, d / "bad.pt", "prodkit_manifest.json", json.dumps(man)))
    return _in_tmp(go)


def _compare_latency_empty_rows():
    from prodkit.export import compare_latency
    f = lambda df: df
    import pandas as pd
    compare_latency(f, f, pd.DataFrame({"a": []}))


def _compare_latency_path_not_predictor():
    from prodkit.export import compare_latency
    import pandas as pd
    compare_latency(lambda df: df, "model.pt", pd.DataFrame({"a": [1.0]}))


def _time_calls_negative_warmup():
    import torch
    from prodkit.export import time_calls
    return time_calls({"f": lambda x: x}, (torch.ones(1),), repeats=3, warmup=-1)

CASES = [
    pytest.param(_not_a_module, ParameterError, "model must be a torch nn.Module", id="export-model-not-module"),
    pytest.param(_empty, DataError, "empty (a batch of 0 rows)", id="export-empty-inputs"),
    pytest.param(_nan, DataError, "NaN or infinite values", id="export-nan-inputs"),
    pytest.param(_batch_mismatch, DataError, "disagree on the batch size", id="export-batch-mismatch"),
    pytest.param(_wrong_width, ModelError, "the eager model raised on example_inputs", id="export-wrong-width"),
    pytest.param(_scalar, DataError, "is a scalar", id="export-scalar-input"),
    pytest.param(_frame_without_adapter, ParameterError, "no adapter was given", id="export-frame-no-adapter"),
    pytest.param(_frame_missing_column, SchemaError, "column 'c' is missing", id="export-frame-missing-column"),
    pytest.param(_check_inputs_wrong_shape, ParameterError, "does not look like example_inputs", id="export-check-inputs-shape"),
    pytest.param(lambda: _export(method="jit"), ParameterError, "`method` must be one of", id="export-unknown-method"),
    pytest.param(lambda: _export(batch_sizes=(1, 0)), ParameterError, "batch_sizes must be distinct positive integers",
                 id="export-batch-size-zero"),
    pytest.param(lambda: _export(batch_sizes=[]), ParameterError, "batch_sizes must be distinct positive integers",
                 id="export-batch-sizes-empty"),
    pytest.param(lambda: _export(batch_sizes=(256, 256)), ParameterError, "batch_sizes must be distinct", id="export-batch-sizes-repeated"),
    pytest.param(lambda: _export(timer=lambda fns, inputs, repeats: {"eager": [1.0]}, repeats=3), ParameterError,
                 "the timer gave no positive finite times for 'script/", id="export-timer-missing-candidate"),
    pytest.param(_time_calls_negative_warmup, ParameterError, "`warmup` must be", id="export-time-calls-negative-warmup"),
    pytest.param(lambda: _export(method="export"), ParameterError, "must end in .pt2", id="export-pt2-suffix"),
    pytest.param(lambda: _export(path="m.pt2", method="trace"), ParameterError, "writes TorchScript", id="export-trace-to-pt2"),
    pytest.param(lambda: _export(path="m.pt2", quantize=True), ParameterError, "quantize=True applies to TorchScript", id="export-quantize-pt2"),
    pytest.param(lambda: _export(output="logit"), ParameterError, "`output` must be one of", id="export-unknown-output"),
    pytest.param(lambda: _export(quantize=True, labels=[0, 1, 1]), DataError, "labels has 3 values for 8 example rows", id="export-labels-length"),
    pytest.param(lambda: _export(quantize=True, quant_bounds={"agreemnt": 0.9}), ParameterError, "unknown quant_bounds keys", id="export-quant-bounds-typo"),
    pytest.param(lambda: _export(atol=-1e-5), ParameterError, "`atol` must be a number >= 0", id="export-negative-atol"),
    pytest.param(lambda: _export(rows=1), ParameterError, "`rows` must be at least 2", id="export-rows-too-few"),
    pytest.param(lambda: _export(path="."), ParameterError, "path is a folder", id="export-path-is-folder"),
    pytest.param(_nondeterministic, ModelError, "different outputs for the same inputs", id="export-nondeterministic-model"),
    pytest.param(_returns_string, ModelError, "parity compares tensors", id="export-output-not-tensor"),
    pytest.param(_load_missing, FileFormatError, "exported artifact does not exist", id="export-load-missing"),
    pytest.param(_load_garbage, FileFormatError, "not a TorchScript or .pt2 archive", id="export-load-garbage"),
    pytest.param(_load_pickled_module, FileFormatError, "never unpickles", id="export-load-pickle"),
    pytest.param(_manifest_of_plain_torchscript, FileFormatError, "without a prodkit manifest", id="export-manifest-missing"),
    pytest.param(_skew_without_adapter, ParameterError, "the artifact has no adapter", id="export-skew-no-adapter"),
    pytest.param(_bundle_missing, FileFormatError, "does not exist", id="export-bundle-missing"),
    pytest.param(_bad_input_shape, ParameterError, "input_shape must be positive integers", id="export-bad-input-shape"),
    pytest.param(_load_hostile_pt2, UnsafeArtifactError, "data/sample_inputs/model.pt", id="export-load-hostile-pt2"),
    pytest.param(_load_wrong_digest, FileFormatError, "not the expected sha256:1111", id="export-load-wrong-digest"),
    pytest.param(_predictor_wrong_digest, FileFormatError, "not the expected sha256:ffff", id="export-predictor-wrong-digest"),
    pytest.param(_load_malformed_digest, ParameterError, "must be a SHA-256 digest", id="export-load-malformed-digest"),
    pytest.param(_load_device_file, FileFormatError, "not a regular file", id="export-load-device-file"),
    pytest.param(_manifest_adapter_malformed, FileFormatError, "malformed 'adapter'", id="export-manifest-adapter-malformed"),
    pytest.param(_compare_latency_empty_rows, DataError, "rows must be a non-empty DataFrame or tensor", id="export-compare-latency-empty-rows"),
    pytest.param(_compare_latency_path_not_predictor, ParameterError, "`exported` must be a Predictor or a callable", id="export-compare-latency-path"),
]
