"""Reports escape everything they did not write: a data set whose feature names, category values, class names and file
names are hostile (script tags, event handlers, attribute break-outs, `javascript:` links, Markdown links, template and
math syntax) goes through every template and every report class of prodkit. No report may contain an element or an
attribute the payloads would create, and headless Chromium shows that no payload ran in the rendered validation report."""
import importlib, inspect, io, os, pkgutil, shutil, subprocess, tempfile
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from bs4 import BeautifulSoup

import prodkit
from prodkit.core import Report, Schema, TabularAdapter
from prodkit.demo import make_mlp
from prodkit.jobs import run_notebook
from prodkit.versioning import load_bundle, save_bundle
import prodkit.explain  # noqa: F401  (its warning class is named in pytestmark)

pytestmark = pytest.mark.filterwarnings("ignore::prodkit.explain.ExplanationWarning")   # tiny samples on purpose: fidelity is not the point

MARK = "pwned"                                          # what a payload that runs writes into the page
JS = f"window.__pwn=1;document.body.id='{MARK}'"
FEATURES = [f"<script>{JS}</script>", f'<img src=x onerror="{JS}">', f'" onmouseover="{JS}', "[click](javascript:alert(1))",
            f'<svg onload="{JS}">', "{{7*7}}", "$x$", r"$\alpha_{\undefinedcmd}$", "![i](javascript:alert(1)) *em* _u_"]
CATEGORIES = [f'<img src=x onerror="{JS}">', f"<script>{JS}</script>", "[c](javascript:alert(1))", r"$\undefinedcmd$ {{7*7}}"]
CATEGORY_COLUMN = f'<svg onload="{JS}"> plan'
CLASSES = ["<b>stay</b>", f'<img src=y onerror="{JS}"> $\\undefinedcmd$']
BUNDLE_NAME = f"<script>{JS}</script>"
FILE_PAYLOAD = f'<img src=x onerror="{JS}">'             # a file name may hold anything but '/'


# ---------------------------------------------------------------------------------------------------- the checks
def _attr_problems(tag):
    out = []
    for a, v in tag.attrs.items():
        v = " ".join(v) if isinstance(v, list) else str(v)
        if a.lower().startswith("on"): out.append(f"<{tag.name} {a}=...> event handler")
        if a.lower() in ("href", "src", "action", "formaction", "xlink:href", "data") and "javascript:" in v.lower().replace(" ", ""):
            out.append(f"<{tag.name} {a}={v[:40]!r}> javascript: URL")
    return out


def markup_problems(page:str) -> list:
    "Elements and attributes in an HTML page that a hostile name would create if it were not escaped."
    soup = BeautifulSoup(page, "html.parser"); out = []
    for t in soup.find_all(True):
        out += _attr_problems(t)
        if t.name == "script" and (MARK in (t.string or "") or t.find_parent(class_="jp-OutputArea")
                                   or t.find_parent(class_="jp-RenderedMarkdown")):
            out.append(f"a <script> in the report body: {str(t)[:80]}")
        if t.name == "img" and not str(t.get("src", "")).startswith("data:image/"): out.append(f"<img src={t.get('src')!r}>")
        if t.name in ("iframe", "object", "embed", "form", "base", "meta") and t.find_parent("body"): out.append(f"<{t.name}> in the body")
        if t.name == "svg" and MARK in str(t): out.append(f"<svg> from a name: {str(t)[:80]}")
        if t.name in ("b", "strong") and t.get_text() == "stay": out.append("<b>stay</b> rendered as bold, not as text")
        if t.name == "a" and ("javascript" in t.get_text() or t.get_text() in ("click", "c", "i")): out.append(f"a Markdown link became <a>: {str(t)[:80]}")
        if t.name in ("em", "i") and t.get_text() in ("em", "u"): out.append(f"Markdown emphasis from a name: {str(t)[:80]}")
    return out


