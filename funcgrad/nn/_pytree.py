"""The functional bridge: Modules as pytrees, and ``functional_call``.

A Module's pytree leaves are the data of its parameters and floating-point
buffers, in ``named_parameters()`` then ``named_buffers()`` order, keyed by
their dotted names (``GetAttrKey("fc.weight")``).  Unflattening builds a
shallow copy of the module tree whose parameters and buffers wrap the new
leaves (shared parameters stay shared); everything else -- hyper-parameters,
integer buffers such as ``num_batches_tracked``, hooks -- is shared with the
original.  :func:`functional_call` uses the same rebuild to run a model with
other tensors.
"""
from __future__ import annotations

import copy
import itertools
import weakref
from collections import OrderedDict

import numpy as np

from ..core import Tracer
from ..tensor import Tensor
from ..tree_util import GetAttrKey, register_pytree_with_keys
from .parameter import Parameter


def _is_leaf_buffer(b):
    dt = getattr(b._data, "dtype", None)
    return dt is None or dt.kind in "fc"


class _ModuleSkeleton:
    """The aux data of a flattened Module: the template module and the leaf names.

    Two skeletons are equal when they have the same leaf names and their
    module trees agree on everything that is not a leaf (class, training
    flag, hyper-parameters): a model and its gradient-shaped copy compare
    equal, so ``tree_map(f, model, grads)`` works.
    """

    __slots__ = ("module", "names", "num_params")

    def __init__(self, module, names, num_params):
        self.module = module
        self.names = names
        self.num_params = num_params

    def __hash__(self):
        return hash((type(self.module), self.names))

    def __eq__(self, other):
        if not isinstance(other, _ModuleSkeleton):
            return NotImplemented
        if self.module is other.module:
            return True
        return self.names == other.names and _static_equal(self.module, other.module, {})

    def __repr__(self):
        return f"{self.module._get_name()}{list(self.names)}"


def _static_equal(a, b, memo):
    if a is b:
        return True
    key = (id(a), id(b))
    if key in memo:
        return memo[key]
    memo[key] = True
    if type(a) is not type(b):
        memo[key] = False
        return False
    da, db = a.__dict__, b.__dict__
    if da.keys() != db.keys():
        memo[key] = False
        return False
    for k, va in da.items():
        vb = db[k]
        if va is vb or k in ("_parameters", "_buffers", "_forward_pre_hooks",
                             "_forward_hooks"):
            continue
        if k == "_modules":
            same = va.keys() == vb.keys() and all(
                (x is None and y is None) or (x is not None and y is not None and
                                              _static_equal(x, y, memo))
                for x, y in zip(va.values(), vb.values()))
        elif isinstance(va, (Tensor, np.ndarray, Tracer)) or isinstance(vb, (Tensor, np.ndarray,
                                                                             Tracer)):
            same = False
        else:
            try:
                same = bool(va == vb)
            except Exception:  # noqa: BLE001 - incomparable values differ
                same = False
        if not same:
            memo[key] = False
            return False
    # Integer buffers are static: they must agree too.
    for k, x in a._buffers.items():
        y = b._buffers.get(k, x)
        if x is not None and y is not None and not _is_leaf_buffer(x) and x is not y:
            if isinstance(x._data, Tracer) or isinstance(y._data, Tracer) or \
                    not np.array_equal(np.asarray(x._data), np.asarray(y._data)):
                memo[key] = False
                return False
    return True


def _module_flatten_with_keys(module):
    params = list(module.named_parameters())
    bufs = [(n, b) for n, b in module.named_buffers() if _is_leaf_buffer(b)]
    names = tuple(n for n, _ in params) + tuple(n for n, _ in bufs)
    children = [(GetAttrKey(n), t._data) for n, t in itertools.chain(params, bufs)]
    return children, _ModuleSkeleton(module, names, len(params))


def _module_flatten(module):
    pairs, aux = _module_flatten_with_keys(module)
    return [c for _, c in pairs], aux


def _module_unflatten(aux, leaves):
    template = aux.module
    replace = {}
    objs = [p for _, p in template.named_parameters()] + \
        [b for _, b in template.named_buffers() if _is_leaf_buffer(b)]
    for i, (old, leaf) in enumerate(zip(objs, leaves)):
        if i < aux.num_params:
            replace[id(old)] = Parameter._from_leaf(leaf, old.requires_grad)
        else:
            new = replace[id(old)] = Tensor._wrap(leaf)
            _remember_origin(new, old)
    return _rebuild(template, replace, {})


