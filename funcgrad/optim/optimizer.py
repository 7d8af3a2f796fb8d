"""``funcgrad.optim.Optimizer``: PyTorch's stateful optimizer, a thin shell over the math.

The class keeps ``param_groups`` and per-parameter ``state`` exactly as
``torch.optim.Optimizer`` does (so ``state_dict()`` has PyTorch's layout), and
its ``step()`` calls the pure per-parameter function of
:mod:`funcgrad.optim.functional` on each parameter's data, then rebinds the
parameter with ``Tensor._assign`` (an in-place update: the version counter
bumps, so a graph that saved the old value refuses to backpropagate).
"""
from __future__ import annotations

import copy
from collections import defaultdict
from itertools import chain

import numpy as np

from .. import numpy as fnp
from ..backends import namespace_of
from ..tensor import Tensor, enable_grad, no_grad
from ._fused import FusedUpdates

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton marking a hyperparameter a parameter group must specify."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _unwrap(v):
    return v._data if isinstance(v, Tensor) else v


def _wrap(v):
    if v is None or isinstance(v, Tensor) or not hasattr(v, "dtype"):
        return v
    return Tensor._wrap(np.asarray(v) if isinstance(v, np.generic) else v)


class Optimizer:
    """Base class of the optimizers (``torch.optim.Optimizer``).

    Subclasses set ``_math`` (a :class:`funcgrad.optim.functional.OptimizerMath`)
    and pass their hyperparameter ``defaults``; the base class does the rest.

    Args:
      params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts
        (parameter groups: ``{"params": [...], "lr": ...}``).
      defaults: default hyperparameters for groups that don't set them.

    Raises:
      ValueError: an empty parameter list; a parameter in two groups; a
        non-leaf tensor.
      TypeError: ``params`` is a single Tensor or a set, or holds non-Tensors.
    """

    _math = None

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(dict(group))

    # -- groups ----------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a parameter group (a dict with ``"params"`` and optional hyperparameters).

        Useful for fine-tuning: unfreeze layers and add them with their own lr.

        Examples:
            >>> # opt.add_param_group({"params": model.head.parameters(), "lr": 1e-4})
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        tensors = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
            param_group["param_names"] = names
        param_group["params"] = tensors
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params "
                                "is " + _typename(p))
            if not (p.is_leaf or p._retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        for g in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in g):
                raise ValueError("all optimizer param groups should be with/without names.")
        self.param_groups.append(param_group)

    # -- the step ----------------------------------------------------------------
    def _init_state(self, p, hyper):
        return self._math.init(p._data, **hyper)

    def _initial_state(self, p, hyper):
        return {k: _wrap(v) for k, v in self._init_state(p, hyper).items()}

    def _hyper(self, group):
        return {k: _unwrap(group[k]) for k in self._math.hyper_names}

    def step(self, closure=None):
        """Perform one optimization step on every parameter whose ``.grad`` is set.

        Args:
          closure: optional callable that re-evaluates the model and returns
            the loss (run with grad mode enabled).

        Returns:
          The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        update = self._math.update
        fused = self.__dict__.get("_fused")
        if fused is None:
            fused = self.__dict__["_fused"] = FusedUpdates()
        with no_grad():
            for group in self.param_groups:
                hyper = self._hyper(group)
                if fused.step(self, group, hyper, self._initial_state):
                    continue  # updated by the group's compiled replay (same math, in place)
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.get(p)
                    if not state:
                        state = self._initial_state(p, hyper)
                    raw = {k: _unwrap(v) for k, v in state.items()}
                    new_data, new_state = update(p._data, p.grad._data, raw, **hyper)
                    p._assign(new_data)
                    if new_state:
                        for k, v in new_state.items():
                            state[k] = _wrap(v)
                        self.state[p] = state
        return loss

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized parameters.

        Args:
          set_to_none: set ``.grad`` to None (default; cheaper, and lets
            ``step`` skip the parameter) instead of filling it with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g.detach_()
                    g._assign(fnp.zeros_like(g._data))

    # -- checkpoints ---------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state in PyTorch's layout.

        Returns:
          ``{"state": {index: {name: Tensor or number}}, "param_groups": [{...,
          "params": [index, ...]}]}``, parameters numbered in group order.
        """
        mapping = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): dict(v)
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a state made by :meth:`state_dict` (or read back with ``funcgrad.load``).

        Floating-point state is cast to its parameter's dtype (except
        ``"step"``) and copied, as PyTorch does.

        Raises:
          ValueError: the number of groups or of parameters in a group differs.
        """
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, s in zip(groups, saved_groups):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = {name: _cast(param, name, val) for name, val in v.items()}
            else:
                state[k] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        out = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            out += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    out += f"    {key}: {group[key]}\n"
        return out + ")"


def _cast(param, key, value):
    """A copy of a loaded state value on ``param``'s backend; floating arrays take its dtype.

    (``"step"`` keeps its own dtype and stays on the host, as in PyTorch.)
    """
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        data = value._data if isinstance(value, Tensor) else np.asarray(value)
        if key == "step":
            return Tensor._wrap(data.copy())
        if data.dtype.kind in "fc" and param.dtype.kind in "fc":
            data = data.astype(param.dtype, copy=True)
        else:
            data = data.copy()
        xp = namespace_of([param._data])
        if xp is not np and isinstance(data, np.ndarray):
            data = xp.asarray(data)
        return Tensor._wrap(data)
    if isinstance(value, dict):
        return {k: _cast(param, k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, None, v) for v in value)
    return value


def _typename(obj):
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
