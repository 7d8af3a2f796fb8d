"""Specs of the special-function primitives (erf)."""
from __future__ import annotations

from hypothesis import strategies as st

from funcgrad.prims import special as S
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec, case

SPECS = [
    PrimSpec(S.erf_p, case(st.tuples(fst.arrays(low=-3.0, high=3.0)))),
]
