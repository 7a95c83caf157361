"""Bad inputs to prodkit.versioning: a damaged or hostile bundle.json / adapter.json, a wrong digest, unsafe model files.
Each case is one mistake, the exact error class it must raise, and words of the message."""
import pytest

from prodkit.core import FileFormatError, ParameterError
from prodkit.versioning import UnsafeArtifactError


def _bundle(edit=None, files=None, extra=None, **load_kw):
    """Save a tiny bundle in a temporary folder, apply `edit(meta)` to bundle.json (and `files(folder)` to the folder),
    then load it with `load_bundle(**load_kw)`."""
    import json, tempfile
    from pathlib import Path
    import pandas as pd, torch
    from torch import nn
    from prodkit.core import TabularAdapter
    from prodkit.versioning import load_bundle, save_bundle
    with tempfile.TemporaryDirectory() as d:
        df = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": ["x", "y", "x"]})
        ad = TabularAdapter().fit(df); torch.manual_seed(0)
        b = save_bundle(Path(d, "b"), nn.Linear(ad.n_features_, 2), ad, classes=["n", "y"])
        if files: files(b)
        if edit:
            meta = json.loads((b / "bundle.json").read_text()); edit(meta)
            (b / "bundle.json").write_text(json.dumps(meta))
        return load_bundle(b, **load_kw)


def _set(key, value):
    def edit(meta):
        node, *path = key.split(".")
        target = meta
        for k in [node, *path][:-1]: target = target[k]
        target[[node, *path][-1]] = value
    return edit


def _add_file(name, digest_of="model.pt"):
    return lambda meta: meta["files"].__setitem__(name, meta["files"][digest_of])


def _adapter(text):
    "Replace adapter.json by `text` and record its digest, as someone who edits a bundle would."
    import hashlib
    def files(b):
        (b / "adapter.json").write_text(text)
        import json
        meta = json.loads((b / "bundle.json").read_text())
        meta["files"]["adapter.json"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        (b / "bundle.json").write_text(json.dumps(meta))
    return files


def _symlink_out(b):
    import os
    os.symlink("/etc/hostname", b / "leak")


def _no_adapter_listed(meta):
    meta["files"].pop("adapter.json")


def _hostile_torchscript():
    "A TorchScript file whose __setstate__ would create a file: load_model_file refuses it by default."
    import tempfile
    from pathlib import Path
    from typing import Tuple
    import torch
    from torch import nn
    from prodkit.versioning import load_model_file

    class Creates(nn.Module):
        def __init__(self, p:str): super().__init__(); self.p = p; self.t = torch.zeros(1, dtype=torch.uint8)
        @torch.jit.export
        def __getstate__(self) -> Tuple[str, bool]: return (self.p, self.training)
        @torch.jit.export
        def __setstate__(self, s:Tuple[str, bool]) -> None:
            self.p = s[0]; self.training = s[1]; self.t = torch.from_file(self.p, shared=True, size=1, dtype=torch.uint8)
        def forward(self, x): return x
    with tempfile.TemporaryDirectory() as d:
        torch.jit.save(torch.jit.script(Creates(str(Path(d, "created")))), str(Path(d, "m.pt")))
        return load_model_file(Path(d, "m.pt"))


def _wrong_digest_file():
    import tempfile
    from pathlib import Path
    import torch
    from torch import nn
    from prodkit.versioning import load_model_file
    with tempfile.TemporaryDirectory() as d:
        torch.jit.save(torch.jit.script(nn.Linear(2, 1)), str(Path(d, "m.pt")))
        return load_model_file(Path(d, "m.pt"), expect_sha256="sha256:" + "0" * 64)


def _device_file():
    from prodkit.versioning import load_model_file
    return load_model_file("/dev/zero")


CASES = [
    pytest.param(lambda: _bundle(lambda m: m.pop("files")), FileFormatError, "has no 'files' list", id="bundle-files-missing"),
    pytest.param(lambda: _bundle(lambda m: m.__setitem__("files", list(m["files"]))), FileFormatError, "key 'files' must be a mapping", id="bundle-files-list"),
    pytest.param(lambda: _bundle(_set("classes", "n,y")), FileFormatError, "key 'classes' must be a list", id="bundle-classes-string"),
    pytest.param(lambda: _bundle(_set("classes", {"n": 0})), FileFormatError, "key 'classes' must be a list", id="bundle-classes-dict"),
    pytest.param(lambda: _bundle(_set("name", 7)), FileFormatError, "key 'name' must be a string", id="bundle-name-number"),
    pytest.param(lambda: _bundle(_set("output", ["logits"])), FileFormatError, "key 'output' must be a string", id="bundle-output-list"),
    pytest.param(lambda: _bundle(_set("input", [])), FileFormatError, "key 'input' must be a mapping", id="bundle-input-list"),
    pytest.param(lambda: _bundle(_set("input.shape", "30")), FileFormatError, "key 'input.shape' must be a list", id="bundle-shape-string"),
    pytest.param(lambda: _bundle(_set("metrics", [0.9])), FileFormatError, "key 'metrics' must be a mapping", id="bundle-metrics-list"),
    pytest.param(lambda: _bundle(_set("version", True)), FileFormatError, "version True is not supported", id="bundle-version-bool"),
    pytest.param(lambda: _bundle(lambda m: m["files"].pop("model.pt")), FileFormatError, "does not list model.pt", id="bundle-model-unlisted"),
    pytest.param(lambda: _bundle(lambda m: m["files"].__setitem__("model.pt", 12)), FileFormatError, "key 'files' must be a mapping", id="bundle-digest-number"),
    pytest.param(lambda: _bundle(_add_file("/etc/hostname")), FileFormatError, "outside the bundle folder", id="bundle-absolute-path"),
    pytest.param(lambda: _bundle(_add_file("../b/model.pt")), FileFormatError, "outside the bundle folder", id="bundle-dotdot-path"),
    pytest.param(lambda: _bundle(_add_file("/dev/zero")), FileFormatError, "outside the bundle folder", id="bundle-device-file"),
    pytest.param(lambda: _bundle(_add_file("leak"), files=_symlink_out), FileFormatError, "leads outside the bundle folder", id="bundle-symlink-out"),
    pytest.param(lambda: _bundle(_no_adapter_listed), FileFormatError, "not listed in bundle.json", id="bundle-adapter-unlisted"),
    pytest.param(lambda: _bundle(files=_adapter("[1, 2]")), FileFormatError, "adapter.json", id="adapter-json-list"),
    pytest.param(lambda: _bundle(files=_adapter('{"schema": 3}')), FileFormatError, "adapter.json", id="adapter-json-wrong-types"),
    pytest.param(lambda: _bundle(files=_adapter("{not json")), FileFormatError, "adapter.json is malformed", id="adapter-json-invalid"),
    pytest.param(lambda: _bundle(expect_sha256="sha256:" + "0" * 64), FileFormatError, "not the expected sha256:0000", id="bundle-wrong-digest"),
    pytest.param(lambda: _bundle(expect_sha256="abc"), ParameterError, "must be a SHA-256 digest", id="bundle-digest-malformed"),
    pytest.param(_hostile_torchscript, UnsafeArtifactError, "torch.from_file", id="model-file-from-file"),
    pytest.param(_wrong_digest_file, FileFormatError, "not the expected", id="model-file-wrong-digest"),
    pytest.param(_device_file, FileFormatError, "not a regular file", id="model-file-device"),
]
