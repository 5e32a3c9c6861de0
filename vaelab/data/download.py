"""Downloading a dataset file from mirrors: temp file, checksum, then atomic rename."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from vaelab.data.catalog import FileGroup, RemoteFile
from vaelab.data.checksums import mark_verified, read_verified
from vaelab.data.errors import DataError

MIRROR_ENV = "VAELAB_MIRROR"
TIMEOUT_S = 60.0

logger = logging.getLogger(__name__)


def candidate_urls(group: FileGroup, remote_name: str) -> list[str]:
    """URLs to try for one file, in order.

    $VAELAB_MIRROR (one or more whitespace-separated base URLs, `file://` allowed) replaces the
    built-in mirrors; each base is tried as `<base>/<subdir>/<name>` and then `<base>/<name>`.
    """
    override = os.environ.get(MIRROR_ENV, "").split()
    if not override:
        return [base.rstrip("/") + "/" + remote_name for base in group.mirrors]
    urls: list[str] = []
    for base in override:
        base = base.rstrip("/")
        urls += [f"{base}/{group.subdir}/{remote_name}", f"{base}/{remote_name}"]
    return urls


def download_file(
    group: FileGroup, spec: RemoteFile, target_dir: Path, dead_hosts: set[str]
) -> Path:
    """Fetch `spec` into `target_dir`, verified; raise DataError listing every failed attempt.

    `dead_hosts` collects URL prefixes that failed to connect, so later files skip them.
    """
    failures: list[str] = []
    for remote_name in spec.remote_names:
        for url in candidate_urls(group, remote_name):
            host = url.rsplit("/", 1)[0]
            if host in dead_hosts:
                continue
            try:
                return _fetch(url, spec, target_dir / remote_name)
            except urllib.error.HTTPError as err:
                failures.append(f"{url}: HTTP {err.code} {err.reason}")
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                failures.append(f"{url}: {reason}")
                if not url.startswith("file:"):
                    dead_hosts.add(host)
            except DataError as err:
                failures.append(f"{url}: {err}")
    if not failures:
        failures.append("every mirror was skipped after earlier connection failures")
    raise DataError(f"could not download {spec.name}: " + "; ".join(failures))


def _fetch(url: str, spec: RemoteFile, destination: Path) -> Path:
    logger.info("downloading %s -> %s", url, destination)
    request = urllib.request.Request(url, headers={"User-Agent": "vaelab"})
    handle, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(request, timeout=TIMEOUT_S) as response,
        ):
            shutil.copyfileobj(response, out, 1 << 20)
        read_verified(tmp, spec, compressed=destination.suffix == ".gz")
        os.replace(tmp, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    mark_verified(destination)
    return destination
