"""One section of the results record: a table, the folder it was made from, its stamp and the figures the claims
table reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reactkd.report.record_stamp import Stamp

__all__ = ["Section", "config_name"]


@dataclass
class Section:
    """One table of the record: its kind (:data:`reactkd.report.record_sources.ORDER`), title, source folder, stamp,
    markdown body and the figures the claims table reads (``facts``)."""

    kind: str
    title: str
    source: Path
    stamp: Stamp
    body: list[str]  # markdown blocks (a paragraph or a table each), separated by a blank line in the record
    facts: dict = field(default_factory=dict)


def config_name(stamp: Stamp) -> str:
    """The name of the (first) config a section was measured with."""
    return stamp.configs[0].name if stamp.configs else "?"
