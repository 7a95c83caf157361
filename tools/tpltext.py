"""Round-trip template notebooks (templates/*.ipynb) through the text form of tools/nbtext.py, keeping cell tags.

    python tools/tpltext.py nb2txt templates/validation.ipynb > /tmp/validation.txt
    python tools/tpltext.py txt2nb /tmp/validation.txt templates/validation.ipynb

Same text form as nbtext.py, plus: a code cell whose first line is `#| tags: a, b` gets those cell tags
(papermill needs the tag `parameters` on the cell of parameter defaults). The line is not kept in the
cell's source. Templates are saved without outputs.
"""
import json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import nbtext  # noqa: E402

_TAGS = "#| tags:"


def nb2txt(path):
    nb = json.loads(Path(path).read_text())
    for c in nb["cells"]:
        tags = c.get("metadata", {}).get("tags", [])
        if tags and c["cell_type"] == "code":
            src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            c["source"] = f"{_TAGS} {', '.join(tags)}\n" + src
    tmp = Path(path).with_suffix(".tpltext.tmp")
    try:
        tmp.write_text(json.dumps(nb))
        return nbtext.nb2txt(tmp)
    finally:
        tmp.unlink(missing_ok=True)


def txt2nb(txt_path, nb_path):
    nbtext.txt2nb(txt_path, nb_path)
    nb_path = Path(nb_path)
    nb = json.loads(nb_path.read_text())
    for c in nb["cells"]:
        c.pop("outputs", None) if c["cell_type"] != "code" else c.update(outputs=[], execution_count=None)
        if c["cell_type"] == "code" and c["source"] and c["source"][0].startswith(_TAGS):
            first = c["source"].pop(0)
            c["metadata"]["tags"] = [t.strip() for t in first[len(_TAGS):].split(",") if t.strip()]
    nb["metadata"]["language_info"] = {"name": "python"}
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "nb2txt": sys.stdout.write(nb2txt(*args))
    elif cmd == "txt2nb": txt2nb(*args)
    else: raise SystemExit(__doc__)
