"""Opening an input file safely: a regular file only, opened without blocking (a FIFO does not
hang the reader) and checked with fstat on the open file (no race between check and read).
Used by ``msedocs verify`` (:func:`signing.verify.read_input`) and ``msedocs validate``; each
says in its own words what is refused."""

from __future__ import annotations

import os
import stat
from typing import BinaryIO


class NotRegularFileError(ValueError):
    """The path names a folder, a device, a FIFO or a socket, not a regular file."""


def open_regular(path: str | os.PathLike[str]) -> tuple[BinaryIO, int]:
    """A regular file opened for reading, and its size. OSError if it cannot be opened,
    :class:`NotRegularFileError` (nothing left open) if it is not a regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    size = os.fstat(fd)
    if not stat.S_ISREG(size.st_mode):
        os.close(fd)
        raise NotRegularFileError(os.fspath(path))
    return os.fdopen(fd, "rb"), size.st_size
