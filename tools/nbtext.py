"""Round-trip nbdev notebooks through a plain-text form that is easy to edit and review.

    python tools/nbtext.py nb2txt nbs/00_core.ipynb > /tmp/00_core.txt   # notebook -> text
    python tools/nbtext.py txt2nb /tmp/00_core.txt nbs/00_core.ipynb      # text -> notebook

The text form is a sequence of cells, each opened by a marker line `# %% id=ab12cd34` (code) or
`# %% [md] id=ab12cd34` (markdown) that carries the cell's Jupyter id; the lines after it are the cell's
source: verbatim for code, each behind `# ` for markdown (so the text form is itself valid Python).
Ids are kept as they are, so inserting, moving or deleting a cell leaves every other cell's id (and the
`#| export` markers nbdev writes into `prodkit/`) unchanged; a cell written without an id (`# %%` or
`# %% [md]`) gets a fresh random one. Outputs are dropped from the text; `txt2nb` keeps the outputs of an
existing notebook's code cells whose source did not change (found by id, else by source), so a notebook
saved with its outputs keeps them.
"""
import json, re, secrets, sys
from pathlib import Path

_KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
_MARKER = re.compile(r"^# %%(?P<md> \[md\])?(?: id=(?P<id>\S*))?\s*$")
_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")     # nbformat 4.5's cell id


def _source(c):
    return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]


def nb2txt(path):
    "The text form of the notebook at `path`: one marker line with the cell's id, then its source."
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for c in nb["cells"]:
        src, cid = _source(c), c.get("id")
        tail = f" id={cid}" if cid else ""
        if c["cell_type"] == "markdown":
            out.append(f"# %% [md]{tail}")
            out.append("\n".join(("# " + l).rstrip() for l in src.split("\n")))
        else:
            out.append(f"# %%{tail}")
            out.append(src)
    return "\n".join(out) + "\n"


def _split(text):
    "Cells of the text form: type, id (None when the marker has none) and source lines."
    cells, cur = [], None
    for n, line in enumerate(text.splitlines(), 1):
        m = _MARKER.match(line)
        if m:
            cid = m.group("id")
            if cid is not None and not _ID.match(cid):
                raise SystemExit(f"line {n}: cell id {cid!r} is not a Jupyter cell id (1 to 64 letters, digits, '-' or '_')")
            cur = {"type": "markdown" if m.group("md") else "code", "id": cid, "lines": []}
            cells.append(cur)
        elif cur is None:
            if line.strip(): raise SystemExit(f"text before the first cell marker: {line!r}")
        else:
            cur["lines"].append(line)
    seen = {}
    for c in cells:
        if c["id"] is not None:
            if c["id"] in seen: raise SystemExit(f"cell id {c['id']!r} appears twice: give one of the cells a new id or none")
            seen[c["id"]] = True
        if c["type"] == "markdown":
            c["lines"] = [l[2:] if l.startswith("# ") else l[1:] if l.startswith("#") else l for l in c["lines"]]
        while c["lines"] and not c["lines"][-1].strip(): c["lines"].pop()
    return cells


def _fresh_id(taken):
    "A random 8-hex id not in `taken` (added to it)."
    while True:
        cid = secrets.token_hex(4)
        if cid not in taken: taken.add(cid); return cid


def txt2nb(txt_path, nb_path):
    "Write the notebook of the text form at `txt_path` to `nb_path`, keeping ids and the outputs of unchanged code cells."
    nb_path = Path(nb_path)
    by_id, by_src, meta = {}, {}, {"kernelspec": _KERNEL, "language_info": {"name": "python"}}
    if nb_path.exists():
        old = json.loads(nb_path.read_text(encoding="utf-8"))
        meta = old.get("metadata") or meta
        for c in old["cells"]:
            if c["cell_type"] == "code":
                kept = (_source(c), c.get("outputs", []), c.get("execution_count"))
                if c.get("id"): by_id[c["id"]] = kept
                by_src.setdefault(kept[0], kept)
    parsed = _split(Path(txt_path).read_text(encoding="utf-8"))
    taken = {c["id"] for c in parsed if c["id"]}
    cells = []
    for c in parsed:
        src = "\n".join(c["lines"])
        cid = c["id"] or _fresh_id(taken)
        lines = [l + "\n" for l in src.split("\n")]
        if lines: lines[-1] = lines[-1][:-1]
        cell = {"cell_type": c["type"], "id": cid, "metadata": {}, "source": lines}
        if c["type"] == "code":
            hit = by_id.get(cid)
            _, outs, n = hit if hit and hit[0] == src else by_src.get(src, (src, [], None))
            cell.update(execution_count=n if outs else None, outputs=outs)
        cells.append(cell)
    nb = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    tmp = nb_path.with_name(nb_path.name + ".tmp")
    tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(nb_path)     # the notebook is replaced in one step


if __name__ == "__main__":
    cmd, *args = sys.argv[1:] or [""]
    if cmd == "nb2txt": sys.stdout.write(nb2txt(*args))
    elif cmd == "txt2nb": txt2nb(*args)
    else: raise SystemExit(__doc__)