def test_the_check_finds_what_unescaped_names_would_create():
    "The positive control: each payload, left unescaped, is caught (so a clean report means escaped, not unchecked)."
    for p in [*FEATURES[:3], FEATURES[4], CLASSES[0]]:
        assert markup_problems(f"<html><body><div class='jp-OutputArea'><p title=\"{p}\">{p}</p></div></body></html>"), p
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    for p in (FEATURES[3], FEATURES[8]): assert markup_problems(markdown2html_mistune(p)), p
    assert markup_problems("<a href='JavaScript:alert(1)'>x</a>")
    assert not markup_problems("<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p><img src='data:image/png;base64,AAAA'>")


def _check_page(path:Path):
    page = path.read_text(encoding="utf-8")
    assert markup_problems(page) == [], f"{path.name}: {markup_problems(page)[:5]}"
    return BeautifulSoup(page, "html.parser").get_text(" ")


# ---------------------------------------------------------------------------------------------------- the hostile data
def _frame(rng, n, shift, start):
    d = {name: rng.normal(shift if i == 1 else 0.0, 1.0, n) for i, name in enumerate(FEATURES)}
    d[CATEGORY_COLUMN] = rng.choice(CATEGORIES, n, p=[0.1, 0.2, 0.3, 0.4] if shift else [0.4, 0.3, 0.2, 0.1])
    d["ts"] = pd.date_range(start, periods=n, freq="4h")
    df = pd.DataFrame(d)
    logit = df[FEATURES[0]] - df[FEATURES[2]] + (df[CATEGORY_COLUMN] == CATEGORIES[0])
    df["label"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), CLASSES[1], CLASSES[0])
    return df


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    "Reference and current data (the current window drifts), a bundle, files and a drift profile, all with hostile names."
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    ref, cur = _frame(rng, 300, 0.0, "2024-01-01"), _frame(rng, 300, 1.5, "2024-03-01")
    ad = TabularAdapter(Schema.infer(ref, label="label", exclude=["ts"])).fit(ref)
    net = torch.nn.Sequential(make_mlp(ad.n_features_, hidden=(8,), seed=0), torch.nn.Linear(1, 2))   # two logits
    bundle = save_bundle(d / f"bundle {FILE_PAYLOAD}", net, ad, classes=CLASSES, name=BUNDLE_NAME)
    paths = {"bundle_path": bundle, "reference": d / f"reference {FILE_PAYLOAD}.parquet", "current": d / "current [x](javascript:alert(1)).parquet",
             "window": d / f"window {FILE_PAYLOAD}.parquet"}
    # the validation files have no time column: with string class labels the template's time section fails (not an escaping problem)
    ref.drop(columns="ts").to_parquet(paths["reference"]); cur.drop(columns="ts").to_parquet(paths["current"])
    cur.drop(columns="label").to_parquet(paths["window"])   # without labels: drift_monitoring's performance section reads labels as numbers
    from prodkit.drift import ReferenceProfile
    b = load_bundle(bundle)
    paths["profile"] = ReferenceProfile.fit(ref, schema=b.schema, predictor=b.predictor, seed=0).save(d / f"profile {FILE_PAYLOAD}.npz")
    return {"dir": d, "ref": ref, "cur": cur, "bundle": b, **paths}


# ---------------------------------------------------------------------------------------------------- every template
@pytest.fixture(scope="module")
def validation(hostile):
    h = hostile
    return run_notebook("validation", {"model": str(h["bundle_path"]), "reference": str(h["reference"]), "current": str(h["current"]),
                                       "load_qps": 50.0, "load_duration_s": 1.0, "explain_rows": 5, "explain_samples": 300},
                        h["dir"] / "validation-out")


def test_validation_report_escapes_every_name(validation):
    r = validation
    text = _check_page(Path(r.html))
    assert r.failed_cell is None, r.message
    results = r.results
    # every section ran on the hostile data and shows the names as text
    for section in ("quality.auc", "load.n_requests", "drift.n_drifted", "explain.mean_fidelity", "export.passed", "guard.calls"):
        assert section in results, (section, sorted(results)[:20])
    assert results["drift.n_drifted"] >= 1
    for s in (FEATURES[1], CATEGORY_COLUMN, CATEGORIES[0], FEATURES[3], FEATURES[5]): assert s in text, s


