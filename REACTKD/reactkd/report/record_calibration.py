"""The calibration schemes compared over several runs (``benchmarks/calibration_schemes.py … --out FILE.json``) as a
section of the results record (``reactkd results … --calibration FILE.json``), stamped from the runs it names.

Only the JSON's keys are read: ``runs`` (the run folders, relative to the JSON's folder, else as given),
``fresh`` (the fresh cohort's manifest, or null), ``n_bins``, ``per_run`` (per run and scheme: temperatures,
scores, ``held_out_cases`` and ``fresh_cases``) and ``summary`` (per scheme: ``held_out_ece``, ``held_out_nll``,
``fresh_ece``, ``fresh_nll`` as ``{mean, std, runs}`` over the runs, and ``lowers_ece``: whether its mean ECE is
below that of ``none``, the uncalibrated baseline, on held-out folds and, where measured, on the fresh cohort).

The rule the section states: a scheme ships only if it lowers the ECE both on held-out folds and for the fold
ensemble on a fresh cohort; else none ships (``none``). The shipped default is
:data:`~reactkd.evaluate.temperature_schemes.DEFAULT_SCHEME`.

Collected (``--collect``), the JSON is rewritten to name the runs' copies (:func:`relocated`); the fresh manifest
is a name only here (the record opens nothing of it) and is kept as the benchmark wrote it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from reactkd.evaluate.tables import Table, format_mean_std
from reactkd.evaluate.temperature_schemes import DEFAULT_SCHEME
from reactkd.report.record_section import Section, config_name
from reactkd.report.record_sources import run_stamp
from reactkd.report.record_stamp import RunRecord, ShippedConfigs

__all__ = ["read_calibration_schemes", "scheme_runs", "calibration_schemes_section", "relocated", "BASELINE",
           "RULE"]

BASELINE = "none"
"""The scheme that leaves the students as trained (T = 1): the ECE before calibration."""

RULE = ("a scheme ships only if it lowers the ECE both on held-out folds and for the fold ensemble on a fresh cohort; "
        "else none ships (`none`)")

HEADER = ("Scheme", "Held-out ECE", "Held-out NLL", "Fresh-cohort ensemble ECE", "Fresh-cohort ensemble NLL",
          "Lowers ECE in both")


def read_calibration_schemes(path: Path) -> dict:
    """The JSON of ``benchmarks/calibration_schemes.py --out``.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable, or not that benchmark's JSON (one line each).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--calibration {path}: no such file.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"--calibration {path}: cannot be read ({err.strerror}).") from None
    except ValueError as err:
        raise ValueError(f"--calibration {path}: not readable JSON ({err}).") from None
    runs, summary = (data.get("runs"), data.get("summary")) if isinstance(data, dict) else (None, None)
    if (not isinstance(runs, list) or not runs or not all(isinstance(r, str) for r in runs)
            or not isinstance(summary, dict) or not summary or not all(isinstance(r, dict) for r in summary.values())):
        raise ValueError(f"--calibration {path}: not the JSON of benchmarks/calibration_schemes.py --out "
                         f"(`runs`: run folders, `summary`: per scheme).")
    return data


def scheme_runs(data: dict, path: Path) -> list[Path]:
    """The run folders ``data`` (read from ``path``) names: relative to the JSON's folder where one is there,
    else as given.

    Raises:
        FileNotFoundError: a run that is in neither place.
    """
    out = []
    for name in data["runs"]:
        beside = Path(path).parent / name
        run = beside if beside.is_dir() else Path(name)
        if not run.is_dir():
            raise FileNotFoundError(f"--calibration {path}: run {name}: no such folder (neither beside the JSON "
                                    f"nor from here).")
        out.append(run)
    return out


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if not isinstance(value, dict) or value.get("mean") is None:
        return "—"
    std = value.get("std")
    one_run = value.get("runs") == 1  # no spread to show
    return format_mean_std(float(value["mean"]), math.nan if std is None or one_run else float(std))


