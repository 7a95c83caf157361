"""Bad inputs to versioning (fingerprints, manifests, bundles), the demo, and the core objects a bundle hands out.

Each case is a zero-argument callable that feeds the public API one mistake a user makes; the runner
asserts the ProdkitError subclass and words of the message. Data is built inside each callable.
"""
import pytest

from prodkit.core import DataError, FileFormatError, ModelError, NotFittedError, ParameterError, SchemaError


def _tmp():
    import tempfile
    from pathlib import Path
    return Path(tempfile.mkdtemp(prefix="prodkit-bad-"))


def _tabular():
    import numpy as np, pandas as pd, torch
    from torch import nn
    from prodkit.core import TabularAdapter
    df = pd.DataFrame({"x": [0.5, 1.5, np.nan, 2.0], "k": pd.Series(["a", "b", "a", "c"], dtype="str"),
                       "flag": [True, False, True, False], "y": [0, 1, 0, 1]})
    ad = TabularAdapter(label="y").fit(df)
    torch.manual_seed(0)
    return df, ad, nn.Sequential(nn.Linear(ad.n_features_, 4), nn.ReLU(), nn.Linear(4, 1))


def _bundle():
    from prodkit.versioning import save_bundle
    df, ad, net = _tabular()
    return df, save_bundle(_tmp() / "bundle", net, ad, classes=[0, 1])


def _loaded():
    from prodkit.versioning import load_bundle
    df, p = _bundle()
    return df, load_bundle(p)


# --- fingerprints -------------------------------------------------------------------------------
def fingerprint_list():
    from prodkit.versioning import fingerprint_data
    fingerprint_data([[1, 2], [3, 4]])

def fingerprint_duplicate_columns():
    import pandas as pd
    from prodkit.versioning import fingerprint_data
    fingerprint_data(pd.DataFrame([[1, 2]], columns=["a", "a"]))

def fingerprint_missing_file():
    from prodkit.versioning import fingerprint_data
    fingerprint_data(_tmp() / "nope.parquet")

def fingerprint_object_array():
    import numpy as np
    from prodkit.versioning import fingerprint_data
    fingerprint_data(np.array([{"a": 1}, None], dtype=object))

def fingerprint_model_callable():
    from prodkit.versioning import fingerprint_model
    fingerprint_model(lambda x: x)

def fingerprint_model_plain_folder():
    from prodkit.versioning import fingerprint_model
    fingerprint_model(_tmp())

def fingerprint_schema_wrong_type():
    from prodkit.versioning import fingerprint_schema
    fingerprint_schema(["x", "k"])

# --- manifests ----------------------------------------------------------------------------------
def manifest_not_a_manifest():
    from prodkit.versioning import Manifest
    p = _tmp() / "m.json"; p.write_text('{"data": {}}')
    Manifest.load(p)

def manifest_truncated_json():
    from prodkit.versioning import Manifest
    p = _tmp() / "m.json"; p.write_text('{"format": "prodkit-manifest", "data": {')
    Manifest.load(p)

def manifest_diff_with_number():
    from prodkit.versioning import Manifest
    Manifest().diff(42)

# --- model files and bundles --------------------------------------------------------------------
def model_file_missing():
    from prodkit.versioning import load_model_file
    load_model_file(_tmp() / "model.pt")

def model_file_pickled_module():
    import torch
    from prodkit.versioning import load_model_file
    p = _tmp() / "model.pt"; torch.save(_tabular()[2], p)
    load_model_file(p)

def model_file_state_dict():
    import torch
    from prodkit.versioning import load_model_file
    p = _tmp() / "weights.pt"; torch.save(_tabular()[2].state_dict(), p)
    load_model_file(p)

def model_file_legacy_pickle():
    import pickle
    from prodkit.versioning import load_model_file
    p = _tmp() / "model.pkl"; p.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    load_model_file(p)

def model_file_random_bytes():
    import numpy as np
    from prodkit.versioning import load_model_file
    p = _tmp() / "model.pt"; p.write_bytes(np.random.default_rng(0).bytes(500))
    load_model_file(p)

def model_file_empty():
    from prodkit.versioning import load_model_file
    p = _tmp() / "model.pt"; p.write_bytes(b"")
    load_model_file(p)

def model_file_is_a_bundle_folder():
    from prodkit.versioning import load_model_file
    load_model_file(_bundle()[1])

def model_file_truncated_torchscript():
    from prodkit.versioning import load_model_file
    _, b = _bundle(); p = b.parent / "cut.pt"
    p.write_bytes((b / "model.pt").read_bytes()[:1000])
    load_model_file(p)

def bundle_missing():
    from prodkit.versioning import load_bundle
    load_bundle(_tmp() / "no-such-bundle")

def bundle_plain_folder():
    from prodkit.versioning import load_bundle
    load_bundle(_tmp())

def bundle_corrupt_json():
    from prodkit.versioning import load_bundle
    _, b = _bundle(); (b / "bundle.json").write_text("{not json")
    load_bundle(b)

