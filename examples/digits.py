"""The funcgrad demo: a CNN on scikit-learn's handwritten digits, trained two ways.

1. The classic PyTorch loop -- only the imports differ from a PyTorch program.
2. The same model with the functional API: a pure loss over a dict of
   parameters, ``funcgrad.value_and_grad``, a pure optimizer, and ``funcgrad.jit``.

It prints the test accuracy of both (target: at least 97%) and writes
``digits_curves.png`` (loss and accuracy per epoch) and ``digits_mistakes.png``
(misclassified test digits) to ``--out``.

Run: python examples/digits.py            (about a minute on 2 CPU cores)
     python examples/digits.py --smoke    (a few seconds; used by the tests)
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import funcgrad as torch  # the PyTorch-style front ...
import funcgrad.nn as nn
import funcgrad.nn.functional as F
import funcgrad.optim as optim
from funcgrad.utils.data import DataLoader, TensorDataset

import funcgrad as fg  # ... and the functional front, on the same engine
import funcgrad.optim.functional as fopt


LR = 3e-3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 32 * 4 * 4)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def load_data(smoke):
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    n_test = len(x) // 5
    if smoke:
        return x[n_test:n_test + 256], y[n_test:n_test + 256], x[:128], y[:128]
    return x[n_test:], y[n_test:], x[:n_test], y[:n_test]


def progress(iterable, desc, total):
    try:
        from tqdm import tqdm
        return tqdm(iterable, desc=desc, total=total, leave=False, ncols=90)
    except ImportError:
        return iterable


def accuracy(logits, y):
    return float((np.asarray(logits).argmax(1) == y).mean())


# --------------------------------------------------------------------------- #
# 1. The PyTorch-style loop
# --------------------------------------------------------------------------- #
def train_torch_style(data, epochs, batch_size):
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(0)
    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=LR)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loader = DataLoader(TensorDataset(torch.tensor(x_train), torch.tensor(y_train)),
                        batch_size=batch_size, shuffle=True)
    history = []
    for epoch in range(epochs):
        model.train()
        running_loss, correct, seen = 0.0, 0, 0
        bar = progress(loader, f"torch-style epoch {epoch + 1}/{epochs}", len(loader))
        for inputs, labels in bar:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * len(labels)
            correct += (outputs.argmax(1) == labels).sum().item()
            seen += len(labels)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{running_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        scheduler.step()
        model.eval()
        with torch.no_grad():
            test_logits = model(torch.tensor(x_test))
        history.append((running_loss / seen, accuracy(test_logits.numpy(), y_test)))
        print(f"torch-style  epoch {epoch + 1:2d}: loss {history[-1][0]:.4f}  "
              f"test accuracy {history[-1][1]:.4f}")
    return model, history


# --------------------------------------------------------------------------- #
# 2. The functional API: pure loss, value_and_grad, pure optimizer, jit
# --------------------------------------------------------------------------- #
def train_functional(data, epochs, batch_size):
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(0)
    model = Net()  # used only as a pure function of its parameters
    params = {name: p.detach().numpy() for name, p in model.named_parameters()}

    def loss_fn(params, x, y):
        logits = nn.functional_call(model, params, (x,))
        return F.cross_entropy(logits, y)

    opt = fopt.adam(lr=LR)
    state = opt.init(params)

    def train_step(params, state, x, y, lr):
        loss, grads = fg.value_and_grad(loss_fn)(params, x, y)
        params, state = opt.step(params, grads, state, lr=lr)
        return params, state, loss

    step = fg.jit(train_step) if hasattr(fg, "jit") else train_step
    rng = np.random.default_rng(0)
    history = []
    n = len(x_train)
    for epoch in range(epochs):
        # the same cosine schedule as CosineAnnealingLR; a NumPy scalar is traced by
        # jit (a Python float would be baked into the compiled step)
        lr = np.float32(LR * (1 + np.cos(np.pi * epoch / epochs)) / 2)
        order = rng.permutation(n)
        total, seen = 0.0, 0
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
        bar = progress(batches, f"functional  epoch {epoch + 1}/{epochs}", len(batches))
        for idx in bar:
            params, state, loss = step(params, state, x_train[idx], y_train[idx], lr)
            total += float(loss) * len(idx)
            seen += len(idx)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{total / seen:.3f}")
        logits = nn.functional_call(model, params, (x_test,))
        history.append((total / seen, accuracy(logits.detach().numpy(), y_test)))
        print(f"functional   epoch {epoch + 1:2d}: loss {history[-1][0]:.4f}  "
              f"test accuracy {history[-1][1]:.4f}")
    return params, history


# --------------------------------------------------------------------------- #
# Pictures
# --------------------------------------------------------------------------- #
def save_pictures(out, hist_torch, hist_fn, model, x_test, y_test):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out, exist_ok=True)
    epochs = np.arange(1, len(hist_torch) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for hist, label in ((hist_torch, "PyTorch-style loop"), (hist_fn, "functional + jit")):
        ax1.plot(epochs, [h[0] for h in hist], marker="o", label=label)
        ax2.plot(epochs, [h[1] for h in hist], marker="o", label=label)
    ax1.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    ax2.set(title="test accuracy", xlabel="epoch", ylabel="accuracy")
    ax2.axhline(0.97, color="grey", linestyle="--", linewidth=1, label="target 0.97")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    curves = os.path.join(out, "digits_curves.png")
    fig.savefig(curves, dpi=100)
    plt.close(fig)

    with torch.no_grad():
        pred = model(torch.tensor(x_test)).argmax(1).numpy()
    wrong = np.flatnonzero(pred != y_test)[:24]
    cols = 8
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.6))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), wrong):
        ax.imshow(x_test[i, 0], cmap="gray_r")
        ax.set_title(f"pred {pred[i]}\ntrue {y_test[i]}", fontsize=9, color="crimson")
    fig.suptitle(f"misclassified test digits ({len(np.flatnonzero(pred != y_test))} of "
                 f"{len(y_test)})")
    fig.tight_layout()
    mistakes = os.path.join(out, "digits_mistakes.png")
    fig.savefig(mistakes, dpi=100)
    plt.close(fig)
    return curves, mistakes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default=".")
    ap.add_argument("--smoke", action="store_true", help="tiny run for tests")
    args = ap.parse_args()
    epochs = 1 if args.smoke else args.epochs
    data = load_data(args.smoke)
    t0 = time.perf_counter()
    model, hist_torch = train_torch_style(data, epochs, args.batch_size)
    t1 = time.perf_counter()
    _, hist_fn = train_functional(data, epochs, args.batch_size)
    t2 = time.perf_counter()
    curves, mistakes = save_pictures(args.out, hist_torch, hist_fn, model, data[2], data[3])
    print(f"\nPyTorch-style loop: test accuracy {hist_torch[-1][1]:.4f} ({t1 - t0:.1f} s)")
    print(f"functional + jit  : test accuracy {hist_fn[-1][1]:.4f} ({t2 - t1:.1f} s)")
    print(f"pictures: {curves}, {mistakes}")
    if not args.smoke and min(hist_torch[-1][1], hist_fn[-1][1]) < 0.97:
        raise SystemExit("test accuracy below the 97% target")


if __name__ == "__main__":
    main()
