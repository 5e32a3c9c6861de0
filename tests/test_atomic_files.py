"""Files are written whole, even by several writers of the same file at once."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from vaelab.atomic_files import FILE_MODE, atomic_write_bytes, remove_stale_temporaries, temporary_beside


def test_concurrent_writers_of_one_file_never_collide_and_leave_no_temporary(tmp_path: Path) -> None:
    # the ranks of a distributed job write the same config or label file at the same moment;
    # with one shared temporary name, one writer's rename finds the file already moved away
    path = tmp_path / "labelled.json"
    contents = [bytes([65 + i]) * 50_000 for i in range(4)]
    errors: list[BaseException] = []

    def writer(data: bytes) -> None:
        try:
            for _ in range(40):
                atomic_write_bytes(path, data)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(data,)) for data in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert path.read_bytes() in contents
    assert [p.name for p in tmp_path.iterdir()] == ["labelled.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_written_files_get_the_permissions_open_would_give(tmp_path: Path) -> None:
    # the unique temporary starts private (0600); a shared run folder or data cache must not
    path = tmp_path / "report.html"
    atomic_write_bytes(path, b"<html>")
    assert stat.S_IMODE(os.stat(path).st_mode) == FILE_MODE
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert stat.S_IMODE(os.stat(plain).st_mode) == FILE_MODE


def test_temporaries_of_killed_writes_are_removed_and_live_ones_and_other_files_kept(tmp_path: Path) -> None:
    stale = temporary_beside(tmp_path / "checkpoint.safetensors")  # what a SIGKILL mid-write leaves
    live = temporary_beside(tmp_path / "config.json")  # a writer still at work
    kept = [tmp_path / "metrics.jsonl", tmp_path / "notes.tmp", tmp_path / ".hidden"]
    for path in kept:
        path.write_text("x")
    an_hour_ago = stale.stat().st_mtime - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    for path in kept:
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(tmp_path.iterdir()) == sorted([live, *kept])
    assert remove_stale_temporaries(tmp_path / "missing") == []
