"""The MNIST-style 784-128-64-10 MLP, trained with SGD + momentum -- a PyTorch tutorial on funcgrad.

The program is the PyTorch tutorial with the torch imports replaced by
funcgrad's and nothing else changed (tests/test_tutorials.py switches them
back and runs it under PyTorch too).

Data: scikit-learn's 8x8 handwritten digits (1797 images), each pixel
repeated 3x3 (``np.kron``) and padded by 2 to MNIST's 28x28, when
scikit-learn is installed; otherwise synthetic 28x28 images (one noisy bar
pattern per class).  Images are normalised with the training set's mean and
standard deviation, as ``transforms.Normalize((0.1307,), (0.3081,))`` does for
MNIST.

Run: python examples/mnist_mlp.py             (10 epochs, a few seconds)
     python examples/mnist_mlp.py --smoke     (1 epoch on 256 images; used by the tests)
"""
import argparse

import numpy as np

import funcgrad as torch
import funcgrad.nn as nn
import funcgrad.nn.functional as F
import funcgrad.optim as optim
from funcgrad.utils.data import DataLoader, TensorDataset


def load_images(limit=None):
    """(images float32 (N, 1, 28, 28) in [0, 1], labels int64 (N,), source name)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 10, size=1000)
        images = 0.2 * rng.random((1000, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 + 2 * c:5 + 2 * c, 4:24] += 0.8  # a bar whose height gives the class
        source = "synthetic bars"
    else:
        digits = load_digits()
        images = np.stack([np.pad(np.kron(im / 16.0, np.ones((3, 3))), 2) for im in digits.images])
        labels = digits.target
        source = "scikit-learn digits, upsampled to 28x28"
    images = images[:limit, None].astype(np.float32)
    return images, labels[:limit].astype(np.int64), source


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def train_one_epoch(model, loader, criterion, optimizer):
    model.train()
    running_loss = 0.0
    for inputs, labels in loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    return running_loss / len(loader)


def evaluate(model, loader):
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for inputs, labels in loader:
            outputs = model(inputs)
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return correct / total


def train(epochs=10, batch_size=32, lr=0.01, limit=None, seed=0, verbose=True):
    """Train on 80% of the images; returns (per-epoch mean losses, per-epoch test accuracies)."""
    torch.manual_seed(seed)
    images, labels, source = load_images(limit)
    n_test = len(images) // 5
    mean, std = images[n_test:].mean(), images[n_test:].std()
    images = (images - mean) / std
    train_set = TensorDataset(torch.from_numpy(images[n_test:]), torch.from_numpy(labels[n_test:]))
    test_set = TensorDataset(torch.from_numpy(images[:n_test]), torch.from_numpy(labels[:n_test]))
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)
    if verbose:
        print(f"data: {source}; {len(train_set)} training, {len(test_set)} test images")

    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    losses, accuracies = [], []
    for epoch in range(epochs):
        losses.append(train_one_epoch(model, train_loader, criterion, optimizer))
        accuracies.append(evaluate(model, test_loader))
        if verbose:
            print(f"epoch {epoch + 1:2d}: loss {losses[-1]:.4f}  "
                  f"test accuracy {accuracies[-1]:.4f}")
    return losses, accuracies


def main():
    parser = argparse.ArgumentParser(description="784-128-64-10 MLP on 28x28 digits")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--smoke", action="store_true", help="1 epoch on 256 images")
    args = parser.parse_args()
    if args.smoke:
        train(epochs=1, batch_size=args.batch_size, lr=args.lr, limit=256)
    else:
        train(args.epochs, args.batch_size, args.lr)


if __name__ == "__main__":
    main()
