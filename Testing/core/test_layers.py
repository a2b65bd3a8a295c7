"""The core's layers import one way (import-linter contracts in pyproject.toml) and import at the top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "REACTKD" / "reactkd"
OPTIONAL = ("torch.utils.tensorboard",)
"""Imported where used: an optional dependency (``pip install 'reactkd[tensorboard]'``)."""


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def _local_imports(path: Path) -> list[str]:
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                names = [child.module or ""] if isinstance(child, ast.ImportFrom) else [a.name for a in child.names]
                if not all(n.startswith(OPTIONAL) for n in names):
                    found.append(f"{path.relative_to(ROOT)}:{child.lineno} {ast.unparse(child)}")
            visit(child, inside)

    visit(ast.parse(path.read_text()), False)
    return found


def test_no_function_local_imports_except_optional_dependencies():
    found = [hit for p in sorted(CORE.rglob("*.py")) for hit in _local_imports(p)]
    assert not found, "imports belong at the top of the module:\n" + "\n".join(found)
