"""Train REACT-KD with 3D Slicer and no window, through the REACTKDTrainer module's logic:

    Slicer --no-main-window --python-script REACTKDTrainer/Resources/Scripts/reactkd_train.py \
        --config demo-cpu --out /data/runs/demo [--manifest cases.csv] [--device auto|cpu|cuda] [--set key=value ...]

The run folder is the one ``reactkd train`` writes; running again resumes it. Progress is printed per
epoch; Slicer exits with the training's exit code (0 done, 2 a bad input, 1 a failure). The REACTKD
extension must be installed (or its two module folders added to Slicer's module paths).
"""

import argparse
import sys


def parse(argv):
    p = argparse.ArgumentParser(prog="reactkd_train.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="demo-cpu", help="shipped config name or YAML file (default demo-cpu)")
    p.add_argument("--out", required=True, help="run folder (new, or a partial run to resume)")
    p.add_argument("--manifest", default="", help="manifest CSV of your cases (default: the config's data)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    return p.parse_args(argv)


def main(argv, slicer) -> int:
    """Train through ``slicer.util.getModuleLogic("REACTKDTrainer")``; returns the exit code."""
    args = parse(argv)
    logic = slicer.util.getModuleLogic("REACTKDTrainer")
    from REACTKDLib.trainer_panel import training_overrides, training_problems

    problems = training_problems(args.config, args.out, args.manifest)
    if problems:
        print(f"reactkd_train.py: {problems[0]}", file=sys.stderr)
        return 2
    code = logic.train(args.config, args.out, args.device, training_overrides(args.manifest) + args.overrides)
    if code == 0:
        print(logic.offerModel(args.out))
    return code


if __name__ == "__main__":
    import slicer

    slicer.util.exit(main(sys.argv[1:], slicer))
