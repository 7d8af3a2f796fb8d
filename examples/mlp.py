"""An MLP classifier on a three-armed spiral -- a PyTorch tutorial on funcgrad.

The program is the PyTorch tutorial with the torch imports replaced by
funcgrad's and nothing else changed (tests/test_tutorials.py switches them
back and runs it under PyTorch too).  Data: a synthetic 2-D spiral with three
classes (300 points per class, made with torch operations), which no linear
model separates; a two-hidden-layer MLP with ``torch.relu`` learns it.

Run: python examples/mlp.py [--epochs 300] [--lr 0.01]
     python examples/mlp.py --smoke     (30 epochs; used by the tests)
"""
import argparse
import math

import funcgrad as torch
import funcgrad.nn as nn
import funcgrad.optim as optim


def make_spiral(points_per_class=300, classes=3):
    xs, ys = [], []
    for c in range(classes):
        r = torch.linspace(0.05, 1.0, points_per_class)
        theta = torch.linspace(c * 4.0, (c + 1) * 4.0, points_per_class)
        theta = theta + 0.2 * torch.randn(points_per_class)
        xs.append(torch.stack([r * torch.sin(theta), r * torch.cos(theta)], dim=1))
        ys.append(torch.full((points_per_class,), c, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)


class MLP(nn.Module):
    def __init__(self, in_features=2, hidden=64, num_classes=3):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def train(epochs=300, lr=0.01, seed=0, verbose=True):
    """Full-batch Adam on the spiral; returns (losses, final training accuracy)."""
    torch.manual_seed(seed)
    x, y = make_spiral()

    model = MLP()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)

    losses = []
    for epoch in range(epochs):
        model.train()
        optimizer.zero_grad()
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if verbose and (epoch + 1) % max(1, epochs // 10) == 0:
            print(f"epoch {epoch + 1:4d}  loss {loss.item():.4f}")

    model.eval()
    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
        accuracy = (predicted == y).float().mean().item()
    if verbose:
        print(f"training accuracy {accuracy:.3f} (chance {1 / 3:.3f}, "
              f"{math.floor(accuracy * len(y))} of {len(y)} points)")
    return losses, accuracy


def main():
    parser = argparse.ArgumentParser(description="MLP classifier on a spiral")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--smoke", action="store_true", help="30 epochs")
    args = parser.parse_args()
    train(30 if args.smoke else args.epochs, args.lr)


if __name__ == "__main__":
    main()
