import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# "ci" is the default: small example counts keep the suite within CI's budget;
# "dev" digs deeper (FUNCGRAD_HYPOTHESIS_PROFILE=dev pytest).
settings.register_profile("ci", max_examples=8, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.filter_too_much,
                                                 HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.filter_too_much])
settings.load_profile(os.environ.get("FUNCGRAD_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _strict_vmap_fallback():
    """Tests run with vmap_fallback='error', so a missing batching rule fails loudly."""
    import funcgrad
    with funcgrad.config.override(vmap_fallback="error", debug_nans=False):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["cpu", "cuda"])
def on_backend(request):
    """Run a test with each available backend as the default device.

    The Tensor, nn and parity suites take it (``pytestmark``): on the CPU they run
    as written; the CUDA case runs them with ``device_scope("cuda")`` on a machine
    with a usable GPU and is skipped with the reason everywhere else.
    """
    if request.param == "cpu":
        yield "cpu"
        return
    import funcgrad
    status = funcgrad.gpu_status()
    if not status.ok:
        pytest.skip(f"CUDA backend: no usable GPU here ({status})")
    with funcgrad.device_scope("cuda"):
        yield "cuda"