def _lowers(name: str, row: dict) -> str:
    if name == BASELINE:
        return "baseline (before)"
    lowers = row.get("lowers_ece")
    if lowers is None:
        return "—"
    return ("yes" if lowers else "no") + ("" if "fresh_ece" in row else " (held-out only)")


def _cases(data: dict, key: str) -> str:
    """The case counts of ``key`` over the runs (``69``, or ``69, 70`` where the runs differ)."""
    counts = {row.get(key) for run in (data.get("per_run") or {}).values() if isinstance(run, dict)
              for row in run.values() if isinstance(row, dict)} - {None}
    return ", ".join(str(c) for c in sorted(counts))


def _fresh_name(fresh: str) -> str:
    """The fresh cohort as named: its manifest's folder and file name."""
    return "/".join(Path(fresh).parts[-2:])


def _text(data: dict, runs: int) -> str:
    held, fresh = _cases(data, "held_out_cases"), data.get("fresh")
    where = (f"the fold ensemble (the mean of the students' temperature-scaled probabilities) on every case of a "
             f"cohort none of the runs trained on, `{_fresh_name(fresh)}`"
             + (f" ({_cases(data, 'fresh_cases')} cases)" if _cases(data, "fresh_cases") else "")
             if fresh else "no fresh cohort (not measured)")
    return (f"Each scheme's fold temperatures refitted from the fold students' validation logits "
            f"(`benchmarks/calibration_schemes.py`), mean ± sample std over {runs} run{'s' * (runs != 1)}: "
            f"top-label ECE ({data.get('n_bins', 10)} equal-width bins; Guo et al., ICML 2017) and mean NLL of every "
            f"fold student on its own test fold, pooled{f' ({held} cases per run)' if held else ''}, and of {where}. "
            f"`{BASELINE}` (T = 1) is the uncalibrated baseline: the ECE before calibration.")


def _verdict(summary: dict) -> str:
    passing = [name for name, row in summary.items() if name != BASELINE and row.get("lowers_ece") is True]
    fresh = all("fresh_ece" in row for row in summary.values())
    text = f"Shipped default: `{DEFAULT_SCHEME}`; the rule: {RULE}."
    if not fresh:
        return text + " No fresh cohort was measured, so the rule is not judged here."
    if passing:
        agrees = "the default is one of them" if DEFAULT_SCHEME in passing else "the default is not one of them"
        names, verb = ", ".join(f"`{n}`" for n in passing), "lowers" if len(passing) == 1 else "lower"
        return f"{text} Here {names} {verb} ECE in both; {agrees}."
    agrees = "as shipped" if DEFAULT_SCHEME == BASELINE else f"by the rule `{BASELINE}` ships, not `{DEFAULT_SCHEME}`"
    return f"{text} Here no scheme lowers ECE in both: {agrees}."


def calibration_schemes_section(path: Path, shipped: ShippedConfigs) -> Section:
    """The section of the JSON at ``path``, stamped from the runs it names.

    Raises:
        FileNotFoundError, ValueError: a missing or unreadable JSON, or a run it names that is no run folder.
    """
    data = read_calibration_schemes(path)
    runs = [RunRecord.read(r) for r in scheme_runs(data, path)]
    stamp = run_stamp(runs, shipped)
    summary = data["summary"]
    rows = tuple((name, *(_cell(row, k) for k in ("held_out_ece", "held_out_nll", "fresh_ece", "fresh_nll")),
                  _lowers(name, row)) for name, row in summary.items())
    body = [_text(data, len(runs)), Table(HEADER, rows).to_markdown(), _verdict(summary)]
    return Section("calibration_schemes", f"Calibration schemes ({config_name(stamp)})", Path(path), stamp, body,
                   {"summary": summary, "default": DEFAULT_SCHEME})


def relocated(data: dict, names: dict[str, str]) -> str:
    """The JSON text of ``data`` with each run it names (``runs``, the keys of ``per_run``) renamed by ``names``."""
    out = dict(data)
    out["runs"] = [names.get(r, r) for r in data["runs"]]
    if isinstance(data.get("per_run"), dict):
        out["per_run"] = {names.get(k, k): v for k, v in data["per_run"].items()}
    return json.dumps(out, indent=1) + "\n"
