"""``checkpoint`` on the Tensor front: keep a block's inputs, recompute the rest.

The block runs once, recorded as usual, so the graph has its real structure --
including the parameters the block closes over, which a rule over its explicit
arguments could not reach.  Then every node the block created (the nodes
reachable from its outputs whose creation number falls inside the call) drops
what it saved: its VJP closure becomes a stub and its saved inputs go.  What
stays alive is what the caller holds anyway: the block's inputs and parameters.

When the backward pass reaches the first of these stubs, the block runs again
(same inputs, same random state), its new nodes are paired with the old ones in
creation order, and each old node takes the VJP closure its twin staged.  That is
PyTorch's non-reentrant checkpoint: gradients identical to running without it,
``torch.autograd.grad`` and ``create_graph`` included, memory of one block's
activations at a time.
"""
from __future__ import annotations

from . import ad
from .random import default_generator
from .tree_util import tree_flatten


def checkpoint_on_tape(fun, args, kwargs=None, preserve_rng_state=True):
    """Run ``fun(*args, **kwargs)`` on Tensors with its activations recomputed in backward."""
    from .tensor import Tensor, is_grad_enabled
    kwargs = kwargs or {}
    if not is_grad_enabled():
        return fun(*args, **kwargs)
    rng = default_generator.get_state() if preserve_rng_state else None
    start = ad._next_seq()
    out = fun(*args, **kwargs)
    end = ad._next_seq()
    nodes = _block_nodes(out, start, end)
    if not nodes:
        return out  # nothing differentiable came out: nothing was kept
    inputs = [a for a in tree_flatten((args, kwargs), is_leaf=_is_tensor)[0]
              if isinstance(a, Tensor)]
    region = _Region(fun, args, kwargs, rng, nodes,
                     [(t, t._version) for t in inputs])
    for node in nodes:
        node.vjp = region.stub(node)
        node.res = None
        node.lazy = None  # its saved inputs, and what create_graph would restage
    return out


def _is_tensor(x):
    from .tensor import Tensor
    return isinstance(x, Tensor)


def _block_nodes(out, start, end):
    """The recorded nodes reachable from ``out`` made between creation numbers start, end.

    (Other threads draw creation numbers too, but their nodes are not reachable
    from this block's outputs.)  Returned in creation order.
    """
    stack = [t.node for t in tree_flatten(out, is_leaf=_is_tensor)[0]
             if _is_tensor(t) and t.node is not None]
    seen = set()
    found = []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or node.prim is None or \
                not start < node.seq < end:
            continue
        seen.add(id(node))
        found.append(node)
        stack.extend(node.parents)
    found.sort(key=lambda n: n.seq)
    return found


class _Region:
    """One checkpointed call: what recomputing it needs, and its nodes."""

    def __init__(self, fun, args, kwargs, rng, nodes, versions):
        self.fun = fun
        self.args = args
        self.kwargs = kwargs
        self.rng = rng
        self.nodes = nodes
        self.versions = versions

    def stub(self, node):
        def recompute_then_pull(ct):
            self.recompute()
            from .tensor import _restage_on_tensors, is_grad_enabled
            if is_grad_enabled():  # backward(create_graph=True): the rule on Tensors
                _restage_on_tensors(node)
            return ad.pull(node, ct)
        return recompute_then_pull

    def recompute(self):
        """Run the block again; give each of its old nodes the VJP its new twin staged."""
        from .tensor import enable_grad
        if self.nodes is None:
            return  # (done already, by an earlier stub of this block)
        for t, v in self.versions:
            if t._version != v:
                raise RuntimeError(
                    "checkpoint: an input of the checkpointed function was modified in "
                    f"place after the forward pass ([{t.dtype} {list(t.shape)}] is at "
                    f"version {t._version}, was {v}), so recomputing it would give a "
                    "different gradient. Clone the input before modifying it.")
        stash = default_generator.get_state() if self.rng is not None else None
        try:
            if self.rng is not None:
                default_generator.set_state(self.rng)
            start = ad._next_seq()
            with enable_grad():
                out = self.fun(*self.args, **self.kwargs)
            end = ad._next_seq()
        finally:
            if stash is not None:
                default_generator.set_state(stash)
        twins = _block_nodes(out, start, end)
        old = self.nodes
        if len(twins) != len(old) or any(
                _kind(a) != _kind(b) for a, b in zip(old, twins)):
            raise RuntimeError(
                "checkpoint: recomputing the checkpointed function recorded different "
                f"operations ({len(twins)} instead of {len(old)}, or in another order): "
                "its control flow or randomness must not change between the forward and "
                "the backward pass (keep preserve_rng_state=True for dropout)")
        for a, b in zip(old, twins):
            a.vjp, a.res = b.vjp, b.res
            a.lazy = b.lazy
        self.nodes = self.args = self.kwargs = self.versions = None  # (done: drop them)


def _kind(node):
    prim = node.prim
    return getattr(prim, "name", id(prim)), node.shape, node.dtype
