"""`prodkit export` end to end in a subprocess: a demo bundle becomes a checked artifact, and a refused export writes nothing."""
import json, subprocess, sys, zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from prodkit.demo import write_demo
from prodkit.export import read_manifest


def _prodkit(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "prodkit.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_paths(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("demo"), seed=0)


def test_export_bundle_from_the_command_line(demo_paths, tmp_path):
    out, summary = tmp_path / "churn.pt", tmp_path / "summary.json"
    r = _prodkit("export", "--model", demo_paths["bundle"], "--out", out, "--data", demo_paths["current"],
                 "--repeats", 5, "--json", summary)
    assert r.returncode == 0, r.stderr
    assert "export passed" in r.stdout
    s = json.loads(summary.read_text())
    assert s["passed"] is True and s["max_abs_err"] <= 1e-5 and s["size_bytes"] == out.stat().st_size
    m = read_manifest(out)
    assert m["method"] in ("script", "trace") and zipfile.is_zipfile(out)


def test_tensor_model_bundle_and_a_missing_bundle(tmp_path):
    from prodkit.versioning import save_bundle
    bundle = save_bundle(tmp_path / "b", nn.Linear(3, 2), None, output="logits", example=torch.zeros(2, 3))
    r = _prodkit("export", "--model", bundle, "--out", tmp_path / "x.pt", "--method", "trace", "--input-shape", "3", "--repeats", 3)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x.pt").exists() and "export passed" in r.stdout
    r = _prodkit("export", "--model", tmp_path / "missing", "--out", tmp_path / "y.pt")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "missing" in r.stderr
    assert not (tmp_path / "y.pt").exists()


def test_refused_export_exits_1_with_the_reasons(monkeypatch, capsys, tmp_path):
    import prodkit.export
    from prodkit.cli import main
    def refuse(*a, **k):
        raise prodkit.export.ExportError("no export method gave a faithful artifact",
                                         reasons={"script": "cannot script", "trace": "parity failed at batch 1"})
    monkeypatch.setattr(prodkit.export, "export_bundle", refuse)
    assert main(["export", "--model", str(tmp_path), "--out", str(tmp_path / "z.pt")]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "trace: parity failed at batch 1" in err and "script: cannot script" in err
    assert not (tmp_path / "z.pt").exists()


def test_export_leaves_files_it_did_not_write_untouched(demo_paths, tmp_path):
    "An existing --out or --json that prodkit did not write is refused (exit 2, one line) and left as it was."
    thesis, config = tmp_path / "thesis.docx", tmp_path / "config.json"
    thesis.write_bytes(b"PK\x03\x04 chapter 1"); config.write_text('{"database": "prod"}')
    for args, option, path in ((["--out", thesis], "--out", thesis), (["--out", tmp_path / "m.pt", "--json", config], "--json", config)):
        r = _prodkit("export", "--model", demo_paths["bundle"], *args)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert lines[0].startswith(f"prodkit export: error: {option} {path} exists and prodkit did not write it") and "--force" in lines[0]
    assert thesis.read_bytes() == b"PK\x03\x04 chapter 1" and config.read_text() == '{"database": "prod"}'
    assert not (tmp_path / "m.pt").exists()


def test_export_of_a_model_other_than_the_validated_one_is_refused(demo_paths, tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"artifacts": {"model": {"path": "elsewhere", "sha256": "0" * 64}}}))
    r = _prodkit("export", "--model", demo_paths["bundle"], "--out", tmp_path / "m.pt", "--expect-results", results)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and f"not the expected {'0' * 64}" in lines[0], r.stderr
    assert not (tmp_path / "m.pt").exists()


def test_batch_sizes_reach_the_export_and_its_summary(demo_paths, tmp_path):
    "`--batch-sizes 1,8` times candidates and latency at batch 1 and 8: the summary has the batch-8 keys, not the default 256's."
    out, summary = tmp_path / "churn.pt", tmp_path / "summary.json"
    r = _prodkit("export", "--model", demo_paths["bundle"], "--out", out, "--data", demo_paths["current"],
                 "--repeats", 3, "--batch-sizes", "1,8", "--json", summary)
    assert r.returncode == 0, r.stderr
    s = json.loads(summary.read_text())
    assert s["exported_p50_ms_b8"] > 0 and s["eager_p50_ms"] > 0 and "exported_p50_ms_b256" not in s


def test_batch_sizes_are_parsed_and_bad_ones_refused(monkeypatch, capsys, tmp_path):
    import prodkit.export
    from prodkit.cli import main
    seen = {}
    def fake(*a, **k):
        seen.update(k)
        raise prodkit.export.ExportError("stop here", reasons={})
    monkeypatch.setattr(prodkit.export, "export_bundle", fake)
    assert main(["export", "--model", str(tmp_path), "--out", str(tmp_path / "z.pt"), "--batch-sizes", "1, 32"]) == 1
    assert seen["batch_sizes"] == (1, 32) and seen["repeats"] == 30
    with pytest.raises(SystemExit) as e:
        main(["export", "--model", str(tmp_path), "--out", str(tmp_path / "z.pt"), "--batch-sizes", "0,4"])
    assert e.value.code == 2 and "--batch-sizes must be distinct positive integers" in capsys.readouterr().err
