"""Where dataset files are looked for and where downloads go."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

DATA_ENV = "VAELAB_DATA"


def cache_root() -> Path:
    """The per-user download cache: $XDG_CACHE_HOME/vaelab, else ~/.cache/vaelab."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "vaelab"


def data_roots(data_dir: str | None) -> list[Path]:
    """Folders searched for dataset files, in order: `data_dir`, $VAELAB_DATA, the cache.

    $VAELAB_DATA may hold several folders separated by os.pathsep. Duplicates are dropped.
    """
    candidates: list[Path] = []
    if data_dir:
        candidates.append(Path(data_dir).expanduser())
    candidates += env_roots()
    candidates.append(cache_root())
    return _unique(candidates)


def env_roots() -> list[Path]:
    """The folders named in $VAELAB_DATA (several separated by os.pathsep), in order."""
    return [Path(entry.strip()).expanduser() for entry in os.environ.get(DATA_ENV, "").split(os.pathsep)
            if entry.strip()]


def search_dirs(roots: Iterable[Path], subdir: str) -> list[Path]:
    """Every folder a dataset's files may sit in: `<root>/<subdir>`, then `<root>` itself."""
    return _unique(folder for root in roots for folder in (root / subdir, root))


def writable_dir(roots: Iterable[Path], subdir: str) -> Path | None:
    """`<root>/<subdir>` under the first root where it exists or can be made, and is writable."""
    for root in roots:
        folder = root / subdir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return None


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: set[Path] = set()
    out: list[Path] = []
    for path in paths:
        if path not in seen:
            seen.add(path)
            out.append(path)
    return out