def bundle_tampered_model():
    from prodkit.versioning import load_bundle
    _, b = _bundle(); data = bytearray((b / "model.pt").read_bytes()); data[-30] ^= 0xFF
    (b / "model.pt").write_bytes(bytes(data))
    load_bundle(b)

def bundle_missing_adapter():
    from prodkit.versioning import load_bundle
    _, b = _bundle(); (b / "adapter.json").unlink()
    load_bundle(b)

def bundle_newer_version():
    import json
    from prodkit.versioning import load_bundle
    _, b = _bundle(); meta = json.loads((b / "bundle.json").read_text()); meta["version"] = 99
    (b / "bundle.json").write_text(json.dumps(meta))
    load_bundle(b)

def save_bundle_unfitted_adapter():
    from prodkit.core import TabularAdapter
    from prodkit.versioning import save_bundle
    save_bundle(_tmp() / "b", _tabular()[2], TabularAdapter())

def save_bundle_bad_output():
    from prodkit.versioning import save_bundle
    _, ad, net = _tabular()
    save_bundle(_tmp() / "b", net, ad, output="probability")

def save_bundle_wrong_classes():
    from prodkit.versioning import save_bundle
    _, ad, net = _tabular()
    save_bundle(_tmp() / "b", net, ad, classes=["a", "b", "c"])

def save_bundle_not_a_model():
    from prodkit.versioning import save_bundle
    _, ad, _ = _tabular()
    save_bundle(_tmp() / "b", lambda x: x.sum(1), ad)

def save_bundle_over_other_files():
    from prodkit.versioning import save_bundle
    _, ad, net = _tabular(); d = _tmp(); (d / "notes.txt").write_text("keep me")
    save_bundle(d, net, ad)

def save_bundle_nan_metric():
    from prodkit.versioning import save_bundle
    _, ad, net = _tabular()
    save_bundle(_tmp() / "b", net, ad, metrics={"auc": float("nan")})

def save_bundle_empty_example():
    import torch
    from prodkit.versioning import save_bundle
    _, _, net = _tabular()
    save_bundle(_tmp() / "b", net, None, example=torch.zeros(0, 5))

def save_bundle_example_wrong_width():
    import torch
    from prodkit.versioning import save_bundle
    _, _, net = _tabular()
    save_bundle(_tmp() / "b", net, None, example=torch.zeros(4, 3))

def save_bundle_script_module_other_adapter():
    import warnings, torch
    import pandas as pd
    from prodkit.core import TabularAdapter
    from prodkit.versioning import save_bundle
    _, _, net = _tabular()
    other = TabularAdapter().fit(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))   # 2 features, the model expects 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sm = torch.jit.script(net)
    save_bundle(_tmp() / "b", sm, other)

def save_bundle_adapter_is_schema():
    from prodkit.versioning import save_bundle
    _, ad, net = _tabular()
    save_bundle(_tmp() / "b", net, ad.schema)

# --- what a loaded bundle is fed ----------------------------------------------------------------
def bundle_predict_missing_column():
    df, b = _loaded()
    b.predictor.predict_proba(df.drop(columns=["k"]))

def bundle_predict_wrong_type():
    df, b = _loaded()
    b.predictor.predict_proba(df.assign(x=["a", "b", "c", "d"]))

def bundle_predict_empty_frame():
    df, b = _loaded()
    b.predictor.predict_proba(df.iloc[:0])

def bundle_predict_unexpected_null():
    df, b = _loaded()
    b.schema.validate(df.assign(flag=[True, None, True, False]))

def bundle_predict_wrong_tensor_width():
    import torch
    _, b = _loaded()
    b.predictor.predict_proba(torch.zeros(3, 2))

def bundle_predict_infinite_values():
    import numpy as np
    df, b = _loaded()
    b.predictor.predict_proba(df.assign(x=[1.0, np.inf, 0.0, 2.0]))

# --- demo ---------------------------------------------------------------------------------------
def demo_negative_seed():
    from prodkit.demo import load_demo
    load_demo(seed=-3)

def demo_float_seed():
    from prodkit.demo import load_demo
    load_demo(seed=1.5)

def demo_too_few_rows():
    from prodkit.demo import load_demo
    load_demo(0, n_reference=50)

def demo_zero_rows():
    from prodkit.demo import make_churn
    make_churn(0, n_current=0)


