"""Bad input to the `prodkit` command's own checks (prodkit.cli): each case one mistake, found before anything runs."""
import argparse

import pytest

from prodkit.core import FileFormatError, ParameterError


def _tmp(name, data=b""):
    import tempfile
    from pathlib import Path
    p = Path(tempfile.mkdtemp(prefix="prodkit-bad-cli-")) / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def _ns(**kw): return argparse.Namespace(**{"expect_sha256": None, "expect_results": None, "trust_model": False, **kw})


def _seconds(v):
    from prodkit.cli import _seconds
    return _seconds(v)


def _gates(v):
    from prodkit.cli import _checked_gates
    return _checked_gates(v)


def _digest(**kw):
    from prodkit.cli import _expected_digest
    return _expected_digest(_ns(**kw))


def _check_digest(path, expected):
    from prodkit.cli import _check_digest
    return _check_digest(path, expected)


def _refuse(path, option):
    from prodkit.cli import _is_prodkit_artifact, _is_prodkit_json, _refuse_foreign
    return _refuse_foreign(path, _is_prodkit_artifact if option == "--out" else _is_prodkit_json, option)


def _trust_on_toy():
    import sys
    from pathlib import Path
    from prodkit.cli import _job_params
    sys.path.insert(0, str(Path(__file__).parent))
    from _toy import toy_template
    return _job_params(toy_template(_tmp("toy.ipynb")), {}, _ns(trust_model=True))


CASES = [
    pytest.param(lambda: _seconds("2.5"), ParameterError, "--cell-timeout must be a whole number of seconds", id="cli-cell-timeout-fraction"),
    pytest.param(lambda: _seconds("nan"), ParameterError, "got 'nan'", id="cli-cell-timeout-nan"),
    pytest.param(lambda: _seconds("inf"), ParameterError, "got 'inf'", id="cli-cell-timeout-inf"),
    pytest.param(lambda: _seconds("0"), ParameterError, "from 1 to", id="cli-cell-timeout-zero"),
    pytest.param(lambda: _seconds("-1"), ParameterError, "got '-1'", id="cli-cell-timeout-negative"),
    pytest.param(lambda: _gates(""), ParameterError, "the gates text is empty", id="cli-gates-empty-text"),
    pytest.param(lambda: _gates(" ; "), ParameterError, "the gates text declares no gate", id="cli-gates-blank-list"),
    pytest.param(lambda: _gates(str(_tmp("gates.yaml", ""))), FileFormatError, "gates file declares no gate", id="cli-gates-empty-file"),
    pytest.param(lambda: _gates(str(_tmp("gates.yml", "# later\n"))), FileFormatError, "all comments", id="cli-gates-all-comments"),
    pytest.param(lambda: _gates(str(_tmp("gates.yaml", "gates:\n"))), FileFormatError, "`gates:` has no list", id="cli-gates-without-list"),
    pytest.param(lambda: _digest(expect_sha256="not-a-digest"), ParameterError, "64 hexadecimal digits", id="cli-expect-sha256-not-hex"),
    pytest.param(lambda: _digest(expect_results=str(_tmp("results.json", '{"results": {}}'))), FileFormatError,
                 "records no model digest", id="cli-expect-results-without-digest"),
    pytest.param(lambda: _digest(expect_results=str(_tmp("results.json", "{not json"))), FileFormatError,
                 "not valid JSON", id="cli-expect-results-corrupt"),
    pytest.param(lambda: _check_digest(_tmp("model.pt", b"other bytes"), "0" * 64), FileFormatError,
                 f"not the expected {'0' * 64}", id="cli-model-digest-mismatch"),
    pytest.param(lambda: _check_digest("/dev/zero", "0" * 64), FileFormatError, "not a regular file", id="cli-digest-of-a-device"),
    pytest.param(lambda: _refuse(_tmp("thesis.docx", b"PK\x03\x04 thesis"), "--out"), ParameterError,
                 "exists and prodkit did not write it", id="cli-export-out-foreign-file"),
    pytest.param(lambda: _refuse(_tmp("config.json", '{"db": 1}'), "--json"), ParameterError,
                 "refusing to replace it", id="cli-export-json-foreign-file"),
    pytest.param(_trust_on_toy, ParameterError, "declares no `trust_model` parameter", id="cli-trust-model-not-declared"),
]