# A buffer of a rebuilt module remembers the buffer it was made from, so that an
# in-place update with a concrete value (BatchNorm's running statistics under
# funcgrad.grad, where the batch statistics' primal values are known) reaches the
# user's model too, as it would in PyTorch.  Keyed by id, held weakly.
_origins: dict = {}


def _remember_origin(new, old):
    key = id(new)
    _origins[key] = (weakref.ref(new, lambda _, k=key: _origins.pop(k, None)), old)


def buffer_origin(t):
    """The buffer that ``t`` (a buffer of a pytree-rebuilt module) was made from, or None."""
    entry = _origins.get(id(t))
    if entry is not None and entry[0]() is t:
        return entry[1]
    return None


def _rebuild(module, replace, memo):
    """A shallow copy of the module tree with tensors swapped per ``replace`` (by id)."""
    new = memo.get(id(module))
    if new is not None:
        return new
    new = copy.copy(module)
    memo[id(module)] = new
    d = new.__dict__
    d["_parameters"] = OrderedDict(
        (k, replace.get(id(v), v) if v is not None else None)
        for k, v in module._parameters.items())
    d["_buffers"] = OrderedDict(
        (k, replace.get(id(v), v) if v is not None else None)
        for k, v in module._buffers.items())
    d["_modules"] = OrderedDict(
        (k, _rebuild(m, replace, memo) if m is not None else None)
        for k, m in module._modules.items())
    return new


def _register_module_pytree(cls):
    register_pytree_with_keys(cls, _module_flatten_with_keys, _module_unflatten,
                              _module_flatten)



# --------------------------------------------------------------------------- #
# functional_call
# --------------------------------------------------------------------------- #
def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *,
                    tie_weights=True, strict=False):
    """Call ``module`` with some parameters/buffers replaced (``torch.func.functional_call``).

    The module itself is not modified: a shallow copy whose named tensors are
    swapped runs the forward.  Values may be Tensors (their autograd graph is
    kept), arrays, or traced values (inside ``funcgrad.grad``/``vmap``).

    Args:
      module: the model.
      parameter_and_buffer_dicts: a dict (or a tuple of dicts) from dotted
        names (``"fc.weight"``) to new values.
      args: positional arguments of the forward (a single non-tuple value is
        passed as the one argument).
      kwargs: keyword arguments of the forward.
      tie_weights: a parameter shared under several names is replaced
        everywhere when one of its names is given.
      strict: every parameter and buffer must be given.

    Raises:
      ValueError: a name that is not a parameter or buffer of the module; with
        ``strict``, missing names; tied names given different values.

    Examples:
        >>> import funcgrad as torch
        >>> lin = torch.nn.Linear(2, 1)
        >>> w = {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}
        >>> torch.nn.functional_call(lin, w, (torch.ones(1, 2),))
        tensor([[2.]])
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        values = dict(parameter_and_buffer_dicts)
    else:
        values = {}
        for dct in parameter_and_buffer_dicts:
            overlap = values.keys() & dct.keys()
            if overlap:
                raise ValueError(f"functional_call: {sorted(overlap)} appeared in multiple "
                                 "dictionaries; each name may be given once")
            values.update(dct)
    names_of = {}  # id(tensor) -> all names (with ties)
    owner = {}
    for name, p in itertools.chain(
            module.named_parameters(remove_duplicate=False),
            module.named_buffers(remove_duplicate=False)):
        names_of.setdefault(id(p), []).append(name)
        owner[name] = p
    unexpected = [k for k in values if k not in owner]
    if unexpected:
        raise ValueError(f"functional_call: unexpected key(s) {unexpected}: "
                         f"{module._get_name()} has parameters/buffers {sorted(owner)}")
    replace = {}
    for oid, names in names_of.items():
        given = [n for n in names if n in values]
        if not given:
            continue
        if len(names) > 1 and not tie_weights and len(given) < len(names):
            raise ValueError(f"functional_call: tie_weights=False is not supported for the "
                             f"shared tensor {names}; give a value for each name")
        first = values[given[0]]
        for n in given[1:]:
            if values[n] is not first:
                raise ValueError(f"functional_call: {given} are tied (one tensor) but were "
                                 "given different values")
        replace[oid] = first if isinstance(first, Tensor) else Tensor._wrap(first)
    if strict:
        missing = [n for n in owner if n not in values and id(owner[n]) not in replace]
        if missing:
            raise ValueError(f"functional_call: missing key(s) {missing} (strict=True)")
    new = _rebuild(module, replace, {})
    if not isinstance(args, tuple):
        args = (args,)
    return new(*args, **(kwargs or {}))


__all__ = ["functional_call"]
