"""Cell statistics of the module notebooks (nbs/[0-9]*.ipynb, or those named) and the code they generate, as issue 14 measures them.

    python tools/nbstats.py            # print the table: one row per module notebook, then the total
    python tools/nbstats.py --check    # also exit 1 when a target is not met (each failure on its own line)
    python tools/nbstats.py --nbs DIR --lib DIR   # other folders (default: nbs/ and prodkit/ of this repository)
    python tools/nbstats.py nbs/20_drift.ipynb --check   # only the notebooks named (each may be checked alone)

Per notebook: export cells (count, median and max lines), lines of inline example and test code per exported
line, code cells that keep an output, and in the module it generates (`prodkit/<default_exp>.py`) the
statements joined by `;` and the share of lines over 120 characters.

A cell's lines are its source lines without `#|` directives and blank lines. An export cell has an `export`,
`exports` or `exporti` directive. Example and test lines are the lines of the other code cells, leaving out
imports, `show_doc(...)` and `nbdev_export()` calls and the `default_exp` cell.

Targets (`--check`): median export cell at most 15 lines, none over 60, example and test lines at least 0.5
per exported line (over all module notebooks), and every module notebook keeps some outputs.
"""
import argparse, io, json, re, statistics, sys, tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MEDIAN, MAX_CELL, MIN_RATIO, LONG = 15, 60, 0.5, 120
_EXPORT = re.compile(r"^\s*#\|\s*export[si]?(\s+\S.*)?\s*$")
_NOT_EXAMPLE = re.compile(r"^\s*(import\s|from\s+\S+\s+import\s|show_doc\(|nbdev_export\(|nbdev\.nbdev_export\()")


def _lines(src):
    "The lines of a cell's source that count: no `#|` directives, no blank lines."
    return [l for l in src.splitlines() if l.strip() and not l.lstrip().startswith("#|")]


def _directives(src):
    return [l for l in src.splitlines() if l.lstrip().startswith("#|")]


def _module(cells):
    "The module name of `#| default_exp NAME`, or None."
    for c in cells:
        for d in _directives(c["source"]):
            m = re.match(r"^\s*#\|\s*default_exp\s+(\S+)", d)
            if m: return m.group(1)
    return None


def code_stats(path):
    "Statements joined by `;` (tokens, so strings and comments do not count), total lines and lines over 120 characters of a .py file."
    text = Path(path).read_text(encoding="utf-8")
    semis = sum(1 for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.OP and t.string == ";")
    lines = text.splitlines()
    return {"semicolons": semis, "lines": len(lines), "long_lines": sum(len(l) > LONG for l in lines)}


def notebook_stats(path, lib=None):
    "Cell statistics of one notebook (and of the module it generates, when `lib` holds it)."
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = [dict(c, source="".join(c["source"]) if isinstance(c["source"], list) else c["source"])
             for c in nb["cells"] if c["cell_type"] == "code"]
    export, example = [], 0
    for c in cells:
        if any(_EXPORT.match(d) for d in _directives(c["source"])): export.append(len(_lines(c["source"])))
        elif not any("default_exp" in d for d in _directives(c["source"])):
            example += sum(not _NOT_EXAMPLE.match(l) for l in _lines(c["source"]))
    mod = _module(cells)
    py = Path(lib) / (mod.replace(".", "/") + ".py") if lib and mod else None
    code = code_stats(py) if py and py.exists() else {"semicolons": 0, "lines": 0, "long_lines": 0}
    return {"notebook": Path(path).name, "module": mod, "export_cells": len(export), "export_lines": sum(export),
            "cell_lines": export, "median": statistics.median(export) if export else 0, "max": max(export, default=0),
            "example_lines": example, "ratio": example / sum(export) if export else 0.0,
            "code_cells": len(cells), "with_outputs": sum(bool(c.get("outputs")) for c in cells), **code}


