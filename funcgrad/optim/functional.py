"""Optimizer update math, written once, as pure functions (optax-style).

Every optimizer is a pair of pure functions on ONE parameter array:

* ``<name>_init(param, **hyper) -> state``: a dict keyed like PyTorch's
  ``optimizer.state[p]`` (``"step"``, ``"exp_avg"``, ``"momentum_buffer"``, ...);
* ``<name>_update(param, grad, state, **hyper) -> (new_param, new_state)``.

**Convention: updates return the new parameter, not a delta.**  PyTorch's
algorithms are written on the parameter (AdamW's decoupled decay is
``p <- p * (1 - lr * wd)``); returning ``p + delta`` would round differently.
So the stateful classes in :mod:`funcgrad.optim` call these very functions and
give bit-identical results to the functional front.

The tree-level front binds hyperparameters and maps the math over a pytree::

    import numpy as np, funcgrad as fg, funcgrad.numpy as fnp
    import funcgrad.optim.functional as F

    params = {"w": np.zeros(3), "b": np.zeros(())}
    loss = lambda p: fnp.sum((p["w"] * 2.0 + p["b"] - 1.0) ** 2)
    opt = F.adam(lr=1e-2)              # hyperparameters as torch.optim.Adam's
    state = opt.init(params)           # a list: one state dict per leaf of params
    for _ in range(100):
        grads = fg.grad(loss)(params)
        params, state = opt.step(params, grads, state)

``opt.step(params, grads, state, lr=0.05)`` overrides hyperparameters for one
call (schedules).  A ``None`` leaf in ``grads`` skips that parameter (its value
and state are unchanged), as PyTorch skips parameters whose ``.grad`` is None.

Everything is written with ``funcgrad.numpy`` operations (and Python arithmetic
on scalars), so the math runs on traced values: a whole training step can be
differentiated (e.g. with respect to ``lr``), batched with ``vmap`` or jitted.  Hyperparameters that choose a
branch (``momentum``, ``weight_decay`` being zero, ``nesterov``, ``amsgrad``,
``centered``, ``maximize``) must be Python values; ``lr`` (and the betas) may
be traced.  ``"step"`` is kept as a float32 scalar, as in PyTorch.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import numpy as fnp
from ..core import Tracer
from ..tree_util import tree_flatten, tree_unflatten

__all__ = ["FunctionalOptimizer", "OptimizerMath", "sgd", "adam", "adamw", "rmsprop",
           "adagrad", "sgd_init", "sgd_update", "adam_init", "adam_update", "rmsprop_init",
           "rmsprop_update", "adagrad_init", "adagrad_update", "adadelta",
           "adadelta_init", "adadelta_update", "SGD_MATH", "ADAM_MATH",
           "RMSPROP_MATH", "ADAGRAD_MATH", "ADADELTA_MATH"]


# --------------------------------------------------------------------------- #
# Scalar helpers (work on Python numbers and on traced 0-d values)
# --------------------------------------------------------------------------- #
def _is_static(x):
    # NumPy scalars are excluded: under NumPy 2 they are "strong" and would
    # promote float32 parameters, so they take the casting path.
    return isinstance(x, numbers.Number) and not isinstance(x, np.generic)


def _nonzero(x):
    # A traced coefficient is treated as possibly nonzero: x * 0 terms are exact.
    return x != 0 if _is_static(x) else True


def _like(x, p):
    """Cast a computed scalar to ``p``'s dtype (NumPy 2 would promote float32 otherwise)."""
    if _is_static(x) or x.dtype == p.dtype:
        return x
    return fnp.astype(x, p.dtype)


def _lerp(start, end, weight):
    """``torch.lerp``: the same two-sided formula, so results round alike."""
    if _is_static(weight):
        if abs(weight) < 0.5:
            return start + weight * (end - start)
        return end - (end - start) * (1 - weight)
    w = _like(weight, start)
    return fnp.where(fnp.abs(w) < 0.5, start + w * (end - start), end - (end - start) * (1 - w))


