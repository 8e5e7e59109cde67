"""Where the resources the generators read are: templates (with the bundled fonts) and XSDs.

They ship inside the installed package and are found through :mod:`importlib.resources`, never
through paths relative to a checkout. In the repository ``templates`` and ``xsd`` here are links
to the top-level ``templates/`` and ``xsd/`` folders; a wheel holds the files themselves.

WeasyPrint, Typst, docxtpl and lxml (XSD includes) need real folders: :func:`as_path` gives one
through :func:`importlib.resources.as_file`, kept for the life of the process (the package's own
folder when installed as files, as from a wheel; a temporary copy were it imported from a zip).
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

_kept = ExitStack()
atexit.register(_kept.close)


def as_path(resource: Traversable) -> Path:
    """A package resource (file or folder, e.g. ``files("msedocs") / "resources" / "cases"``) as a
    real path, valid until the process exits."""
    return _kept.enter_context(as_file(resource))


TEMPLATES_DIR = as_path(files(__name__) / "templates")
XSD_DIR = as_path(files(__name__) / "xsd")
FONTS_DIR = TEMPLATES_DIR / "fonts"
