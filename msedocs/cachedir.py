"""msedocs's cache on disk: results that cost time to compute and are the same from one run to the
next (the СЭМД schematron compiled to XSLT, what batch workers prepare before their first case),
in ``MSEDOCS_CACHE_DIR`` or ``~/.cache/msedocs``. Each file is named by a digest of everything it
was computed from, written whole or not at all, and only ever a copy: deleting the folder costs
the next run the time to compute it again.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """``MSEDOCS_CACHE_DIR``, or ``~/.cache/msedocs``."""
    base = os.environ.get("MSEDOCS_CACHE_DIR")
    return Path(base) if base else Path.home() / ".cache" / "msedocs"


def write(name: str, data: bytes) -> Path:
    """``data`` as the cache file ``name``: written beside it and renamed into place, so that a
    reader (another process too) sees the whole file or none; readable by this user only."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / name


def read_private(name: str) -> bytes | None:
    """The cache file ``name``, if it is there and only this user could have written it: the
    file and its folder owned by this user, neither writable by anyone else (what is read here
    may be loaded as code, as Jinja's bytecode cache checks its folder). None otherwise."""
    path = cache_dir() / name
    try:
        for checked in (path.parent, path):
            st = checked.stat()
            if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None
        return path.read_bytes()
    except OSError:
        return None