def _step_value(step):
    # PyTorch reads the float32 step with .item() and does the bias corrections
    # on Python floats; so do we (Python floats are also "weak": they keep the
    # parameters' dtype and backend).  A traced step is widened to float64.
    if isinstance(step, Tracer):
        return fnp.astype(step, np.float64)
    return float(step)


def _pow(base, t):
    """``base ** t`` for the bias corrections, the same bits eagerly and traced.

    NumPy's float64 ``power`` loop and Python's ``**`` (the C library's pow)
    may differ in the last bit, so both paths use NumPy's loop on 0-d arrays:
    the eager step, the jitted functional step, ``compile_step`` and the
    optimizers' compiled group update then agree bit for bit.
    """
    if isinstance(t, float):
        return float(np.power(np.asarray(base, np.float64), np.asarray(t)))
    return fnp.power(base, t)


def _sqrt(x):
    # math.sqrt and fnp.sqrt are both correctly rounded: eager == jit, bitwise.
    return math.sqrt(x) if isinstance(x, float) else fnp.sqrt(x)


def _zero_step():
    return np.zeros((), np.float32)


# --------------------------------------------------------------------------- #
# SGD
# --------------------------------------------------------------------------- #
def sgd_init(param, *, momentum=0, **_):
    """SGD state: ``{"momentum_buffer": None}`` with momentum (filled on the first step)."""
    return {"momentum_buffer": None} if momentum != 0 else {}


def sgd_update(param, grad, state, *, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
               nesterov=False, maximize=False):
    """One step of ``torch.optim.SGD`` on one parameter.

    g <- -grad if maximize; g <- g + wd*p; b <- g (first step) else mu*b + (1-tau)*g;
    g <- g + mu*b if nesterov else b; p <- p - lr*g.

    Examples:
        >>> import numpy as np
        >>> sgd_update(np.ones(2), np.full(2, 0.5), {}, lr=0.1)[0]
        array([0.95, 0.95])
    """
    g = -grad if maximize else grad
    if _nonzero(weight_decay):
        g = g + weight_decay * param
    new_state = state
    if momentum != 0:
        buf = state.get("momentum_buffer")
        # the first buffer is a copy of the gradient, as torch's grad.clone()
        # PyTorch: buf.mul_(momentum).add_(g, alpha=1 - dampening); alpha 1 is exact,
        # so a static zero dampening skips a full pass over the gradient.
        damped = g if _is_static(dampening) and dampening == 0 else (1 - dampening) * g
        buf = fnp.copy(g) if buf is None else buf * momentum + damped
        new_state = {"momentum_buffer": buf}
        g = g + momentum * buf if nesterov else buf
    return param + _like(-lr, param) * g, new_state


# --------------------------------------------------------------------------- #
# Adam / AdamW
# --------------------------------------------------------------------------- #
def adam_init(param, *, amsgrad=False, **_):
    """Adam state: ``step`` (float32 scalar), ``exp_avg``, ``exp_avg_sq`` (+ ``max_exp_avg_sq``)."""
    state = {"step": _zero_step(), "exp_avg": fnp.zeros_like(param),
             "exp_avg_sq": fnp.zeros_like(param)}
    if amsgrad:
        state["max_exp_avg_sq"] = fnp.zeros_like(param)
    return state


def adam_update(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                weight_decay=0, amsgrad=False, maximize=False, decoupled_weight_decay=False):
    """One step of ``torch.optim.Adam`` (``AdamW`` with ``decoupled_weight_decay=True``).

    t <- t+1; g <- -grad if maximize; (p <- p*(1-lr*wd) decoupled | g <- g + wd*p);
    m <- lerp(m, g, 1-b1); v <- b2*v + (1-b2)*g*g; vmax <- max(vmax, v) if amsgrad;
    p <- p - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
    """
    beta1, beta2 = betas
    step = state["step"] + 1
    g = -grad if maximize else grad
    if _nonzero(weight_decay):
        if decoupled_weight_decay:
            param = param * _like(1 - lr * weight_decay, param)
        else:
            g = g + weight_decay * param
    exp_avg = _lerp(state["exp_avg"], g, _like(1 - beta1, param))
    exp_avg_sq = state["exp_avg_sq"] * _like(beta2, param) + _like(1 - beta2, param) * g * g
    t = _step_value(step)
    step_size = lr / (1 - _pow(beta1, t))
    bias_correction2_sqrt = _sqrt(1 - _pow(beta2, t))
    new_state = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    if amsgrad:
        v = fnp.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        new_state["max_exp_avg_sq"] = v
    else:
        v = exp_avg_sq
    denom = fnp.sqrt(v) / _like(bias_correction2_sqrt, param) + eps
    return param + _like(-step_size, param) * exp_avg / denom, new_state


