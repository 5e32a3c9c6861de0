"""HTML assembly: sections in, one self-contained page out.

Everything the page needs is inside it: CSS inline, images as base64 PNG data URIs, no
scripts. A Content-Security-Policy forbids any other source, so the page opens from disk,
offline, and can never reach the network. Every string from a run is escaped here.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

from vaelab.reports.blocks import Block, Figure, Section, Table, Text

CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 16px;
       line-height: 1.5; color: #1d1d1f; margin: 0; background: #fafafa; }
main { max-width: 860px; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; background: #fff; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.4rem; margin-top: 2.5rem; border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; }
h3 { font-size: 1.15rem; margin-top: 2rem; }
.subtitle, figcaption, caption, footer { color: #555; font-size: 0.9rem; }
nav ul { padding-left: 1.2rem; margin: 0.2rem 0; }
nav li { margin: 0.1rem 0; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
caption { caption-side: top; text-align: left; padding-bottom: 0.3rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; display: block; }
img.pixelated { image-rendering: pixelated; }
details summary { cursor: pointer; color: #333; }
"""


@dataclass(frozen=True)
class Part:
    """A titled group of sections: the multi-run comparison, or one run."""

    key: str
    title: str
    sections: tuple[Section, ...]
    subtitle: str = ""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _is_number(cell: str) -> bool:
    stripped = cell.replace("±", "").replace("−", "-").replace(",", "").replace("%", "").split()
    if not stripped:
        return False
    try:
        [float(s) for s in stripped]
    except ValueError:
        return False
    return True


def _table(table: Table) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_esc(c)}</td>' if _is_number(c) else f"<td>{_esc(c)}</td>"
                         for c in row) + "</tr>"
        for row in table.rows
    )
    caption = f"<caption>{_esc(table.caption)}</caption>" if table.caption and not table.collapsed else ""
    markup = f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if table.collapsed:
        return f"<details><summary>{_esc(table.caption or 'table')}</summary>{markup}</details>"
    return markup


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    css = ' class="pixelated"' if figure.pixelated else ""
    caption = f"<figcaption>{_esc(figure.caption)}</figcaption>" if figure.caption else ""
    return (f'<figure><img{css} src="data:image/png;base64,{data}" alt="{_esc(figure.alt)}">'
            f"{caption}</figure>")


def _block(block: Block) -> str:
    if isinstance(block, Text):
        return f"<p>{_esc(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return _figure(block)
    raise TypeError(f"unknown report block {type(block).__name__}")


def _check_keys(part: Part) -> None:
    keys = [s.key for s in part.sections]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"report part {part.title!r}: duplicate section key(s) {duplicates}")


def render_page(title: str, parts: Sequence[Part], footer: str = "") -> str:
    """The whole HTML document: title, table of contents, then each part's sections."""
    for part in parts:
        _check_keys(part)
    toc = []
    for part in parts:
        items = "".join(f'<li><a href="#{_esc(part.key)}-{_esc(s.key)}">{_esc(s.title)}</a></li>'
                        for s in part.sections)
        toc.append(f'<li><a href="#{_esc(part.key)}">{_esc(part.title)}</a><ul>{items}</ul></li>')
    body = []
    for part in parts:
        subtitle = f'<p class="subtitle">{_esc(part.subtitle)}</p>' if part.subtitle else ""
        body.append(f'<h2 id="{_esc(part.key)}">{_esc(part.title)}</h2>{subtitle}')
        for section in part.sections:
            blocks = "\n".join(_block(b) for b in section.blocks)
            body.append(f'<section id="{_esc(part.key)}-{_esc(section.key)}" '
                        f'data-section="{_esc(section.key)}">\n'
                        f"<h3>{_esc(section.title)}</h3>\n{blocks}\n</section>")
    footer_html = f"<footer><p>{_esc(footer)}</p></footer>" if footer else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_esc(title)}</h1>\n<nav><ul>{''.join(toc)}</ul></nav>\n"
        + "\n".join(body)
        + f"\n{footer_html}\n</main>\n</body>\n</html>\n"
    )
