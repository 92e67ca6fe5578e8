"""Atomic file writing: readers never see a half-written file.

Authors
 * speechbrain-asd developers
"""

import contextlib
import csv
import io
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary path that replaces ``path`` when the block succeeds.

    The temporary file lies in the destination's folder (created if missing)
    and keeps its suffix; on success it replaces the destination in one
    ``os.replace`` with the usual permissions of a new file, and on error it is
    removed, leaving any existing destination as it was.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.

    Yields
    ------
    pathlib.Path
        Where to write the content.

    Example
    -------
    >>> target = getfixture("tmp_path") / "out" / "a.txt"
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('done', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}"
    )
    os.close(handle)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path, data):
    """Writes a binary file atomically, creating its parent folder.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    data : bytes
        Its whole content.

    Example
    -------
    >>> target = getfixture("tmp_path") / "b.bin"
    >>> write_bytes_atomic(target, b"\\x00\\x01")
    >>> target.read_bytes()
    b'\\x00\\x01'
    """
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path, text):
    """Writes a UTF-8 text file atomically, creating its parent folder.

    Line endings are written as given.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    text : str
        Its whole content.

    Example
    -------
    >>> target = getfixture("tmp_path") / "sub" / "a.txt"
    >>> write_text_atomic(target, "hello\\n")
    >>> target.read_text()
    'hello\\n'
    """
    write_bytes_atomic(path, text.encode("utf-8"))


def write_csv_atomic(path, header, rows):
    """Writes a CSV file (header, then rows) atomically.

    Arguments
    ---------
    path : str or os.PathLike
        The CSV file to write.
    header : sequence of str
        Column names.
    rows : iterable of sequence or of dict
        Rows as sequences in header order, or dicts keyed by column name.

    Example
    -------
    >>> target = getfixture("tmp_path") / "m.csv"
    >>> rows = [{"ID": "a", "duration": 1.5}]
    >>> write_csv_atomic(target, ["ID", "duration"], rows)
    >>> target.read_text()
    'ID,duration\\na,1.5\\n'
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if isinstance(row, dict):
            row = [row[column] for column in header]
        writer.writerow(row)
    write_text_atomic(path, buffer.getvalue())


def _current_umask():
    """Reads the process umask (which can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
