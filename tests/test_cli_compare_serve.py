"""`prodkit compare` and `prodkit serve` through the console script, as a user runs them."""
import json, signal, subprocess, sys, time, urllib.request
from pathlib import Path

import numpy as np, pandas as pd, pytest, torch

from prodkit.core import TabularAdapter
from prodkit.serve import _free_port
from prodkit.versioning import save_bundle

_SCRIPT = Path(sys.executable).parent / "prodkit"
PRODKIT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "prodkit.cli"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    "A weak and a strong linear classifier on the same adapter, and 300 labelled rows."
    d = tmp_path_factory.mktemp("cli-compare"); g = np.random.default_rng(1)
    df = pd.DataFrame({"a": g.normal(size=300), "b": g.normal(size=300)})
    df["y"] = (df["a"] + df["b"] + g.normal(scale=0.5, size=300) > 0).astype(int)
    ad = TabularAdapter().fit(df[["a", "b"]])
    for name, w in (("weak", [2.0, 0.0]), ("strong", [2.0, 2.0])):
        lin = torch.nn.Linear(2, 1)
        with torch.no_grad(): lin.weight[:] = torch.tensor([w]); lin.bias.zero_()
        save_bundle(d / name, lin, ad, output="logits")
    df.to_parquet(d / "eval.parquet")
    return d


def test_help_lists_compare_and_serve():
    r = subprocess.run(PRODKIT + ["--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "compare" in r.stdout and "serve" in r.stdout


@pytest.mark.parametrize("champion,challenger,code", [("weak", "strong", 0), ("strong", "weak", 1)])
def test_compare_exits_0_to_promote_and_1_not_to(pair, tmp_path, champion, challenger, code):
    r = subprocess.run(PRODKIT + ["compare", "--champion", str(pair / champion), "--challenger", str(pair / challenger),
                                  "--data", str(pair / "eval.parquet"), "--label", "y", "--margin", "0.01", "-p", "n_boot", "200",
                                  "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert r.returncode == code, r.stdout + r.stderr
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["results"]["compare.promote"] is (code == 0)


def test_compare_with_a_missing_label_is_exit_2(pair, tmp_path):
    r = subprocess.run(PRODKIT + ["compare", "--champion", str(pair / "weak"), "--challenger", str(pair / "strong"),
                                  "--data", str(pair / "eval.parquet"), "--label", "churned", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "churned" in r.stderr


def test_serve_through_the_prodkit_command_drains_and_exits_0_on_sigterm(pair):
    port = _free_port()
    p = subprocess.Popen(PRODKIT + ["serve", str(pair / "strong"), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url, end = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                    if r.status == 200: break
            except OSError: time.sleep(0.2)
        req = urllib.request.Request(url + "/predict", data=json.dumps({"a": 1.0, "b": 1.0}).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r: ans = json.loads(r.read())
        assert ans["predictions"][0]["prediction"] == 1 and ans["served_by"] == ["primary"]
    finally:
        p.send_signal(signal.SIGTERM)
        code = p.wait(60)
    assert code == 0, p.stderr.read()
