"""``stateful_call``: run a Module as a pure function of its parameters *and* buffers.

A layer that updates a buffer in training mode (BatchNorm's running
statistics and ``num_batches_tracked``) mutates it in place.  Eagerly and
under ``funcgrad.grad`` that update reaches the model, as in PyTorch.  Under
``jit``, ``vmap`` or nested transforms the new statistics are traced values,
which cannot be written back into the model: there funcgrad raises an error
instead of dropping the update, and this function is the explicit path --
buffers in, new buffers out, the model untouched::

    def loss_fn(params, buffers, x, y):
        out, new_buffers = nn.stateful_call(model, (params, buffers), (x,))
        return F.cross_entropy(out, y), new_buffers

    (loss, buffers), grads = fg.jit(fg.value_and_grad(loss_fn, has_aux=True))(
        params, buffers, x, y)
"""
from __future__ import annotations

import itertools
from collections import OrderedDict

from ..tensor import Tensor
from ._pytree import _rebuild


class _StateBuffer(Tensor):
    """A buffer owned by one ``stateful_call``: in-place updates may hold traced values.

    (``batch_norm`` checks ``_functional_state`` before refusing a traced
    update: this buffer's new value is returned, not leaked.)
    """

    __slots__ = ()
    _functional_state = True


def _merge(dicts):
    if dicts is None:
        return {}
    if isinstance(dicts, dict):
        return dict(dicts)
    values = {}
    for dct in dicts:
        overlap = values.keys() & dct.keys()
        if overlap:
            raise ValueError(f"stateful_call: {sorted(overlap)} appeared in multiple "
                             "dictionaries; each name may be given once")
        values.update(dct)
    return values


def stateful_call(module, parameters_and_buffers=None, args=(), kwargs=None, *, strict=False):
    """Call ``module`` with the given parameters/buffers; return ``(output, new_buffers)``.

    Like :func:`funcgrad.nn.functional_call`, but every buffer -- given or
    taken from the module -- is a private copy for this call, and the values
    the forward leaves in them (BatchNorm's updated running statistics, its
    incremented ``num_batches_tracked``) are returned.  The module is never
    modified.  It works eagerly, on Tensors, and under every transform
    (``grad``, ``jit``, ``vmap``): the new buffers are ordinary outputs.

    Args:
      module: the model.
      parameters_and_buffers: a dict (or a tuple of dicts) from dotted names
        to values (Tensors, arrays or traced values); names not given use the
        module's own.
      args: positional arguments of the forward (a non-tuple is the one argument).
      kwargs: keyword arguments of the forward.
      strict: every parameter and buffer must be given.

    Returns:
      ``(output, new_buffers)``: ``new_buffers`` maps every buffer name
      (``named_buffers()`` order) to its value after the call -- a Tensor
      where a Tensor was given, else the array (or traced value).

    Raises:
      ValueError: unknown names; with ``strict``, missing names.

    Example:
        >>> import funcgrad as torch
        >>> bn = torch.nn.BatchNorm1d(2)
        >>> out, bufs = torch.nn.stateful_call(bn, {}, (torch.tensor([[0.0, 1.0], [2.0, 5.0]]),))
        >>> bufs["running_mean"], bn.running_mean
        (array([0.1, 0.3], dtype=float32), tensor([0., 0.]))
    """
    values = _merge(parameters_and_buffers)
    params = list(module.named_parameters(remove_duplicate=False))
    buffers = list(module.named_buffers(remove_duplicate=False))
    owner = {name: t for name, t in itertools.chain(params, buffers)}
    unexpected = [k for k in values if k not in owner]
    if unexpected:
        raise ValueError(f"stateful_call: unexpected key(s) {unexpected}: "
                         f"{module._get_name()} has parameters/buffers {sorted(owner)}")
    if strict:
        missing = [n for n in owner if n not in values]
        if missing:
            raise ValueError(f"stateful_call: missing key(s) {missing} (strict=True)")
    replace = {}
    for name, p in params:
        if name in values and id(p) not in replace:
            v = values[name]
            replace[id(p)] = v if isinstance(v, Tensor) else Tensor._wrap(v)
    for name, b in buffers:
        if id(b) not in replace:
            v = values.get(name, b)
            replace[id(b)] = _StateBuffer._wrap(v._data if isinstance(v, Tensor) else v)
    if not isinstance(args, tuple):
        args = (args,)
    out = _rebuild(module, replace, {})(*args, **(kwargs or {}))
    new_buffers = OrderedDict()
    for name, b in buffers:
        data = replace[id(b)]._data
        new_buffers[name] = Tensor._wrap(data) if isinstance(values.get(name), Tensor) else data
    return out, new_buffers


__all__ = ["stateful_call"]
