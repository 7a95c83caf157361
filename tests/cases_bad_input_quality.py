"""Bad input to prodkit.quality: each case one mistake a user makes, the error class and the words that name it."""
import pytest

from prodkit.core import DataError, ModelError, ParameterError


def _data(n=30, labels=("benign", "malignant")):
    import numpy as np, pandas as pd
    g = np.random.default_rng(0)
    return pd.DataFrame({"x0": g.normal(size=n), "x1": g.normal(size=n), "label": g.choice(list(labels), n)})


def _clf(classes=("benign", "malignant")):
    import torch
    from torch import nn
    from prodkit.core import Predictor
    lin = nn.Linear(2, 1)
    with torch.no_grad(): lin.weight[:] = torch.tensor([[1.0, -1.0]]); lin.bias.zero_()
    return Predictor(lin, output="logits", classes=None if classes is None else list(classes))


def _reg():
    from torch import nn
    from prodkit.core import Predictor
    return Predictor(nn.Linear(2, 1), task="regression")


def _eval(model=None, data=None, **kw):
    from prodkit.quality import evaluate_quality
    kw.setdefault("label", "label"); kw.setdefault("n_boot", 0)
    return evaluate_quality(_clf() if model is None else model, _data() if data is None else data, **kw)


def _no_label_column(): _eval(label="diagnosis")
def _empty_data(): _eval(data=_data().iloc[:0])
def _no_labelled_rows():
    d = _data().astype({"label": object}); d["label"] = None; _eval(data=d)
def _unknown_labels(): _eval(data=_data(labels=("benign", "malignent")))
def _classes_vs_outputs(): _eval(model=_clf(("a", "b", "c")))
def _reference_without_label(): _eval(reference=_data().drop(columns="label"))
def _data_not_a_frame(): _eval(data=[[0.1, 0.2, "benign"]])
def _not_a_predictor():
    from torch import nn
    _eval(model=nn.Linear(2, 1))
def _unknown_metric(): _eval(metrics=["acuracy"])
def _metric_of_other_task(): _eval(metrics=["mae"])
def _empty_metrics(): _eval(metrics=[])
def _confidence_out_of_range(): _eval(confidence=95)
def _negative_n_boot(): _eval(n_boot=-5)
def _text_labels_for_regression(): _eval(model=_reg())
def _bad_plot_kind():
    _eval().plot(kind="residuals")
def _compute_metric_logits():
    from prodkit.quality import compute_metric
    compute_metric("auc", [0, 1], [[-2.0, 3.0], [1.0, 0.5]])
def _compute_metric_length_mismatch():
    from prodkit.quality import compute_metric
    compute_metric("mae", [1.0, 2.0, 3.0], [1.0, 2.0])
def _ece_bins_zero():
    from prodkit.quality import expected_calibration_error
    expected_calibration_error([0, 1], [0.2, 0.8], bins=0)
def _direction_of_unknown_metric():
    from prodkit.quality import metric_direction
    metric_direction("f1")


def _class_index_unknown_option():
    from prodkit.quality import class_index
    class_index([0, 1], k=2, unknown="drop")


CASES = [
    pytest.param(_no_label_column, DataError, "label column 'diagnosis' is not in the data", id="quality-no-label-column"),
    pytest.param(_empty_data, DataError, "the data is empty (0 rows)", id="quality-empty-data"),
    pytest.param(_no_labelled_rows, DataError, "has no labelled rows", id="quality-no-labelled-rows"),
    pytest.param(_unknown_labels, DataError, "labels ['malignent']", id="quality-unknown-labels"),
    pytest.param(_classes_vs_outputs, ModelError, "2 output columns but `classes` lists 3", id="quality-classes-vs-outputs"),
    pytest.param(_reference_without_label, DataError, "label column 'label' is not in the reference data", id="quality-reference-without-label"),
    pytest.param(_data_not_a_frame, DataError, "data must be a DataFrame", id="quality-data-not-a-frame"),
    pytest.param(_not_a_predictor, ParameterError, "evaluate_quality needs a prodkit Predictor", id="quality-not-a-predictor"),
    pytest.param(_unknown_metric, ParameterError, "unknown metric 'acuracy'; did you mean 'accuracy'?", id="quality-unknown-metric"),
    pytest.param(_metric_of_other_task, ParameterError, "metric 'mae' is for regression, the model does classification", id="quality-metric-of-other-task"),
    pytest.param(_empty_metrics, ParameterError, "`metrics` is empty", id="quality-empty-metrics"),
    pytest.param(_confidence_out_of_range, ParameterError, "`confidence` must be a number between 0 and 1", id="quality-confidence-percent"),
    pytest.param(_negative_n_boot, ParameterError, "`n_boot` must be an integer >= 0", id="quality-negative-n-boot"),
    pytest.param(_text_labels_for_regression, DataError, "labels must be numbers for a regression metric", id="quality-text-labels-regression"),
    pytest.param(_bad_plot_kind, ParameterError, "`kind` must be one of ['calibration', 'confusion']", id="quality-bad-plot-kind"),
    pytest.param(_compute_metric_logits, DataError, "outputs are not probabilities", id="quality-metric-on-logits"),
    pytest.param(_compute_metric_length_mismatch, DataError, "3 labels for 2 predictions", id="quality-metric-length-mismatch"),
    pytest.param(_ece_bins_zero, ParameterError, "`bins` must be an integer > 0", id="quality-ece-zero-bins"),
    pytest.param(_direction_of_unknown_metric, ParameterError, "unknown metric 'f1'", id="quality-direction-unknown-metric"),
    pytest.param(_class_index_unknown_option, ParameterError, "`unknown` must be one of ['raise', 'mark']", id="quality-class-index-unknown-option"),
]
