"""The ``reactkd`` command.

Each subcommand is one module in this package exposing ``register(subparsers)``; it adds its parser and
sets ``func`` to a callable taking the parsed arguments and returning an exit code. Modules are found
by name, so a new subcommand is one new file. Heavy imports (torch, SimpleITK) happen inside ``func`` so
that ``reactkd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from reactkd import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reactkd",
        description="REACT-KD: HCC grading from CT with PET/CT-taught region-graph distillation.",
    )
    parser.add_argument("--version", action="version", version=f"reactkd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
