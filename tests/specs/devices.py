"""Spec of the device primitive.  Here (no GPU) it moves CPU to CPU: an identity.

The CPU<->"GPU" moves and their gradients are checked through the NumPy-backed
CuPy test double in tests/test_backends.py and tests/test_cupy_double.py.
"""
from __future__ import annotations

from hypothesis import strategies as st

from funcgrad.device import CPU, device_put_p
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec, case

SPECS = [
    PrimSpec(device_put_p, case(st.tuples(fst.arrays()), {"device": CPU, "src": CPU}),
             name="device_put_cpu"),
]
