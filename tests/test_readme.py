"""The README's Python examples still compile and every name they import from embedlab exists.

Why: modules move (issue 14's layout); an example that imports from an old path would fail only
for the user who copies it.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_examples() -> None:
    assert len(_python_blocks()) >= 5


def test_every_readme_example_compiles_and_its_embedlab_imports_resolve() -> None:
    missing = []
    for block in _python_blocks():
        tree = ast.parse(block)  # a syntax error fails here, naming the block
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("embedlab"):
                module = importlib.import_module(node.module)
                missing += [
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if not hasattr(module, alias.name)
                    and importlib.util.find_spec(f"{node.module}.{alias.name}") is None
                ]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("embedlab"):
                        importlib.import_module(alias.name)
    assert missing == []