@pytest.fixture(scope="module")
def drift_monitoring(hostile):
    h = hostile
    return run_notebook("drift_monitoring", {"profile": str(h["profile"]), "current": str(h["window"]), "model": str(h["bundle_path"]),
                                             "time": "ts", "freq": "14D"}, h["dir"] / "drift-out")


def test_drift_monitoring_report_escapes_every_name(drift_monitoring):
    r = drift_monitoring
    text = _check_page(Path(r.html))
    assert r.failed_cell is None, r.message
    assert r.results["drift.n_drifted"] >= 1
    assert any(k.startswith("drift.timeline.") for k in r.results), sorted(r.results)     # the timeline section ran too
    assert FEATURES[1] in text and CATEGORY_COLUMN in text


@pytest.fixture(scope="module")
def load_test(hostile):
    h = hostile
    return run_notebook("load_test", {"model": str(h["bundle_path"]), "data": str(h["current"]), "duration_s": 1.0, "warmup_s": 0.2,
                                      "qps": 50.0, "rows": 64}, h["dir"] / "load-out")


def test_load_test_report_escapes_every_name(load_test, hostile):
    r = load_test
    text = _check_page(Path(r.html))
    assert r.failed_cell is None, r.message
    assert r.results["load.n_requests"] > 0
    assert hostile["bundle_path"].name in text


@pytest.fixture(scope="module")
def failed_job(hostile):
    "A job whose cell raises an error naming hostile strings (a message is data too)."
    d = hostile["dir"] / "boom"; d.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("gates = 'toy.n >= 1'  # str: gates", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from prodkit.jobs import record\nrecord('toy.n', 1)"),
        nbformat.v4.new_code_cell(f"raise ValueError({FEATURES[1] + ' ' + FEATURES[3] + ' ' + CLASSES[0]!r})")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(d / "boom.ipynb"))
    return run_notebook(d / "boom.ipynb", {}, d / "out")


def test_an_error_message_with_hostile_names_is_escaped_in_the_verdict(failed_job):
    r = failed_job
    assert r.exit_code == 3
    text = _check_page(Path(r.html))
    assert FEATURES[1] in text


def test_a_multi_line_error_message_stays_text_in_the_verdict():
    from prodkit.jobs import _finish_notebook, evaluate_gates, render_html
    failed = {"index": 1, "ename": "ValueError", "evalue": f"boom\n\n{FEATURES[3]} {FEATURES[8]}\n\n{FEATURES[1]}"}
    nb = _finish_notebook(nbformat.v4.new_notebook(), "toy", evaluate_gates("toy.n >= 1", {"toy.n": 1}), 3, failed, "2026-01-01 00:00:00", {"toy.n": 1})
    assert markup_problems(render_html(nb)) == []


# ---------------------------------------------------------------------------------------------------- headless Chromium
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install -y chromium)")


def _dump_dom(path:Path) -> BeautifulSoup:
    "The DOM of `path` after Chromium loaded it and ran its scripts (no network, a fresh profile)."
    with tempfile.TemporaryDirectory(prefix="prodkit-chromium-") as prof:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-extensions", f"--user-data-dir={prof}", "--virtual-time-budget=3000",
               "--dump-dom", path.resolve().as_uri()]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "<body" in r.stdout, r.stderr[-2000:]
    return BeautifulSoup(r.stdout, "html.parser")


def _ran(dom:BeautifulSoup) -> bool: return dom.find(id=MARK) is not None


@needs_chromium
def test_chromium_runs_a_live_payload_positive_control(tmp_path):
    "The same payloads, unescaped, do run in this Chromium: the check below can fail for its reason."
    for p in (FEATURES[0], FEATURES[1], FEATURES[4]):
        page = tmp_path / "live.html"
        page.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body><p>{p}</p></body></html>", encoding="utf-8")
        assert _ran(_dump_dom(page)), p


@needs_chromium
@pytest.mark.parametrize("job", ["validation", "drift_monitoring", "load_test", "failed_job"])
def test_no_payload_runs_when_chromium_opens_the_report(job, request):
    r = request.getfixturevalue(job)
    dom = _dump_dom(Path(r.html))
    assert not _ran(dom)
    assert FEATURES[1] in dom.get_text(" ")            # the names are there, as text


