"""What a report section is made of: text, tables and figures, as plain data (no HTML).

Sections build these; `vaelab.reports.page` alone turns them into HTML, so a section never
has to think about escaping or layout.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (escaped when rendered)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table of strings; `collapsed` tables render folded behind their caption."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    collapsed: bool = False

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.header):
                raise ValueError(f"table row {row!r} has {len(row)} cells; header has "
                                 f"{len(self.header)}")


@dataclass(frozen=True)
class Figure:
    """A PNG image with alternative text and a caption; `pixelated` for image grids."""

    png: bytes
    alt: str
    caption: str = ""
    pixelated: bool = False

    def __post_init__(self) -> None:
        if not self.png.startswith(b"\x89PNG"):
            raise ValueError(f"figure {self.alt!r}: expected PNG bytes")


Block = Text | Table | Figure


@dataclass(frozen=True)
class Section:
    """One titled part of a report; `key` becomes its HTML id (unique within a run)."""

    key: str
    title: str
    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        if not self.key or not all(c.isalnum() or c in "-_" for c in self.key):
            raise ValueError(f"section key {self.key!r} must be letters, digits, '-' or '_'")