CASES = [
    pytest.param(fingerprint_list, DataError, "must be a DataFrame", id="demo-fingerprint-list"),
    pytest.param(fingerprint_duplicate_columns, DataError, "duplicated column names ['a']", id="demo-fingerprint-duplicate-columns"),
    pytest.param(fingerprint_missing_file, FileFormatError, "does not exist", id="demo-fingerprint-missing-file"),
    pytest.param(fingerprint_object_array, DataError, "cannot fingerprint an object array", id="demo-fingerprint-object-array"),
    pytest.param(fingerprint_model_callable, ParameterError, "must be an nn.Module", id="demo-fingerprint-model-callable"),
    pytest.param(fingerprint_model_plain_folder, FileFormatError, "not a prodkit bundle", id="demo-fingerprint-model-folder"),
    pytest.param(fingerprint_schema_wrong_type, ParameterError, "schema must be a Schema", id="demo-fingerprint-schema-list"),
    pytest.param(manifest_not_a_manifest, FileFormatError, "not a prodkit manifest", id="demo-manifest-not-manifest"),
    pytest.param(manifest_truncated_json, FileFormatError, "manifest file is not valid JSON", id="demo-manifest-truncated"),
    pytest.param(manifest_diff_with_number, ParameterError, "can only diff with a Manifest", id="demo-manifest-diff-number"),
    pytest.param(model_file_missing, FileFormatError, "model file does not exist", id="demo-model-file-missing"),
    pytest.param(model_file_pickled_module, FileFormatError, "pickled torch.save file", id="demo-model-file-pickled-module"),
    pytest.param(model_file_state_dict, FileFormatError, "never unpickles", id="demo-model-file-state-dict"),
    pytest.param(model_file_legacy_pickle, FileFormatError, "it is a Python pickle", id="demo-model-file-legacy-pickle"),
    pytest.param(model_file_random_bytes, FileFormatError, "neither a TorchScript archive nor any zip", id="demo-model-file-random"),
    pytest.param(model_file_empty, FileFormatError, "it is an empty file", id="demo-model-file-empty"),
    pytest.param(model_file_is_a_bundle_folder, FileFormatError, "use load_bundle", id="demo-model-file-folder"),
    pytest.param(model_file_truncated_torchscript, FileFormatError, "damaged or truncated zip archive", id="demo-model-file-truncated"),
    pytest.param(bundle_missing, FileFormatError, "model bundle does not exist", id="demo-bundle-missing"),
    pytest.param(bundle_plain_folder, FileFormatError, "no bundle.json", id="demo-bundle-plain-folder"),
    pytest.param(bundle_corrupt_json, FileFormatError, "bundle.json file is not valid JSON", id="demo-bundle-corrupt-json"),
    pytest.param(bundle_tampered_model, FileFormatError, "model.pt was changed or damaged", id="demo-bundle-tampered"),
    pytest.param(bundle_missing_adapter, FileFormatError, "adapter.json is missing", id="demo-bundle-missing-adapter"),
    pytest.param(bundle_newer_version, FileFormatError, "format version 99 is not supported", id="demo-bundle-newer-version"),
    pytest.param(save_bundle_unfitted_adapter, NotFittedError, "call .fit", id="demo-save-bundle-unfitted"),
    pytest.param(save_bundle_bad_output, ParameterError, "`output` must be one of", id="demo-save-bundle-bad-output"),
    pytest.param(save_bundle_wrong_classes, ParameterError, "1 output columns but 3 classes", id="demo-save-bundle-classes"),
    pytest.param(save_bundle_not_a_model, ParameterError, "must be an nn.Module or a TorchScript module", id="demo-save-bundle-not-model"),
    pytest.param(save_bundle_over_other_files, FileFormatError, "refusing to replace it", id="demo-save-bundle-over-files"),
    pytest.param(save_bundle_nan_metric, ParameterError, "metrics must be JSON-able finite numbers", id="demo-save-bundle-nan-metric"),
    pytest.param(save_bundle_empty_example, DataError, "example must be a non-empty batch", id="demo-save-bundle-empty-example"),
    pytest.param(save_bundle_example_wrong_width, ModelError, "example batch", id="demo-save-bundle-example-width"),
    pytest.param(save_bundle_script_module_other_adapter, ModelError, "on the example batch of shape (16, 2)", id="demo-save-bundle-script-other-adapter"),
    pytest.param(save_bundle_adapter_is_schema, ParameterError, "adapter must be a fitted TabularAdapter", id="demo-save-bundle-schema-as-adapter"),
    pytest.param(bundle_predict_missing_column, SchemaError, "column 'k' is missing", id="demo-bundle-predict-missing-column"),
    pytest.param(bundle_predict_wrong_type, SchemaError, "'x' should be numeric", id="demo-bundle-predict-wrong-type"),
    pytest.param(bundle_predict_empty_frame, DataError, "empty", id="demo-bundle-predict-empty"),
    pytest.param(bundle_predict_unexpected_null, SchemaError, "missing values but none were seen", id="demo-bundle-unexpected-null"),
    pytest.param(bundle_predict_wrong_tensor_width, ModelError, "the model raised", id="demo-bundle-predict-tensor-width"),
    pytest.param(bundle_predict_infinite_values, SchemaError, "infinite values", id="demo-bundle-predict-inf"),
    pytest.param(demo_negative_seed, ParameterError, "`seed` must be an integer >= 0", id="demo-load-negative-seed"),
    pytest.param(demo_float_seed, ParameterError, "`seed` must be an integer", id="demo-load-float-seed"),
    pytest.param(demo_too_few_rows, ParameterError, "`n_reference` must be at least 200 rows", id="demo-load-too-few-rows"),
    pytest.param(demo_zero_rows, ParameterError, "`n_current` must be an integer > 0", id="demo-make-churn-zero-rows"),
]
