"""Issue 16's acceptance matrix: `prodkit validate` and the drift monitoring template on the models users bring.

Kinds (tests/_user_models.py): a binary classifier with text labels, a 3-class classifier, a regressor, data with a
quarterly time column, a small data set (200 rows) and a CNN on 8x8 digits. Each template runs once per kind (cached
for the session) and several tests read the same run: the job ends with exit 0 or 1 (never 3), every section of the
report recorded its numbers or printed one sentence saying why it was skipped, no default gate fails as "not
recorded", and default gates agree with the checks of the sections they gate.
"""
import json, re

import nbformat
import pytest

from prodkit.jobs import RESULTS_MIME, run_notebook
from _user_models import BUILDERS

KINDS = list(BUILDERS)
SECTIONS_OFF = {"run_drift": False, "run_explain": False, "run_export": False, "run_guard": False}

# The validation template's sections (by the start of their `## ` heading) and the prefix of the numbers each records.
VALIDATION_SECTIONS = {"Versions": "versions", "Quality": "quality", "Latency": "load", "Data, output": "drift",
                       "Explanations": "explain", "Export": "export", "Guarded": "guard"}
# Drift monitoring: None marks a section that shows figures and tables but records nothing by design.
DRIFT_SECTIONS = {"Which features drifted": "drift", "Distributions": None, "Within the window": "drift.timeline",
                  "Model performance": "drift.concept"}


# ----------------------------------------------------------------------------------------------- fixtures (cached)

@pytest.fixture(scope="session")
def user_model(tmp_path_factory):
    "kind -> UserModel, each built once per session."
    cache = {}
    def get(kind):
        if kind not in cache: cache[kind] = BUILDERS[kind](tmp_path_factory.mktemp(f"user-{kind}"))
        return cache[kind]
    return get


@pytest.fixture(scope="session")
def job(tmp_path_factory, user_model):
    "(template, kind, variant) -> JobResult of one run, cached for the session."
    cache = {}
    def get(template, kind, variant="default"):
        key = (template, kind, variant)
        if key not in cache:
            m, out = user_model(kind), tmp_path_factory.mktemp(f"{template}-{kind}-{variant}")
            if template == "validation":
                kw = {"run_load_false": {"run_load": False, **SECTIONS_OFF},
                      "user_load_gate": {"run_load": False, **SECTIONS_OFF}}.get(variant, {})
                gates = ["load.p99_ms <= 50"] if variant == "user_load_gate" else None
                cache[key] = run_notebook("validation", m.validation_params(**kw), out, gates=gates)
            else:
                kw = {"freq_5YS": {"freq": "5YS"}}.get(variant, {})
                params = m.drift_params(**kw)
                if m.task == "image": params.pop("model")      # pixel drift only: the profile holds no model outputs
                cache[key] = run_notebook("drift_monitoring", params, out)
        return cache[key]
    return get


# ----------------------------------------------------------------------------------------------- reading a report

def _text_of(out):
    "The readable text of one cell output (stream, HTML, Markdown or plain text; not images)."
    if out.get("output_type") == "stream": return out.get("text", "")
    d = out.get("data", {})
    return "\n".join(str(d[k]) for k in ("text/html", "text/markdown", "text/plain") if k in d)


def sections(nb, level=2):
    """The executed notebook cut at its markdown headings of `level` (`## Title`): title -> {'recorded': result names,
    'printed': stdout lines, 'shown': number of figures and tables, 'errors': error outputs, 'text': output text}."""
    mark = "#" * level + " "
    secs, cur = {}, None
    for c in nb.cells:
        if c.cell_type == "markdown":
            heads = [l[len(mark):].strip() for l in c.source.splitlines() if l.startswith(mark)]
            if heads:
                cur = heads[0]; secs[cur] = {"recorded": [], "printed": [], "shown": 0, "errors": [], "text": ""}
            elif level > 2 and any(l.startswith("## ") for l in c.source.splitlines()): cur = None
            continue
        if cur is None or c.cell_type != "code": continue
        s = secs[cur]
        for o in c.get("outputs", []):
            d = o.get("data", {})
            if RESULTS_MIME in d:
                p = d[RESULTS_MIME]; p = json.loads(p) if isinstance(p, str) else p
                s["recorded"] += list(p.get("results", {}))
                continue
            if o.get("output_type") == "error": s["errors"].append(f"{o.get('ename')}: {o.get('evalue')}")
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                s["printed"] += [l.strip() for l in o.get("text", "").splitlines() if l.strip()]
            if {"image/png", "text/html"} & set(d): s["shown"] += 1
            s["text"] += _text_of(o) + "\n"
    return secs


def _section(secs, start):
    "The one section whose title starts with `start`."
    found = [t for t in secs if t.startswith(start)]
    assert len(found) == 1, f"no single section starting with {start!r} in {list(secs)}"
    return secs[found[0]]


