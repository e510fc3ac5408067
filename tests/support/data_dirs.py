"""Data directories for embedded PostgreSQL in tests, outside pytest's temporary tree.

When the tests run as root, pgserver runs PostgreSQL as a separate ``pgserver`` user and makes every parent
of the data dir traversable (o+rx) for it. pytest resets its own root (``/tmp/pytest-of-<user>``) to 0700 at
the start of every session, so a second pytest session on the machine (a developer's targeted run beside
the suite) cut a running PostgreSQL off from its own files ("could not open file .../pg_control:
Permission denied"). A directory of our own under the system temp dir is not touched by pytest.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def embedded_data_dir(purpose: str) -> Iterator[Path]:
    """A fresh, empty directory for an embedded server's data; removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"lyceum-{purpose}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
