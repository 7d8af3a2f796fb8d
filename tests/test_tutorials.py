"""The tutorial programs are PyTorch programs with only their imports switched.

For each tutorial in ``examples/`` this test proves the claim mechanically:

1. ``test_only_the_imports_differ``: the example's text, with its funcgrad
   import lines replaced by the torch ones (``SWITCH``), is the PyTorch
   program -- the two texts differ in exactly those lines, and outside its
   docstring and comments the PyTorch text never mentions funcgrad.
2. ``test_tutorial_trains``: both programs are run at a tiny size (funcgrad's
   always; PyTorch's when torch is installed).  They cannot share a random
   generator, so instead of comparing numbers each run must *train*: its loss
   falls by the stated factor and its accuracy beats the stated floor, and
   the linear regression recovers weight ~ 2 and bias ~ 1 in both.

Exact numerical parity from the same initial weights is tests/test_training_parity.py.
"""
from __future__ import annotations

import difflib
import importlib.util
import io
import pathlib
import tokenize

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# The funcgrad import line -> the PyTorch line it stands for.  Nothing else may differ.
SWITCH = {
    "import funcgrad as torch": "import torch",
    "import funcgrad.nn as nn": "import torch.nn as nn",
    "import funcgrad.nn.functional as F": "import torch.nn.functional as F",
    "import funcgrad.optim as optim": "import torch.optim as optim",
    "from funcgrad.utils.data import DataLoader, TensorDataset":
        "from torch.utils.data import DataLoader, TensorDataset",
    "from funcgrad.optim.lr_scheduler import StepLR": "from torch.optim.lr_scheduler import StepLR",
}


def _ratio(losses):
    return losses[0] / losses[-1]


def _check_linear_regression(result):
    losses, weight, bias = result
    assert _ratio(losses) > 10, f"loss fell only from {losses[0]:.4f} to {losses[-1]:.4f}"
    assert abs(weight - 2) < 0.1 and abs(bias - 1) < 0.1, \
        f"learned weight {weight:.4f}, bias {bias:.4f}; expected about 2 and 1"


def _check_classifier(min_ratio, min_accuracy):
    def check(result):
        losses, accuracy = result[0], result[1]
        accuracy = accuracy[-1] if isinstance(accuracy, list) else accuracy
        assert _ratio(losses) > min_ratio, \
            f"loss fell only from {losses[0]:.4f} to {losses[-1]:.4f} (want x{min_ratio})"
        assert accuracy > min_accuracy, f"accuracy {accuracy:.3f} <= {min_accuracy}"
    return check


# example -> (train() keyword arguments for a tiny run, what a successful run shows)
TUTORIALS = {
    "linear_regression.py": (dict(epochs=200), _check_linear_regression),       # (a)
    "mlp.py": (dict(epochs=40), _check_classifier(4, 0.9)),                       # (b)
    "cnn.py": (dict(epochs=4, limit=400, batch_size=32, lr=3e-3),                # (c)
               _check_classifier(3, 0.6)),
    "mnist_mlp.py": (dict(epochs=5, limit=400), _check_classifier(5, 0.7)),      # (d)
    "gpu.py": (dict(epochs=6, limit=400, lr=3e-3), _check_classifier(3, 0.7)),
    "mnist_main.py": (dict(epochs=5, limit=1000, gamma=0.9), _check_classifier(1.5, 0.6)),
}
# Checked for "only the imports differ" too; run under both by tests/test_tensor_parity.py.
STATIC_ONLY = ["tensor_basics.py"]


def to_pytorch(source):
    """The PyTorch program: ``source`` with each funcgrad import line switched back."""
    lines = source.splitlines(keepends=True)
    return "".join(SWITCH[ln.rstrip("\n")] + "\n" if ln.rstrip("\n") in SWITCH else ln
                   for ln in lines)


def _code_mentions(source, word):
    """Tokens of ``source`` outside comments and the module docstring that contain ``word``."""
    hits, seen_code = [], False
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING):
            continue
        if not seen_code and tok.type == tokenize.STRING:
            seen_code = True  # the module docstring
            continue
        seen_code = True
        if word in tok.string:
            hits.append(f"line {tok.start[0]}: {tok.line.strip()}")
    return hits


@pytest.mark.parametrize("name", list(TUTORIALS) + STATIC_ONLY)
def test_only_the_imports_differ(name):
    source = (EXAMPLES / name).read_text()
    assert "import funcgrad as torch\n" in source, f"{name} does not import funcgrad as torch"
    ported = to_pytorch(source)
    changed = [ln for ln in difflib.ndiff(source.splitlines(), ported.splitlines())
               if ln.startswith("- ")]
    assert changed and all(ln[2:] in SWITCH for ln in changed), changed
    leftovers = _code_mentions(ported, "funcgrad")
    assert not leftovers, (f"{name} uses funcgrad beyond the switched import lines, so it is "
                           f"not a PyTorch program with its imports switched:\n"
                           + "\n".join(leftovers))
    compile(ported, f"{name} (PyTorch version)", "exec")


def _load(path, module_name):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("library", ["funcgrad", "pytorch"])
@pytest.mark.parametrize("name", list(TUTORIALS))
def test_tutorial_trains(name, library, tmp_path):
    kwargs, check = TUTORIALS[name]
    path = EXAMPLES / name
    if library == "pytorch":
        torch = pytest.importorskip(
            "torch", reason="running the PyTorch version needs PyTorch (pip install torch==2.13.0)")
        torch.set_num_threads(1)  # tiny models: threads only add contention noise
        pytest.importorskip("torch.utils.data",
                            reason="the PyTorch version needs torch.utils.data")
        path = tmp_path / f"torch_{name}"
        path.write_text(to_pytorch((EXAMPLES / name).read_text()))
    module = _load(path, f"tutorial_{library}_{path.stem}")
    check(module.train(seed=0, verbose=False, **kwargs))
