"""nbs/tour.ipynb is saved executed and clean: every check shows its report and its picture, no cell failed, and the
outputs hold nothing that changes from run to run (temporary paths, execution counts). nbdev_test runs it in CI."""
import json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "nbs" / "tour.ipynb"


@pytest.fixture(scope="module")
def cells():
    return [dict(c, source="".join(c["source"])) for c in json.loads(TOUR.read_text(encoding="utf-8"))["cells"]]


def _code(cells): return [c for c in cells if c["cell_type"] == "code"]


def test_the_tour_is_not_exported(cells):
    assert not any(re.search(r"^\s*#\|\s*(default_exp|export)", c["source"], re.M) for c in _code(cells))


def test_no_cell_failed_and_none_is_left_unrun(cells):
    outs = [o for c in _code(cells) for o in c.get("outputs", [])]
    assert outs, "the tour is saved without outputs: execute it and save"
    assert [o.get("ename") for o in outs if o["output_type"] == "error"] == []


def test_every_plot_cell_keeps_its_picture(cells):
    plots = [c for c in _code(cells) if re.search(r"\.plot\(", c["source"])]
    missing = [c["source"] for c in plots if not any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    assert len(plots) >= 8 and missing == [], missing      # one picture per check, and the job's verdict


def test_every_check_shows_its_report(cells):
    "A cell that computes a report and ends with it keeps the report's HTML (or a printed line)."
    ends = [c for c in _code(cells) if not c["source"].lstrip().startswith("#|") and ".plot(" not in c["source"]
            and not c["source"].lstrip().startswith(("test_", "assert", "import", "from"))]
    bare = [c["source"][:60] for c in ends if not c.get("outputs")]
    assert bare == [], bare


def test_the_checks_come_in_the_validation_reports_order(cells):
    calls = ["evaluate_quality(", "evaluate_under_load(", "detect_drift(", "explain_many(", "export_torchscript(",
             "evaluate_guard(", "Monitor(", "run_notebook("]
    code = "\n".join(c["source"] for c in _code(cells) if not re.match(r"\s*(from|import)\s", c["source"]))
    where = [code.find(k) for k in calls]
    assert -1 not in where and where == sorted(where), dict(zip(calls, where))


def test_outputs_are_clean_and_repeatable(cells):
    for c in _code(cells):
        assert c.get("execution_count") is None and c["metadata"] == {}, c["source"][:60]
        for o in c.get("outputs", []):
            text = json.dumps({k: v for k, v in o.get("data", {}).items() if k != "image/png"}) + json.dumps(o.get("text", ""))
            assert not re.search(r"/tmp/|prodkit-tour-", text), c["source"][:60]   # no temporary path in a kept output
