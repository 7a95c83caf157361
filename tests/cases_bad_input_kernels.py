"""Bad input to prodkit.kernels (collected by tests/test_bad_input.py)."""
from pathlib import Path

import pytest

from prodkit.core import FileFormatError, ParameterError


def _unknown_template():
    from prodkit.kernels import template_imports
    template_imports("no-such-template-xyz")


def _unknown_kernelspec():
    from prodkit.kernels import start_kernel
    start_kernel(kernel_name="no-such-kernel-xyz")


def _not_a_started_kernel():
    from prodkit.jobs import run_notebook
    run_notebook("validation", {}, "/nonexistent/out", kernel="python3")


def _closed_kernel_taken():
    from prodkit.kernels import KernelStart
    KernelStart(None, Path("/nonexistent/kernel.log"), (), None).take()


CASES = [
    pytest.param(_unknown_template, FileFormatError, "template notebook does not exist", id="kernels-unknown-template"),
    pytest.param(_unknown_kernelspec, ParameterError, "no kernelspec named", id="kernels-unknown-kernelspec"),
    pytest.param(_not_a_started_kernel, ParameterError, "kernel must be a kernel started with", id="kernels-not-a-started-kernel"),
    pytest.param(_closed_kernel_taken, ParameterError, "a started kernel serves one job", id="kernels-closed-kernel-taken"),
]