def stats(nbs=ROOT / "nbs", lib=ROOT / "prodkit", paths=None):
    "Statistics of the module notebooks `paths` (default: every one in `nbs`, names starting with a digit) and their total."
    if paths:
        paths = [Path(p) for p in paths]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing: raise SystemExit(f"nbstats: no such notebook: {', '.join(missing)}")
    rows = [notebook_stats(p, lib) for p in (paths or sorted(Path(nbs).glob("[0-9]*.ipynb")))]
    allc = [n for r in rows for n in r["cell_lines"]]
    total = {"notebook": "total", "module": None, "export_cells": len(allc), "export_lines": sum(allc), "cell_lines": allc,
             "median": statistics.median(allc) if allc else 0, "max": max(allc, default=0),
             "example_lines": sum(r["example_lines"] for r in rows),
             "code_cells": sum(r["code_cells"] for r in rows), "with_outputs": sum(r["with_outputs"] for r in rows)}
    total["ratio"] = total["example_lines"] / total["export_lines"] if allc else 0.0
    if paths:      # only the modules of the notebooks named
        pys = [Path(lib) / (r["module"].replace(".", "/") + ".py") for r in rows if r["module"]]
        pys = [p for p in pys if p.exists()]
    else: pys = [p for p in sorted(Path(lib).glob("*.py")) if not p.name.startswith("_")] if Path(lib).is_dir() else []
    code = [code_stats(p) for p in pys]
    total.update({k: sum(c[k] for c in code) for k in ("semicolons", "lines", "long_lines")})
    return rows, total


def failures(rows, total):
    "One sentence per target that is not met (an empty list when all are)."
    if not rows: return ["no module notebook (nbs/[0-9]*.ipynb) found"]
    out = []
    if total["export_cells"] == 0: out.append("no export cell in any module notebook")
    if total["median"] > MAX_MEDIAN: out.append(f"median export cell is {total['median']:g} lines (target: at most {MAX_MEDIAN})")
    for r in rows:
        big = [n for n in r["cell_lines"] if n > MAX_CELL]
        if big: out.append(f"{r['notebook']}: {len(big)} export cell(s) over {MAX_CELL} lines (longest {max(big)})")
    if total["ratio"] < MIN_RATIO:
        out.append(f"example and test lines per exported line is {total['ratio']:.2f} (target: at least {MIN_RATIO})")
    for r in rows:
        if r["with_outputs"] == 0: out.append(f"{r['notebook']}: no code cell keeps an output")
    return out


def table(rows, total):
    "The statistics as a text table."
    head = f"{'notebook':<22} {'export':>6} {'median':>6} {'max':>4} {'ex+test/exp':>11} {'outputs':>9} {'`;`':>5} {'>120':>6}"
    def line(r):
        share = f"{100 * r['long_lines'] / r['lines']:.1f}%" if r["lines"] else "-"
        return (f"{r['notebook']:<22} {r['export_cells']:>6} {r['median']:>6g} {r['max']:>4} {r['ratio']:>11.2f} "
                f"{str(r['with_outputs']) + '/' + str(r['code_cells']):>9} {r['semicolons']:>5} {share:>6}")
    return "\n".join([head, *map(line, rows), line(total)])


def main(argv=None):
    ap = argparse.ArgumentParser(description="Cell statistics of the module notebooks (issue 14's targets).")
    ap.add_argument("notebooks", nargs="*", help="module notebooks to measure (default: every nbs/[0-9]*.ipynb)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    ap.add_argument("--nbs", default=str(ROOT / "nbs"), help="folder of the notebooks")
    ap.add_argument("--lib", default=str(ROOT / "prodkit"), help="folder of the generated package")
    a = ap.parse_args(argv)
    rows, total = stats(a.nbs, a.lib, a.notebooks)
    print(table(rows, total))
    if not a.check: return 0
    bad = failures(rows, total)
    for b in bad: print(f"FAILED: {b}", file=sys.stderr)
    if not bad: print("all targets met")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
