"""The primitive set, one module per family; each primitive is one block.

Importing this package registers every primitive and hands the engine the few
operations it needs itself (adding cotangents, summing them back to a shape).
"""
from __future__ import annotations

import types

from .. import ad, batching
from . import creation, elementwise, indexing, reductions, shape_ops  # noqa: F401
from . import conv, linalg, linear, pool, products, softmax, sorting, special  # noqa: F401

_engine_ops = types.SimpleNamespace(
    add=elementwise.add,
    sum_to=shape_ops.sum_to,
    convert=elementwise.convert,
    zeros_like=creation.zeros_like,
    broadcast_to=shape_ops.broadcast_to,
    moveaxis=shape_ops.moveaxis,
    reshape=shape_ops.reshape,
    expand_dims=shape_ops.expand_dims,
    stack=shape_ops.stack,
    index_axis=indexing.index_axis,
)
ad._install_ops(_engine_ops)
batching._install_ops(_engine_ops)
