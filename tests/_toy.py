"""A tiny template used by the job and CLI tests (built with nbformat, so tests need no data files)."""
import nbformat

PARAMS = ("n = 3  # int: how many\n"
          "scale = 1.0  # float: a multiplier\n"
          "fail = False  # bool: raise in the last cell\n"
          "sleep_s = 0.0  # float: sleep this long in the middle cell\n"
          "gates = 'toy.n >= 3'  # str: default gates")


def toy_template(path, *, params=PARAMS):
    "Write the toy template to `path`: records numbers and the kernel's python, draws a figure, can sleep or raise."
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Toy job\n\nA section heading that the verdict must come before."),
        nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import sys, time\nimport numpy as np\nfrom prodkit.jobs import record\n"
                                  "record('toy', {'n': n, 'scaled': n * scale, 'python': sys.executable, "
                                  "'draw': float(np.random.default_rng(n).random())})"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1], [0, n]); plt.title('toy figure'); plt.show()"),
        nbformat.v4.new_code_cell("time.sleep(sleep_s)\nSECRET_SOURCE_MARKER = 1"),
        nbformat.v4.new_code_cell("if fail: raise ValueError('asked to fail')\nrecord('toy.done', True)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path
