"""Where a trained run's models run when it is evaluated: the run's own device and precision, or the user's.

Evaluation (``reactkd evaluate``, ``calibrate``, ``robustness``, ``dose`` and the run report) runs the fold
students the way the run trained them: on CUDA when its config says ``device: cuda`` (or ``auto`` on a
machine with CUDA), under its ``precision`` (bf16 autocast for ``paper.yaml``). ``--device`` and
``--precision`` override either. A run configured for CUDA, evaluated where there is none, runs on the CPU
in fp32 with a warning saying so: the figures then come from the same weights, not from another model. A
precision the device cannot run (fp16 on a CPU) is refused when asked for and replaced by fp32 when it only
came from the run's config.
"""

from __future__ import annotations

import warnings

import torch

from reactkd.config.experiment import ExperimentConfig
from reactkd.config.schema import Device, Precision
from reactkd.train.runtime import Runtime
from reactkd.utils.enums import parse_enum

__all__ = ["evaluation_runtime"]


def evaluation_runtime(config: ExperimentConfig, device: Device | str | None = None,
                       precision: Precision | str | None = None) -> Runtime:
    """The :class:`~reactkd.train.runtime.Runtime` a run's models are evaluated with (module doc).

    Args:
        config: the run's experiment config (``read_run_config(RUN)``).
        device: ``auto``, ``cpu`` or ``cuda`` overriding ``config.device``; None keeps the run's.
        precision: ``fp32``, ``bf16``, ``fp16`` or ``auto`` overriding ``config.precision``; None keeps the run's.

    Raises:
        ValueError: an unknown device or precision, ``cuda`` asked for where torch sees none, or ``fp16``
            asked for on the CPU; each names ``--device`` / ``--precision``.
    """
    chosen = config.device if device is None else parse_enum(Device, device, "--device")
    numbers = config.precision if precision is None else parse_enum(Precision, precision, "--precision")
    if chosen is Device.CUDA and not torch.cuda.is_available():
        if device is not None:
            raise ValueError("`--device cuda`: torch sees no CUDA device on this machine (CPU build or no GPU); "
                             "use --device cpu.")
        warnings.warn("the run was configured for CUDA, which this machine lacks: its models are evaluated on the "
                      "CPU" + (" in fp32" if precision is None else "") + " (--device cpu chooses this quietly).",
                      stacklevel=2)
        chosen, numbers = Device.CPU, numbers if precision is not None else Precision.FP32
    on_cpu = chosen is Device.CPU or not torch.cuda.is_available()
    if numbers is Precision.FP16 and on_cpu:
        if precision is not None:
            raise ValueError("`--precision fp16` needs CUDA; use bf16, auto or fp32 on the CPU.")
        numbers = Precision.FP32
    return Runtime.create(chosen, numbers)
