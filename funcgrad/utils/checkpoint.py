"""``torch.utils.checkpoint``: trade compute for memory in the backward pass.

``checkpoint(function, *args)`` runs ``function`` keeping only its inputs; its
activations are recomputed when the backward pass reaches them.  Gradients are
identical to running without it -- for its inputs and for the parameters it
closes over (a Module's weights) -- with ``backward()``, ``autograd.grad`` and
``create_graph=True``.  Randomness (dropout) is replayed from the state the
forward pass saw (``preserve_rng_state=True``, the default).

On arrays under the functional transforms (``funcgrad.grad``) the same call is
``funcgrad.checkpoint``.

Examples:
    >>> import funcgrad as torch
    >>> from funcgrad.utils.checkpoint import checkpoint
    >>> lin = torch.nn.Linear(3, 3)
    >>> x = torch.ones(2, 3, requires_grad=True)
    >>> y = checkpoint(lambda t: torch.tanh(lin(t)), x, use_reentrant=False)
    >>> y.sum().backward()
    >>> x.grad.shape
    torch.Size([2, 3])
"""
from __future__ import annotations

import functools

from .._tape_checkpoint import checkpoint_on_tape
from ..core import Tracer
from ..custom import checkpoint as _functional_checkpoint
from ..tensor import Tensor
from ..tree_util import tree_flatten

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True,
               context_fn=None, determinism_check="default", debug=False, **kwargs):
    """``function(*args, **kwargs)``, its activations recomputed in the backward pass.

    Args:
      function: the block (a Module, or any function of Tensors).
      args, kwargs: its arguments; Tensors among them are its inputs.
      use_reentrant: accepted for PyTorch compatibility; both settings get the
        non-reentrant behaviour (PyTorch's recommended one): closed-over
        parameters get gradients and ``autograd.grad`` works.
      preserve_rng_state: replay the random state of the forward pass when
        recomputing (dropout masks match).
      context_fn, determinism_check, debug: PyTorch's; only their defaults are
        supported (a recomputation that records different operations raises).

    Raises:
      RuntimeError: in the backward pass, when an input was modified in place
        after the forward pass, or when recomputing records other operations.
    """
    if context_fn is not None or determinism_check != "default" or debug:
        raise NotImplementedError(
            "checkpoint: context_fn, determinism_check and debug take only their "
            "defaults in funcgrad; drop them (recomputation is checked against the "
            "forward pass's operations anyway)")
    leaves = tree_flatten((args, kwargs), is_leaf=lambda x: isinstance(x, Tensor))[0]
    tensors = [a for a in leaves if isinstance(a, Tensor)]
    if tensors and not any(isinstance(t._data, Tracer) for t in tensors):
        return checkpoint_on_tape(function, args, kwargs, preserve_rng_state)
    # arrays, or Tensors holding traced values: the functional transform's checkpoint
    return _functional_checkpoint(functools.partial(function, **kwargs))(*args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a Sequential or a list) in ``segments`` checkpointed chunks.

    The last chunk runs normally (its activations are needed at once), as in
    PyTorch.
    """
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not fns:
        return input
    segments = max(1, min(int(segments), len(fns)))
    size = -(-len(fns) // segments)
    chunks = [fns[i:i + size] for i in range(0, len(fns), size)]

    def run(chunk):
        def forward(x):
            for f in chunk:
                x = f(x)
            return x
        return forward
    for chunk in chunks[:-1]:
        input = checkpoint(run(chunk), input, use_reentrant=use_reentrant, **kwargs)
    return run(chunks[-1])(input)
