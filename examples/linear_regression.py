"""Linear regression with nn.Linear, nn.MSELoss and optim.SGD -- a PyTorch tutorial on funcgrad.

The program is the PyTorch tutorial with the torch imports replaced by
funcgrad's and nothing else changed (tests/test_tutorials.py switches them
back and runs it under PyTorch too).  Data: 100 synthetic points on the line
y = 2x + 1 with Gaussian noise of standard deviation 0.1; the model should
learn weight ~ 2 and bias ~ 1.

Run: python examples/linear_regression.py [--epochs 200] [--lr 0.1]
"""
import argparse

import funcgrad as torch
import funcgrad.nn as nn
import funcgrad.optim as optim


def make_data(n=100):
    x = torch.randn(n, 1)
    y = 2 * x + 1 + 0.1 * torch.randn(n, 1)
    return x, y


def train(epochs=200, lr=0.1, seed=0, verbose=True):
    """Fit y = w x + b by full-batch gradient descent; returns (losses, weight, bias)."""
    torch.manual_seed(seed)
    x, y = make_data()

    model = nn.Linear(1, 1)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)

    losses = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        outputs = model(x)
        loss = criterion(outputs, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if verbose and (epoch + 1) % max(1, epochs // 10) == 0:
            print(f"epoch {epoch + 1:4d}  loss {loss.item():.6f}")

    weight = model.weight.item()
    bias = model.bias.item()
    if verbose:
        print(f"learned weight {weight:.4f} (true 2), bias {bias:.4f} (true 1)")
    return losses, weight, bias


def main():
    parser = argparse.ArgumentParser(description="Linear regression with nn.Linear")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    train(args.epochs, args.lr)


if __name__ == "__main__":
    main()
