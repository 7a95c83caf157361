"""templates/promotion.ipynb through the real job runner on tiny bundles: a better challenger is promoted (exit 0), a
worse one is not (exit 1, the gate names why), and lineage is written into the challenger's bundle only when asked."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from prodkit.core import ParameterError, TabularAdapter
from prodkit.jobs import run_notebook, template_parameters
from prodkit.versioning import artifact_digest, save_bundle


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    "Two bundles on the same adapter: `weak` reads one feature, `strong` both; 300 labelled rows with a region column."
    d = tmp_path_factory.mktemp("promo"); g = np.random.default_rng(0)
    df = pd.DataFrame({"a": g.normal(size=300), "b": g.normal(size=300)})
    df["y"] = (df["a"] + df["b"] + g.normal(scale=0.5, size=300) > 0).astype(int)
    df["region"] = np.where(np.arange(300) % 2, "north", "south")
    ad = TabularAdapter(schema=None).fit(df[["a", "b"]])
    for name, w in (("weak", [2.0, 0.0]), ("strong", [2.0, 2.0])):
        lin = torch.nn.Linear(2, 1)
        with torch.no_grad(): lin.weight[:] = torch.tensor([w]); lin.bias.zero_()
        save_bundle(d / name, lin, ad, output="logits")
    df.to_csv(d / "eval.csv", index=False)
    return d


def test_the_inputs_are_required_and_the_default_gate_decides_promotion():
    ps = template_parameters("promotion")
    assert [p for p in ps if ps[p].required] == ["champion", "challenger", "data"]
    assert ps["gates"].default == "compare.promote == true" and ps["trust_model"].default is False


def test_better_challenger_is_promoted_and_lineage_recorded(bundles, tmp_path):
    before = artifact_digest(bundles / "strong")
    r = run_notebook("promotion", {"champion": bundles / "weak", "challenger": bundles / "strong", "data": bundles / "eval.csv", "label": "y",
                                   "margin": 0.01, "slices": "region", "guardrails": "ece", "n_boot": 200, "lineage": True},
                     tmp_path / "out", gates=["compare.promote == true", "compare.auc_diff_ci_low > 0"])
    assert r.exit_code == 0, r.message
    assert r.results["compare.verdict"] == "promote" and r.results["compare.n_slices"] == 2 and r.results["compare.auc_decision"] == "better"
    meta = json.loads((bundles / "strong" / "bundle.json").read_text())
    assert meta["lineage"][-1]["verdict"] == "promote" and artifact_digest(bundles / "strong") != before
    assert "data:image/png;base64," in r.html.read_text()


def test_worse_challenger_is_not_promoted(bundles, tmp_path):
    r = run_notebook("promotion", {"champion": bundles / "strong", "challenger": bundles / "weak", "data": bundles / "eval.csv", "label": "y",
                                   "n_boot": 200}, tmp_path / "out")
    assert r.exit_code == 1, r.message
    assert r.results["compare.promote"] is False and "primary auc is worse" in r.results["compare.reasons"]
    assert "lineage" not in json.loads((bundles / "weak" / "bundle.json").read_text())


def test_missing_label_column_is_refused_before_the_kernel(bundles, tmp_path):
    "A label that is not a column of the data is a ParameterError (exit 2 from the CLI) before any kernel starts."
    with pytest.raises(ParameterError, match="no column 'churned'"):
        run_notebook("promotion", {"champion": bundles / "weak", "challenger": bundles / "strong", "data": bundles / "eval.csv",
                                   "label": "churned"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()
