"""Bad input to prodkit.core: each case one mistake a user (or a model) makes, the error class and the words that name it."""
import pytest

from prodkit.core import DataError, FileFormatError, ModelError, SchemaError


def _tmp(name):
    import tempfile
    from pathlib import Path
    return Path(tempfile.mkdtemp(prefix="prodkit-bad-core-")) / name


def _dup_frame():
    import pandas as pd
    return pd.DataFrame([[1.0, 2.0, 3.0]] * 5, columns=["age", "plan", "age"])


def _dup_csv():
    p = _tmp("dup.csv"); p.write_text("age,plan,age\n30,basic,31\n")
    return p


def _nested_parquet():
    "A Parquet file with a list column and a struct column, as exported by many warehouses."
    import pandas as pd
    p = _tmp("nested.parquet")
    pd.DataFrame({"x": range(30), "tags": [["a", "b"]] * 30, "addr": [{"city": "Oslo", "zip": 1}] * 30}).to_parquet(p)
    return p


def _typo_frame():
    import pandas as pd
    return pd.DataFrame({"price": [f"{10 + i / 10:.1f}" for i in range(199)] + ["1O.0"], "x": range(200)})


def _tz_schema():
    import pandas as pd
    from prodkit.core import Schema
    return Schema.infer(pd.DataFrame({"t": pd.date_range("2024-01-01", periods=5, tz="UTC"), "x": range(5)}))


def _naive_frame():
    import pandas as pd
    return pd.DataFrame({"t": pd.date_range("2024-01-01", periods=5), "x": range(5)})


def _predictor(output, fn=None):
    from prodkit.core import Predictor
    return Predictor(fn or (lambda x: x[:, :2]), output=output)


def _auto_then_logits():
    import numpy as np
    p = _predictor("auto", lambda x: x[:, :1])
    p.predict_proba(np.array([[0.5]]))            # decided: probabilities
    return p.predict_proba(np.array([[0.5], [3.0]]))   # a logit arrives: no silent switch


def _core():
    import prodkit.core as c
    return c


def _old_label_key_schema():
    "A schema saved when the label column's key was `target`: refused with a FileFormatError, never read as no label."
    import json
    p = _tmp("schema.json")
    d = _core().Schema.infer(_dup_frame().iloc[:, :2]).to_dict(); d["target"] = d.pop("label")
    p.write_text(json.dumps(d)); _core().Schema.load(p)


CASES = [
    pytest.param(_old_label_key_schema, FileFormatError, "saved with the old key 'target' for its label column",
                 id="core-schema-with-old-target-key"),
    pytest.param(lambda: _core().read_table(_dup_frame()), DataError, "duplicated column names: ['age']", id="core-duplicated-columns-read"),
    pytest.param(lambda: _core().read_table(_dup_csv(), name="current data"), DataError, "current data has duplicated column names: ['age']",
                 id="core-duplicated-columns-csv"),
    pytest.param(lambda: _core().Schema.infer(_dup_frame()), DataError, "duplicated column names", id="core-duplicated-columns-schema"),
    pytest.param(lambda: _core().TabularAdapter().fit(_dup_frame()), DataError, "duplicated column names", id="core-duplicated-columns-adapter"),
    pytest.param(lambda: _core().Schema.infer(_nested_parquet()), SchemaError, "column 'tags' of the training data holds nested values",
                 id="core-nested-parquet-schema"),
    pytest.param(lambda: _core().TabularAdapter().fit(_core().read_table(_nested_parquet()).drop(columns="tags")), SchemaError,
                 "column 'addr' of the training data holds nested values (dict)", id="core-struct-parquet-adapter"),
    pytest.param(lambda: _core().Schema.infer(_typo_frame()), SchemaError, "column 'price' looks numeric but 1 of 200 values are not numbers",
                 id="core-numeric-column-with-typo"),
    pytest.param(lambda: _tz_schema().validate(_naive_frame()), SchemaError, "column 't' should be tz-aware", id="core-tz-aware-schema-naive-data"),
    pytest.param(lambda: _core().Schema.infer(_naive_frame()).validate(_naive_frame().assign(t=lambda d: d.t.dt.tz_localize("UTC"))),
                 SchemaError, "column 't' should be tz-naive", id="core-tz-naive-schema-aware-data"),
    pytest.param(lambda: _predictor("proba").predict_proba(__import__("numpy").array([[0.2, 0.8], [-0.1, 1.1]])), ModelError,
                 "not probabilities: 1 of 2 rows are not, the first is row 1", id="core-proba-negative"),
    pytest.param(lambda: _predictor("proba").predict_proba(__import__("numpy").array([[0.2, 0.2]])), ModelError,
                 "a sum of 0.4, not 1", id="core-proba-not-normalised"),
    pytest.param(_auto_then_logits, ModelError, "read this model's outputs as probabilities on its first call", id="core-auto-contradicted"),
]


def _adapted_predictor():
    import pandas as pd
    import torch
    from prodkit.core import Predictor, TabularAdapter
    train = pd.DataFrame({"age": [30., 41., 52., 25.], "plan": ["basic", "pro", "basic", "pro"]})
    ad = TabularAdapter().fit(train)
    return Predictor(torch.nn.Linear(ad.n_features_, 2), adapter=ad, output="logits")


CASES += [
    pytest.param(lambda: _adapted_predictor().predict_proba({"age": 30.}), SchemaError, "column 'plan' is missing", id="core-record-missing-feature"),
    pytest.param(lambda: _adapted_predictor().predict_proba({"age": "thirty", "plan": "pro"}), SchemaError, "column 'age' should be numeric",
                 id="core-record-text-in-numeric"),
    pytest.param(lambda: _adapted_predictor().predict_proba({"age": 30., "plan": ["pro"]}), SchemaError, "column 'plan' of the data holds nested values",
                 id="core-record-nested-value"),
    pytest.param(lambda: _adapted_predictor().predict_proba({"age": float("inf"), "plan": "pro"}), SchemaError, "infinite values",
                 id="core-record-infinite"),
    pytest.param(lambda: _predictor("logits").predict_proba({"x": 1.0, "plan": "pro"}), DataError, "non-numeric columns ['plan'] and no adapter",
                 id="core-record-text-without-adapter"),
    pytest.param(lambda: _predictor("logits").predict_proba([{"x": 1.0}, "a row"]), DataError, "cannot read the input as rows of numbers",
                 id="core-mixed-list-of-records"),
]