# --------------------------------------------------------------------------- #
# RMSprop
# --------------------------------------------------------------------------- #
def rmsprop_init(param, *, momentum=0, centered=False, **_):
    """RMSprop state: ``step``, ``square_avg`` (+ ``momentum_buffer``, ``grad_avg``)."""
    state = {"step": _zero_step(), "square_avg": fnp.zeros_like(param)}
    if momentum > 0:
        state["momentum_buffer"] = fnp.zeros_like(param)
    if centered:
        state["grad_avg"] = fnp.zeros_like(param)
    return state


def rmsprop_update(param, grad, state, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
                   momentum=0, centered=False, maximize=False):
    """One step of ``torch.optim.RMSprop`` on one parameter.

    v <- alpha*v + (1-alpha)*g*g; centered: ga <- lerp(ga, g, 1-alpha), v~ = v - ga^2;
    avg = sqrt(v~) + eps; momentum: b <- mu*b + g/avg, p <- p - lr*b; else p <- p - lr*g/avg.
    """
    step = state["step"] + 1
    g = -grad if maximize else grad
    if _nonzero(weight_decay):
        g = g + weight_decay * param
    square_avg = state["square_avg"] * _like(alpha, param) + _like(1 - alpha, param) * g * g
    new_state = {"step": step, "square_avg": square_avg}
    if centered:
        grad_avg = _lerp(state["grad_avg"], g, _like(1 - alpha, param))
        new_state["grad_avg"] = grad_avg
        avg = fnp.sqrt(square_avg + -1 * grad_avg * grad_avg)
    else:
        avg = fnp.sqrt(square_avg)
    avg = avg + eps
    if momentum > 0:
        buf = state["momentum_buffer"] * momentum + g / avg
        new_state["momentum_buffer"] = buf
        new_param = param + _like(-lr, param) * buf
    else:
        new_param = param + _like(-lr, param) * g / avg
    return new_param, new_state


# --------------------------------------------------------------------------- #
# Adagrad
# --------------------------------------------------------------------------- #
def adagrad_init(param, *, initial_accumulator_value=0, **_):
    """Adagrad state: ``step`` and ``sum`` (filled with ``initial_accumulator_value``)."""
    return {"step": _zero_step(),
            "sum": fnp.full_like(param, initial_accumulator_value)}


def adagrad_update(param, grad, state, *, lr=1e-2, lr_decay=0, weight_decay=0,
                   initial_accumulator_value=0, eps=1e-10, maximize=False):
    """One step of ``torch.optim.Adagrad`` on one parameter.

    t <- t+1; clr = lr / (1 + (t-1)*lr_decay); s <- s + g*g; p <- p - clr*g/(sqrt(s)+eps).
    """
    step = state["step"] + 1
    g = -grad if maximize else grad
    if _nonzero(weight_decay):
        g = g + weight_decay * param
    clr = lr / (1 + (_step_value(step) - 1) * lr_decay)
    total = state["sum"] + g * g
    std = fnp.sqrt(total) + eps
    return param + _like(-clr, param) * g / std, {"step": step, "sum": total}


# --------------------------------------------------------------------------- #
# Adadelta
# --------------------------------------------------------------------------- #
def adadelta_init(param, **_):
    """Adadelta state: ``step``, ``square_avg`` and ``acc_delta`` (zeros)."""
    return {"step": _zero_step(), "square_avg": fnp.zeros_like(param),
            "acc_delta": fnp.zeros_like(param)}


