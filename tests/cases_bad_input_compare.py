"""Bad input to prodkit.compare: each case one mistake a user makes, the error class and the words that name it."""
import pytest

from prodkit.core import DataError, FileFormatError, ModelError, ParameterError


def _data(n=40, label="y"):
    import numpy as np, pandas as pd
    g = np.random.default_rng(0)
    return pd.DataFrame({"x0": g.normal(size=n), "x1": g.normal(size=n), label: g.integers(0, 2, n)})


def _clf(k=2, task="classification"):
    import torch
    from torch import nn
    from prodkit.core import Predictor
    torch.manual_seed(k)
    return Predictor(nn.Linear(2, k), output="logits") if task == "classification" else Predictor(nn.Linear(2, 1), task="regression")


def _cmp(a=None, b=None, data=None, **kw):
    from prodkit.compare import compare_models
    kw.setdefault("label", "y"); kw.setdefault("n_boot", 50)
    return compare_models(a or _clf(), b or _clf(), _data() if data is None else data, **kw)


def _unlabelled():
    d = _data(); d["y"] = None
    return _cmp(data=d)


def _canary(**kw):
    import numpy as np, pandas as pd
    from prodkit.compare import canary_analysis
    w = pd.DataFrame({"monitor.latency_ms": np.arange(1.0, 21.0), "monitor.confidence": np.linspace(0.5, 1, 20)})
    return canary_analysis(kw.pop("baseline", w), kw.pop("canary", w), **kw)


def _lineage_wrong_report(tmp=None):
    import tempfile
    from pathlib import Path
    from prodkit.compare import record_lineage
    return record_lineage(Path(tempfile.mkdtemp()), {"verdict": "promote"})


def _lineage_not_bundle():
    import tempfile
    from pathlib import Path
    from prodkit.compare import record_lineage
    rep = _cmp()
    return record_lineage(Path(tempfile.mkdtemp()) / "nothing", rep)


def _aa_tiny():
    import pandas as pd
    from prodkit.compare import aa_calibration
    return aa_calibration(pd.DataFrame({"monitor.latency_ms": [1.0, 2.0]}))


def _logged_no_overlap():
    import tempfile
    from pathlib import Path
    from prodkit.compare import compare_logged
    from prodkit.monitor import Monitor
    d = Path(tempfile.mkdtemp())
    for v, n in (("v1", 10), ("v2", 12)):
        m = Monitor(_clf(), d / "s.sqlite", version=v); m.predict_proba(_data(n).drop(columns="y")); m.flush(); m.close()
    return compare_logged(d / "s.sqlite", champion="v1", challenger="v2")


def _logged_wrong_labels():
    import tempfile
    from pathlib import Path
    from prodkit.compare import ShadowModel, compare_logged
    d = Path(tempfile.mkdtemp())
    sh = ShadowModel(_clf(), _clf(3 - 1), monitor_store=d / "s.sqlite", champion_version="a", challenger_version="b")
    sh.predict_proba(_data(10).drop(columns="y")); sh.close()
    return compare_logged(d / "s.sqlite", champion="a", challenger="b", labels=[0, 1, 0])


def _shadow_tasks_differ():
    import tempfile
    from pathlib import Path
    from prodkit.compare import ShadowModel
    return ShadowModel(_clf(), _clf(task="regression"), monitor_store=Path(tempfile.mkdtemp()) / "s.sqlite")


def _fn(name, *args, **kw):
    "Call prodkit.compare.`name` with the arguments (imported late, like the other cases)."
    import prodkit.compare
    return getattr(prodkit.compare, name)(*args, **kw)


def _shadow_same_version():
    import tempfile
    from pathlib import Path
    from prodkit.compare import ShadowModel
    m = _clf()
    return ShadowModel(m, m, monitor_store=Path(tempfile.mkdtemp()) / "s.sqlite")


def _aa_no_splits():
    import numpy as np, pandas as pd
    from prodkit.compare import aa_calibration
    return aa_calibration(pd.DataFrame({"monitor.latency_ms": np.arange(1.0, 21.0)}), n_splits=0,
                          metrics=["latency_ms"])


def _lineage_not_a_list():
    import tempfile
    from pathlib import Path
    import torch
    from prodkit.compare import compare_models, record_lineage
    from prodkit.versioning import save_bundle, update_bundle_meta
    d = Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    b = save_bundle(d / "b", torch.nn.Linear(2, 2), None, example=torch.zeros(4, 2))
    update_bundle_meta(b, lineage={"verdict": "promote"})
    return record_lineage(b, compare_models(_clf(), b, _data(), label="y", n_boot=50))


def _classes_differ():
    import torch
    from prodkit.core import Predictor
    torch.manual_seed(0)
    lin = torch.nn.Linear(2, 2)
    return _cmp(Predictor(lin, output="logits", classes=["stay", "churn"]), Predictor(lin, output="logits", classes=["churn", "stay"]))


