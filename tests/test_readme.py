"""The README cannot drift: its commands, its code and its tables are checked here."""
from __future__ import annotations

import pathlib
import re

import funcgrad

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)```", README, re.S)


def test_ci_runs_the_readme_test_command_word_for_word():
    test_cmd = [b.strip() for b in _bash_blocks() if "pytest" in b]
    assert len(test_cmd) == 1
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd[0] in ci.splitlines(), "README's test command and .ci/run differ"


def test_readme_python_examples_run():
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", README, re.S):
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert "grads" in namespace and set(namespace["grads"]) == {"W1", "b1", "W2", "b2"}


def test_supported_table_is_generated_from_the_code():
    from funcgrad import _support
    assert _support.readme_block() in README, (
        "README's 'What is supported' table is out of date: run "
        "`python -m funcgrad._support --write`")
    table = README.split(_support.START)[1].split(_support.END)[0]
    transforms = re.search(r"\| transforms \| (.*?) \|", table).group(1).split(", ")
    for name in transforms:
        assert callable(getattr(funcgrad, name)), name
