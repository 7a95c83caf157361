"""Shared test configuration: keep Jupyter, IPython and matplotlib out of the home folder."""
import os, tempfile
from pathlib import Path

_scratch = Path(os.environ.get("PRODKIT_TEST_HOME") or tempfile.mkdtemp(prefix="prodkit-test-home-"))
for var, sub in [("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"), ("JUPYTER_CONFIG_DIR", "jupyter-config"),
                 ("JUPYTER_DATA_DIR", "jupyter-data"), ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")]:
    os.environ.setdefault(var, str(_scratch / sub))
os.environ.setdefault("MPLBACKEND", "Agg")
