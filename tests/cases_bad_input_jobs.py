"""Bad input to prodkit.jobs: each case one mistake a user makes, the error class and the words that name it."""
import pytest

from prodkit.core import FileFormatError, ParameterError


def _toy_node(params="n = 3  # int: how many\nsrc = ''  # path: input file", tags=("parameters",)):
    import nbformat
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(params, metadata={"tags": list(tags)})])


def _record(name, value):
    from prodkit.jobs import record, clear_recorded
    try: record(name, value)
    finally: clear_recorded()


def _tmp_file(name, text):
    import tempfile
    from pathlib import Path
    p = Path(tempfile.mkdtemp(prefix="prodkit-bad-")) / name
    p.write_text(text)
    return p


def _check(params, node=None):
    from prodkit.jobs import check_parameters
    return check_parameters(node or _toy_node(), params)


def _gates(g):
    from prodkit.jobs import parse_gates
    return parse_gates(g)


def _eval(g, results):
    from prodkit.jobs import evaluate_gates
    return evaluate_gates(g, results)


def _read_results(p):
    from prodkit.jobs import read_results
    return read_results(p)


def _locate(t):
    from prodkit.jobs import locate_template
    return locate_template(t)


def _params(node):
    from prodkit.jobs import template_parameters
    return template_parameters(node)


def _run(template, params, gates=None):
    import tempfile
    from prodkit.jobs import run_notebook
    return run_notebook(template, params, tempfile.mkdtemp(prefix="prodkit-bad-out-"), gates=gates)


CASES = [
    pytest.param(lambda: _record("quality.model", object()), ParameterError, "not JSON-able: object", id="jobs-record-not-jsonable"),
    pytest.param(lambda: _record("quality auc", 0.9), ParameterError, "dotted words", id="jobs-record-bad-name"),
    pytest.param(lambda: _record("drift", {}), ParameterError, "nothing to record", id="jobs-record-empty-dict"),
    pytest.param(lambda: _check({"n": 1, "src": ".", "nn": 2}), ParameterError, "unknown parameter `nn`", id="jobs-param-unknown"),
    pytest.param(lambda: _check({"n": "three", "src": "."}), ParameterError, "must be an integer", id="jobs-param-wrong-type"),
    pytest.param(lambda: _check({"n": True, "src": "."}), ParameterError, "must be an integer", id="jobs-param-bool-for-int"),
    pytest.param(lambda: _check({"src": "/nonexistent/data.csv"}), ParameterError, "path does not exist", id="jobs-param-missing-path"),
    pytest.param(lambda: _check({"n": 1}), ParameterError, "is required", id="jobs-param-required-missing"),
    pytest.param(lambda: _params(_toy_node(tags=())), FileFormatError, "no cell tagged `parameters`", id="jobs-template-no-parameters-cell"),
    pytest.param(lambda: _params(_toy_node(params="n = = 3")), FileFormatError, "parameters cell is not valid Python", id="jobs-template-bad-parameters-cell"),
    pytest.param(lambda: _locate("no_such_template"), FileFormatError, "unknown template `no_such_template`", id="jobs-template-unknown-name"),
    pytest.param(lambda: _locate("/nonexistent/t.ipynb"), FileFormatError, "template notebook does not exist", id="jobs-template-missing-file"),
    pytest.param(lambda: _gates(["quality.auc => 0.8"]), ParameterError, "a gate must read `metric op threshold`", id="jobs-gate-bad-operator"),
    pytest.param(lambda: _gates("quality.auc >= high"), ParameterError, "threshold is not a number", id="jobs-gate-ordering-a-string"),
    pytest.param(lambda: _gates([0.8]), ParameterError, "gates must be strings", id="jobs-gate-not-a-string"),
    pytest.param(lambda: _gates({"gate": ["a > 1"]}), ParameterError, "needs a `gates` list", id="jobs-gate-mapping-without-gates"),
    pytest.param(lambda: _gates("/nonexistent/gates.yaml"), FileFormatError, "gates file does not exist", id="jobs-gate-file-missing"),
    pytest.param(lambda: _gates(_tmp_file("g.yaml", "gates: [a >= 1\n")), FileFormatError, "not valid YAML/JSON", id="jobs-gate-file-corrupt"),
    pytest.param(lambda: _eval("a.b >= [1, 2]", {}), ParameterError, "must be a number, true/false or a string", id="jobs-gate-list-threshold"),
    pytest.param(lambda: _read_results(_tmp_file("x.ipynb", "{not json")), FileFormatError, "not a readable notebook", id="jobs-results-corrupt-notebook"),
    pytest.param(lambda: _read_results("/nonexistent/run.ipynb"), FileFormatError, "notebook file does not exist", id="jobs-results-missing-notebook"),
    pytest.param(lambda: _run("validation", {"model": ".", "reference": ".", "current": ".", "seed": -0.5}), ParameterError, "parameter `seed`", id="jobs-run-float-seed"),
]
