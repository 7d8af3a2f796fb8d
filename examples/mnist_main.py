"""PyTorch's examples/mnist/main.py, in the idioms of its time, on funcgrad.

The program is PyTorch code with the torch imports replaced by funcgrad's and
nothing else changed (tests/test_tutorials.py switches them back and runs it
under PyTorch too).  It uses the idioms older and newer PyTorch code is full of:
a DCGAN-style ``weights_init`` through ``.data`` (``m.weight.data.normal_``,
``nn.init.constant_(m.bias.data, 0)``), ``torch.accelerator`` to pick the
device, ``Adadelta`` with a ``StepLR`` schedule, ``clip_grad_norm_``,
``F.log_softmax`` + ``F.nll_loss``, and ``pred.eq(target.view_as(pred))``.

Data: scikit-learn's 8x8 handwritten digits when it is installed; otherwise
synthetic 8x8 images (one bright row per class), so the program also runs
without it.

Run: python examples/mnist_main.py [--epochs 8] [--limit N]
"""
import argparse

import numpy as np

import funcgrad as torch
import funcgrad.nn as nn
import funcgrad.nn.functional as F
import funcgrad.optim as optim
from funcgrad.optim.lr_scheduler import StepLR
from funcgrad.utils.data import DataLoader, TensorDataset


def digits(limit=None):
    """(images float32 (N, 1, 8, 8) in [0, 1], labels int64 (N,))."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 10, size=1200)
        images = 0.3 * rng.random((1200, 8, 8))
        images[np.arange(1200), labels % 8, :] += 0.7 * (1 + labels // 8)[:, None] / 2
    else:
        data = load_digits()
        images, labels = data.images / 16.0, data.target
    return images[:limit, None].astype(np.float32), labels[:limit].astype(np.int64)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)   # 8 -> 6
        self.conv2 = nn.Conv2d(16, 32, 3, 1)  # 6 -> 4, pooled to 2
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(128, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def weights_init(m):
    """The DCGAN tutorial's initialisation, through ``.data``."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.1)
        nn.init.constant_(m.bias.data, 0)
    elif classname.find("Linear") != -1:
        nn.init.xavier_uniform_(m.weight.data)
        m.bias.data.fill_(0.01)


def train_epoch(model, device, train_loader, optimizer):
    model.train()
    losses = []
    for data, target in train_loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    n = len(test_loader.dataset)
    return test_loss / n, correct / n


def train(epochs=8, lr=1.0, gamma=0.7, batch_size=64, limit=None, seed=1, verbose=True):
    """Train; return (mean training loss per epoch, test accuracy per epoch)."""
    torch.manual_seed(seed)
    device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() \
        else torch.device("cpu")
    images, labels = digits(limit)
    split = len(images) * 4 // 5
    train_set = TensorDataset(torch.from_numpy(images[:split]), torch.from_numpy(labels[:split]))
    test_set = TensorDataset(torch.from_numpy(images[split:]), torch.from_numpy(labels[split:]))
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)
    model = Net().to(device)
    model.apply(weights_init)
    optimizer = optim.Adadelta(model.parameters(), lr=lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=gamma)
    losses, accuracy = [], []
    for epoch in range(1, epochs + 1):
        losses.append(train_epoch(model, device, train_loader, optimizer))
        test_loss, acc = test(model, device, test_loader)
        accuracy.append(acc)
        scheduler.step()
        if verbose:
            print(f"epoch {epoch}: train loss {losses[-1]:.4f}  test loss {test_loss:.4f}  "
                  f"accuracy {100 * acc:.1f}%  lr {optimizer.param_groups[0]['lr']:.4f}")
    return losses, accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    train(epochs=args.epochs, limit=args.limit)
