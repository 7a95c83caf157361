"""Render README.md from nbs/index.ipynb (its source) with nbconvert's markdown exporter; quarto is not needed.

    python tools/readme.py             # write README.md from nbs/index.ipynb (as saved)
    python tools/readme.py --execute   # first run index.ipynb and save its outputs, then write README.md
    python tools/readme.py --check     # exit 1 when README.md differs from the rendering

Cells starting with `#| hide` are left out, `#|` directive lines are dropped from code, and outputs are
shown as their plain text (a DataFrame as its text table), so the README reads well on any forge.
"""
import copy, sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
INDEX, README = ROOT / "nbs" / "index.ipynb", ROOT / "README.md"


def render(nb) -> str:
    from nbconvert import MarkdownExporter
    nb = copy.deepcopy(nb)
    cells = []
    for c in nb.cells:
        if c.cell_type == "code":
            if c.source.lstrip().startswith("#| hide") or c.source.lstrip().startswith("#|hide"): continue
            c.source = "\n".join(l for l in c.source.splitlines() if not l.lstrip().startswith("#|")).strip()
            outs = []
            for o in c.get("outputs", []):
                if o.output_type in ("execute_result", "display_data"):
                    if "text/plain" not in o.get("data", {}): continue
                    if o.data["text/plain"].startswith("<Figure size "): continue   # a figure has no text form worth showing
                    o.data = {"text/plain": o.data["text/plain"]}; o.metadata = {}
                outs.append(o)
            c.outputs = outs
        cells.append(c)
    nb.cells = cells
    body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    import re
    text = "\n".join(l.rstrip() for l in body.strip().splitlines())
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"


def execute(path=INDEX):
    "Run the notebook in this Python and save its outputs (execution counts and timings left out)."
    from nbclient import NotebookClient
    sys.path.insert(0, str(ROOT))
    from prodkit.jobs import _kernel_manager_class
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_manager_class=_kernel_manager_class(), resources={"metadata": {"path": str(path.parent)}}).execute()
    for i, c in enumerate(nb.cells):
        c.metadata.pop("execution", None)
        if c.cell_type == "code":
            c.execution_count = None
            for o in c.outputs:
                if "execution_count" in o: o.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


def main(argv):
    if "--execute" in argv: execute()
    text = render(nbformat.read(INDEX, as_version=4))
    if "--check" in argv:
        if not README.exists() or README.read_text(encoding="utf-8") != text:
            print("README.md is out of step with nbs/index.ipynb: run `python tools/readme.py`", file=sys.stderr)
            return 1
        return 0
    README.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
