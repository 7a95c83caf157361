"""prodkit.explain on the models users bring: the task and class names come from the predictor (or a loaded bundle),
contradicting arguments are errors with the right fix, and an 'auto' predictor keeps the reading it already decided."""
import re, warnings

import matplotlib
matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from threadpoolctl import threadpool_limits

from prodkit.core import ParameterError, Predictor, TabularAdapter
from prodkit.explain import ExplanationWarning, TabularExplainer, _scorer

pytestmark = pytest.mark.filterwarnings("ignore::prodkit.explain.ExplanationWarning")   # fidelity is not what these tests check


def _linear(W, b):
    "A torch linear layer with the given weights (out x in) and bias."
    lin = nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad(): lin.weight.copy_(torch.tensor(W, dtype=torch.float32)); lin.bias.copy_(torch.tensor(b, dtype=torch.float32))
    return lin


@pytest.fixture(scope="module")
def diabetes():
    "sklearn's diabetes data and a torch regression model (least squares on the adapter's encoding) behind a TabularAdapter."
    from sklearn.datasets import load_diabetes
    d = load_diabetes(as_frame=True); df = d.frame.drop(columns="target").astype("float64")
    ad = TabularAdapter().fit(df)
    E = np.c_[ad.transform(df).numpy().astype(np.float64), np.ones(len(df))]
    beta = np.linalg.lstsq(E, d.target.to_numpy(), rcond=None)[0]
    return df, ad, _linear(beta[None, :-1], beta[-1:])


def _classifier(loader, classes):
    "A torch logistic-regression model (fitted by scikit-learn on one BLAS thread) on a bundled sklearn data set."
    from sklearn.linear_model import LogisticRegression
    d = loader(as_frame=True); df = d.data.astype("float64")
    ad = TabularAdapter().fit(df); E = ad.transform(df).numpy()
    with threadpool_limits(1): lr = LogisticRegression(max_iter=500).fit(E, d.target)
    return df, Predictor(_linear(lr.coef_, lr.intercept_), adapter=ad, output="logits", classes=classes), lr


def _expected_weights(pred, df, row):
    "For a linear model without discretization: LIME's weight is the slope times the feature's std."
    base = pred.raw(row)[0, 0]
    slopes = np.array([pred.raw(row.assign(**{c: row[c] + 1.0}))[0, 0] - base for c in df.columns])
    return pd.Series(slopes * df.std(ddof=0).to_numpy(), index=df.columns)


def test_a_regression_bundle_is_explained_as_a_regression(diabetes, tmp_path):
    from prodkit.versioning import load_bundle, save_bundle
    df, ad, model = diabetes
    save_bundle(tmp_path / "b", model, ad, task="regression", name="diabetes-linear")
    bundle = load_bundle(tmp_path / "b")
    for given in (bundle, bundle.predictor):                          # a bundle, or its predictor: no task argument needed
        ex = TabularExplainer(given, df, seed=0, discretize=False)
        assert ex.task == "regression" and ex.predictor_.task == "regression"
        es = ex.explain_many(df.head(5), num_features=4, num_samples=1000)
        want = _expected_weights(bundle.predictor, df, df.head(1))
        e = es[0]
        assert e.label is None and e.headline().startswith("Explanation of the prediction")
        assert e.features[0] == want.abs().idxmax()
        assert e.coefs[0] == pytest.approx(want[e.features[0]], rel=0.05)
        assert e.prediction == pytest.approx(float(bundle.predictor.predict(df.head(1))[0]), rel=1e-5)
        assert not [k for k in es.summary if k.startswith("n_rows_")] and "label" not in es.to_frame().columns


def test_the_validation_templates_call_works_on_a_regression_predictor(diabetes):
    df, ad, model = diabetes
    pred = Predictor(model, adapter=ad, task="regression")
    ex = TabularExplainer(pred, df.sample(200, random_state=0), seed=0)        # exactly as templates/validation.ipynb calls it
    es = ex.explain_many(df.head(10), num_features=5, num_samples=500)
    st = es.stability(seeds=(1, 2), k=5)
    assert es.summary["n_rows"] == 10 and 0 <= st.summary["mean_jaccard"] <= 1
    assert np.isfinite(es.summary["mean_fidelity"])


def test_arguments_that_contradict_the_predictor_are_parameter_errors_with_the_right_fix(diabetes):
    df, ad, model = diabetes
    reg = Predictor(model, adapter=ad, task="regression")
    with pytest.raises(ParameterError, match="task='classification' contradicts the model, whose task is 'regression'") as e:
        TabularExplainer(reg, df, task="classification")
    assert "leave task unset" in e.value.fix and ".predict" not in e.value.fix         # the old fix said "use .predict for regression"
    with pytest.raises(ParameterError, match="class_names are for classifiers"):
        TabularExplainer(reg, df, class_names=["low", "high"])
    clf = Predictor(nn.Linear(10, 2), adapter=ad, output="logits")
    with pytest.raises(ParameterError, match="task='regression' contradicts the model, whose task is 'classification'") as e:
        TabularExplainer(clf, df, task="regression")
    assert "leave task unset" in e.value.fix
    for old in ("mode", "output"):                                       # one vocabulary: the old spellings are gone
        with pytest.raises(TypeError, match=old):
            TabularExplainer(clf, df, **{old: "regression"})
    # a bare module says what it is through task=
    bare = TabularExplainer(model, ad.transform(df).numpy(), task="regression")
    assert bare.task == "regression" and bare.predictor_.task == "regression"
    assert TabularExplainer(nn.Linear(10, 2), ad.transform(df).numpy()).task == "classification"


