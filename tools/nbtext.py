"""Round-trip nbdev notebooks through a plain-text form that is easy to edit and review.

    python tools/nbtext.py nb2txt nbs/00_core.ipynb > /tmp/00_core.txt   # notebook -> text
    python tools/nbtext.py txt2nb /tmp/00_core.txt nbs/00_core.ipynb      # text -> notebook

The text form is a sequence of cells, each opened by a line `# %%` (code) or `# %% [md]` (markdown);
the lines after it are the cell's source: verbatim for code, each behind `# ` for markdown (so the
text form is itself valid Python). Cell ids are derived from the cell's position so
that regenerating a notebook does not churn the ids nbdev writes into `prodkit/`. Outputs are dropped
(notebooks are saved cleaned), except that `txt2nb` keeps the outputs of an existing notebook's cells
whose source did not change (used for `index.ipynb`, whose outputs are shown in the README).
"""
import hashlib, json, sys
from pathlib import Path

_KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def nb2txt(path):
    nb = json.loads(Path(path).read_text())
    out = []
    for c in nb["cells"]:
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        if c["cell_type"] == "markdown":
            out.append("# %% [md]")
            out.append("\n".join(("# " + l).rstrip() for l in src.split("\n")))
        else:
            out.append("# %%")
            out.append(src)
    return "\n".join(out) + "\n"


def _split(text):
    cells, cur = [], None
    for line in text.splitlines():
        if line in ("# %%", "# %% [md]"):
            cur = {"type": "markdown" if line.endswith("[md]") else "code", "lines": []}
            cells.append(cur)
        elif cur is None:
            if line.strip(): raise SystemExit(f"text before the first cell marker: {line!r}")
        else:
            cur["lines"].append(line)
    for c in cells:
        if c["type"] == "markdown":
            c["lines"] = [l[2:] if l.startswith("# ") else l[1:] if l.startswith("#") else l for l in c["lines"]]
        while c["lines"] and not c["lines"][-1].strip(): c["lines"].pop()
    return cells


def txt2nb(txt_path, nb_path):
    nb_path = Path(nb_path)
    old = {}
    if nb_path.exists():
        for c in json.loads(nb_path.read_text())["cells"]:
            if c["cell_type"] == "code":
                src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                old[src] = (c.get("outputs", []), c.get("execution_count"))
    cells = []
    for i, c in enumerate(_split(Path(txt_path).read_text())):
        src = "\n".join(c["lines"])
        cid = hashlib.sha1(f"{nb_path.stem}:{i}".encode()).hexdigest()[:8]
        lines = [l + "\n" for l in src.split("\n")]
        if lines: lines[-1] = lines[-1][:-1]
        cell = {"cell_type": c["type"], "id": cid, "metadata": {}, "source": lines}
        if c["type"] == "code":
            outs, n = old.get(src, ([], None))
            cell.update(execution_count=n if outs else None, outputs=outs)
        cells.append(cell)
    nb = {"cells": cells, "metadata": {"kernelspec": _KERNEL, "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "nb2txt": sys.stdout.write(nb2txt(*args))
    elif cmd == "txt2nb": txt2nb(*args)
    else: raise SystemExit(__doc__)
