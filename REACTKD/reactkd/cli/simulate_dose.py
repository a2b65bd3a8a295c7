"""``reactkd simulate-dose``: write a simulated low-dose version of a CT (Zeng et al. 2015).

The simulation runs on the CT's own pixels with the scanner that made it: ``--fluence`` (and
``--kernel``) when given, else the CT's acquisition sidecar (``ct.json`` beside ``ct.nii.gz``, written by
``reactkd cohort``), else the fluence estimated from the image's noise in the liver (``--liver``) or in
soft tissue (:mod:`reactkd.dose.noise_estimate`), so that a dose fraction k adds the variance
(1/k - 1) sigma^2 of that region's measured noise sigma.

Example::

    reactkd simulate-dose --ct ct.nii.gz --level severe --out ct_severe.nii.gz --seed 0 --liver liver.nii.gz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from reactkd.cli.validate import output_image
from reactkd.dose.acquisition import Acquisition
from reactkd.dose.levels import resolve_dose
from reactkd.dose.noise_estimate import acquisition_of
from reactkd.dose.simulate import LowDoseSimulator
from reactkd.io import read_image
from reactkd.io.case import load_case
from reactkd.utils.atomic import atomic_path

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate-dose",
        help="simulate a low-dose CT from a CT (sinogram-domain noise, Zeng et al. 2015)",
        description=(
            "Re-project the CT, add Poisson quantum + Gaussian electronic noise for a lower dose in the "
            "sinogram (Zeng et al., IEEE TNS 62(5):2226-2233, 2015) and reconstruct by filtered back "
            "projection. The output keeps the input's geometry; voxels are float32 HU."
        ),
    )
    parser.add_argument("--ct", required=True, help="CT in HU: NIfTI/NRRD/MHA file or DICOM series folder")
    parser.add_argument(
        "--level",
        required=True,
        help="dose: 'mild' (0.5), 'severe' (0.25), 'native' (1, copy) or a fraction in (0, 1], e.g. 0.3",
    )
    parser.add_argument("--out", required=True, help="output image (.nii.gz, .nii, .nrrd, .mha)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed, >= 0 (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--fluence", type=float, metavar="PHI",
                        help="the CT's acquired fluence, photons/mm^2 at the isocentre over a half rotation "
                             "(default: the CT's sidecar, else estimated from its noise)")
    parser.add_argument("--kernel", default="hann", help="reconstruction kernel with --fluence (default hann)")
    parser.add_argument("--liver", metavar="MASK",
                        help="liver mask on the CT: the homogeneous region whose noise sets the estimated "
                             "fluence (default: the flat soft tissue, -20 to 120 HU away from edges)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        fraction = resolve_dose(args.level)  # before reading the CT: a typo fails at once
    except ValueError:
        raise ValueError(
            f"`--level` must be 'mild', 'severe', 'native' or a dose fraction in (0, 1], got {args.level!r}."
        ) from None
    if args.seed < 0:
        raise ValueError(f"`--seed` must be >= 0, got {args.seed}.")
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ValueError(f"`--out` {out} exists; pass --overwrite to replace it.")
    output_image(out)  # a known extension in an existing folder, before the (long) simulation
    declared = Acquisition(fluence=args.fluence, kernel=args.kernel) if args.fluence is not None else None
    image = read_image(args.ct, role="CT")
    if image.GetDimension() != 3:
        raise ValueError(f"`--ct` must be a 3-D CT volume, got a {image.GetDimension()}-D image "
                         f"of size {image.GetSize()}.")
    start = time.perf_counter()
    if declared is not None:
        acquisition, source = declared, "given"
    else:
        hu = sitk.GetArrayFromImage(image).astype(np.float32)
        liver = sitk.GetArrayFromImage(load_case(image, args.liver).liver) > 0 if args.liver else None
        try:
            acquisition, source = acquisition_of(args.ct, hu, tuple(reversed(image.GetSpacing())), liver)
        except ValueError as err:
            raise ValueError(f"cannot estimate the CT's fluence: {err} Give it with --fluence.") from None
    result = LowDoseSimulator.for_acquisition(acquisition)(image, fraction, seed=args.seed)
    elapsed = time.perf_counter() - start
    # Temporary name in the target folder + rename: an interrupted run never leaves a partial file.
    with atomic_path(out) as tmp:
        sitk.WriteImage(result, str(tmp), useCompression=True)
    print(f"simulate-dose: dose fraction {fraction:g}, seed {args.seed}, fluence {acquisition.fluence:.3g} "
          f"({source}), kernel {acquisition.kernel}, {elapsed:.1f} s -> {out}")
    return 0
