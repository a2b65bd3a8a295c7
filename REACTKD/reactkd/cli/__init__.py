"""The ``reactkd`` command.

Each subcommand is one module in this package exposing ``register(subparsers)``; it adds its parser and
sets ``func`` to a callable taking the parsed arguments and returning an exit code. Modules are found
by name (``seg_distill.py`` is ``reactkd seg-distill``), so a new subcommand is one new file. Only the
chosen subcommand's module is imported (with torch, MONAI …); the others are listed from their source's
docstring, so ``reactkd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import re
import sys
from pathlib import Path

from reactkd import __version__

__all__ = ["build_parser", "main"]


def commands() -> dict[str, tuple[str, str]]:
    """``command → (module name, one-line help)`` of every module here that defines ``register``, read from
    the source without importing it."""
    table = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        tree = ast.parse((Path(__path__[0]) / f"{info.name}.py").read_text(encoding="utf-8"))
        if info.name.startswith("_") or not any(isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body):
            continue
        doc = " ".join((ast.get_docstring(tree) or "").split("\n\n")[0].split())
        table[info.name.replace("_", "-")] = (info.name, re.sub(r"^``reactkd [\w-]+``:\s*", "", doc))
    return table


def build_parser(command: str | None = None, *, every: bool = True) -> argparse.ArgumentParser:
    """The ``reactkd`` parser. With ``every``, each subcommand's full parser (imports every command
    module); else only ``command``'s, the others as one-line entries."""
    parser = argparse.ArgumentParser(
        prog="reactkd",
        description="REACT-KD: HCC grading from CT with PET/CT-taught region-graph distillation.",
    )
    parser.add_argument("--version", action="version", version=f"reactkd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, summary) in commands().items():
        if every or name == command:
            importlib.import_module(f"{__name__}.{module}").register(subparsers)
        else:
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(chosen, every=False)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, NotImplementedError, TypeError) as err:
        # Input problems are the user's to fix: one clear line, no traceback.
        print(f"reactkd {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
