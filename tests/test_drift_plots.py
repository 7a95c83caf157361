"""Drift plots hide no data and draw what matters: ECDFs span both samples, the timeline draws the features with the
largest effect, the explorer's static fallback survives an HTML export, and feature names are text, never mathtext."""
import io, warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from prodkit.drift import LowPowerWarning, ReferenceProfile, detect_drift, drift_over_time


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def patients(n, seed, age_shift=0.0):
    "Breast cancer measurements (scikit-learn's bundled set) with an age column; `age_shift` makes the current patients older."
    from sklearn.datasets import load_breast_cancer
    X = load_breast_cancer(as_frame=True).data.iloc[:, :3]
    g = np.random.default_rng(seed); rows = X.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    return rows.assign(age=np.clip(g.normal(55, 8, n), 25, 80) + age_shift)


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowPowerWarning)
        return fn(*a, **kw)


def test_the_ecdf_x_range_holds_every_current_value_and_says_how_many_lie_outside_the_reference():
    "Before: the x-axis ended at the reference's largest value, so current patients older than anyone in training vanished."
    ref, cur = patients(600, 0), patients(400, 1, age_shift=40)   # most current patients are older than the oldest reference patient
    r = quiet(detect_drift, ref, cur, n_boot=20, multivariate=False)
    ax = r.plot(kind="feature", feature="age").ax_
    lo, hi = ax.get_xlim()
    assert lo <= cur["age"].min() and hi >= cur["age"].max(), (ax.get_xlim(), cur["age"].agg(["min", "max"]).tolist())
    share = (cur["age"] > ref["age"].max()).mean()
    notes = [t.get_text() for t in ax.texts]
    assert notes == [f"{share:.0%} of current outside the reference range"], notes
    assert share > 0.5


def test_the_ecdf_of_a_sample_inside_the_reference_range_shows_no_outside_note():
    ref, cur = patients(600, 0), patients(400, 1)
    cur = cur[(cur["age"] > ref["age"].min()) & (cur["age"] < ref["age"].max())]
    ax = quiet(detect_drift, ref, cur, n_boot=20, multivariate=False).plot(kind="feature", feature="age").ax_
    assert [t.get_text() for t in ax.texts] == []


def test_the_range_survives_a_saved_profile_and_merged_summaries(tmp_path):
    ref, cur = patients(600, 0), patients(400, 1, age_shift=40)
    prof = ReferenceProfile.fit(ref); prof.save(tmp_path / "p.npz"); prof = ReferenceProfile.load(tmp_path / "p.npz")
    win = prof.summarize(cur.iloc[:200]) + prof.summarize(cur.iloc[200:], seed=3)
    assert win.columns["age"]["max"] == cur["age"].max() and win.columns["age"]["min"] == cur["age"].min()
    assert win.columns["age"]["n_above"] == int((cur["age"] > ref["age"].max()).sum())
    ax = quiet(prof.compare, win, n_boot=20, multivariate=False).plot(kind="feature", feature="age").ax_
    assert ax.get_xlim()[1] >= cur["age"].max()


def timeline_data():
    "Ten calm features named a..j and one feature, 'z_moves', that drifts in the later windows."
    g = np.random.default_rng(0); n = 1200
    ref = pd.DataFrame({c: g.normal(size=n) for c in "abcdefghij"} | {"z_moves": g.normal(size=n)})
    cur = pd.DataFrame({c: g.normal(size=n) for c in "abcdefghij"} | {"z_moves": g.normal(size=n) + np.repeat([0, 0.2, 1.0], n // 3)})
    cur["ts"] = pd.date_range("2024-01-01", periods=n, freq="h")
    return ref, cur


def test_the_timeline_draws_the_features_with_the_largest_effect_not_the_first_names():
    "Before: with max_features features to draw, the timeline took drifted ones then names in alphabetical order."
    ref, cur = timeline_data()
    tl = quiet(drift_over_time, ref, cur, time="ts", chunk_size=400, progress=False, n_boot=20)
    assert tl.top_features(1) == ["z_moves"] and tl.top_features(2, by="mean")[0] == "z_moves"
    ax = tl.plot(max_features=2).ax_
    drawn = [t.get_text() for t in ax.get_legend().get_texts() if not t.get_text().startswith("tolerance")]
    assert drawn == tl.top_features(2) and drawn[0] == "z_moves", drawn
    sev = (tl.effects["effect_size"] / tl.effects["tolerance"]).groupby(tl.effects["feature"]).max()
    assert sev[drawn[1]] == sev.drop("z_moves").max()


NAME = r"$\alpha_{\undefinedcmd}$"


def test_feature_names_with_mathtext_syntax_draw_as_text():
    "A feature named like mathtext must not raise when drawn (ticks, titles, legends), and is drawn as typed."
    ref, cur = timeline_data()
    ref, cur = ref.rename(columns={"z_moves": NAME}), cur.rename(columns={"z_moves": NAME})
    ref["cat $x$"] = np.random.default_rng(1).choice(["$a_{\\bad}$", "b"], len(ref)); cur["cat $x$"] = "$a_{\\bad}$"
    r = quiet(detect_drift, ref, cur.drop(columns="ts"), n_boot=20, multivariate=False)
    for fig in (r.plot().ax_.figure, r.plot(kind="feature", feature=NAME).figure_, r.plot(kind="feature", feature="cat $x$").figure_, r.plot(kind="distributions").figure_):
        fig.savefig(io.BytesIO(), format="png")
    assert any(NAME in t.get_text() for t in r.plot().ax_.get_yticklabels())
    tl = quiet(drift_over_time, ref, cur, time="ts", chunk_size=400, progress=False, n_boot=20)
    ax = tl.plot().ax_; ax.figure.savefig(io.BytesIO(), format="png")
    assert NAME in [t.get_text() for t in ax.get_legend().get_texts()]


EXPLORE = """import numpy as np, pandas as pd
from prodkit.drift import detect_drift
g = np.random.default_rng(0)
ref = pd.DataFrame({"age_years": g.normal(50, 5, 300)}); cur = pd.DataFrame({"age_years": g.normal(70, 5, 300)})
r = detect_drift(ref, cur, multivariate=False, n_boot=20)
r.explore()"""


def test_the_explorer_static_fallback_appears_in_an_html_export_without_widget_state(tmp_path):
    "Executed in a real kernel (so the widget is built), exported without widget state: the figure and the table are in the HTML."
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXPLORE)])
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    kinds = [set(o.get("data", {})) for o in nb.cells[0].outputs]
    assert any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds   # the kernel built the widget
    nb.metadata.pop("widgets", None)
    body, _ = HTMLExporter(exclude_input=True).from_notebook_node(nb)
    assert "<td>age_years</td>" in body            # the static table (the code, which also names the feature, is excluded)
    assert "data:image/png;base64," in body and "prodkit-drift-explorer" in body