# ---------------------------------------------------------------------------------------------------- every report class
def _report_classes():
    "Every class of prodkit that renders itself as HTML in a notebook, found by importing prodkit's modules."
    out = {}
    for m in pkgutil.iter_modules(prodkit.__path__):
        if m.name.startswith("_") or m.name == "cli": continue
        mod = importlib.import_module(f"prodkit.{m.name}")
        for n, c in inspect.getmembers(mod, inspect.isclass):
            if c.__module__ == mod.__name__ and any(hasattr(c, k) for k in ("_repr_html_", "_repr_markdown_", "_repr_mimebundle_")):
                out[f"{m.name}.{n}"] = c
    return out


def _names(h): return h["bundle"].schema.names


def _rows(h, n=40): return h["cur"][_names(h)].head(n)


def _explanations(h):
    from prodkit.explain import TabularExplainer
    if "es" not in h:
        ex = TabularExplainer(h["bundle"].predictor, h["ref"][_names(h)], seed=0, class_names=CLASSES)
        h["es"] = ex.explain_many(_rows(h, 4), num_features=4, num_samples=200, label=CLASSES[1])
    return h["es"]


def _drift(h):
    from prodkit.drift import detect_drift
    if "drift" not in h: h["drift"] = detect_drift(h["ref"], h["cur"], schema=h["bundle"].schema, predictor=h["bundle"].predictor, seed=0)
    return h["drift"]


def _load(h):
    from prodkit.load import evaluate_under_load
    return evaluate_under_load(h["bundle"].predictor, _rows(h), scenario="single_stream", duration_s=0.3, warmup_s=0.1, percentile=50,
                               seed=0, progress=False)


def _capacity(h):
    from prodkit.load import find_max_qps
    return find_max_qps(h["bundle"].predictor, _rows(h), slo_ms=1000, percentile=50, start_qps=20, max_probes=1, duration_s=0.3,
                        warmup_s=0.1, seed=0, progress=False)


def _export(h):
    from prodkit.export import export_torchscript
    if "export" not in h:
        b = h["bundle"]
        h["export"] = export_torchscript(b.model, h["ref"].head(64), h["dir"] / f"exported {FILE_PAYLOAD}.pt", adapter=b.adapter,
                                         output=b.predictor.output, classes=CLASSES, repeats=2, seed=0)
    return h["export"]


def _skew(h):
    from prodkit.export import check_serving_skew
    return check_serving_skew(_export(h).path, h["cur"].head(50), h["bundle"].predictor)


def _latency(h):
    from prodkit.export import compare_latency, exported_predictor
    return compare_latency(h["bundle"].predictor, exported_predictor(_export(h).path), h["cur"].head(20), repeats=3)


def _guard(h):
    from prodkit.guard import GuardedModel
    g = GuardedModel(h["bundle"].predictor, fallbacks=[(FEATURES[1], lambda df: np.full((len(df), 2), 0.5))], schema=h["bundle"].schema,
                     on_invalid="flag", unseen="allow", classes=CLASSES)
    bad = _rows(h, 5).copy(); bad.loc[bad.index[0], FEATURES[0]] = np.nan
    g.serve(bad)
    return g.report(bin_s=0.1)


def _manifest(h, name=BUNDLE_NAME):
    from prodkit.versioning import Manifest
    return Manifest(name=name).add_data(FEATURES[1], h["ref"]).add_model(FEATURES[0], h["bundle"].model).add_schema(h["bundle"].schema, name=FEATURES[3])


def _text(h):
    from prodkit.explain import TextExplainer
    vocab = [FEATURES[0], FEATURES[7], "good"]
    vec = lambda texts: torch.tensor([[t.split().count(v) for v in vocab] for t in texts], dtype=torch.float32)
    lin = torch.nn.Linear(3, 2)
    return TextExplainer(lin, vec, class_names=CLASSES, split_expression=r"\s+").explain(" ".join(vocab), label=CLASSES[1], num_features=3, num_samples=100)


def _image(h):
    from prodkit.explain import ImageExplainer
    cnn = lambda x: torch.stack([-x.mean((1, 2, 3)), x.mean((1, 2, 3))], 1)
    return ImageExplainer(cnn, class_names=CLASSES, hide_color=0.0, seed=0).explain(torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0)),
                                                                                 label=CLASSES[1], num_samples=50)


