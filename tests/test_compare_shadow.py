"""Shadow serving and logged comparison: the champion's answers never depend on the challenger, a failing challenger is
counted and absent from the log, identical models agree on every paired request, and logs of different traffic do
not pair."""
import numpy as np
import pandas as pd
import pytest
import torch

from prodkit.compare import ShadowModel, compare_logged
from prodkit.core import DataError, Predictor
from prodkit.monitor import Monitor


def _frame(n=60, seed=0):
    g = np.random.default_rng(seed)
    return pd.DataFrame({"a": g.normal(size=n), "b": g.normal(size=n)})


def _lin(seed):
    torch.manual_seed(seed); return Predictor(torch.nn.Linear(2, 2), output="logits")


def test_failing_challenger_never_touches_serving(tmp_path):
    def broken(x): raise RuntimeError("challenger crashed")
    champ, X = _lin(0), _frame()
    sh = ShadowModel(champ, Predictor(broken, output="proba"), monitor_store=tmp_path / "s.sqlite", champion_version="v1", challenger_version="v2")
    served = np.vstack([sh.predict_proba(X.iloc[i:i + 10]) for i in range(0, 60, 10)])
    sh.close()
    np.testing.assert_array_equal(served, champ.predict_proba(X))
    assert sh.shadow_errors_ == 6
    with pytest.raises(DataError, match="no rows of the challenger version 'v2'"):
        compare_logged(tmp_path / "s.sqlite", champion="v1", challenger="v2")


def test_identical_models_agree_on_every_paired_request(tmp_path):
    m, X = _lin(1), _frame(80, 1)
    y = (X["a"] > 0).astype(int).to_numpy()
    sh = ShadowModel(m, _lin(1), monitor_store=tmp_path / "s.sqlite", champion_version="old", challenger_version="new")
    for i in range(0, 80, 8): sh.predict_proba(X.iloc[i:i + 8])
    assert sh.flush(timeout_s=10.0) == 160   # 80 rows by each of the two monitors
    sh.close()
    r = compare_logged(tmp_path / "s.sqlite", champion="old", challenger="new", labels=y, metrics=["accuracy", "auc"], n_boot=100)
    assert r.n_paired == 80 and r.n_unpaired == 0 and r.disagreement == 0.0
    assert r.summary["confidence_diff"] == 0.0 and r.summary["auc_decision"] == "non_inferior" and r.summary["output_drift"] is False


def test_logs_of_different_traffic_do_not_pair(tmp_path):
    for v, seed in (("v1", 0), ("v2", 1)):
        mon = Monitor(_lin(0), tmp_path / "s.sqlite", version=v)
        mon.predict_proba(_frame(20, seed)); mon.flush(); mon.close()
    with pytest.raises(DataError, match="no request was logged by both versions"):
        compare_logged(tmp_path / "s.sqlite", champion="v1", challenger="v2")