def _assert_date_labels_apart(report):
    "Draw `report` and check that at least 3 x tick labels show and no two of them overlap."
    fig = report.plot().figure_
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [lab.get_window_extent(r) for lab in report.ax_.get_xticklabels() if lab.get_visible() and lab.get_text()]
    assert len(boxes) >= 3
    boxes.sort(key=lambda b: b.x0)
    for a, b in zip(boxes, boxes[1:]):
        assert not a.overlaps(b), (a, b)


def test_weekly_timeline_date_labels_do_not_overlap():
    "Before: ten weekly windows drew full 'YYYY-MM-DD' labels on top of each other."
    g = np.random.default_rng(0)
    ref = pd.DataFrame({"x": g.normal(size=300)})
    t = pd.Timestamp("2026-01-05") + pd.to_timedelta(np.sort(g.uniform(0, 70, 2000)), unit="D")
    cur = pd.DataFrame({"x": g.normal(size=len(t)), "ts": t})
    tl = quiet(drift_over_time, ref, cur, time="ts", freq="7D", progress=False, n_boot=10)
    assert len(tl.windows) == 10
    _assert_date_labels_apart(tl)


def test_weekly_performance_timeline_date_labels_do_not_overlap():
    "The performance timeline's dates are drawn as the drift timeline's: ten weekly windows, no overlapping labels."
    from prodkit.drift import performance_over_time
    g = np.random.default_rng(0)
    t = pd.Timestamp("2026-01-05") + pd.to_timedelta(np.sort(g.uniform(0, 70, 2000)), unit="D")
    y = g.integers(0, 2, len(t))
    s = np.clip(0.5 * y + g.uniform(0, 0.5, len(t)), 0, 1)
    yr = g.integers(0, 2, 1000)
    sr = np.clip(0.5 * yr + g.uniform(0, 0.5, 1000), 0, 1)
    pt = performance_over_time(y, s, time="ts", X=pd.DataFrame({"ts": t}), freq="7D", reference=(yr, sr), n_boot=20,
                               progress=False)
    assert len(pt.windows) == 10
    _assert_date_labels_apart(pt)


def test_the_static_explorer_draws_its_figure_once_and_keeps_all_of_it(monkeypatch):
    "The static view's PNG comes from one draw of the laid-out figure (no second, bounding-box pass), at the figure's full size."
    import base64
    from matplotlib.figure import Figure
    from PIL import Image
    g = np.random.default_rng(5)
    ref = pd.DataFrame({"a": g.normal(0, 1, 400), "b": g.normal(0, 1, 400), "c": g.choice(["x", "y", "z"], 400)})
    cur = pd.DataFrame({"a": g.normal(1, 1, 400), "b": g.normal(0, 1, 400), "c": g.choice(["x", "y", "z"], 400, p=[0.6, 0.2, 0.2])})
    r = quiet(detect_drift, ref, cur, multivariate=False, n_boot=20)
    draws, sizes, draw = [], [], Figure.draw
    def counted(self, renderer):
        draws.append(self); sizes.append(tuple(self.get_size_inches() * self.dpi))
        return draw(self, renderer)
    monkeypatch.setattr(Figure, "draw", counted)
    bundle = r.explore(static=True)._repr_mimebundle_()
    assert len(draws) == 1, len(draws)
    w, h = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))).size
    assert (w, h) == tuple(round(s) for s in sizes[0]) and w > h > 100, ((w, h), sizes)   # the whole figure, nothing cropped
    assert bundle["image/png"] in bundle["text/html"]   # the HTML fallback embeds that same PNG: no second render
