"""The documentation builds strictly, and the docstring examples run."""
from __future__ import annotations

import doctest
import importlib
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_mkdocs_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="docs build needs the docs extra "
                                         "(pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="docs build needs the docs extra")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


DOCTEST_MODULES = ["funcgrad.api", "funcgrad.custom", "funcgrad.tree_util",
                   "funcgrad.testing.check", "funcgrad.tensor", "funcgrad.utils.checkpoint"]


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples_run(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
