"""W2: one SGD-momentum training step of an MLP 784-512-512-10 (ReLU), batch 128.

Every implementation starts from the same float32 weights (made once with
NumPy, PyTorch's ``nn.Linear`` layout and init distribution) and the same batch,
and runs a full step: forward, softmax cross-entropy (mean over the batch),
backward, ``SGD(lr=0.01, momentum=0.9)`` update with PyTorch's convention (the
first momentum buffer is the gradient itself).

``check()`` builds a fresh copy of the initial state, takes ONE step and
returns the loss and the step each parameter took, ``p1 - p0`` in float64
(``= -lr * grad`` on the first step), so the gradients are compared at their
own scale rather than hidden under the parameters' magnitude.

The timed ``step()`` keeps its state between calls, like a training loop.

The MLP builders here are shared with W6 (a smaller MLP) and W7 (peak memory
at batch 1024): :func:`implementations_for` takes a :class:`Config`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TITLE = "W2: MLP 784-512-512-10 training step, batch 128, SGD momentum 0.9 (float32)"
UNIT = "ms"
SCALE = 1e3
FLOOR = "numpy (hand-written)"
# check() returns p1 - p0 (= -lr * grad): ATOL covers the float32 rounding of p1
# (half an ulp of |p| <= 0.045, twice), RTOL the summation-order differences.
RTOL, ATOL = 2e-3, 3e-8


@dataclass(frozen=True)
class Config:
    sizes: tuple = (784, 512, 512, 10)
    batch: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    seed: int = 0


CONFIG = Config()


def classic_step(model, opt, loss_fn, x, y):
    """The classic PyTorch training step, for any library with PyTorch's API."""
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


@lru_cache(maxsize=None)
def problem(cfg):
    """Shared initial weights ``[W1, b1, W2, b2, ...]`` (W is (out, in)) and a batch."""
    rng = np.random.default_rng(cfg.seed)
    params = []
    for n_in, n_out in zip(cfg.sizes[:-1], cfg.sizes[1:]):
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init distribution
        params.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, n_out).astype(np.float32))
    x = rng.standard_normal((cfg.batch, cfg.sizes[0])).astype(np.float32)
    y = rng.integers(0, cfg.sizes[-1], cfg.batch).astype(np.int64)
    for a in params + [x, y]:
        a.flags.writeable = False  # every implementation copies; nothing may write these
    return params, x, y


def _deltas(loss, new_params, cfg):
    p0, _, _ = problem(cfg)
    return [np.float64(loss)] + [np.asarray(p, np.float64) - q for p, q in zip(new_params, p0)]


# --------------------------------------------------------------------------- #
# the floor: what a careful engineer writes by hand
# --------------------------------------------------------------------------- #
def hand_phases(cfg=CONFIG):
    """The hand-written step as its phases: ``(phases, params)``.

    ``phases`` maps "forward", "loss" (the loss and its gradient, the fused
    softmax cross-entropy backward), "backward" and "step" to functions run in
    that order (see benchmarks/phases.py); ``params`` are the arrays updated.
    """
    p0, x, y = problem(cfg)
    n_layers = len(cfg.sizes) - 1
    lr, mu, batch = np.float32(cfg.lr), np.float32(cfg.momentum), cfg.batch
    rows = np.arange(batch)
    f32 = np.float32
    params = [p.copy() for p in p0]
    ws, bs = params[0::2], params[1::2]
    grads = [np.empty_like(p) for p in params]
    bufs = [np.zeros_like(p) for p in params]  # mu*0 + g == g: PyTorch's first step
    tmps = [np.empty_like(p) for p in params]
    zs = [np.empty((batch, n), f32) for n in cfg.sizes[1:]]  # activations, ReLU in place
    ghs = [np.empty((batch, n), f32) for n in cfg.sizes[1:-1]]
    masks = [np.empty((batch, n), bool) for n in cfg.sizes[1:-1]]
    probs = np.empty((batch, cfg.sizes[-1]), f32)
    inv_b = f32(1.0 / batch)

    def forward():
        a = x
        for i in range(n_layers):
            z = zs[i]
            np.matmul(a, ws[i].T, out=z)
            z += bs[i]
            if i < n_layers - 1:
                np.maximum(z, 0, out=z)
            a = z
        return a

    def loss(logits):  # softmax cross-entropy, shifted in place; its gradient in probs
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=probs)
        s = probs.sum(axis=1, keepdims=True)
        value = np.log(s).mean() - logits[rows, y].mean()
        np.divide(probs, s, out=probs)
        probs[rows, y] -= 1
        np.multiply(probs, inv_b, out=probs)
        return value

    def backward():
        g = probs
        for i in reversed(range(n_layers)):
            a_in = zs[i - 1] if i else x
            np.matmul(g.T, a_in, out=grads[2 * i])
            np.sum(g, axis=0, out=grads[2 * i + 1])
            if i:
                gh = ghs[i - 1]
                np.matmul(g, ws[i], out=gh)
                np.greater(a_in, 0, out=masks[i - 1])
                np.multiply(gh, masks[i - 1], out=gh)
                g = gh

    def step():
        for prm, gr, buf, tmp in zip(params, grads, bufs, tmps):
            buf *= mu
            buf += gr
            np.multiply(buf, lr, out=tmp)
            prm -= tmp
    return {"forward": forward, "loss": loss, "backward": backward, "step": step}, params


