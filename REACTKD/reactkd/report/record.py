"""``docs/results.md`` as one current record: a claims table, then one stamped section per table, each made from
the run and suite folders given (:mod:`reactkd.report.record_sources`), each stamped with its commit, config
and hash, cohort, seeds, machine and date (:mod:`reactkd.report.record_stamp`); a section whose config is no
longer the shipped one is marked **stale** in its heading and in a line under it. Two benchmark JSONs join it: the
privileged-information ceiling bounds the distillation claim (``--ceiling``), and the calibration schemes compared
over several runs are a section stamped from those runs (``--calibration``, :mod:`reactkd.report.record_calibration`).

The file holds only what the folders recorded, never the time or place of writing it, so the same folders give
the same bytes (paths are written relative to the record's own folder). Written with ``collect_into``, the record
is made from copies of the small files it reads (:mod:`reactkd.report.record_collect`), which, committed beside it,
regenerate it on any checkout.
"""

from __future__ import annotations

from pathlib import Path

from reactkd.report.record_calibration import calibration_schemes_section
from reactkd.report.record_claims import claim_rows, claims_markdown, read_ceiling
from reactkd.report.record_collect import collect
from reactkd.report.record_sources import ORDER, Section, parse_source, read_source, relative
from reactkd.report.record_stamp import ShippedConfigs
from reactkd.utils.atomic import atomic_write_text

__all__ = ["build_record", "write_record", "read_sections"]

INTRO = ("Every table below is made by `reactkd results` from the run and suite folders named under it, and "
         "stamped with what those runs recorded: the commit and reactkd version they were trained with, the config "
         "name and the SHA-256 of the resolved config, the cohort (phantom generator version), the seeds, the "
         "machine and the date. A section whose config no longer matches the shipped config of its name is "
         "marked **stale**. Figures are of the phantom cohort, not of patients; the phantom's truth is known, so "
         "the trait-oracle rows show what its images hold at that cohort size.")


def read_sections(sources: list[str], shipped: ShippedConfigs | None = None,
                  calibration: Path | None = None) -> list[Section]:
    """Every section of every source (and of the calibration-schemes JSON ``calibration``), in the record's order
    (:data:`ORDER`, then the order given); a title shared by several sections gets its folder's name."""
    shipped = shipped or ShippedConfigs()
    found = [(i, s) for i, spec in enumerate(sources) for s in read_source(spec, shipped)]
    if calibration is not None:
        found.append((len(sources), calibration_schemes_section(Path(calibration), shipped)))
    found.sort(key=lambda item: (ORDER.index(item[1].kind), item[0]))
    sections = [s for _, s in found]
    titles = [s.title for s in sections]
    for s in sections:
        if titles.count(s.title) > 1:
            s.title = f"{s.title} · `{s.source.name}`"
    return sections


def build_record(sources: list[str], out: Path, ceiling: dict | None = None, ceiling_path: Path | None = None,
                 shipped: ShippedConfigs | None = None, title: str = "Results",
                 calibration_path: Path | None = None) -> str:
    """The record's markdown for ``sources`` (folders, or ``DIR=RUN[,RUN…]``) and the calibration-schemes JSON
    ``calibration_path``, to be written at ``out``.

    Raises:
        FileNotFoundError, ValueError: a source that does not exist or is of no known kind (one line naming it).
    """
    sections = read_sections(sources, shipped, calibration_path)
    here = Path(out).parent

    def label(folder: Path) -> str:
        return relative(folder, here)

    lines = [f"# {title}", "", INTRO, "", "## The paper's claims", ""]
    lines += claims_markdown(claim_rows(sections, label, ceiling)) + [""]
    for s in sections:
        lines += [f"## {s.title}" + (" — **stale**" if s.stamp.stale else ""), ""]
        if s.stamp.stale:
            lines += [s.stamp.stale_line(), ""]
        lines += [f"From `{label(s.source)}`:", ""] + s.stamp.lines() + [""]
        for block in s.body:
            lines += [block.rstrip("\n"), ""]
    shown = []
    for spec in sources:
        folder, runs = parse_source(spec)
        shown.append(label(folder) + ("=" + ",".join(label(r) for r in runs) if runs else ""))
    if ceiling_path is not None:
        shown.append(f"--ceiling {label(ceiling_path)}")
    if calibration_path is not None:
        shown.append(f"--calibration {label(calibration_path)}")
    lines += ["## Regenerate", "", "From this file's folder:", "", "```bash",
              f"reactkd results {' '.join(shown)} --out {Path(out).name}", "```", ""]
    return "\n".join(lines)


def write_record(sources: list[str], out: Path, ceiling_path: Path | None = None,
                 shipped: ShippedConfigs | None = None, collect_into: Path | None = None,
                 calibration_path: Path | None = None) -> Path:
    """Read every source, then write the record to ``out`` atomically (nothing is written when a source is
    refused); returns ``out``.

    ``collect_into``: first copy what the record reads of every source (and the ceiling, and the calibration JSON
    with the runs it names) into that folder (:func:`~reactkd.report.record_collect.collect`) and write the record
    from the copies, so that its "Regenerate" command names them.
    """
    ceiling = read_ceiling(ceiling_path) if ceiling_path is not None else None
    if collect_into is not None:
        read_sections(sources, shipped, calibration_path)  # every source is one the record knows before copying
        sources, ceiling_path, calibration_path = collect(sources, Path(collect_into), ceiling_path, calibration_path)
    text = build_record(sources, Path(out), ceiling, ceiling_path, shipped, calibration_path=calibration_path)
    atomic_write_text(Path(out), text)
    return Path(out)
