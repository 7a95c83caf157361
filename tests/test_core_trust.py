"""core gives no silent wrong answers: atomic writes never follow planted symlinks, probabilities are checked and read
one way per model, schemas refuse typo'd numbers, nested and duplicated columns and time-zone mismatches, headlines are inert."""
import html, os, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodkit.core import (DataError, ModelError, Predictor, Report, Schema, SchemaError, TabularAdapter, atomic_write_bytes,
                          atomic_write_text, read_table)


# ---------------------------------------------------------------------------------------------- atomic writes
def test_a_symlink_planted_at_the_old_temporary_name_is_never_written_through(tmp_path):
    outside = tmp_path / "victim.txt"; outside.write_text("precious")
    out = tmp_path / "out"; out.mkdir()
    for pid in (os.getpid(), os.getpid() + 1):   # the old name was .NAME.PID.tmp: plant it for this process and a neighbour
        os.symlink(outside, out / f".results.json.{pid}.tmp")
    atomic_write_text(out / "results.json", '{"passed": true}')
    assert outside.read_text() == "precious"
    assert (out / "results.json").read_text() == '{"passed": true}' and not (out / "results.json").is_symlink()


def test_temporary_names_are_unpredictable_and_removed_on_failure(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace
    def failing_replace(src, dst):
        seen.append(Path(src).name); raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", failing_replace)
    for _ in range(2):
        with pytest.raises(OSError, match="No space left"):
            atomic_write_bytes(tmp_path / "r.json", b"x")
    monkeypatch.setattr(os, "replace", real_replace)
    assert len(set(seen)) == 2 and all(n.startswith(".r.json.") and n.endswith(".tmp") for n in seen), seen
    assert f".r.json.{os.getpid()}.tmp" not in seen   # not the old predictable name
    assert list(tmp_path.iterdir()) == []   # no temporary file left, no half-written report


def test_an_existing_file_is_replaced_in_one_step(tmp_path):
    p = tmp_path / "r.json"; p.write_text("old")
    inode = p.stat().st_ino
    atomic_write_text(p, "new")
    assert p.read_text() == "new" and p.stat().st_ino != inode


# ---------------------------------------------------------------------------------------------- probabilities
def _first_column(x): return x[:, :1]


def test_auto_output_is_decided_once_so_a_row_scores_the_same_in_any_batch():
    A, AB = np.array([[0.5]]), np.array([[0.5], [3.0]])
    # before: A alone scored 0.50 (read as a probability), next to B 0.62 (read as a logit)
    p = Predictor(_first_column)
    together = p.predict_proba(AB)[0, 1]
    alone = p.predict_proba(A)[0, 1]
    assert together == pytest.approx(1 / (1 + np.exp(-0.5))) and alone == together and p.output_ == "logits"
    q = Predictor(_first_column)
    assert q.predict_proba(A)[0, 1] == 0.5 and q.output_ == "proba"
    with pytest.raises(ModelError, match="first call"):
        q.predict_proba(AB)   # never silently 0.62 for the row that scored 0.50
    assert q.predict_proba(A)[0, 1] == 0.5


def test_declared_probabilities_are_checked_row_by_row():
    p = Predictor(lambda x: x[:, :3], output="proba")
    ok = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(p.predict_proba(ok), ok.astype(np.float32))
    for bad, words in ((np.array([[0.2, 0.3, 0.5], [0.5, 0.6, -0.1]]), "row 1 (a value outside [0, 1])"),
                       (np.array([[0.9, 0.9, 0.9]]), "row 0 (a sum of 2.7, not 1)")):
        with pytest.raises(ModelError, match=r"use|logits") as ei:
            p.predict_proba(bad)
        assert words in str(ei.value) and "output='logits'" in ei.value.fix
    with pytest.raises(ModelError, match="row 0"):
        Predictor(lambda x: x[:, :1], output="proba").predict_proba(np.array([[1.7]]))


# ---------------------------------------------------------------------------------------------- schemas
def test_a_numeric_column_with_one_typo_is_not_silently_categorical():
    vals = [f"{12 + (i % 40) / 10:.1f}" for i in range(499)] + ["1O.0"]
    df = pd.DataFrame({"price": vals, "plan": ["a", "b"] * 250})
    with pytest.raises(SchemaError) as ei:
        Schema.infer(df)
    e = ei.value
    assert "column 'price' looks numeric but 1 of 500 values are not numbers, e.g. ['1O.0']" in str(e)
    assert e.n_invalid == 1 and e.problems[0].column == "price" and "pd.to_numeric" in e.fix and "categorical=['price']" in e.fix
    with pytest.raises(SchemaError, match="price"):
        TabularAdapter().fit(df)
    assert Schema.infer(df, categorical=["price"])["price"].kind == "categorical"
    fixed = df.assign(price=pd.to_numeric(df["price"], errors="coerce"))
    assert Schema.infer(fixed)["price"].kind == "numeric"


def test_text_that_is_mostly_not_numbers_stays_categorical():
    df = pd.DataFrame({"size": ["1", "2", "3", "XL", "L"] * 20})
    assert Schema.infer(df)["size"].kind == "categorical"


def test_time_zone_awareness_must_match():
    t = pd.date_range("2024-03-01", periods=4, freq="D")
    aware, naive = pd.DataFrame({"t": t.tz_localize("UTC"), "x": 1.0}), pd.DataFrame({"t": t, "x": 1.0})
    with pytest.raises(SchemaError, match="should be tz-aware") as ei:
        Schema.infer(aware).validate(naive)
    assert ei.value.problems[0].problem == "wrong_type" and "tz_localize('UTC')" in ei.value.fix
    with pytest.raises(SchemaError, match="should be tz-naive"):
        Schema.infer(naive).validate(aware)
    Schema.infer(aware).validate(aware.assign(t=aware.t.dt.tz_convert("Asia/Tokyo")))


def test_duplicated_and_nested_columns_are_named_not_crashes(tmp_path):
    dup = pd.DataFrame([[1.0, 2.0, 3.0]] * 4, columns=["a", "b", "a"])
    for call in (lambda: read_table(dup), lambda: Schema.infer(dup), lambda: TabularAdapter().fit(dup)):
        with pytest.raises(DataError, match=r"duplicated column names: \['a'\]"):
            call()
    p = tmp_path / "n.parquet"
    pd.DataFrame({"x": np.arange(30.0), "tags": [["a"], ["b", "c"]] * 15, "s": [{"k": 1}] * 30}).to_parquet(p)
    with pytest.raises(SchemaError, match="column 'tags' of the training data holds nested values"):
        Schema.infer(p)
    sch = Schema.infer(p, exclude=["tags", "s"])
    with pytest.raises(SchemaError, match="column 'x' of the data holds nested values"):
        sch.validate(pd.DataFrame({"x": [[1.0]] * 3}))


def test_an_all_missing_column_is_a_warning_not_a_crash():
    df = pd.DataFrame({"x": np.arange(20.0), "empty": np.nan, "none": pd.Series([None] * 20, dtype=object)})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ad = TabularAdapter().fit(df)
    assert any("['empty', 'none']" in str(x.message) and "no values" in str(x.message) for x in w), [str(x.message) for x in w]
    assert ad.transform(df).shape == (20, 2)


# ---------------------------------------------------------------------------------------------- headlines
HOSTILE = ["<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "<script>alert(1)</script>", "![i](http://e/x.png)"]


@pytest.mark.parametrize("name", HOSTILE)
def test_headline_html_is_inert_in_html_and_markdown(name):
    from dataclasses import dataclass
    @dataclass(frozen=True)
    class Named(Report):
        n: str = ""
        def headline(self): return f"feature {self.n} drifted"
    r = Named(n=name)
    h = r.headline_html()
    assert not any(c in h for c in "<>[]()!") and "javascript:" not in h, h
    assert html.unescape(h) == f"feature {name} drifted"
    assert "<img" not in r._repr_html_() and "<script>" not in r._repr_html_()
    import mistune   # the Markdown renderer nbconvert uses for HTML reports, raw HTML allowed: no link, image or tag survives
    rendered = mistune.html(f"**{h}**")
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered, rendered