def numpy_hand(cfg=CONFIG):
    def build():
        phases, params = hand_phases(cfg)
        forward, loss, backward, update = (phases[k] for k in
                                           ("forward", "loss", "backward", "step"))

        def step():
            value = loss(forward())
            backward()
            update()
            return value
        return step, params

    def check():
        step, params = build()
        return _deltas(step(), params, cfg)
    return build()[0], check


NUMPY_ALLOCATING = "numpy (hand-written, allocating)"


def numpy_allocating(cfg=CONFIG):
    """Hand NumPy as most people write it: new arrays each step (used by W7 only)."""
    p0, x, y = problem(cfg)
    n_layers = len(cfg.sizes) - 1
    lr, mu, batch = np.float32(cfg.lr), np.float32(cfg.momentum), cfg.batch
    rows = np.arange(batch)

    def build():
        params = [p.copy() for p in p0]
        bufs = [np.zeros_like(p) for p in params]

        def step():
            acts = [x]
            for i in range(n_layers):
                z = acts[-1] @ params[2 * i].T + params[2 * i + 1]
                acts.append(np.maximum(z, 0) if i < n_layers - 1 else z)
            logits = acts.pop()
            logits = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            s = e.sum(axis=1, keepdims=True)
            loss = np.log(s).mean() - logits[rows, y].mean()
            g = e / s
            g[rows, y] -= 1
            g *= np.float32(1.0 / batch)
            grads = [None] * len(params)
            for i in reversed(range(n_layers)):
                a_in = acts[i]
                grads[2 * i], grads[2 * i + 1] = g.T @ a_in, g.sum(axis=0)
                if i:
                    g = (g @ params[2 * i]) * (a_in > 0)
            for prm, gr, buf in zip(params, grads, bufs):
                buf *= mu
                buf += gr
                prm -= lr * buf
            return loss
        return step, params

    def check():
        step, params = build()
        return _deltas(step(), params, cfg)
    return build()[0], check


# --------------------------------------------------------------------------- #
# funcgrad
# --------------------------------------------------------------------------- #
def _fg_model(cfg):
    import funcgrad as fg
    import funcgrad.nn as nn
    layers = []
    for n_in, n_out in zip(cfg.sizes[:-1], cfg.sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    names = [n for n, _ in model.named_parameters()]
    model.load_state_dict({n: fg.tensor(a.copy()) for n, a in zip(names, problem(cfg)[0])})
    return model, names


def funcgrad_eager(cfg=CONFIG):
    try:
        import funcgrad as fg
        import funcgrad.nn as nn
        import funcgrad.optim as optim
    except ImportError as e:
        raise ImportError(name=e.name or "funcgrad.nn") from e
    _, x, y = problem(cfg)
    xt, yt = fg.tensor(x), fg.tensor(y)

    def build():
        model, _ = _fg_model(cfg)
        opt = optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
        loss_fn = nn.CrossEntropyLoss()

        return classic_step(model, opt, loss_fn, xt, yt), model

    def check():
        step, model = build()
        loss = step().item()
        return _deltas(loss, [p.detach().numpy() for p in model.parameters()], cfg)
    return build()[0], check


def funcgrad_jit(cfg=CONFIG, warmup=2):
    try:
        import funcgrad as fg
        import funcgrad.nn as nn
        import funcgrad.nn.functional as F
        import funcgrad.optim.functional as optf
    except ImportError as e:
        raise ImportError(name=e.name or "funcgrad.optim.functional") from e
    if not hasattr(fg, "jit"):
        raise ImportError(name="funcgrad.jit")
    _, x, y = problem(cfg)
    model, names = _fg_model(cfg)
    opt = optf.sgd(lr=cfg.lr, momentum=cfg.momentum)

    def loss_fn(params, xb, yb):
        return F.cross_entropy(nn.functional_call(model, params, (xb,)), yb)

    def train_step(params, state, xb, yb):
        loss, grads = fg.value_and_grad(loss_fn)(params, xb, yb)
        params, state = opt.step(params, grads, state)
        return loss, params, state

    jstep = fg.jit(train_step, donate_argnums=(0, 1))

    def fresh():
        params = {n: a.copy() for n, a in zip(names, problem(cfg)[0])}
        return params, opt.init(params)

    def check():
        params, state = fresh()
        loss, params, _ = jstep(params, state, x, y)
        return _deltas(np.asarray(getattr(loss, "data", loss)), [params[n] for n in names], cfg)

    carry = list(fresh())

    def step():
        loss, carry[0], carry[1] = jstep(carry[0], carry[1], x, y)
        return loss
    for _ in range(warmup):  # the first step (buffers None) and the steady state trace once each
        step()
    return step, check


# --------------------------------------------------------------------------- #
# other libraries
# --------------------------------------------------------------------------- #
def torch_eager(cfg=CONFIG):
    import torch
    p0, x, y = problem(cfg)
    xt, yt = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())

    def build():
        layers = []
        for n_in, n_out in zip(cfg.sizes[:-1], cfg.sizes[1:]):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        with torch.no_grad():
            for prm, a in zip(model.parameters(), p0):
                prm.copy_(torch.from_numpy(a.copy()))
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
        loss_fn = torch.nn.CrossEntropyLoss()

        return classic_step(model, opt, loss_fn, xt, yt), model

    def check():
        step, model = build()
        loss = step().item()
        return _deltas(loss, [prm.detach().numpy() for prm in model.parameters()], cfg)
    return build()[0], check


