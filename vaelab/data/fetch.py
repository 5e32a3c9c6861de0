"""Finding a named dataset's files in the data roots, downloading the missing ones."""

from __future__ import annotations

from pathlib import Path

from vaelab.data.catalog import FileGroup
from vaelab.data.download import MIRROR_ENV, download_file
from vaelab.data.errors import DataError
from vaelab.data.roots import DATA_ENV, data_roots, search_dirs, writable_dir


def resolve_files(group: FileGroup, data_dir: str | None, download: bool) -> dict[str, Path]:
    """Path of every file of `group` (keyed like `group.files`), downloading missing ones.

    Raises one DataError naming all missing files and all folders searched when some file can
    neither be found nor downloaded.
    """
    roots = data_roots(data_dir)
    folders = search_dirs(roots, group.subdir)
    found: dict[str, Path] = {}
    missing: list[str] = []
    for key, spec in group.files.items():
        path = _find(folders, spec.local_names)
        if path is None:
            missing.append(key)
        else:
            found[key] = path
    if not missing:
        return found

    failures: list[str] = []
    absent = {root / group.subdir for root in roots if not (root / group.subdir).exists()}
    target = writable_dir(roots, group.subdir) if download else None
    if download and target is None:
        failures.append("no writable folder to download into among: " + ", ".join(map(str, roots)))
    if target is not None:
        dead_hosts: set[str] = set()
        for key in list(missing):
            try:
                found[key] = download_file(group, group.files[key], target, dead_hosts)
            except DataError as err:
                failures.append(str(err))
            else:
                missing.remove(key)
    if not missing:
        return found
    if target in absent and not any(target.iterdir()):
        target.rmdir()  # made for the download that failed; leave no empty folder behind
    raise DataError(_missing_message(group, missing, folders, download, failures))


def _find(folders: list[Path], names: tuple[str, ...]) -> Path | None:
    for folder in folders:
        for name in names:
            path = folder / name
            if path.is_file():
                return path
    return None


def _missing_message(
    group: FileGroup, missing: list[str], folders: list[Path], download: bool, failures: list[str]
) -> str:
    names = ", ".join(group.files[key].name + "[.gz]" for key in missing)
    lines = [
        f"dataset {group.dataset!r}: {len(missing)} file(s) not found: {names}",
        "Folders searched:",
        *(f"  {folder}" for folder in folders),
    ]
    if download:
        lines.append("Downloading failed:")
        lines += [f"  {failure}" for failure in failures]
    else:
        lines.append("Downloading is switched off (download=False).")
    lines.append(
        f"To fix: put the files in <folder>/{group.subdir}/ or <folder>/ and name that folder "
        f"with --data-dir (data_dir=...) or ${DATA_ENV}; or go online and run again with "
        f"downloading on (${MIRROR_ENV} sets other mirror base URLs, file:// allowed)."
    )
    return "\n".join(lines)
