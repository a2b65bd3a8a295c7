"""``index.html``: the run report's markdown as one self-contained HTML page — every figure embedded as a
base64 ``data:`` URI, styles inline, no scripts and nothing fetched — so it opens from an e-mail or a
copied folder. Markdown is rendered by Python-Markdown (``tables`` extension)."""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

import markdown

__all__ = ["write_html", "render_html"]

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
       max-width: 1180px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.7em; border-bottom: 2px solid #0072B2; padding-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
th { background: #f2f5f8; } tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 .25em; border-radius: 3px; }
"""

_IMG = re.compile(r'(<img[^>]*\bsrc=")([^"]+)(")')


def _embed(folder: Path):
    def replace(m: re.Match) -> str:
        src = m.group(2)
        path = folder / html.unescape(src)
        if src.startswith("data:") or not path.is_file():
            return m.group(0)
        kind = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}.get(
            path.suffix.lower(), "application/octet-stream")
        return f'{m.group(1)}data:{kind};base64,{base64.b64encode(path.read_bytes()).decode("ascii")}{m.group(3)}'

    return replace


def render_html(markdown_text: str, folder: Path, title: str) -> str:
    """The page for ``markdown_text`` whose relative image paths lie under ``folder``."""
    body = markdown.markdown(markdown_text, extensions=["tables"], output_format="html")
    body = _IMG.sub(_embed(folder), body)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def write_html(index_md: str | os.PathLike, target: str | os.PathLike, title: str) -> Path:
    """Render ``index_md`` (images relative to its folder) into ``target``, atomically."""
    index_md, target = Path(index_md), Path(target)
    page = render_html(index_md.read_text(), index_md.parent, title)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target
