"""Round-trip template notebooks (templates/*.ipynb) through a text form that keeps cell ids and tags.

    python tools/tpltext.py nb2txt templates/validation.ipynb > /tmp/validation.txt
    python tools/tpltext.py txt2nb /tmp/validation.txt templates/validation.ipynb

Each cell starts with a line `##CELL TYPE ID` (`TYPE` is code or markdown). A cell keeps its Jupyter id, so
editing one cell changes no other; write `new` as the ID of a cell you add and it gets a fresh random id.
A code cell whose first line is `#| tags: a, b` gets those cell tags (papermill needs the tag `parameters` on
the cell of parameter defaults); the line is not kept in the cell's source. Templates are saved without outputs.
"""
import json, re, secrets, sys
from pathlib import Path

_TAGS = "#| tags:"
_HEAD = re.compile(r"^##CELL (code|markdown) (\S+)\n", re.M)


def _source(c):
    return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]


def nb2txt(path):
    "The text form of the notebook at `path`."
    out = []
    for c in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]:
        tags = c.get("metadata", {}).get("tags", [])
        head = f"{_TAGS} {', '.join(tags)}\n" if tags and c["cell_type"] == "code" else ""
        out.append(f"##CELL {c['cell_type']} {c.get('id') or 'new'}\n{head}{_source(c)}\n")
    return "".join(out)


def _cell(kind, cid, src, old):
    "A cell of `kind` with `src`, keeping the metadata of the cell `cid` had (if it was of the same kind)."
    tags = None
    if kind == "code" and src.startswith(_TAGS):
        first, _, src = src.partition("\n")
        tags = [t.strip() for t in first[len(_TAGS):].split(",") if t.strip()]
    meta = dict(old["metadata"]) if old and old["cell_type"] == kind else {}
    meta.pop("tags", None)
    if tags: meta["tags"] = tags
    c = {"cell_type": kind, "id": cid, "metadata": meta, "source": src.splitlines(keepends=True)}
    if kind == "code": c.update(execution_count=None, outputs=[])
    return c


def txt2nb(txt_path, nb_path):
    "Write the cells of the text form at `txt_path` into the notebook at `nb_path` (created if missing)."
    nb_path = Path(nb_path)
    nb = (json.loads(nb_path.read_text(encoding="utf-8")) if nb_path.exists()
          else {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    old = {c.get("id"): c for c in nb["cells"]}
    parts, cells, seen = _HEAD.split(Path(txt_path).read_text(encoding="utf-8")), [], set()
    for kind, cid, src in zip(parts[1::3], parts[2::3], parts[3::3]):
        if cid == "new" or cid in seen: cid = secrets.token_hex(4)
        seen.add(cid)
        cells.append(_cell(kind, cid, src.rstrip("\n"), old.get(cid)))
    nb["cells"] = cells
    nb["metadata"]["language_info"] = {"name": "python"}
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "nb2txt": sys.stdout.write(nb2txt(*args))
    elif cmd == "txt2nb": txt2nb(*args)
    else: raise SystemExit(__doc__)
