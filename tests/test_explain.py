"""End-to-end tests of prodkit.explain: the right features, reproducibility, categorical columns, output kinds, warnings, lime parity."""
import json, subprocess, sys, textwrap, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from prodkit.core import DataError, ModelError, ParameterError, Predictor, SchemaError, TabularAdapter
from prodkit.explain import (ExplanationWarning, ImageExplainer, TabularExplainer, TextExplainer, permutation_importance, saliency)

pytestmark = pytest.mark.filterwarnings("ignore::prodkit.explain.ExplanationWarning")  # expected on purpose in several tests
ROOT = Path(__file__).resolve().parents[1]
W_TRUE = torch.zeros(10)
W_TRUE[[1, 4, 7]] = torch.tensor([2.0, -1.5, 1.0])


class Sig(nn.Module):
    "sigmoid(w . x) with 3 of 10 weights non-zero; one probability column."
    def forward(self, x): return torch.sigmoid(x @ W_TRUE)[:, None]


def _data(n=2000, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 10))


@pytest.fixture(scope="module")
def sig_explainer():
    return TabularExplainer(Sig(), _data(), seed=0)


@pytest.mark.parametrize("discretize", [True, False])
def test_true_features_rank_on_top(discretize):
    X = _data()
    ex = TabularExplainer(Sig(), X, seed=0, discretize=discretize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExplanationWarning)
        es = ex.explain_many(X[:300], num_features=5, num_samples=2000)
    hits = np.mean([set(e.top(3)) == {"x1", "x4", "x7"} for e in es])
    in_top5 = np.mean([set(e.top(5)) >= {"x1", "x4", "x7"} for e in es])
    # lime's own quartile surrogate puts the three on top for about 95% of these rows (the rest: a saturated sigmoid)
    assert hits >= (0.9 if discretize else 0.98) and in_top5 >= 0.98, (hits, in_top5)
    g = es.global_importance()
    assert set(g.feature[:3]) == {"x1", "x4", "x7"} and (g.share_top5[:3] >= 0.98).all()
    # signs follow the true weights: x4 pushes the probability down
    if not discretize:
        assert all(e.weights["x1"] > 0 and e.weights["x4"] < 0 and e.weights["x7"] > 0 for e in es)
        assert es.summary["mean_fidelity"] > 0.8


def test_same_seed_identical_across_calls_and_batches(sig_explainer):
    X = _data()
    a = sig_explainer.explain_many(X[:20], num_samples=1000)
    b = sig_explainer.explain_many(X[:20], num_samples=1000)
    assert [e.coefs for e in a] == [e.coefs for e in b] and [e.fidelity for e in a] == [e.fidelity for e in b]
    c = sig_explainer.explain_many(X[:20], num_samples=1000, seed=5)
    assert [e.coefs for e in a] != [e.coefs for e in c]
    # a row's explanation does not depend on the rows explained with it
    one = sig_explainer.explain(X[7], num_samples=1000)
    assert one.features == a[7].features and np.allclose(one.coefs, a[7].coefs, atol=1e-6)
    shuffled = sig_explainer.explain_many(X[:20][::-1], num_samples=1000)
    assert shuffled[12].features == a[7].features and np.allclose(shuffled[12].coefs, a[7].coefs, atol=1e-6)


