"""Bad inputs to prodkit.explain: each case feeds the public API one mistake and names the error and words it must raise."""
import pytest

from prodkit.core import DataError, ModelError, ParameterError, SchemaError


def _np():
    import numpy as np
    return np


def _xy(n=200, f=10):
    return _np().random.default_rng(0).normal(size=(n, f))


def _model(out_cols=1):
    import torch
    return lambda x: torch.sigmoid(x.sum(1, keepdim=True)).repeat(1, out_cols)


def _frame(n=200):
    import pandas as pd
    np = _np(); rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.normal(40, 10, n), "plan": rng.choice(["basic", "premium"], n)})


def _cat_explainer():
    from prodkit.core import Predictor, TabularAdapter
    from prodkit.explain import TabularExplainer
    df = _frame(); ad = TabularAdapter().fit(df)
    return TabularExplainer(Predictor(_model(), adapter=ad), df), df


def _tab():
    from prodkit.explain import TabularExplainer
    return TabularExplainer(_model(), _xy())


def wrong_columns():
    ex, df = _cat_explainer()
    ex.explain(df.drop(columns="plan").head(1))


def nan_row():
    X = _xy(5); X[2, 3] = float("nan")
    _tab().explain_many(X)


def inf_row():
    X = _xy(3); X[0, 0] = float("inf")
    _tab().explain(X[0])


def model_wrong_rows():
    import torch
    from prodkit.explain import TabularExplainer
    TabularExplainer(lambda x: torch.zeros(3, 2), _xy())


def model_nan_output():
    import torch
    from prodkit.explain import TabularExplainer
    TabularExplainer(lambda x: torch.full((len(x), 2), float("nan")), _xy())


def class_names_mismatch():
    from prodkit.explain import TabularExplainer
    TabularExplainer(_model(2), _xy(), class_names=["a", "b", "c"])


def array_width():
    _tab().explain(_np().zeros(9))


def unknown_label():
    from prodkit.explain import TabularExplainer
    TabularExplainer(_model(), _xy(), class_names=["no", "yes"]).explain(_np().zeros(10), label="maybe")


def empty_training():
    from prodkit.explain import TabularExplainer
    TabularExplainer(_model(), _np().zeros((0, 10)))


def all_rows_missing():
    from prodkit.explain import TabularExplainer
    TabularExplainer(_model(), _np().full((20, 10), float("nan")))


def num_samples_zero():
    _tab().explain(_np().zeros(10), num_samples=0)


def categorical_without_adapter():
    from prodkit.explain import TabularExplainer
    TabularExplainer(_model(), _frame())


def unseen_category():
    ex, df = _cat_explainer()
    bad = df.head(1).assign(plan="platinum")
    ex.explain(bad)


def bad_task():
    from prodkit.explain import TabularExplainer
    TabularExplainer(_model(), _xy(), task="ranking")


def stability_without_other_seeds():
    es = _tab().explain_many(_xy(3), num_samples=200)
    es.stability(seeds=(0,))


def two_rows_to_explain():
    _tab().explain(_xy(2))


def task_contradicts_predictor():
    from prodkit.core import Predictor
    from prodkit.explain import TabularExplainer
    TabularExplainer(Predictor(_model(), task="regression"), _xy(), task="classification")


def class_names_contradict_predictor():
    from prodkit.core import Predictor
    from prodkit.explain import TabularExplainer
    TabularExplainer(Predictor(_model(2), classes=["malignant", "benign"]), _xy(), class_names=["no", "yes"])


def image_regression_predictor():
    from prodkit.core import Predictor
    from prodkit.explain import ImageExplainer
    ImageExplainer(Predictor(lambda x: x.mean((1, 2, 3))[:, None], task="regression"))


def image_bad_hide_color():
    from prodkit.explain import ImageExplainer
    ImageExplainer(_model(2), hide_color="grey")


def image_unknown_segmentation():
    import torch
    from prodkit.explain import ImageExplainer
    ImageExplainer(lambda x: torch.zeros(len(x), 2), segmentation="voronoi").explain(torch.zeros(1, 8, 8))


def image_bad_shape():
    import torch
    from prodkit.explain import ImageExplainer
    ImageExplainer(lambda x: torch.zeros(len(x), 2)).explain(torch.zeros(2, 3, 8, 8))


