"""The committed record: ``docs/results.md`` is what its own Regenerate command makes from the committed run
summaries (``docs/results/runs``), and none of its sections is stale against the shipped configs."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from reactkd.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _regenerate_command() -> list[str]:
    text = (DOCS / "results.md").read_text(encoding="utf-8")
    block = text.split("## Regenerate", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    (line,) = [ln for ln in block.splitlines() if ln.startswith("reactkd results ")]
    return shlex.split(line)[1:]


def test_the_committed_record_regenerates_from_the_committed_summaries(tmp_path, monkeypatch):
    docs = tmp_path / "docs"  # a copy: the record names its sources relative to its own folder
    shutil.copytree(DOCS / "results", docs / "results")
    monkeypatch.chdir(docs)
    assert main(_regenerate_command()) == 0
    committed = (DOCS / "results.md").read_text(encoding="utf-8")
    assert (docs / "results.md").read_text(encoding="utf-8") == committed
    assert "**stale**" not in committed.split("## The paper's claims", 1)[1]
