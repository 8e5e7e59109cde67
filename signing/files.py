"""Opening an input file safely: a regular file only, opened without blocking (a FIFO does not
hang the reader) and checked with fstat on the open file (no race between check and read).
Used by ``msedocs verify`` (:func:`signing.verify.read_input`) and ``msedocs validate``; each
says in its own words what is refused."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import BinaryIO


def open_regular(
    path: str | os.PathLike[str], cannot_read: Callable[[str], Exception], not_regular: Callable[[], Exception]
) -> tuple[BinaryIO, int]:
    """A regular file opened for reading, and its size. A file that cannot be opened raises
    ``cannot_read(the system's reason)``; a folder, a device, a FIFO or a socket
    ``not_regular()``, with nothing left open."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise cannot_read(exc.strerror or str(exc)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise not_regular()
    return os.fdopen(fd, "rb"), info.st_size
