"""The per-primitive spec table.

One :class:`PrimSpec` per primitive (or more, for different parameters): how
to draw valid inputs and parameters, which arguments are differentiable, and
the tolerances.  ``tests/test_primitive_properties.py`` runs every property on
every spec, and a meta-test fails when a registered primitive has no spec.

Adding a primitive means adding one spec line in the module of its family.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from hypothesis import strategies as st


@dataclasses.dataclass
class PrimSpec:
    prim: Any                      # the Primitive
    cases: Any                     # strategy of (args tuple, params dict)
    diff: tuple | None = None      # argnums to differentiate (default: float arrays)
    order: int = 2                 # highest derivative order checked
    atol: float = 1e-5
    rtol: float = 1e-5
    eps: float = 1e-6               # finite-difference step
    transpose_tol: float = 1e-9     # <u, Jv> == <J^T u, v> holds to rounding
    vmap: bool = True
    fwd: bool = True               # check forward mode
    name: str | None = None

    @property
    def id(self):
        return self.name or self.prim.name


def case(args, params=None):
    """A strategy of one (args, params) case from a strategy of args tuples."""
    return st.tuples(args, st.just(params or {}))


FAMILIES = ["elementwise", "reductions", "shape_ops", "indexing", "products", "linalg",
            "conv", "special", "devices"]


def all_specs():
    specs = []
    for fam in FAMILIES:
        try:
            mod = importlib.import_module(f"tests.specs.{fam}")
        except ModuleNotFoundError as e:
            if e.name == f"tests.specs.{fam}":
                continue
            raise
        specs.extend(mod.SPECS)
    return specs
