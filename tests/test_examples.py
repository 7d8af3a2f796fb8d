"""Every example runs, at its smoke size (CI keeps them working)."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
# Arguments that shrink an example to a few seconds; examples not listed run as they are.
SMOKE_ARGS = {
    "per_example_gradients.py": ["--batch", "16"],
    "digits.py": ["--smoke"],
    "char_lstm.py": ["--smoke"],
    "transformer_sort.py": ["--smoke"],
    "resnet_digits.py": ["--smoke"],
    "mnist_mlp.py": ["--smoke"],
    "gpu.py": ["--smoke"],
    "cnn.py": ["--smoke"],
    "mlp.py": ["--smoke"],
    "mnist_main.py": ["--epochs", "2", "--limit", "600"],
}
NEEDS = {"digits.py": ["sklearn", "matplotlib", "tqdm"], "resnet_digits.py": ["sklearn"],
         "gpu.py": ["sklearn"]}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name, tmp_path):
    for mod in NEEDS.get(name, []):
        pytest.importorskip(mod, reason=f"{name} needs the examples extra "
                                        "(pip install -e '.[examples]')")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name)] +
                          SMOKE_ARGS.get(name, []), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