def image_nan_pixels():
    import torch
    from prodkit.explain import ImageExplainer
    img = torch.zeros(1, 8, 8); img[0, 1, 1] = float("nan")
    ImageExplainer(lambda x: torch.zeros(len(x), 2)).explain(img)


def text_empty():
    import torch
    from prodkit.explain import TextExplainer
    TextExplainer(lambda x: torch.zeros(len(x), 2), lambda t: torch.zeros(len(t), 3)).explain("  ...  ")


def text_vectorizer_not_callable():
    import torch
    from prodkit.explain import TextExplainer
    TextExplainer(lambda x: torch.zeros(len(x), 2), {"good": 0})


def permutation_y_length():
    from prodkit.explain import permutation_importance
    permutation_importance(_model(), _xy(50), _np().zeros(10), metric="accuracy")


def permutation_bad_metric():
    from prodkit.explain import permutation_importance
    permutation_importance(_model(), _xy(50), _np().zeros(50), metric="f2")


def permutation_negative_repeats():
    from prodkit.explain import permutation_importance
    permutation_importance(_model(), _xy(50), _np().zeros(50), n_repeats=-1)


def saliency_not_differentiable():
    import torch
    from prodkit.explain import saliency
    saliency(lambda x: x, torch.zeros(1, 8, 8))


CASES = [
    pytest.param(wrong_columns, SchemaError, "column 'plan' is missing", id="explain-wrong-columns"),
    pytest.param(nan_row, DataError, "NaN or infinite values in 1 rows", id="explain-nan-row"),
    pytest.param(inf_row, DataError, "NaN or infinite", id="explain-inf-row"),
    pytest.param(model_wrong_rows, ModelError, "returned shape", id="explain-model-wrong-shape"),
    pytest.param(model_nan_output, ModelError, "NaN or infinite outputs", id="explain-model-nan-output"),
    pytest.param(class_names_mismatch, ModelError, "class_names has 3", id="explain-class-names-mismatch"),
    pytest.param(array_width, DataError, "built with 10 features", id="explain-array-width"),
    pytest.param(unknown_label, ParameterError, "label is not one of", id="explain-unknown-label"),
    pytest.param(empty_training, DataError, "non-empty", id="explain-empty-training"),
    pytest.param(all_rows_missing, DataError, "no complete rows", id="explain-training-all-missing"),
    pytest.param(num_samples_zero, ParameterError, "num_samples", id="explain-num-samples-zero"),
    pytest.param(categorical_without_adapter, ParameterError, "no adapter", id="explain-categorical-no-adapter"),
    pytest.param(unseen_category, SchemaError, "never seen in training", id="explain-unseen-category"),
    pytest.param(bad_task, ParameterError, "`task` must be one of", id="explain-bad-task"),
    pytest.param(stability_without_other_seeds, ParameterError, "at least one seed other", id="explain-stability-one-seed"),
    pytest.param(two_rows_to_explain, DataError, "explain takes one row", id="explain-two-rows"),
    pytest.param(task_contradicts_predictor, ParameterError, "task='classification' contradicts the model", id="explain-task-contradicts-predictor"),
    pytest.param(class_names_contradict_predictor, ParameterError, "contradict the predictor's classes", id="explain-class-names-contradict-predictor"),
    pytest.param(image_regression_predictor, ParameterError, "task is 'regression'", id="explain-image-regression"),
    pytest.param(image_bad_hide_color, ParameterError, "hide_color must be", id="explain-image-hide-color"),
    pytest.param(image_unknown_segmentation, ParameterError, "`segmentation` must be one of", id="explain-image-segmentation"),
    pytest.param(image_bad_shape, DataError, "an image must have shape", id="explain-image-bad-shape"),
    pytest.param(image_nan_pixels, DataError, "NaN or infinite pixels", id="explain-image-nan"),
    pytest.param(text_empty, DataError, "at least one word", id="explain-text-empty"),
    pytest.param(text_vectorizer_not_callable, ParameterError, "vectorizer must be a callable", id="explain-text-vectorizer"),
    pytest.param(permutation_y_length, DataError, "y has 10 values for 50 rows", id="explain-permutation-y-length"),
    pytest.param(permutation_bad_metric, ParameterError, "unknown metric 'f2'", id="explain-permutation-metric"),
    pytest.param(permutation_negative_repeats, ParameterError, "n_repeats", id="explain-permutation-repeats"),
    pytest.param(saliency_not_differentiable, ParameterError, "differentiable torch model", id="explain-saliency-not-module"),
]
