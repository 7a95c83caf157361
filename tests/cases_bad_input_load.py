"""Bad inputs to prodkit.load, collected by tests/test_bad_input.py: each case is one mistake a user makes,
with the error class and the words of the message that name it. Data is built inside each case."""
import pytest


def _ev(*args, **kw):
    from prodkit.load import evaluate_under_load
    kw.setdefault("progress", False)
    return evaluate_under_load(*args, **kw)


def _nothing(x): return x


def _bogus_scenario(): _ev(_nothing, [1], scenario="soak")
def _zero_qps(): _ev(_nothing, [1], scenario="server", qps=0)
def _nan_qps(): _ev(_nothing, [1], scenario="server", qps=float("nan"))
def _server_without_qps(): _ev(_nothing, [1], scenario="server")
def _qps_in_closed_loop(): _ev(_nothing, [1], scenario="single_stream", qps=100)
def _negative_duration(): _ev(_nothing, [1], duration_s=-1)
def _negative_timeout(): _ev(_nothing, [1], timeout_ms=-5)
def _percentile_100(): _ev(_nothing, [1], percentile=100)
def _empty_concurrency(): _ev(_nothing, [1], scenario="concurrency", concurrency=[])
def _zero_batch_size(): _ev(_nothing, [1], scenario="offline", batch_sizes=[8, 0])
def _zero_max_batch(): _ev(_nothing, [1], scenario="streaming", qps=10, max_batch_size=0)
def _empty_list(): _ev(_nothing, [])
def _empty_frame():
    import pandas as pd
    _ev(_nothing, pd.DataFrame({"a": []}))
def _dict_as_inputs(): _ev(_nothing, {"a": 1.0})
def _scalar_tensor():
    import torch
    _ev(_nothing, torch.tensor(3.0))
def _not_callable(): _ev(42, [1])
def _url_without_host(): _ev("http://", [1])
def _missing_model_file(): _ev("/nonexistent/dir/model.pt", [1])
def _corrupt_model_file():
    import tempfile, os
    d = tempfile.mkdtemp(); p = os.path.join(d, "model.pt")
    with open(p, "wb") as f: f.write(b"\x00 this is not a TorchScript archive")
    _ev(p, [1])
def _pickled_model_file():
    import tempfile, os, torch
    p = os.path.join(tempfile.mkdtemp(), "model.pt")
    torch.save(torch.nn.Linear(2, 1), p)
    _ev(p, [[1.0, 2.0]])
def _text_columns_for_module():
    import pandas as pd, torch
    _ev(torch.nn.Linear(2, 1), pd.DataFrame({"a": [1.0], "plan": ["basic"]}))
def _dict_rows_for_module():
    import torch
    _ev(torch.nn.Linear(2, 1), [{"a": 1.0, "b": 2.0}])
def _capacity_zero_slo():
    from prodkit.load import find_max_qps
    find_max_qps(_nothing, [1], slo_ms=0, progress=False)
def _capacity_failing_target():
    from prodkit.load import find_max_qps
    def broken(x): raise RuntimeError("down")
    find_max_qps(broken, [1], slo_ms=10, duration_s=0.1, progress=False)
def _bad_plot_kind():
    from prodkit.load import evaluate_under_load
    r = evaluate_under_load(_nothing, [1], duration_s=0.05, warmup_s=0, progress=False)
    r.plot(kind="histogram")


def _check_outputs_not_bool(): _ev(_nothing, [1], check_outputs="yes")
def _warmup_calls_closed_loop(): _ev(_nothing, [1], warmup_calls=100)
def _warmup_calls_negative(): _ev(_nothing, [1], scenario="server", qps=10, warmup_calls=-5)
def _capacity_nan_target():
    from prodkit.load import find_max_qps
    find_max_qps(lambda x: float("nan"), [0], slo_ms=10, progress=False)


def _cases():
    from prodkit.core import DataError, FileFormatError, ModelError, ParameterError
    P, D, F, M = ParameterError, DataError, FileFormatError, ModelError
    return [
        pytest.param(_bogus_scenario, P, "`scenario` must be one of", id="load-bogus-scenario"),
        pytest.param(_zero_qps, P, "`qps` must be a number > 0", id="load-zero-qps"),
        pytest.param(_nan_qps, P, "`qps` must be a number > 0", id="load-nan-qps"),
        pytest.param(_server_without_qps, P, "scenario 'server' needs `qps`", id="load-server-without-qps"),
        pytest.param(_qps_in_closed_loop, P, "`qps` is only used by the 'server' and 'streaming'", id="load-qps-in-closed-loop"),
        pytest.param(_negative_duration, P, "`duration_s` must be a number > 0", id="load-negative-duration"),
        pytest.param(_negative_timeout, P, "`timeout_ms` must be a number > 0", id="load-negative-timeout"),
        pytest.param(_percentile_100, P, "`percentile` must be in (0, 100)", id="load-percentile-100"),
        pytest.param(_empty_concurrency, P, "`concurrency` is an empty list", id="load-empty-concurrency"),
        pytest.param(_zero_batch_size, P, "`batch_sizes` must be an integer > 0", id="load-zero-batch-size"),
        pytest.param(_zero_max_batch, P, "`max_batch_size` must be an integer > 0", id="load-zero-max-batch"),
        pytest.param(_empty_list, D, "inputs is empty", id="load-empty-inputs"),
        pytest.param(_empty_frame, D, "inputs is an empty frame", id="load-empty-frame"),
        pytest.param(_dict_as_inputs, D, "inputs must be a sequence of requests or a DataFrame", id="load-dict-inputs"),
        pytest.param(_scalar_tensor, D, "inputs is empty or a scalar", id="load-scalar-tensor"),
        pytest.param(_not_callable, P, "the target cannot be called", id="load-target-not-callable"),
        pytest.param(_url_without_host, P, "the target URL has no host", id="load-url-without-host"),
        pytest.param(_missing_model_file, F, "model file does not exist", id="load-missing-model-file"),
        pytest.param(_corrupt_model_file, F, "TorchScript", id="load-corrupt-model-file"),
        pytest.param(_pickled_model_file, F, "never unpickles", id="load-pickled-model-file"),
        pytest.param(_text_columns_for_module, D, "non-numeric columns ['plan']", id="load-text-columns-for-module"),
        pytest.param(_dict_rows_for_module, D, "inputs for an nn.Module must be tensors or numeric arrays", id="load-dict-rows-for-module"),
        pytest.param(_capacity_zero_slo, P, "`slo_ms` must be a number > 0", id="load-capacity-zero-slo"),
        pytest.param(_capacity_failing_target, M, "fails every request", id="load-capacity-failing-target"),
        pytest.param(_bad_plot_kind, P, "`kind` must be one of", id="load-bad-plot-kind"),
        pytest.param(_check_outputs_not_bool, P, "`check_outputs` must be True or False", id="load-check-outputs-not-bool"),
        pytest.param(_capacity_nan_target, M, "fails every request", id="load-capacity-nan-target"),
        pytest.param(_warmup_calls_closed_loop, P, "warmup_s for the other scenarios", id="load-warmup-calls-closed-loop"),
        pytest.param(_warmup_calls_negative, P, "`warmup_calls` must be", id="load-warmup-calls-negative"),
    ]


CASES = _cases()