def test_binary_class_names_come_from_the_predictor_everywhere():
    from sklearn.datasets import load_breast_cancer
    df, pred, _ = _classifier(load_breast_cancer, ["malignant", "benign"])
    ex = TabularExplainer(pred, df, seed=0)
    assert ex.classes_ == ["malignant", "benign"]
    es = ex.explain_many(df.head(8), num_features=5, num_samples=500)
    e = es[0]
    p = pred.predict_proba(df.head(1))[0]
    assert e.label == "benign" and e.prediction == pytest.approx(p[1], abs=1e-6)     # the positive class, by name
    assert "P(benign)" in e.headline() and "class 1" not in e.headline()
    assert "weight towards benign" in e._repr_html_() and e.summary["label"] == "benign"
    assert "benign" in e.plot().ax_.get_xlabel()
    assert es.summary["n_rows_benign"] == 8 and es.summary["n_rows_malignant"] == 0
    assert set(es.to_frame()["label"]) == {"benign"} and "P(benign)" in es.headline()
    m = ex.explain(df.iloc[0], label="malignant", num_features=5, num_samples=500)
    assert m.label == "malignant" and m.prediction == pytest.approx(p[0], abs=1e-6) and "P(malignant)" in m.headline()
    with pytest.raises(ParameterError, match="contradict the predictor's classes"):
        TabularExplainer(pred, df, class_names=["no", "yes"])


def test_three_species_each_row_explains_its_own_named_class():
    from sklearn.datasets import load_iris
    d = load_iris()
    df, pred, lr = _classifier(load_iris, d.target_names)               # numpy strings, as users pass them
    ex = TabularExplainer(pred, df, seed=0)
    rows = df.iloc[[0, 1, 60, 61, 120, 121]]
    es = ex.explain_many(rows, num_features=3, num_samples=500)
    want = list(d.target_names[pred.predict_proba(rows).argmax(1)])
    assert [e.label for e in es] == want and set(want) == {"setosa", "versicolor", "virginica"}
    assert all(f"P({e.label})" in e.headline() for e in es) and "3 classes" in es.headline()
    counts = {k: v for k, v in es.summary.items() if k.startswith("n_rows_")}
    assert counts == {"n_rows_setosa": 2, "n_rows_versicolor": 2, "n_rows_virginica": 2}
    assert all(isinstance(e.summary["label"], str) for e in es)          # JSON-able, not numpy strings


def test_hostile_class_names_are_escaped_in_html_and_normalised_in_keys():
    X = np.random.default_rng(0).normal(size=(300, 3))
    names = ["<b>x</b>", "$a & b$"]
    ex = TabularExplainer(Predictor(nn.Linear(3, 2), output="logits", classes=names), X, seed=0)
    es = ex.explain_many(X[:3], num_features=2, num_samples=300)
    h = es[0]._repr_html_()
    assert "<b>x</b>" not in h and "$a &amp; b$" in h
    assert set(k for k in es.summary if k.startswith("n_rows_")) == {"n_rows_b_x_b", "n_rows_a_b"}
    assert all(re.fullmatch(r"[a-z0-9_]+", k) for k in es.summary)
    assert es[0].plot().ax_.get_title().startswith("Explanation of P($a & b$)")     # verbatim in the plot (no mathtext)


def test_an_auto_predictor_keeps_the_reading_it_already_decided():
    X = np.random.default_rng(0).uniform(0.05, 0.95, size=(300, 2))
    score = lambda x: x[:, :1] * 1.0                                     # one column: a logit, though it looks like a probability here
    pred = Predictor(score)                                              # output='auto'
    pred.predict_proba(torch.tensor([[3.0, 0.0]]))                       # its first call decides: 'logits' (3 is no probability)
    assert pred.output_ == "logits"
    ad = TabularAdapter().fit(pd.DataFrame(X, columns=["a", "b"]))
    assert _scorer(pred, adapter=ad).output == "logits"               # rebuilt around an adapter: the reading is kept
    for ex in (TabularExplainer(pred, X, seed=0), TabularExplainer(pred, pd.DataFrame(X, columns=["a", "b"]), adapter=ad, seed=0)):
        assert ex.predictor_.output == "logits"
        e = ex.explain(X[0] if ex.space_.schema is None else pd.DataFrame(X[:1], columns=["a", "b"]), num_features=2, num_samples=300)
        x0 = X[0, 0] if ex.space_.schema is None else float(ad.transform(pd.DataFrame(X[:1], columns=["a", "b"]))[0, 0])
        assert e.prediction == pytest.approx(1 / (1 + np.exp(-x0)), abs=1e-5)


def test_permutation_importance_reads_the_task_from_the_predictor(diabetes):
    from prodkit.explain import permutation_importance
    df, ad, model = diabetes
    from sklearn.datasets import load_diabetes
    y = load_diabetes().target
    reg = Predictor(model, adapter=ad, task="regression")
    pi = permutation_importance(reg, df, y, n_repeats=2, seed=0)                 # no metric: r2, since the predictor is a regression
    assert pi.metric == "r2" and 0.3 < pi.baseline < 0.7
    with pytest.raises(ParameterError, match="metric='accuracy' is for classifiers, but this is a regression model") as e:
        permutation_importance(reg, df, y, metric="accuracy")
    assert "leave metric unset" in e.value.fix
    with pytest.raises(ParameterError, match="metric='r2' is for regression") as e:
        permutation_importance(Predictor(nn.Linear(10, 2), adapter=ad), df, y, metric="r2")
    assert "task='regression'" in e.value.fix