def test_same_seed_identical_in_another_process(sig_explainer):
    X = _data()
    here = sig_explainer.explain_many(X[:5], num_samples=1000)
    code = textwrap.dedent(f"""
        import json, sys, numpy as np, torch
        sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_explain import Sig, _data
        from prodkit.explain import TabularExplainer
        X = _data()
        es = TabularExplainer(Sig(), X, seed=0).explain_many(X[:5], num_samples=1000)
        print(json.dumps([[list(e.features), list(e.coefs), e.intercept, e.fidelity] for e in es]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert there == [[list(e.features), list(e.coefs), e.intercept, e.fidelity] for e in here]


def _cat_frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(40, 10, n), "plan": rng.choice(["basic", "premium", "free"], n),
                         "region": rng.choice(["north", "south"], n), "visits": rng.poisson(3, n).astype(float),
                         "member": rng.random(n) > 0.5, "label": rng.integers(0, 2, n)})


def test_categorical_columns_reported_by_name_and_value():
    df = _cat_frame(); ad = TabularAdapter(label="label").fit(df)
    w = torch.zeros(len(ad.feature_names_)); w[ad.feature_names_.index("plan=premium")] = 3.0; w[ad.feature_names_.index("age")] = 1.0
    model = lambda x: (x @ w - 1.0)[:, None]
    ex = TabularExplainer(Predictor(model, adapter=ad), df, seed=0)
    assert ex.feature_names_ == ["age", "plan", "region", "visits", "member"]
    es = ex.explain_many(df.head(40), num_features=3, num_samples=1500)
    assert ex.encode_.fast == "verified"
    assert {e.features[0] for e in es} <= {"plan", "age"} and all("plan" in e.top(2) for e in es)
    for e, (_, row) in zip(es, df.head(40).iterrows()):
        fr = e.to_frame().set_index("feature")
        assert fr.loc["plan", "value"] == row["plan"] and fr.loc["plan", "condition"] == f"plan = {row['plan']}"
    # rows of premium customers: being premium raises the probability; others: not being premium lowers it (relative to premium)
    prem = [e for e, p in zip(es, df.head(40).plan) if p == "premium"]
    assert prem and all(e.weights["plan"] > 0 for e in prem)
    assert all(e.weights["plan"] < 0 for e, p in zip(es, df.head(40).plan) if p != "premium")
    g = es.global_importance()
    assert g.feature[0] == "plan" and set(g.feature) == set(ex.feature_names_)


def test_fast_encoding_falls_back_when_the_adapter_is_not_separable():
    df = _cat_frame(600)

    class Cross(TabularAdapter):
        def encode(self, d, *, unseen="allow"):
            e = super().encode(d, unseen=unseen)
            return np.column_stack([e, e[:, 0] * e[:, -1]]).astype(np.float32)   # an interaction column

    ad = Cross(label="label").fit(df)
    model = lambda x: x[:, -1:] * 2.0
    ex = TabularExplainer(Predictor(model, adapter=ad, task="regression"), df, seed=0)
    es = ex.explain_many(df.head(5), num_features=2, num_samples=500)
    assert ex.encode_.fast is False          # the probe saw the encoding is not one block per feature
    direct = ad.encode(df.head(5))[:, -1] * 2.0
    assert np.allclose([e.prediction for e in es], direct, atol=1e-5)


@pytest.mark.parametrize("single", [True, False])
def test_logits_and_probabilities_give_the_same_explanation(single):
    X = _data(1000)
    lin = nn.Linear(10, 1 if single else 3)
    with torch.no_grad(): lin.weight.copy_(torch.randn(lin.weight.shape, generator=torch.Generator().manual_seed(0)))
    probs = nn.Sequential(lin, nn.Sigmoid() if single else nn.Softmax(-1))
    a = TabularExplainer(lin, X, seed=3)
    b = TabularExplainer(probs, X, seed=3)
    c = TabularExplainer(Predictor(lin, output="logits"), X, seed=3)
    assert (a.predictor_.output, b.predictor_.output) == ("logits", "proba")
    ea, eb, ec = (x.explain_many(X[:10], num_samples=1000, label=1) for x in (a, b, c))
    for i in range(10):
        assert ea[i].features == eb[i].features == ec[i].features
        assert np.allclose(ea[i].coefs, eb[i].coefs, atol=1e-5) and ea[i].coefs == ec[i].coefs
        assert 0 <= ea[i].prediction <= 1


def test_regression_weights_recover_the_slopes():
    X = _data(3000)
    model = lambda x: (3 * x[:, 0] - 2 * x[:, 2])[:, None]
    ex = TabularExplainer(model, X, task="regression", discretize=False, seed=0)
    e = ex.explain(X[0], num_features=4, num_samples=3000)
    assert list(e.features[:2]) == ["x0", "x2"] and e.label is None
    sd = X.std(0)
    assert np.isclose(e.weights["x0"], 3 * sd[0], rtol=0.01) and np.isclose(e.weights["x2"], -2 * sd[2], rtol=0.01)
    assert e.fidelity > 0.999 and np.isclose(e.prediction, 3 * X[0, 0] - 2 * X[0, 2], atol=1e-4)


def test_agreement_with_lime_is_as_good_as_lime_with_itself():
    from lime.lime_tabular import LimeTabularExplainer
    X = _data(2000)
    m = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 2))
    torch.manual_seed(0)
    for p in m.parameters(): nn.init.normal_(p, std=0.7)
    ex = TabularExplainer(m, X, seed=0)
    rows = X[:25]
    ours = ex.explain_many(rows, num_features=10, num_samples=2000)
    fn = ex.predictor_.predict_proba
    def lime_top(seed, i):
        e = LimeTabularExplainer(X, random_state=seed).explain_instance(rows[i], fn, num_features=10, num_samples=2000)
        return {f"x{j}" for j, _ in e.as_map()[1][:5]}
    pl, ll = [], []
    for i in range(len(rows)):
        l0, l1 = lime_top(0, i), lime_top(1, i)
        pl.append(len(set(ours[i].top(5)) & l0) / 5); ll.append(len(l1 & l0) / 5)
    assert np.mean(pl) >= np.mean(ll) - 0.05, (np.mean(pl), np.mean(ll))


def test_poor_fidelity_warns_and_good_fidelity_does_not():
    X = _data(1000)
    wiggly = lambda x: torch.sigmoid(4 * torch.sin(6 * x[:, 0]) * torch.cos(6 * x[:, 1]))[:, None]
    with pytest.warns(ExplanationWarning, match="fidelity below"):
        TabularExplainer(wiggly, X, seed=0).explain_many(X[:20], num_samples=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExplanationWarning)
        TabularExplainer(Sig(), X, seed=0, discretize=False).explain_many(X[:20], num_samples=1000)


def test_stability_report_and_warning(sig_explainer):
    X = _data()
    es = sig_explainer.explain_many(X[:20], num_features=5, num_samples=2000)
    st = es.stability(seeds=(1, 2), k=3)
    assert st.summary["mean_jaccard"] >= 0.8 and st.seeds == (0, 1, 2) and len(st.to_frame()) == 20
    flat = lambda x: torch.sigmoid(0.05 * x.sum(1))[:, None]          # ten equally weak features: no stable top 3
    ex = TabularExplainer(flat, X, seed=0, min_fidelity=0.0)
    weak = ex.explain_many(X[:20], num_features=5, num_samples=100)
    with pytest.warns(ExplanationWarning, match="unstable"):
        st2 = weak.stability(seeds=(1, 2, 3), k=3)
    assert st2.summary["mean_jaccard"] < 0.6


def test_submodular_pick_covers_the_important_features(sig_explainer):
    X = _data()
    es = sig_explainer.explain_many(X[:30], num_features=4, num_samples=500)
    sp = es.pick(3)
    assert len(sp) == 3 and len({e.row_id for e in sp}) == 3 and sp.rows.shape == (3, 10)
    W = es.weight_matrix().to_numpy(); imp = np.sqrt(np.abs(W).sum(0))
    first = [e.row_id for e in es].index(sp[0].row_id)
    assert np.isclose(((np.abs(W[first]) > 0) * imp).sum(), max(((np.abs(W) > 0) * imp).sum(1)))


def test_torchscript_model_and_progress(sig_explainer):
    X = _data(500)
    class SigBuf(nn.Module):
        def __init__(self):
            super().__init__(); self.register_buffer("w", W_TRUE.clone())
        def forward(self, x): return torch.sigmoid(x @ self.w)[:, None]
    scripted = torch.jit.script(SigBuf())
    ex = TabularExplainer(scripted, X, seed=0)
    e = ex.explain_many(X[:3], num_samples=500, progress=True)
    assert len(e) == 3 and e.plot() is not None and "<script" not in e[0]._repr_html_()


@pytest.mark.parametrize("case", ["wrong_columns", "nan_row", "wrong_shape", "class_names", "width", "label", "empty"])
def test_bad_inputs_give_clear_errors(case):
    df = _cat_frame(300); ad = TabularAdapter(label="label").fit(df)
    good = lambda x: torch.zeros(len(x), 2)
    if case == "wrong_columns":
        ex = TabularExplainer(Predictor(good, adapter=ad), df)
        with pytest.raises(SchemaError, match="column 'plan' is missing"): ex.explain(df.drop(columns="plan").head(1))
    elif case == "nan_row":
        ex = TabularExplainer(Sig(), _data(300))
        X = _data(5); X[2, 3] = np.nan
        with pytest.raises(DataError, match=r"NaN or infinite values in 1 rows \(rows \[2\], columns \['x3'\]\)"): ex.explain_many(X)
    elif case == "wrong_shape":
        with pytest.raises(ModelError, match="returned shape"): TabularExplainer(lambda x: torch.zeros(3, 2), _data(300))
    elif case == "class_names":
        with pytest.raises(ModelError, match="class_names has 3"): TabularExplainer(good, _data(300)[:, :2], class_names=["a", "b", "c"])
    elif case == "width":
        ex = TabularExplainer(Sig(), _data(300))
        with pytest.raises(DataError, match="built with 10 features"): ex.explain(np.zeros(9))
    elif case == "label":
        ex = TabularExplainer(Sig(), _data(300), class_names=["no", "yes"])
        with pytest.raises(ParameterError, match="label is not one of"): ex.explain(np.zeros(10), label="maybe")
    elif case == "empty":
        with pytest.raises(DataError, match="empty"): TabularExplainer(Sig(), np.zeros((0, 10)))


def test_image_explainer_finds_the_quadrant_that_matters():
    def model(x):  # class 1 score depends on the top-left quadrant only
        s = x[:, 0, :4, :4].mean((1, 2)) * 8 - 2
        return torch.stack([-s, s], 1)
    quadrants = lambda img: (np.arange(8)[:, None] >= 4) * 2 + (np.arange(8)[None, :] >= 4)
    img = torch.zeros(1, 8, 8); img[0, :4, :4] = 1.0; img[0, 4:, 4:] = 1.0
    ie = ImageExplainer(model, segmentation=quadrants, hide_color=0.0, seed=0)
    e = ie.explain(img, label=1, num_samples=400)
    assert list(e.weights)[0] == 0 and e.weights[0] > 0.3 and abs(e.weights[3]) < 0.02
    assert e.mask(1).sum() == 16 and e.fidelity > 0.9
    assert e == ie.explain(img, label=1, num_samples=400)
    ax = e.plot().ax_; assert len(ax.images) == 2


def test_text_explainer_weights_words_by_their_effect():
    vocab = ["good", "bad", "the", "film", "was"]
    vec = lambda texts: torch.tensor([[t.lower().split().count(v) for v in vocab] for t in texts], dtype=torch.float32)
    lin = nn.Linear(5, 2, bias=False)
    with torch.no_grad(): lin.weight.copy_(torch.tensor([[-2.0, 2.0, 0, 0, 0], [2.0, -2.0, 0, 0, 0]]))
    te = TextExplainer(lin, vec, class_names=["neg", "pos"], seed=0)
    e = te.explain("the film was good but the end was bad", label="pos", num_samples=800)
    assert e.weights["good"] > 0.1 > -0.1 > e.weights["bad"]
    assert all(abs(e.weights[w]) < 0.02 for w in ("the", "film", "was", "but", "end"))
    h = e.highlighted_html(); assert "<span" in h and "good</span>" in h and len(e._repr_html_()) < 5000
    assert e == te.explain("the film was good but the end was bad", label="pos", num_samples=800)


def test_permutation_importance_and_saliency():
    X = _data(800); y = (X @ W_TRUE.numpy() > 0).astype(int)
    pi = permutation_importance(Sig(), X, y, metric="accuracy", n_repeats=3, seed=0)
    fr = pi.to_frame().set_index("feature")
    assert set(fr.index[:3]) == {"1", "4", "7"} and (fr.drop(index=["1", "4", "7"]).importance == 0).all()
    auc = permutation_importance(Sig(), X, y, metric="auc", n_repeats=2, seed=0)
    assert auc.baseline == 1.0 and auc.summary["top_feature"] == "1"
    with pytest.raises(ParameterError, match="metric"): permutation_importance(Sig(), X, y, metric="f2")
    wimg = torch.zeros(10, 1, 8, 8); wimg[3, 0, 2, 5] = 4.0; wimg[3, 0, 6, 1] = -2.0
    lin = lambda x: torch.einsum("bchw,kchw->bk", x, wimg)
    class L(nn.Module):
        def forward(self, x): return lin(x)
    s = saliency(L(), torch.rand(1, 8, 8), label=3)
    assert s.saliency[2, 5] == 1.0 and np.isclose(s.saliency[6, 1], 0.5) and s.saliency.sum() == 1.5


HOSTILE = ['<img src=x onerror="alert(1)">', "<script>alert(1)</script>", r"$\undefinedcmd$", "[c](javascript:alert(1))"]


def _draws(report, **kw):
    "Plot `report` and render the figure to PNG (mathtext is parsed at draw time); return the y tick label texts."
    import io
    import matplotlib.pyplot as plt
    ax = report.plot(**kw).ax_
    try:
        ax.figure.savefig(io.BytesIO(), format="png")
        return [t.get_text() for t in ax.get_yticklabels()]
    finally:
        plt.close(ax.figure)


def _no_markup(page):
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.find_all(["img", "script", "a"]), page[:500]
    assert not [a for t in soup.find_all(True) for a in t.attrs if a.startswith("on")], page[:500]


def test_hostile_feature_names_and_categories_render_as_text():
    "Column names and category values are data: plots draw them as typed ($ included) and HTML shows them escaped."
    rng = np.random.default_rng(0); n = 400
    df = pd.DataFrame({HOSTILE[0]: rng.normal(size=n), HOSTILE[2]: rng.normal(size=n), HOSTILE[3]: rng.choice(HOSTILE, n)})
    ad = TabularAdapter().fit(df)
    w = torch.zeros(ad.n_features_); w[0], w[1] = 2.0, -1.0
    pred = Predictor(lambda x: (x @ w)[:, None], adapter=ad)
    es = TabularExplainer(pred, df, seed=0).explain_many(df.head(5), num_features=3, num_samples=300)
    assert set(_draws(es)) == set(df.columns)                              # global importance, one bar per feature
    assert any(HOSTILE[1] in c for c in _draws(es[0]))                      # conditions name the hostile categories
    for r in (es, es[0]): _no_markup(r._repr_html_())
    pi = permutation_importance(pred, df, (df[HOSTILE[0]] > 0).astype(int), metric="accuracy", n_repeats=2, seed=0)
    assert set(_draws(pi)) == set(df.columns)
    _no_markup(pi._repr_html_())


def test_hostile_words_and_class_names_in_text_explanations():
    vocab = ["<script>alert(1)</script>", HOSTILE[2], "good"]
    vec = lambda texts: torch.tensor([[t.split().count(v) for v in vocab] for t in texts], dtype=torch.float32)
    lin = nn.Linear(3, 2, bias=False)
    with torch.no_grad(): lin.weight.copy_(torch.tensor([[1., -1, -1], [-1., 1, 1]]))
    te = TextExplainer(lin, vec, class_names=["<b>neg</b>", '<img src=x onerror="alert(1)">'], split_expression=r"\s+")
    t = te.explain(" ".join(vocab), label='<img src=x onerror="alert(1)">', num_features=3, num_samples=200)
    assert set(_draws(t)) == set(vocab)
    _no_markup(t._repr_html_())
