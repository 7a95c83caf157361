"""Bad input everywhere: every `tests/cases_bad_input_*.py` contributes `CASES` (one mistake each); each must raise
the exact `ProdkitError` subclass named, with a message naming the problem and the fix. CLI cases must exit with
code 2 and a one-line message; jobs cases (a dying kernel, a cell over its timeout, an interrupted run) must end with
a clear exit code and leave no report that looks complete."""
import importlib.util
from pathlib import Path

import pytest

from prodkit.core import ProdkitError

HERE = Path(__file__).parent


def _collect():
    cases = []
    for f in sorted(HERE.glob("cases_bad_input_*.py")):
        spec = importlib.util.spec_from_file_location(f"_bad_input_{f.stem}", f)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cases += [c if isinstance(c, type(pytest.param(None))) else pytest.param(*c) for c in mod.CASES]
    return cases


CASES = _collect()


@pytest.mark.parametrize("fn, error, words", CASES)
def test_bad_input_raises_the_specific_error(fn, error, words):
    with pytest.raises(ProdkitError) as ei:
        fn()
    e = ei.value
    assert type(e) is error, f"expected {error.__name__}, got {type(e).__name__}: {e}"
    assert words.lower() in str(e).lower(), f"{words!r} not in message: {e}"


@pytest.mark.parametrize("fn, error, words", CASES)
def test_bad_input_message_says_the_fix(fn, error, words):
    with pytest.raises(ProdkitError) as ei:
        fn()
    assert ei.value.fix and "Fix:" in str(ei.value), f"no fix in: {ei.value}"


def test_enough_distinct_cases():
    ids = [c.id for c in CASES]
    assert all(ids), "every case needs an id"
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(ids) >= 40, len(ids)
    assert len({c.values[0] for c in CASES}) == len(CASES), "each case must have its own callable"


def test_bad_monitor_arguments_leave_no_file(tmp_path):
    from prodkit.monitor import Monitor
    p = tmp_path / "m.sqlite"
    for kw in ({"sample_rate": 0}, {"sample_rate": 2.0}, {"batch_size": 0}, {"synchronous": "OFF"}, {"flush_interval_s": -1}):
        with pytest.raises(ProdkitError):
            Monitor(lambda d: [[0.5, 0.5]] * len(d), p, version="v", **kw)
        assert not p.exists() and list(tmp_path.iterdir()) == []


def test_junk_store_is_left_untouched(tmp_path):
    from prodkit.monitor import Monitor
    p = tmp_path / "m.sqlite"
    junk = b"not a database" * 100
    p.write_bytes(junk)
    with pytest.raises(ProdkitError):
        Monitor(lambda d: [[0.5, 0.5]] * len(d), p, version="v")
    assert p.read_bytes() == junk