def _saliency(h):
    from prodkit.explain import saliency
    return saliency(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)), torch.rand(1, 8, 8), label=1)


def _demo(h):
    from prodkit.demo import DemoBundle
    b = h["bundle"]
    return DemoBundle(reference=h["ref"], current=h["cur"], schema=b.schema, adapter=b.adapter, model=b.model, predictor=b.predictor,
                      info={"reference_period": FEATURES[1], "current_period": FEATURES[3], "drifting_features": FEATURES[:2],
                            "concept_drift_feature": FEATURES[4], "concept_drift_date": FEATURES[5], "quality": {}}, digits=None)


def _job(h):
    from prodkit.jobs import evaluate_gates, JobResult
    return JobResult(template=BUNDLE_NAME, notebook=h["dir"] / f"{FILE_PAYLOAD}.ipynb", html=h["dir"] / f"{FILE_PAYLOAD}.html",
                     results_json=h["dir"] / "results.json", results={"toy.n": 1}, gates=evaluate_gates("toy.n >= 2", {"toy.n": 1}), exit_code=3,
                     failed_cell={"index": 2, "ename": "ValueError", "evalue": FEATURES[1] + " " + FEATURES[3]})


def _drift_timeline(h):
    from prodkit.drift import drift_over_time
    return drift_over_time(h["ref"], h["cur"], schema=h["bundle"].schema, time="ts", freq="14D", seed=0, progress=False)


def _performance(h):
    from prodkit.drift import performance_over_time
    p = h["bundle"].predictor
    y = (h["cur"]["label"] == CLASSES[1]).astype(int).to_numpy(); yr = (h["ref"]["label"] == CLASSES[1]).astype(int).to_numpy()
    return performance_over_time(y, p.predict_proba(h["cur"])[:, 1], time="ts", freq="14D",
                                 reference=(yr, p.predict_proba(h["ref"])[:, 1]), X=h["cur"][_names(h) + ["ts"]], X_reference=h["ref"][_names(h)],
                                 seed=0, progress=False)


def _monitored(h, version, rows=60):
    "A monitor store of the hostile model: `rows` current rows logged under `version` (one store per version)."
    from prodkit.monitor import Monitor
    store = h["dir"] / f"live-{version}.sqlite"
    if not store.exists():
        with Monitor(h["bundle"].predictor, store, version=version) as m:
            for i in range(0, rows, 10): m.predict_proba(_rows(h, rows).iloc[i:i + 10])
            m.flush()
    return store


def _shadow(h):
    from prodkit.compare import compare_logged
    from prodkit.monitor import Monitor
    store = h["dir"] / "shadow.sqlite"
    if not store.exists():
        for v in ("champion-" + FEATURES[0], "challenger-" + FEATURES[1]):
            with Monitor(h["bundle"].predictor, store, version=v) as m: m.predict_proba(_rows(h, 30)); m.flush()
    return compare_logged(store, champion="champion-" + FEATURES[0], challenger="challenger-" + FEATURES[1], n_boot=20, seed=0)


def _labels(h, n=40): return h["cur"]["label"].head(n)


