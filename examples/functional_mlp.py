"""An MLP on the functional front: a params pytree, grad, an optax-style optimizer, jit, vmap.

Where the PyTorch-style examples keep state in Modules and optimizers, this
one is pure functions over plain arrays (the JAX way):

* the parameters are a pytree -- a list of ``{"W": ..., "b": ...}`` dicts --
  initialised from explicit ``funcgrad.random`` keys;
* ``example_loss(params, x, y)`` is the loss of ONE example, and
  ``funcgrad.vmap`` maps it over a batch (per-example losses for free);
* ``funcgrad.grad`` differentiates the batch mean with respect to the pytree;
* ``funcgrad.optim.functional.adam`` is an optax-style pure optimizer
  (``init(params) -> state``, ``step(params, grads, state) -> (params, state)``);
* ``funcgrad.jit`` compiles the whole training step (grad + update) once
  and replays it for every batch.

At the end it lists the test examples with the largest per-example loss (the
ones the model finds hardest), computed with vmap in one call.

Data: scikit-learn's 8x8 digits (64 features) when installed, else synthetic
Gaussian clusters.

Run: python examples/functional_mlp.py [--epochs 10] [--batch-size 32]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.optim.functional as fopt


def load_features():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, size=1500)
        x = rng.normal(size=(10, 64))[y] + 0.8 * rng.normal(size=(1500, 64))
        return x.astype(np.float32), y, "synthetic Gaussian clusters"
    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target, "scikit-learn digits"


def init_params(key, sizes=(64, 128, 64, 10)):
    """He-initialised weights and zero biases, one dict per layer (a pytree)."""
    params = []
    for key, (m, n) in zip(fg.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        w = fg.random.normal(key, (m, n), dtype=np.float32) * np.float32(np.sqrt(2.0 / m))
        params.append({"W": w, "b": np.zeros(n, np.float32)})
    return params


def predict(params, x):
    """Logits of one example (or a batch: the matmuls broadcast)."""
    h = x
    for layer in params[:-1]:
        h = fnp.maximum(h @ layer["W"] + layer["b"], 0.0)
    return h @ params[-1]["W"] + params[-1]["b"]


def example_loss(params, x, y):
    """Cross-entropy of ONE example: x (64,), y an integer label."""
    logits = predict(params, x)
    return fnp.logsumexp(logits) - logits[y]


# vmap turns the one-example loss into per-example losses of a batch.
per_example_losses = fg.vmap(example_loss, in_axes=(None, 0, 0))


def batch_loss(params, x, y):
    return fnp.mean(per_example_losses(params, x, y))


def make_train_step(optimizer):
    def train_step(params, state, x, y):
        grads = fg.grad(batch_loss)(params, x, y)
        return optimizer.step(params, grads, state)
    return fg.jit(train_step)


def accuracy(params, x, y):
    return float((np.asarray(predict(params, x)).argmax(1) == y).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()

    x, y, source = load_features()
    n_test = len(x) // 5
    x_train, y_train, x_test, y_test = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    print(f"data: {source}; {len(x_train)} training, {len(x_test)} test examples")

    key, init_key = fg.random.split(fg.random.key(0))
    params = init_params(init_key)
    optimizer = fopt.adam(lr=args.lr)
    state = optimizer.init(params)
    train_step = make_train_step(optimizer)
    eval_loss = fg.jit(batch_loss)

    rng = np.random.default_rng(0)
    bs = args.batch_size
    first_loss = eval_loss(params, x_train, y_train)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))
        # whole batches only: one compiled step serves every batch (shapes are static)
        for i in range(0, len(order) - bs + 1, bs):
            idx = order[i:i + bs]
            params, state = train_step(params, state, x_train[idx], y_train[idx])
        print(f"epoch {epoch + 1:2d}: train loss {float(eval_loss(params, x_train, y_train)):.4f}"
              f"  test accuracy {accuracy(params, x_test, y_test):.4f}")
    elapsed = time.perf_counter() - start
    last_loss = eval_loss(params, x_train, y_train)
    print(f"train loss {float(first_loss):.4f} -> {float(last_loss):.4f} in {elapsed:.1f} s")
    info = train_step.cache_info()
    print(f"jit: the step was traced {info['traces']} time(s) and replayed {info['hits']} times")

    losses = np.asarray(per_example_losses(params, x_test, y_test))
    hardest = np.argsort(losses)[::-1][:5]
    print("hardest test examples (index: label -> prediction, loss):")
    pred = np.asarray(predict(params, x_test)).argmax(1)
    for i in hardest:
        print(f"  {i:4d}: {y_test[i]} -> {pred[i]}, {losses[i]:.3f}")
    if float(last_loss) > 0.5 * float(first_loss):
        raise SystemExit("the training loss did not halve")


if __name__ == "__main__":
    main()
