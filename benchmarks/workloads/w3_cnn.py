"""W3: one SGD training step of a LeNet-style CNN, batch 64x1x28x28.

conv(1->6, 5x5) ReLU maxpool2 conv(6->16, 5x5) ReLU maxpool2 -> 256 -> fc120 ReLU
-> fc84 ReLU -> fc10, softmax cross-entropy (mean), ``SGD(lr=0.01)``.  Same float32
initial weights for every library (PyTorch's layouts and init distributions,
made once with NumPy).

The floor is naive hand-written NumPy: im2col through a strided view and one
matmul per convolution, col2im as a loop over the 25 kernel positions, max-pool
backward through one-hot masks of the window argmax.  ``check()`` returns the
loss and ``p1 - p0`` (= -lr * grad) after ONE step from the shared state.

autograd has no conv2d; it runs ``autograd.scipy.signal.convolve`` (einsum over
a strided view, as in autograd's own convnet example) on flipped kernels.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .w2_mlp import classic_step

TITLE = "W3: LeNet CNN training step, batch 64x1x28x28, SGD lr 0.01 (float32)"
UNIT = "ms"
SCALE = 1e3
FLOOR = "numpy (naive im2col)"
RTOL, ATOL = 2e-3, 6e-8  # ATOL: float32 rounding of p1 (|conv1 weights| <= 0.2)
BATCH, LR, N_CLASSES = 64, 0.01, 10
# (name, shape) in PyTorch's named_parameters order for the Sequential below
SHAPES = [((6, 1, 5, 5), 25), ((6,), 25), ((16, 6, 5, 5), 150), ((16,), 150),
          ((120, 256), 256), ((120,), 256), ((84, 120), 120), ((84,), 120),
          ((10, 84), 84), ((10,), 84)]


def _problem():
    rng = np.random.default_rng(0)
    params = []
    for shape, fan_in in SHAPES:  # default init of Conv2d / Linear: U(+-1/sqrt(fan_in))
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, shape).astype(np.float32))
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, BATCH).astype(np.int64)
    for a in params + [x, y]:
        a.flags.writeable = False
    return params, x, y


P0, X, Y = _problem()


def _deltas(loss, new_params):
    return [np.float64(loss)] + [np.asarray(p, np.float64) - q for p, q in zip(new_params, P0)]


# --------------------------------------------------------------------------- #
# the floor: naive NumPy
# --------------------------------------------------------------------------- #
def _conv_fwd(x, w, b):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = h - k + 1, wd - k + 1
    cols = sliding_window_view(x, (k, k), axis=(2, 3))  # n, c, oh, ow, k, k (a view)
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k)  # the copy
    out = cols @ w.reshape(o, -1).T + b
    return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2), cols


def _conv_bwd(g, x_shape, w, cols, need_dx):
    n, c, h, wd = x_shape
    o, _, k, _ = w.shape
    oh, ow = h - k + 1, wd - k + 1
    gm = g.transpose(0, 2, 3, 1).reshape(-1, o)
    gw = (gm.T @ cols).reshape(w.shape)
    gb = gm.sum(0)
    if not need_dx:
        return gw, gb, None
    gcols = (gm @ w.reshape(o, -1)).reshape(n, oh, ow, c, k, k)
    dx = np.zeros(x_shape, np.float32)
    for i in range(k):  # col2im
        for j in range(k):
            dx[:, :, i:i + oh, j:j + ow] += gcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gw, gb, dx


def _pool_fwd(x):
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    win = win.reshape(n, c, h // 2, w // 2, 4)
    idx = win.argmax(-1)
    return np.take_along_axis(win, idx[..., None], -1)[..., 0], idx


_WINDOW = np.arange(4)


def _pool_bwd(g, idx):
    n, c, h2, w2 = g.shape
    gw = (_WINDOW == idx[..., None]) * g[..., None]  # one-hot mask of the argmax
    return gw.reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, 2 * h2, 2 * w2)


def numpy_naive():
    rows = np.arange(BATCH)
    lr = np.float32(LR)

    def build():
        params = [p.copy() for p in P0]

        def step():
            cw1, cb1, cw2, cb2, w1, b1, w2, b2, w3, b3 = params
            z1, cols1 = _conv_fwd(X, cw1, cb1)
            r1 = np.maximum(z1, 0)
            p1, i1 = _pool_fwd(r1)
            z2, cols2 = _conv_fwd(p1, cw2, cb2)
            r2 = np.maximum(z2, 0)
            p2, i2 = _pool_fwd(r2)
            f = p2.reshape(BATCH, -1)
            h1 = np.maximum(f @ w1.T + b1, 0)
            h2 = np.maximum(h1 @ w2.T + b2, 0)
            logits = h2 @ w3.T + b3
            logits -= logits.max(1, keepdims=True)
            e = np.exp(logits)
            s = e.sum(1, keepdims=True)
            loss = np.log(s).mean() - logits[rows, Y].mean()
            g = e / s
            g[rows, Y] -= 1
            g *= np.float32(1.0 / BATCH)
            grads = [None] * 10
            grads[8], grads[9] = g.T @ h2, g.sum(0)
            g = (g @ w3) * (h2 > 0)
            grads[6], grads[7] = g.T @ h1, g.sum(0)
            g = (g @ w2) * (h1 > 0)
            grads[4], grads[5] = g.T @ f, g.sum(0)
            g = (g @ w1).reshape(p2.shape)
            g = _pool_bwd(g, i2) * (r2 > 0)
            grads[2], grads[3], g = _conv_bwd(g, p1.shape, cw2, cols2, True)
            g = _pool_bwd(g, i1) * (r1 > 0)
            grads[0], grads[1], _ = _conv_bwd(g, X.shape, cw1, cols1, False)
            for p, gr in zip(params, grads):
                gr *= lr
                p -= gr
            return loss
        return step, params

    def check():
        step, params = build()
        return _deltas(step(), params)
    return build()[0], check


# --------------------------------------------------------------------------- #
# funcgrad and PyTorch (the same module tree)
# --------------------------------------------------------------------------- #
def _lenet(nn, pool):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), pool(2), nn.Conv2d(6, 16, 5), nn.ReLU(), pool(2),
        nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def _import_fg():
    try:
        import funcgrad as fg
        import funcgrad.nn as nn
        import funcgrad.nn.functional as F
        import funcgrad.optim as optim
    except ImportError as e:
        raise ImportError(name=e.name or "funcgrad.nn") from e
    return fg, nn, F, optim


def _fg_model():
    fg, nn, _, _ = _import_fg()
    model = _lenet(nn, nn.MaxPool2d)
    names = [n for n, _ in model.named_parameters()]
    model.load_state_dict({n: fg.tensor(a.copy()) for n, a in zip(names, P0)})
    return model, names


def funcgrad_eager():
    fg, nn, _, optim = _import_fg()
    xt, yt = fg.tensor(X), fg.tensor(Y)

    def build():
        model, _ = _fg_model()
        opt = optim.SGD(model.parameters(), lr=LR)
        loss_fn = nn.CrossEntropyLoss()

        return classic_step(model, opt, loss_fn, xt, yt), model

    def check():
        step, model = build()
        loss = step().item()
        return _deltas(loss, [p.detach().numpy() for p in model.parameters()])
    return build()[0], check


def funcgrad_jit():
    fg, nn, F, _ = _import_fg()
    import funcgrad.optim.functional as optf
    if not hasattr(fg, "jit"):
        raise ImportError(name="funcgrad.jit")
    model, names = _fg_model()
    opt = optf.sgd(lr=LR)

    def loss_fn(params, xb, yb):
        return F.cross_entropy(nn.functional_call(model, params, (xb,)), yb)

    def train_step(params, state, xb, yb):
        loss, grads = fg.value_and_grad(loss_fn)(params, xb, yb)
        params, state = opt.step(params, grads, state)
        return loss, params, state

    jstep = fg.jit(train_step, donate_argnums=(0, 1))

    def fresh():
        params = {n: a.copy() for n, a in zip(names, P0)}
        return params, opt.init(params)

    def check():
        loss, params, _ = jstep(*fresh(), X, Y)
        return _deltas(np.asarray(getattr(loss, "data", loss)), [params[n] for n in names])

    carry = list(fresh())

    def step():
        loss, carry[0], carry[1] = jstep(carry[0], carry[1], X, Y)
        return loss
    step()
    return step, check


def torch_eager():
    import torch
    xt, yt = torch.from_numpy(X.copy()), torch.from_numpy(Y.copy())

    def build():
        model = _lenet(torch.nn, torch.nn.MaxPool2d)
        with torch.no_grad():
            for p, a in zip(model.parameters(), P0):
                p.copy_(torch.from_numpy(a.copy()))
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        loss_fn = torch.nn.CrossEntropyLoss()

        return classic_step(model, opt, loss_fn, xt, yt), model

    def check():
        step, model = build()
        loss = step().item()
        return _deltas(loss, [p.detach().numpy() for p in model.parameters()])
    return build()[0], check


# --------------------------------------------------------------------------- #
# jax and autograd (functional forward written once per library)
# --------------------------------------------------------------------------- #
def _head(ops, params, a, y, logsumexp):
    _, _, _, _, w1, b1, w2, b2, w3, b3 = params
    a = ops.reshape(a, (a.shape[0], -1))
    a = ops.maximum(a @ w1.T + b1, 0.0)
    a = ops.maximum(a @ w2.T + b2, 0.0)
    logits = a @ w3.T + b3
    return ops.mean(logsumexp(logits, axis=1) - logits[ops.arange(logits.shape[0]), y])


def jax_jit():
    import warnings

    import jax
    import jax.numpy as jnp
    from jax import lax

    def conv_relu_pool(a, w, b):
        a = lax.conv_general_dilated(a, w, (1, 1), "VALID",
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        a = jnp.maximum(a + b[None, :, None, None], 0.0)
        return lax.reduce_window(a, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_fn(params, xb, yb):
        a = conv_relu_pool(xb, params[0], params[1])
        a = conv_relu_pool(a, params[2], params[3])
        return _head(jnp, params, a, yb, jax.nn.logsumexp)

    def train_step(params, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        return loss, tuple(p - LR * g for p, g in zip(params, grads))

    jstep = jax.jit(train_step, donate_argnums=(0,))
    xj, yj = jnp.asarray(X), jnp.asarray(Y.astype(np.int32))

    def fresh():
        return tuple(jnp.array(a) for a in P0)

    def check():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss, params = jstep(fresh(), xj, yj)
        return _deltas(np.asarray(loss), [np.asarray(p) for p in params])

    carry = [fresh()]

    def step():
        loss, carry[0] = jstep(carry[0], xj, yj)
        return jax.block_until_ready(loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step()
    return step, check


def autograd_convolve():
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.signal import convolve
    from autograd.scipy.special import logsumexp
    lr = np.float32(LR)

    def conv_relu_pool(a, w, b):
        # convolve() flips the kernel (true convolution): flip it back; weight -> (C, O, k, k)
        k = anp.transpose(w[:, :, ::-1, ::-1], (1, 0, 2, 3))
        a = convolve(a, k, axes=([2, 3], [2, 3]), dot_axes=([1], [0]), mode="valid")
        a = anp.maximum(a + anp.reshape(b, (1, -1, 1, 1)), 0.0)
        n, c, h, w_ = a.shape
        return anp.max(anp.reshape(a, (n, c, h // 2, 2, w_ // 2, 2)), axis=(3, 5))

    def loss_fn(params):
        a = conv_relu_pool(X, params[0], params[1])
        a = conv_relu_pool(a, params[2], params[3])
        return _head(anp, params, a, Y, logsumexp)

    vg = autograd.value_and_grad(loss_fn)

    def build():
        params = [p.copy() for p in P0]

        def step():
            loss, grads = vg(params)
            for p, g in zip(params, grads):
                p -= lr * g
            return loss
        return step, params

    def check():
        step, params = build()
        return _deltas(step(), params)
    return build()[0], check


def implementations():
    return {FLOOR: numpy_naive, "funcgrad eager (nn + optim)": funcgrad_eager,
            "funcgrad jit step": funcgrad_jit, "PyTorch eager": torch_eager,
            "jax.jit": jax_jit, "autograd (scipy.signal.convolve)": autograd_convolve}
