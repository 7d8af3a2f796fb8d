"""A small CNN (LeNet-style) on 28x28 digit images -- a PyTorch tutorial on funcgrad.

The program is the PyTorch tutorial with the torch imports replaced by
funcgrad's and nothing else changed (tests/test_tutorials.py switches them
back and runs it under PyTorch too).

Data: scikit-learn's 8x8 handwritten digits (1797 images), each pixel
repeated 3x3 (``np.kron``) and padded by 2 to the MNIST size of 28x28, when
scikit-learn is installed; otherwise synthetic 28x28 images (one noisy bar
pattern per class), so the program also runs without it.

Run: python examples/cnn.py [--epochs 5] [--batch-size 64] [--limit N]
     python examples/cnn.py --smoke     (1 epoch on 256 images; used by the tests)
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
        self.conv1 = nn.Conv2d(1, 6, 5)       # 28 -> 24, pooled to 12
        self.conv2 = nn.Conv2d(6, 16, 5)      # 12 -> 8, pooled to 4
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 16 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def train(epochs=5, batch_size=64, lr=1e-3, limit=None, seed=0, verbose=True):
    """Train on 80% of the images; returns (per-epoch mean losses, test accuracy)."""
    torch.manual_seed(seed)
    images, labels, source = load_images(limit)
    n_test = len(images) // 5
    train_set = TensorDataset(torch.from_numpy(images[n_test:]), torch.from_numpy(labels[n_test:]))
    test_x, test_y = torch.from_numpy(images[:n_test]), torch.from_numpy(labels[:n_test])
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    if verbose:
        print(f"data: {source}; {len(train_set)} training, {n_test} test images")

    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)

    epoch_losses = []
    for epoch in range(epochs):
        model.train()
        running_loss, batches = 0.0, 0
        for inputs, targets in train_loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            batches += 1
        epoch_losses.append(running_loss / batches)

        model.eval()
        with torch.no_grad():
            predicted = model(test_x).argmax(dim=1)
            accuracy = (predicted == test_y).sum().item() / len(test_y)
        if verbose:
            print(f"epoch {epoch + 1}: loss {epoch_losses[-1]:.4f}  test accuracy {accuracy:.4f}")
    return epoch_losses, accuracy


def main():
    parser = argparse.ArgumentParser(description="LeNet-style CNN on 28x28 digits")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--smoke", action="store_true", help="1 epoch on 256 images")
    args = parser.parse_args()
    if args.smoke:
        train(epochs=1, batch_size=args.batch_size, limit=256)
    else:
        train(args.epochs, args.batch_size, limit=args.limit)


if __name__ == "__main__":
    main()