REPORTS = {
    "core.Report": lambda h: Report(),
    "core.Renderable": lambda h: __import__("prodkit.core", fromlist=["x"]).Renderable(),
    "demo.DigitsDemo": lambda h: __import__("prodkit.demo", fromlist=["x"]).load_digits_demo(seed=0, epochs=1),
    "compare.ComparisonReport": lambda h: __import__("prodkit.compare", fromlist=["x"]).compare_models(
        h["bundle"].predictor, h["bundle"].predictor, h["cur"].head(120), label="label", slices=[FEATURES[1]], n_boot=50, seed=0),
    "compare.CanaryReport": lambda h: __import__("prodkit.compare", fromlist=["x"]).canary_analysis(_monitored(h, "a"), _monitored(h, "b")),
    "compare.AACalibrationReport": lambda h: __import__("prodkit.compare", fromlist=["x"]).aa_calibration(_monitored(h, "a"), n_splits=5, seed=0),
    "compare.ShadowReport": _shadow,
    "security.RobustnessReport": lambda h: __import__("prodkit.security", fromlist=["x"]).robustness(
        h["bundle"].predictor, _rows(h), _labels(h), eps=(0.1, 0.3), steps=3, seed=0),
    "security.PrivacyReport": lambda h: __import__("prodkit.security", fromlist=["x"]).membership_risk(
        h["bundle"].predictor, h["ref"].head(40), h["cur"].head(40), label="label", seed=0),
    "security.LeakageReport": lambda h: __import__("prodkit.security", fromlist=["x"]).leakage(h["ref"], h["cur"], label="label"),
    "security.CostReport": lambda h: __import__("prodkit.security", fromlist=["x"]).cost(h["bundle"].predictor, _rows(h, 4), price_per_hour=1.0),
    "serve.BatchingReport": lambda h: __import__("prodkit.serve", fromlist=["x"]).BatchingReport(
        table=pd.DataFrame({"max_batch": [1, 16], "max_wait_ms": [0.0, 2.0], "max_qps": [10.0, 40.0], "latency_at_max_ms": [9.0, 12.0],
                            "n_probes": [3, 3]}), slo_ms=50, percentile=99),
    "demo.DemoBundle": _demo,
    "drift.DriftReport": _drift,
    "drift.DriftExplorer": lambda h: _drift(h).explore(static=True),
    "drift.DriftTimeline": _drift_timeline,
    "drift.PerformanceTimeline": _performance,
    "explain.Explanation": lambda h: _explanations(h)[0],
    "explain.ExplanationSet": _explanations,
    "explain.StabilityReport": lambda h: _explanations(h).stability(seeds=(1,), k=2),
    "explain.PermutationImportance": lambda h: __import__("prodkit.explain", fromlist=["x"]).permutation_importance(
        h["bundle"].predictor, _rows(h, 60), h["cur"]["label"].head(60), metric="accuracy", n_repeats=1, seed=0),
    "explain.TextExplanation": _text,
    "explain.ImageExplanation": _image,
    "explain.SaliencyMap": _saliency,
    "export.ExportReport": _export,
    "export.SkewReport": _skew,
    "export.LatencyReport": _latency,
    "guard.GuardReport": _guard,
    "jobs.GateReport": lambda h: __import__("prodkit.jobs", fromlist=["x"]).evaluate_gates("toy.n >= 2", {"toy.n": 1}),
    "jobs.JobResult": _job,
    "load.LoadReport": _load,
    "load.CapacityReport": _capacity,
    "quality.QualityReport": lambda h: __import__("prodkit.quality", fromlist=["x"]).evaluate_quality(
        h["bundle"].predictor, h["cur"], label="label", n_boot=20, seed=0),
    "versioning.Manifest": _manifest,
    "versioning.ManifestDiff": lambda h: _manifest(h).diff(_manifest(h, name=FEATURES[3]).add_data(FEATURES[4], h["cur"])),
    "versioning.ModelBundle": lambda h: h["bundle"],
}


def test_every_report_class_is_checked():
    "A new class that renders itself in a notebook must get a hostile-data case here."
    assert sorted(_report_classes()) == sorted(REPORTS)


def _draw(obj):
    "Render what a notebook would show: HTML, and the plot drawn to PNG (mathtext would fail at draw time)."
    import matplotlib.pyplot as plt
    try:
        if hasattr(obj, "_repr_mimebundle_") and not hasattr(obj, "_repr_html_"):
            b = obj._repr_mimebundle_(); assert "image/png" in b
            return b.get("text/html", "")
        page = obj._repr_html_()
        assert "display failed" not in page, page[:300]
        if isinstance(obj, Report) and type(obj)._plot is not Report._plot:
            ax = obj.plot().ax_; (ax.figure if hasattr(ax, "figure") else obj.figure_).savefig(io.BytesIO(), format="png")
        return page
    finally:
        plt.close("all")


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_report_html_and_plot_with_hostile_names(hostile, name):
    page = _draw(REPORTS[name](hostile))
    assert markup_problems(page) == []
