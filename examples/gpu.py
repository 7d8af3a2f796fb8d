"""The same training loop on a GPU when there is one -- a PyTorch tutorial on funcgrad.

The program is the PyTorch tutorial with the torch imports replaced by
funcgrad's and nothing else changed (tests/test_tutorials.py switches them
back and runs it under PyTorch too).  It picks the device the PyTorch way::

    device = "cuda" if torch.cuda.is_available() else "cpu"

moves the model and every batch there with ``.to(device)``, and prints which
device it used.  funcgrad runs on a GPU through CuPy (``pip install cupy-cuda12x``);
without one it runs on the CPU (NumPy), unchanged.

Data: scikit-learn's 8x8 handwritten digits (flattened to 64 features) when
scikit-learn is installed; otherwise synthetic Gaussian clusters, one per class.

Run: python examples/gpu.py             (10 epochs)
     python examples/gpu.py --smoke     (1 epoch on 256 samples; used by the tests)
"""
import argparse
import time

import numpy as np

import funcgrad as torch
import funcgrad.nn as nn
import funcgrad.nn.functional as F
import funcgrad.optim as optim
from funcgrad.utils.data import DataLoader, TensorDataset


def load_features(limit=None):
    """(features float32 (N, 64), labels int64 (N,), source name)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 10, size=1500)
        centres = rng.normal(size=(10, 64))
        features = centres[labels] + 0.8 * rng.normal(size=(1500, 64))
        source = "synthetic Gaussian clusters"
    else:
        digits = load_digits()
        features, labels = digits.data / 16.0, digits.target
        source = "scikit-learn digits"
    return features[:limit].astype(np.float32), labels[:limit].astype(np.int64), source


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def train(epochs=10, batch_size=32, lr=1e-3, limit=None, seed=0, verbose=True):
    """Train on 80% of the data on the best device; returns (losses, test accuracy, device)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if verbose:
        print(f"Using {device} device")
    torch.manual_seed(seed)
    features, labels, source = load_features(limit)
    n_test = len(features) // 5
    train_set = TensorDataset(torch.from_numpy(features[n_test:]),
                              torch.from_numpy(labels[n_test:]))
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_x = torch.from_numpy(features[:n_test]).to(device)
    test_y = torch.from_numpy(labels[:n_test]).to(device)

    model = Net().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)

    losses = []
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        running_loss = 0.0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        losses.append(running_loss / len(train_loader))

        model.eval()
        with torch.no_grad():
            accuracy = (model(test_x).argmax(dim=1) == test_y).float().mean().item()
        if verbose:
            print(f"epoch {epoch + 1:2d}: loss {losses[-1]:.4f}  test accuracy {accuracy:.4f}")
    if verbose:
        print(f"data: {source}; trained on {next(model.parameters()).device} "
              f"in {time.perf_counter() - start:.1f} s")
    return losses, accuracy, device


def main():
    parser = argparse.ArgumentParser(description="The training loop on the best device")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="1 epoch on 256 samples")
    args = parser.parse_args()
    if args.smoke:
        train(epochs=1, limit=256)
    else:
        train(args.epochs)


if __name__ == "__main__":
    main()