def _mlp_loss(ops, params, x, y, logsumexp):
    a = x
    n = len(params) // 2
    for i in range(n):
        a = a @ params[2 * i].T + params[2 * i + 1]
        if i < n - 1:
            a = ops.maximum(a, 0.0)
    picked = a[ops.arange(a.shape[0]), y]
    return ops.mean(logsumexp(a, axis=1) - picked)


def jax_jit(cfg=CONFIG, warmup=1):
    import warnings

    import jax
    import jax.numpy as jnp
    p0, x, y = problem(cfg)
    lr, mu = cfg.lr, cfg.momentum
    xj, yj = jnp.asarray(x), jnp.asarray(y.astype(np.int32))

    def loss_fn(params, xb, yb):
        return _mlp_loss(jnp, params, xb, yb, jax.nn.logsumexp)

    def train_step(params, bufs, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        bufs = tuple(mu * b + g for b, g in zip(bufs, grads))
        params = tuple(p - lr * b for p, b in zip(params, bufs))
        return loss, params, bufs

    jstep = jax.jit(train_step, donate_argnums=(0, 1))

    def fresh():
        return (tuple(jnp.array(a) for a in p0),
                tuple(jnp.zeros(a.shape, jnp.float32) for a in p0))

    def check():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "donated buffers were not usable" on some CPUs
            loss, params, _ = jstep(*fresh(), xj, yj)
        return _deltas(np.asarray(loss), [np.asarray(p) for p in params], cfg)

    carry = list(fresh())

    def step():
        loss, carry[0], carry[1] = jstep(carry[0], carry[1], xj, yj)
        return jax.block_until_ready(loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(warmup):  # compiles
            step()
    return step, check


def autograd_eager(cfg=CONFIG):
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp
    p0, x, y = problem(cfg)
    lr, mu = np.float32(cfg.lr), np.float32(cfg.momentum)
    vg = autograd.value_and_grad(lambda params: _mlp_loss(anp, params, x, y, logsumexp))

    def build():
        params = [a.copy() for a in p0]
        bufs = [np.zeros_like(a) for a in p0]

        def step():
            loss, grads = vg(params)
            for prm, g, buf in zip(params, grads, bufs):  # the update is plain NumPy
                buf *= mu
                buf += g
                prm -= lr * buf
            return loss
        return step, params

    def check():
        step, params = build()
        return _deltas(step(), params, cfg)
    return build()[0], check


MAKERS = {FLOOR: numpy_hand, "funcgrad eager (nn + optim)": funcgrad_eager,
          "funcgrad jit step": funcgrad_jit, "PyTorch eager": torch_eager,
          "jax.jit": jax_jit, "autograd": autograd_eager,
          NUMPY_ALLOCATING: numpy_allocating}


def implementations_for(cfg, names=None):
    """``{name: make}`` for an MLP config: those in ``names``, or the W2 set."""
    from functools import partial
    if names is None:
        names = [k for k in MAKERS if k != NUMPY_ALLOCATING]
    return {k: partial(MAKERS[k], cfg) for k in names}


def implementations():
    return implementations_for(CONFIG)
