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


def _skip_on_purpose(section, reason, on_purpose):
    from prodkit.jobs import skip_section, clear_recorded
    try: skip_section(section, reason, on_purpose=on_purpose)
    finally: clear_recorded()


def _gates_default(default):
    from prodkit.jobs import evaluate_gates
    return evaluate_gates(["load.p99_ms <= 50"], {}, off={"load": "turned off"}, default=default)


def _record_caveat(name, reason):
    from prodkit.jobs import record_caveat, clear_recorded
    try: record_caveat(name, reason)
    finally: clear_recorded()


def _skip(section, reason):
    from prodkit.jobs import skip_section, clear_recorded
    try: skip_section(section, reason)
    finally: clear_recorded()


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


def _run(template, params, gates=None, out=None):
    import tempfile
    from prodkit.jobs import run_notebook
    return run_notebook(template, params, out or tempfile.mkdtemp(prefix="prodkit-bad-out-"), gates=gates)


def _toy_file(params="n = 3  # int: how many\ngates = 'toy.n >= 1'  # str: gates"):
    import nbformat
    p = _tmp_file("toy.ipynb", "")
    nbformat.write(_toy_node(params=params), str(p))
    return p


def _run_opts(**kw):
    "run_notebook on a toy template with one bad option; no kernel may start (the option is checked first)."
    import tempfile
    from prodkit.jobs import run_notebook
    return run_notebook(_toy_file(), {}, tempfile.mkdtemp(prefix="prodkit-bad-out-"), **kw)


def _run_foreign(fname, content):
    import tempfile
    from pathlib import Path
    from prodkit.jobs import run_notebook
    out = Path(tempfile.mkdtemp(prefix="prodkit-bad-out-")); (out / fname).write_text(content)
    return run_notebook(_toy_file(), {}, out)


def _run_label(label):
    import tempfile
    from pathlib import Path
    from prodkit.jobs import run_notebook
    t = _toy_file("table = ''  # path: rows, CSV or Parquet\nlabel = 'label'  # str: column of table: the label\ngates = 'toy.n >= 1'")
    rows = Path(tempfile.mkdtemp(prefix="prodkit-bad-")) / "rows.csv"; rows.write_text("age,label\n1,0\n")
    return run_notebook(t, {"table": rows, "label": label}, tempfile.mkdtemp(prefix="prodkit-bad-out-"))


def _sha(p):
    from prodkit.jobs import artifact_sha256
    return artifact_sha256(p)


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
    pytest.param(lambda: _run(_toy_file(), {}, gates=None, out=_tmp_file("report", "a file, not a folder")), ParameterError, "out_dir is a file", id="jobs-run-out-dir-is-a-file"),
    pytest.param(lambda: _gates(""), ParameterError, "the gates text is empty", id="jobs-gate-empty-text"),
    pytest.param(lambda: _gates("  \n "), ParameterError, "the gates text is empty", id="jobs-gate-whitespace-text"),
    pytest.param(lambda: _gates([]), ParameterError, "the gate list is empty", id="jobs-gate-empty-list"),
    pytest.param(lambda: _gates({"gates": None}), ParameterError, "`gates:` holds no list", id="jobs-gate-mapping-no-list"),
    pytest.param(lambda: _gates(_tmp_file("g.yaml", "")), FileFormatError, "gates file declares no gate", id="jobs-gate-file-zero-bytes"),
    pytest.param(lambda: _gates(_tmp_file("g.yaml", "# later\n")), FileFormatError, "gates file declares no gate", id="jobs-gate-file-all-comments"),
    pytest.param(lambda: _gates(_tmp_file("g.yaml", "gates:\n")), FileFormatError, "gates file declares no gate", id="jobs-gate-file-gates-key-empty"),
    pytest.param(lambda: _gates(_tmp_file("g.yaml", "gates: [a >= 1]\n").parent), FileFormatError, "gates file is not a regular file", id="jobs-gate-folder-not-a-file"),
    pytest.param(lambda: _run(_toy_file("n = 3  # int: how many"), {}), ParameterError, "declares no gates and none were given", id="jobs-run-template-without-gates"),
    pytest.param(lambda: _run_opts(gates="toy.n >= 1", no_gates=True), ParameterError, "not both", id="jobs-run-gates-and-no-gates"),
    pytest.param(lambda: _run_opts(cell_timeout_s=2.5), ParameterError, "cell_timeout_s must be a whole", id="jobs-run-timeout-fraction"),
    pytest.param(lambda: _run_opts(cell_timeout_s=float("nan")), ParameterError, "cell_timeout_s must be a whole", id="jobs-run-timeout-nan"),
    pytest.param(lambda: _run_opts(cell_timeout_s=float("inf")), ParameterError, "cell_timeout_s must be a whole", id="jobs-run-timeout-inf"),
    pytest.param(lambda: _run_opts(cell_timeout_s=0), ParameterError, "cell_timeout_s must be a whole", id="jobs-run-timeout-zero"),
    pytest.param(lambda: _run_opts(cell_timeout_s=-1), ParameterError, "cell_timeout_s must be a whole", id="jobs-run-timeout-negative"),
    pytest.param(lambda: _run_opts(cell_timeout_s=True), ParameterError, "cell_timeout_s must be a whole", id="jobs-run-timeout-bool"),
    pytest.param(lambda: _run_opts(kernel_name="no-such-kernel-42"), ParameterError, "no kernelspec named `no-such-kernel-42`", id="jobs-run-unknown-kernel"),
    pytest.param(lambda: _run_opts(force="yes"), ParameterError, "force must be True or False", id="jobs-run-force-not-bool"),
    pytest.param(lambda: _run_foreign("toy.html", "<html>thesis</html>"), ParameterError, "toy.html in the output folder was not written by prodkit", id="jobs-run-foreign-html"),
    pytest.param(lambda: _run_foreign("results.json", '{"config": 1}'), ParameterError, "results.json in the output folder was not written by prodkit", id="jobs-run-foreign-results-json"),
    pytest.param(lambda: _run_label("churned"), ParameterError, "no column 'churned' in the table data", id="jobs-run-missing-label-column"),
    pytest.param(lambda: _record_caveat("quality.auc", ""), ParameterError, "needs a reason", id="jobs-caveat-without-reason"),
    pytest.param(lambda: _skip("bad section", "no data"), ParameterError, "dotted words", id="jobs-skip-bad-section-name"),
    pytest.param(lambda: _skip_on_purpose("load", "turned off", "yes"), ParameterError, "on_purpose must be True or False", id="jobs-skip-on-purpose-not-bool"),
    pytest.param(lambda: _gates_default("1"), ParameterError, "default must be True or False", id="jobs-gates-default-not-bool"),
    pytest.param(lambda: _sha(_tmp_file("x.txt", "x").parent), FileFormatError, "no bundle.json", id="jobs-sha-folder-not-a-bundle"),
    pytest.param(lambda: _sha("/nonexistent/model.pt"), FileFormatError, "model artifact does not exist", id="jobs-sha-missing-artifact"),
    pytest.param(lambda: _locate(3), ParameterError, "a template must be a name or a notebook path", id="jobs-template-not-a-name"),
]