_SKIP = re.compile(r"\bskip|^no\b", re.I)

def _skip_sentence(s):
    "The one printed line saying why the section was skipped, or None."
    lines = [l for l in s["printed"] if _SKIP.search(l) and len(l) <= 300]
    return lines[0] if lines else None


def _reported_or_said_why(s, prefix):
    "Why section `s` breaks the rule (it records under `prefix`, or shows output when `prefix` is None), or ''."
    if s["errors"]: return f"raised {s['errors'][0][:200]}"
    if prefix is not None and any(k == prefix or k.startswith(prefix + ".") for k in s["recorded"]): return ""
    if prefix is None and s["shown"]: return ""
    if _skip_sentence(s): return ""
    return f"recorded nothing under {prefix!r} and printed no sentence saying why it was skipped (printed: {s['printed'][:3]})"


def _nb(res): return nbformat.read(res.notebook, as_version=4)


def _check_sections(res, expected):
    "Every section of the report recorded its numbers (or, display-only, showed them) or printed why it was skipped."
    secs = sections(_nb(res))
    missing = [start for start in expected if not any(t.startswith(start) for t in secs)]
    assert not missing, f"sections missing from the report: {missing}"
    bad = {}
    for title, s in secs.items():
        known = [p for start, p in expected.items() if title.startswith(start)]
        if known: why = _reported_or_said_why(s, known[0])
        else:    # a section this matrix does not know yet: it must still record, show, or say why it was skipped
            why = f"raised {s['errors'][0][:200]}" if s["errors"] else "" if (s["recorded"] or s["shown"] or _skip_sentence(s)) else "reported nothing"
        if why: bad[title] = why
    assert not bad, bad


def _not_recorded(res): return [r["gate"] for r in res.gates.rows if r["reason"] == "not recorded"]


def _ended(res):
    assert res.exit_code in (0, 1), res.message
    assert res.failed_cell is None, res.failed_cell


# ----------------------------------------------------------------------------------------------- the fixtures themselves

@pytest.mark.parametrize("kind", KINDS)
def test_fixture_model_learned_something_and_files_are_parquet(kind, user_model):
    import pandas as pd
    from prodkit.versioning import load_bundle
    m = user_model(kind)
    ref, cur = pd.read_parquet(m.reference), pd.read_parquet(m.current)
    assert m.label in ref.columns and m.label in cur.columns and len(ref) + len(cur) == m.n_rows
    b = load_bundle(m.bundle)
    if m.task == "image":
        import torch
        x = torch.from_numpy(cur.drop(columns=m.label).to_numpy("float32").copy()).reshape(-1, 1, 8, 8)
        assert (b.predictor.predict(x) == cur[m.label].to_numpy()).mean() > 0.8
    elif m.task == "regression":
        y = cur[m.label].to_numpy()
        assert abs(b.predictor.predict(cur).reshape(-1) - y).mean() < abs(y - y.mean()).mean() * 0.9   # beats the mean
    else:
        assert list(b.predictor.classes) == list(m.classes)
        assert (b.predictor.predict(cur) == cur[m.label].to_numpy()).mean() > 0.8
    if kind == "binary_text": assert set(cur[m.label]) == {"malignant", "benign"}
    if kind == "quarterly":
        t = pd.to_datetime(pd.concat([ref.date, cur.date]))
        assert t.dt.month.isin([1, 4, 7, 10]).all() and t.groupby(t.dt.to_period("M")).size().max() < 30
        assert ref.date.max() < cur.date.min()                    # reference: the early quarters; current: the later ones
    if kind == "small": assert 150 <= m.n_rows <= 250


# ----------------------------------------------------------------------------------------------- validation, per kind

@pytest.mark.parametrize("kind", KINDS)
def test_validate_exits_0_or_1_never_3(kind, job):
    _ended(job("validation", kind))


@pytest.mark.parametrize("kind", KINDS)
def test_validate_every_section_recorded_or_said_why_skipped(kind, job):
    _check_sections(job("validation", kind), VALIDATION_SECTIONS)


@pytest.mark.parametrize("kind", KINDS)
def test_validate_no_default_gate_fails_as_not_recorded(kind, job):
    res = job("validation", kind)
    assert res.gates.rows, "the template declares default gates"
    assert _not_recorded(res) == []


@pytest.mark.parametrize("kind", KINDS)
def test_validate_export_gates_agree_with_export_parity_check(kind, job):
    res = job("validation", kind)
    assert "export.passed" in res.results, "the export section recorded its verdict"
    export_gates = [r for r in res.gates.rows if r["metric"].startswith("export.")]
    assert export_gates, "the template gates the export by default"
    if res.results["export.passed"] is True:
        assert [r["gate"] for r in export_gates if not r["passed"]] == [], res.results.get("export.max_abs_err")


