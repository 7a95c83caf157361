"""tools/nbtext.py keeps Jupyter's cell ids through the text form: inserting a cell renames no other cell."""
import json, re, subprocess, sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nbtext  # noqa: E402

IDS = ["0a1b2c3d", "deadbeef", "c0ffee00", "12345678"]


def _crafted(path):
    "Four cells with known ids; the third keeps an output."
    cells = [new_code_cell("#| default_exp toy"), new_markdown_cell("# Toy\n> a crafted notebook"),
             new_code_cell("#| export\ndef twice(x): return 2 * x"),
             new_code_cell("twice(2)", outputs=[new_output("execute_result", {"text/plain": "4"}, execution_count=1)])]
    for c, i in zip(cells, IDS): c.id = i
    nbformat.write(new_notebook(cells=cells), path)
    return path


def _ids(path): return [c["id"] for c in json.loads(Path(path).read_text())["cells"]]


def test_the_text_form_carries_each_id_on_its_marker(tmp_path):
    text = nbtext.nb2txt(_crafted(tmp_path / "toy.ipynb"))
    assert re.findall(r"^# %%.*$", text, re.M) == [f"# %% id={IDS[0]}", f"# %% [md] id={IDS[1]}", f"# %% id={IDS[2]}", f"# %% id={IDS[3]}"]


def test_round_trip_of_an_unchanged_notebook_keeps_ids_sources_and_outputs(tmp_path):
    nb = _crafted(tmp_path / "toy.ipynb"); before = json.loads(nb.read_text())
    (tmp_path / "toy.txt").write_text(nbtext.nb2txt(nb))
    nbtext.txt2nb(tmp_path / "toy.txt", nb)
    after = json.loads(nb.read_text())
    assert [c["id"] for c in after["cells"]] == IDS
    assert [c["source"] for c in after["cells"]] == [c["source"] for c in before["cells"]]
    assert after["cells"][3]["outputs"][0]["data"] == {"text/plain": ["4"]}
    nbformat.validate(nbformat.reads(nb.read_text(), as_version=4))


def test_inserting_a_cell_renames_no_other_cell(tmp_path):
    nb = _crafted(tmp_path / "toy.ipynb")
    text = nbtext.nb2txt(nb).replace(f"# %% id={IDS[2]}", f"# %%\ntest_eq = None\n# %% [md]\nA new sentence.\n# %% id={IDS[2]}")
    (tmp_path / "toy.txt").write_text(text)
    nbtext.txt2nb(tmp_path / "toy.txt", nb)
    ids = _ids(nb)
    assert len(ids) == 6 and [ids[i] for i in (0, 1, 4, 5)] == IDS           # every other id unchanged, in place
    new = ids[2:4]
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in new) and len(set(ids)) == 6
    cells = json.loads(nb.read_text())["cells"]
    assert cells[5]["outputs"][0]["data"] == {"text/plain": ["4"]}              # the unchanged cell after them keeps its output
    assert (cells[2]["cell_type"], cells[3]["cell_type"]) == ("code", "markdown")


def test_moving_and_editing_keep_ids_and_an_edited_cell_loses_its_stale_output(tmp_path):
    nb = _crafted(tmp_path / "toy.ipynb")
    blocks = re.split(r"(?m)^(?=# %%)", nbtext.nb2txt(nb))[1:]
    blocks[3] = blocks[3].replace("twice(2)", "twice(3)")
    (tmp_path / "toy.txt").write_text("".join([blocks[0], blocks[1], blocks[3], blocks[2]]))
    nbtext.txt2nb(tmp_path / "toy.txt", nb)
    cells = json.loads(nb.read_text())["cells"]
    assert [c["id"] for c in cells] == [IDS[0], IDS[1], IDS[3], IDS[2]]
    assert cells[2]["outputs"] == [] and cells[2]["execution_count"] is None    # '4' is no longer twice(3)


def test_two_cells_with_one_id_are_refused(tmp_path):
    (tmp_path / "dup.txt").write_text("# %% id=aaaa0000\n1\n# %% id=aaaa0000\n2\n")
    with pytest.raises(SystemExit, match="appears twice"):
        nbtext.txt2nb(tmp_path / "dup.txt", tmp_path / "dup.ipynb")
    assert not (tmp_path / "dup.ipynb").exists()


def test_the_command_line_round_trips(tmp_path):
    nb = _crafted(tmp_path / "toy.ipynb")
    run = lambda *a: subprocess.run([sys.executable, str(ROOT / "tools" / "nbtext.py"), *map(str, a)], capture_output=True, text=True, timeout=60)
    r = run("nb2txt", nb)
    assert r.returncode == 0 and f"# %% id={IDS[2]}" in r.stdout
    (tmp_path / "toy.txt").write_text(r.stdout)
    assert run("txt2nb", tmp_path / "toy.txt", tmp_path / "out.ipynb").returncode == 0
    assert _ids(tmp_path / "out.ipynb") == IDS
