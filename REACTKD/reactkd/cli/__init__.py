"""The ``reactkd`` command.

Each subcommand is one module in this package exposing ``register(subparsers)``; it adds its parser and
sets ``func`` to a callable taking the parsed arguments and returning an exit code. Modules are found
by name, so a new subcommand is one new file (a helper module without ``register``, such as
:mod:`reactkd.cli.validate`, is skipped). Heavy imports (torch, SimpleITK) happen inside ``func`` so
that ``reactkd --help`` stays fast.

At this boundary every user-facing failure becomes one line on stderr: input errors (exit 2), running
out of CPU or GPU memory with what to change (exit 3); warnings are printed as one line each.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

from reactkd import __version__

__all__ = ["build_parser", "main", "out_of_memory_advice", "is_out_of_memory"]

TRAINING_COMMANDS = ("train", "demo", "compare", "ablate", "seg-distill")


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
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *_a, **_k: print(
            f"reactkd {args.command}: warning: {message}", file=sys.stderr)
        try:
            return int(args.func(args) or 0)
        except (ValueError, FileNotFoundError, NotImplementedError, TypeError) as err:
            # Input problems are the user's to fix: one clear line, no traceback.
            print(f"reactkd {args.command}: error: {err}", file=sys.stderr)
            return 2
        except (MemoryError, RuntimeError) as err:
            if not is_out_of_memory(err):
                raise
            print(f"reactkd {args.command}: error: {out_of_memory_advice(err, args.command)}", file=sys.stderr)
            return 3


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
