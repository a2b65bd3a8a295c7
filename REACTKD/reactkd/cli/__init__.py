"""The ``reactkd`` command.

Each subcommand is one module in this package exposing ``register(subparsers)``; it adds its parser and
sets ``func`` to a callable taking the parsed arguments and returning an exit code. Modules are found
by name (``seg_distill.py`` is ``reactkd seg-distill``; a helper module without ``register``, such as
:mod:`reactkd.cli.validate`, is skipped), so a new subcommand is one new file. Only the chosen
subcommand's module is imported (with torch, MONAI …); the others are listed from their source's
docstring, so ``reactkd --help`` stays fast.

At this boundary every user-facing failure becomes one line on stderr: input errors (exit 2), running
out of CPU or GPU memory with what to change (exit 3); warnings are printed as one line each. Anything
else is a bug in reactkd, not the user's input: it is reported as an internal error with its traceback
(exit 1).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import re
import sys
import traceback
import warnings
from pathlib import Path

from reactkd import __version__

__all__ = ["build_parser", "main", "out_of_memory_advice", "is_out_of_memory"]

USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
               NotImplementedError)
"""What a user's input or environment causes (the ``ValueError`` family holds every validation error:
``ConfigError``, ``ManifestError``, checkpoint and device errors); a ``TypeError``, ``KeyError`` … is a bug."""

TRAINING_COMMANDS = ("train", "demo", "compare", "ablate", "seg-distill")


def commands() -> dict[str, tuple[str, str]]:
    """``command → (module name, one-line help)`` of every module here that defines ``register``, read from
    the source without importing it."""
    table = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        tree = ast.parse((Path(__path__[0]) / f"{info.name}.py").read_text(encoding="utf-8"))
        registers = any(isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body)
        if info.name.startswith("_") or not registers:
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
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *_a, **_k: print(
            f"reactkd {args.command}: warning: {message}", file=sys.stderr)
        try:
            return int(args.func(args) or 0)
        except USER_ERRORS as err:
            # Input problems are the user's to fix: one clear line, no traceback.
            print(f"reactkd {args.command}: error: {err}", file=sys.stderr)
            return 2
        except Exception as err:  # noqa: BLE001 - the boundary: memory advice, or a bug reported as one
            if is_out_of_memory(err):
                print(f"reactkd {args.command}: error: {out_of_memory_advice(err, args.command)}", file=sys.stderr)
                return 3
            traceback.print_exc()
            print(f"reactkd {args.command}: internal error ({type(err).__name__}: {err}) — a bug in reactkd, not "
                  "in your input; please report it with the traceback above.", file=sys.stderr)
            return 1


def is_out_of_memory(err: BaseException) -> bool:
    """``MemoryError``, ``torch.OutOfMemoryError`` (CUDA) or torch's CPU allocator failing."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    text = str(err).lower()
    return "out of memory" in text or "can't allocate memory" in text or "cannot allocate memory" in text


def out_of_memory_advice(err: BaseException, command: str) -> str:
    """One line: which memory ran out and what to change for ``command``."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    gpu = "cuda" in text.lower() or type(err).__name__ == "OutOfMemoryError"
    where = "GPU" if gpu else "CPU"
    if command in TRAINING_COMMANDS:
        change = ("a smaller batch (--set stage1.batch_size=2 --set stage2.batch_size=2), a coarser model grid "
                  "(--set data.preprocess.grid_size=32), "
                  + ("mixed precision (--set precision=bf16, or fp16), " if gpu else "")
                  + "fewer data-loader workers (--set stage1.num_workers=0), or smaller networks")
    else:
        change = ("another device (--device cpu when the GPU is small" + (")" if gpu else "; a GPU with --device cuda)")
                  + ", a smaller CT (crop it around the liver), or close other programs using the memory")
    return f"out of {where} memory ({text}); try {change}."


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
