"""Opening an input file safely: a regular file only, opened without blocking (a FIFO does not
hang the reader) and checked with fstat on the open file (no race between check and read).
Used by ``msedocs verify`` (:func:`signing.verify.read_input`) and ``msedocs validate``; each
says in its own words what is refused."""

from __future__ import annotations

import os
import stat
from typing import BinaryIO


def open_regular(path: str | os.PathLike[str]) -> tuple[BinaryIO, int] | None:
    """A regular file opened for reading, and its size; None (nothing left open) if ``path``
    names a folder, a device, a FIFO or a socket. OSError if it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb"), info.st_size