@pytest.mark.parametrize("kind", KINDS)
def test_validate_load_gates_fail_on_an_invalid_measurement_with_that_reason(kind, job):
    res = job("validation", kind)
    assert "load.valid" in res.results, "the load section recorded whether its measurement is valid"
    if res.results["load.valid"] is False:
        load_gates = [r for r in res.gates.rows if r["metric"].startswith("load.")]
        assert load_gates and all(not r["passed"] and "invalid" in r["reason"].lower() for r in load_gates), load_gates


def test_validate_quarterly_over_time_subsection_recorded_or_said_why_skipped(job):
    res = job("validation", "quarterly")
    sub = _section(sections(_nb(res), level=3), "Over time")
    assert _reported_or_said_why(sub, "drift.timeline") == ""


def test_validate_regression_has_no_classification_wording(job):
    res = job("validation", "regression")
    page = re.sub(r"<code>.*?</code>", "", res.html.read_text(encoding="utf-8"), flags=re.S).lower()   # prose, not metric names
    assert "calibration" not in page and "confusion" not in page
    classification = ("quality.auc", "quality.auc_drop", "quality.ece", "quality.accuracy", "quality.log_loss")
    assert [r["gate"] for r in res.gates.failed if r["metric"] in classification] == []


def test_validate_regression_records_mae_increase_not_mae_drop(job):
    q = job("validation", "regression").results
    assert "quality.mae_drop" not in q
    assert abs(q["quality.mae_increase"] - (q["quality.mae"] - q["quality.reference_mae"])) < 1e-9


def test_validate_text_class_names_in_explanations_not_class_1(job):
    res = job("validation", "binary_text")
    text = _section(sections(_nb(res)), "Explanations")["text"]
    assert re.search(r"\b(malignant|benign)\b", text), text[:500]
    assert not re.search(r"\bclass 1\b", text)
    assert "explain.mean_jaccard" in res.results


def test_validate_text_labels_give_quality_numbers(job):
    q = job("validation", "binary_text").results
    assert 0.5 < q["quality.auc"] <= 1 and 0.8 < q["quality.accuracy"] <= 1


def test_validate_image_model_exports_what_it_can(job):
    res = job("validation", "image")
    assert res.results.get("export.passed") is True, res.results.get("export.passed")


# ----------------------------------------------------------------------------------------------- skipping a section

def test_validate_run_load_false_does_not_fail_on_load_gates(job):
    res = job("validation", "small", "run_load_false")
    _ended(res)
    assert not any(k.startswith("load.") for k in res.results)
    skipped = ("load.", "drift.", "explain.", "export.", "guard.")           # every section this run switched off
    rows = [r for r in res.gates.rows if r["metric"].startswith(skipped)]
    assert any(r["metric"].startswith("load.") for r in rows), "the default gates include load gates"
    assert [r["gate"] for r in res.gates.failed if r["metric"].startswith(skipped)] == []
    assert all("skipped" in r["reason"].lower() for r in rows), [(r["gate"], r["reason"]) for r in rows]
    verdict = _nb(res).cells[0]
    assert "prodkit-verdict" in verdict.metadata.get("tags", []) and "skipped" in verdict.source.lower()


def test_validate_user_gate_on_a_skipped_section_still_fails(job):
    res = job("validation", "small", "user_load_gate")
    assert res.exit_code == 1 and res.failed_cell is None, res.message
    assert [r["gate"] for r in res.gates.failed] == ["load.p99_ms <= 50"]


# ----------------------------------------------------------------------------------------------- drift monitoring, per kind

@pytest.mark.parametrize("kind", KINDS)
def test_drift_monitoring_exits_0_or_1_never_3(kind, job):
    _ended(job("drift_monitoring", kind))


@pytest.mark.parametrize("kind", KINDS)
def test_drift_monitoring_every_section_reported_or_said_why_skipped(kind, job):
    _check_sections(job("drift_monitoring", kind), DRIFT_SECTIONS)


@pytest.mark.parametrize("kind", KINDS)
def test_drift_monitoring_no_default_gate_fails_as_not_recorded(kind, job):
    res = job("drift_monitoring", kind)
    assert res.gates.rows and _not_recorded(res) == []


@pytest.mark.parametrize("kind", ["binary_text", "multiclass"])
def test_drift_monitoring_performance_section_measures_labelled_classifiers(kind, job):
    res = job("drift_monitoring", kind)
    assert any(k.startswith("drift.concept.") for k in res.results), sorted(res.results)[:20]


def test_drift_monitoring_freq_5YS_on_quarterly_data_does_not_crash(job):
    res = job("drift_monitoring", "quarterly", "freq_5YS")
    _ended(res)
    s = _section(sections(_nb(res)), "Within the window")
    assert _reported_or_said_why(s, "drift.timeline") == ""
    assert _not_recorded(res) == []
