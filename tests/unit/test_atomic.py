"""Tests of atomic file writing.

Authors
 * speechbrain-asd developers
"""

import os

import pytest

from speechbrain_asd import atomic
from speechbrain_asd.atomic import (
    atomic_output,
    write_bytes_atomic,
    write_csv_atomic,
)


def test_failed_rename_keeps_the_old_file_and_leaves_no_temp(
    tmp_path, monkeypatch
):
    """A write failing at the rename leaves the previous file untouched."""
    path = tmp_path / "det.png"
    path.write_bytes(b"old")

    def failing_replace(source, target):
        """Fails as a full disk or a permission problem would.

        Arguments
        ---------
        source : str
            The temporary file.
        target : str
            The destination.
        """
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["det.png"]


def test_error_inside_the_block_writes_nothing(tmp_path):
    """An exception while writing leaves neither the file nor a temp."""
    path = tmp_path / "scores.txt"
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_output(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_temporary_file_keeps_the_suffix(tmp_path):
    """Format-by-suffix writers (soundfile, matplotlib) see the suffix."""
    with atomic_output(tmp_path / "a.flac") as tmp:
        assert tmp.suffix == ".flac" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")


def test_finished_file_has_the_permissions_of_a_new_file(tmp_path):
    """The result is not left with the owner-only mode of a temp file."""
    mask = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"x")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o644


def test_csv_rows_as_sequences_or_dicts(tmp_path):
    """Rows may be sequences in header order or dicts by column."""
    path = tmp_path / "m.csv"
    write_csv_atomic(
        path, ["ID", "wav"], [("a", "x.flac"), {"wav": "y", "ID": "b"}]
    )
    assert path.read_text() == "ID,wav\na,x.flac\nb,y\n"