CASES = [
    pytest.param(lambda: _cmp(b=_clf(3)), ModelError, "2 output columns and the challenger 3", id="compare-output-widths-differ"),
    pytest.param(lambda: _cmp(b=_clf(task="regression")), ModelError, "the champion does classification and the challenger regression",
                 id="compare-tasks-differ"),
    pytest.param(_unlabelled, DataError, "no labelled rows", id="compare-labels-missing"),
    pytest.param(lambda: _cmp(label="target"), DataError, "label column 'target' is not in the data", id="compare-label-column-missing"),
    pytest.param(lambda: _cmp(data=_data().iloc[:0]), DataError, "no labelled rows", id="compare-no-rows"),
    pytest.param(lambda: _cmp(metrics=["accuracy", "mae"]), ParameterError, "'mae' is for regression", id="compare-metric-of-other-task"),
    pytest.param(lambda: _cmp(metrics=["acuracy"]), ParameterError, "did you mean 'accuracy'", id="compare-metric-misspelt"),
    pytest.param(lambda: _cmp(primary="brier", metrics=["auc"]), ParameterError, "'brier' is not among the compared metrics", id="compare-primary-not-compared"),
    pytest.param(lambda: _cmp(margin=-0.01), ParameterError, "must be a number >= 0", id="compare-negative-margin"),
    pytest.param(lambda: _cmp(n_boot=10), ParameterError, "n_boot must be at least 50", id="compare-too-few-resamples"),
    pytest.param(lambda: _cmp(confidence=95), ParameterError, "`confidence` must be between 0 and 1", id="compare-confidence-percent"),
    pytest.param(lambda: _cmp(slices=["region"]), ParameterError, "slice column 'region' is not in the data", id="compare-slice-column-missing"),
    pytest.param(lambda: _cmp(slices={"half": [True, False]}), ParameterError, "boolean mask of 40 rows", id="compare-slice-mask-length"),
    pytest.param(lambda: _cmp(correction="bonferroni"), ParameterError, "bonferroni", id="compare-unknown-correction"),
    pytest.param(lambda: _cmp(a="/nonexistent/bundle"), FileFormatError, "does not exist", id="compare-champion-path-missing"),
    pytest.param(lambda: _canary(metrics=["throughput"]), ParameterError, "'throughput' has no known harmful direction", id="canary-unknown-metric"),
    pytest.param(lambda: _canary(metrics=[]), ParameterError, "`metrics` is empty", id="canary-no-metrics"),
    pytest.param(lambda: _canary(metrics=["error"]), DataError, "the baseline has no column 'error'", id="canary-column-missing"),
    pytest.param(lambda: _canary(canary=[1, 2, 3]), DataError, "the canary must be a monitor window", id="canary-not-a-window"),
    pytest.param(lambda: _canary(alpha=5), ParameterError, "`alpha` must be between 0 and 1", id="canary-alpha-percent"),
    pytest.param(_aa_tiny, DataError, "A/A halves need at least 4", id="aa-window-too-small"),
    pytest.param(_lineage_wrong_report, ParameterError, "report must be the ComparisonReport", id="lineage-not-a-report"),
    pytest.param(_lineage_not_a_list, FileFormatError, "'lineage' is not a list", id="lineage-key-not-a-list"),
    pytest.param(_classes_differ, ModelError, "differ from the challenger's", id="compare-classes-in-another-order"),
    pytest.param(_lineage_not_bundle, FileFormatError, "the challenger must be a bundle folder", id="lineage-not-a-bundle"),
    pytest.param(_logged_no_overlap, DataError, "no request was logged by both versions", id="logged-no-overlap"),
    pytest.param(_logged_wrong_labels, DataError, "3 labels for 10 paired requests", id="logged-labels-length"),
    pytest.param(_shadow_tasks_differ, ModelError, "the champion does classification and the challenger regression", id="shadow-tasks-differ"),
    pytest.param(lambda: _fn("mcnemar_test", [1, 0, 1], [1, 0]), DataError, "equal-length", id="mcnemar-lengths-differ"),
    pytest.param(lambda: _fn("delong_test", [1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1]), DataError, "needs both classes",
                 id="delong-one-class"),
    pytest.param(lambda: _fn("delong_test", [0, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1]), DataError, "2 labels for 3 scores",
                 id="delong-lengths-differ"),
    pytest.param(_shadow_same_version, ParameterError, "the same version", id="shadow-same-version"),
    pytest.param(_aa_no_splits, ParameterError, "n_splits", id="aa-no-splits"),
    pytest.param(lambda: _canary(allowed_increase=-0.1), ParameterError, "allowed_increase", id="canary-negative-allowance"),
]