def adadelta_update(param, grad, state, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0,
                    maximize=False):
    """One step of ``torch.optim.Adadelta`` on one parameter.

    v <- rho*v + (1-rho)*g*g; d = sqrt(u + eps) / sqrt(v + eps) * g;
    u <- rho*u + (1-rho)*d*d; p <- p - lr*d  (PyTorch's order of operations).
    """
    step = state["step"] + 1
    g = -grad if maximize else grad
    if _nonzero(weight_decay):
        g = g + weight_decay * param
    square_avg = state["square_avg"] * rho + (1 - rho) * g * g
    delta = fnp.sqrt(state["acc_delta"] + eps) / fnp.sqrt(square_avg + eps) * g
    acc_delta = state["acc_delta"] * rho + (1 - rho) * delta * delta
    return param + _like(-lr, param) * delta, {"step": step, "square_avg": square_avg,
                                               "acc_delta": acc_delta}


# --------------------------------------------------------------------------- #
# The pieces the classes and the tree front share
# --------------------------------------------------------------------------- #
class OptimizerMath:
    """An optimizer's math: per-parameter ``init``/``update`` and its hyperparameter names."""

    __slots__ = ("name", "init", "update", "hyper_names")

    def __init__(self, name, init, update, hyper_names):
        self.name, self.init, self.update = name, init, update
        self.hyper_names = tuple(hyper_names)

    def __repr__(self):
        return f"OptimizerMath({self.name})"


SGD_MATH = OptimizerMath("sgd", sgd_init, sgd_update,
                         ("lr", "momentum", "dampening", "weight_decay", "nesterov",
                          "maximize"))
ADAM_MATH = OptimizerMath("adam", adam_init, adam_update,
                          ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                           "decoupled_weight_decay"))
RMSPROP_MATH = OptimizerMath("rmsprop", rmsprop_init, rmsprop_update,
                             ("lr", "alpha", "eps", "weight_decay", "momentum", "centered",
                              "maximize"))
ADAGRAD_MATH = OptimizerMath("adagrad", adagrad_init, adagrad_update,
                             ("lr", "lr_decay", "weight_decay", "initial_accumulator_value",
                              "eps", "maximize"))
ADADELTA_MATH = OptimizerMath("adadelta", adadelta_init, adadelta_update,
                              ("lr", "rho", "eps", "weight_decay", "maximize"))


def check_lr(lr):
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_nonneg(what, value):
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what} value: {value}")


def check_sgd(lr, momentum, dampening, weight_decay, nesterov):
    check_lr(lr)
    check_nonneg("momentum", momentum)
    check_nonneg("weight_decay", weight_decay)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")


def check_adam(lr, betas, eps, weight_decay):
    check_lr(lr)
    check_nonneg("epsilon", eps)
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")
    check_nonneg("weight_decay", weight_decay)


def check_rmsprop(lr, alpha, eps, weight_decay, momentum):
    check_lr(lr)
    check_nonneg("epsilon", eps)
    check_nonneg("momentum", momentum)
    check_nonneg("weight_decay", weight_decay)
    check_nonneg("alpha", alpha)


def check_adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps):
    check_lr(lr)
    check_nonneg("lr_decay", lr_decay)
    check_nonneg("weight_decay", weight_decay)
    check_nonneg("initial_accumulator_value", initial_accumulator_value)
    check_nonneg("epsilon", eps)


def check_adadelta(lr, rho, eps, weight_decay):
    check_lr(lr)
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"Invalid rho value: {rho}")
    check_nonneg("epsilon", eps)
    check_nonneg("weight_decay", weight_decay)


class FunctionalOptimizer:
    """An optimizer with bound hyperparameters, mapped over pytrees of arrays.

    Made by :func:`sgd`, :func:`adam`, :func:`adamw`, :func:`rmsprop`,
    :func:`adagrad`, :func:`adadelta`.  ``init(params)`` returns the state: a list holding one
    state dict per leaf of ``params`` (in ``tree_leaves`` order; the same
    dicts as PyTorch's ``optimizer.state[p]``).  ``step(params, grads, state,
    **overrides)`` returns ``(new_params, new_state)``.
    """

    def __init__(self, math, hyper):
        self.math = math
        self.hyper = dict(hyper)

    def init(self, params):
        """The initial state for ``params`` (a pytree of arrays)."""
        leaves, _ = tree_flatten(params)
        return [self.math.init(p, **self.hyper) for p in leaves]

    def step(self, params, grads, state, **overrides):
        """One optimizer step: ``(new_params, new_state)``; pure, so it can be traced.

        Raises:
          ValueError: ``grads`` or ``state`` does not match ``params``' structure.
          TypeError: an unknown hyperparameter override.
        """
        unknown = set(overrides) - set(self.math.hyper_names)
        if unknown:
            raise TypeError(f"{self.math.name}.step() got unknown hyperparameter(s) "
                            f"{sorted(unknown)}; known: {list(self.math.hyper_names)}")
        hyper = {**self.hyper, **overrides}
        leaves, treedef = tree_flatten(params)
        try:
            grad_leaves = treedef.flatten_up_to(grads)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{self.math.name}.step(): grads must have the structure of "
                             f"params ({treedef}); {e}") from None
        if not isinstance(state, (list, tuple)) or len(state) != len(leaves):
            raise ValueError(f"{self.math.name}.step(): state must be the list made by "
                             f"init(params), one dict per parameter leaf ({len(leaves)}); "
                             f"got {type(state).__name__}"
                             + (f" of length {len(state)}" if hasattr(state, "__len__") else ""))
        update = self.math.update
        new_leaves, new_state = [], []
        for p, g, s in zip(leaves, grad_leaves, state):
            if g is None:
                new_leaves.append(p)
                new_state.append(s)
                continue
            p, s = update(p, g, s, **hyper)
            new_leaves.append(p)
            new_state.append(s)
        return tree_unflatten(treedef, new_leaves), new_state

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())
        return f"{self.math.name}({args})"


def sgd(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False):
    """Functional ``torch.optim.SGD`` (same hyperparameters and defaults).

    Examples:
        >>> import numpy as np
        >>> opt = sgd(lr=0.1, momentum=0.9)
        >>> params = {"w": np.ones(2)}
        >>> state = opt.init(params)
        >>> params, state = opt.step(params, {"w": np.ones(2)}, state)
        >>> params["w"]
        array([0.9, 0.9])
    """
    check_sgd(lr, momentum, dampening, weight_decay, nesterov)
    return FunctionalOptimizer(SGD_MATH, dict(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
        nesterov=nesterov, maximize=maximize))


def adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
         maximize=False, decoupled_weight_decay=False):
    """Functional ``torch.optim.Adam`` (same hyperparameters and defaults)."""
    check_adam(lr, betas, eps, weight_decay)
    return FunctionalOptimizer(ADAM_MATH, dict(
        lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay))


def adamw(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
          maximize=False):
    """Functional ``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2)."""
    return adam(lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                decoupled_weight_decay=True)


def rmsprop(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
            maximize=False):
    """Functional ``torch.optim.RMSprop`` (same hyperparameters and defaults)."""
    check_rmsprop(lr, alpha, eps, weight_decay, momentum)
    return FunctionalOptimizer(RMSPROP_MATH, dict(
        lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
        centered=centered, maximize=maximize))


def adagrad(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
            maximize=False):
    """Functional ``torch.optim.Adagrad`` (same hyperparameters and defaults)."""
    check_adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps)
    return FunctionalOptimizer(ADAGRAD_MATH, dict(
        lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize))


def adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
    """Functional ``torch.optim.Adadelta`` (same hyperparameters and defaults)."""
    check_adadelta(lr, rho, eps, weight_decay)
    return FunctionalOptimizer(ADADELTA_MATH, dict(
        lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))
