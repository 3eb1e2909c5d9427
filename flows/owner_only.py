"""Files that hold personal data or the key are readable by their owner only (SPEC §8, 評価書 III-7).

DuckDB creates the database, its write-ahead log and its spill files itself, with the process's
umask: so shuno narrows the umask of its own process to owner-only before it opens the database,
whatever the umask it was started with. Files shuno creates itself (the key, the lock, the
refusal log, backups) are opened with mode 0600 and set to it again, and the folders it creates
are 0700. The analyst copy, which holds nothing personal, is made read-only for all (0444) by
flows/analyst.py on purpose: analysts read it.
"""

from __future__ import annotations

import os
from pathlib import Path

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_FOLDER = 0o700
# The bits the umask takes away from group and others.
OTHERS_BITS = 0o077


def narrow_umask() -> None:
    """Takes group and other bits out of the process's umask, so every file the process creates from now on is owner-only."""
    current = os.umask(OTHERS_BITS)
    os.umask(current | OTHERS_BITS)


def owner_only_folder(folder: Path) -> Path:
    """`folder`, created with mode 0700 (and its missing parents) when it is missing; an existing folder is left as its owner set it."""
    if not folder.is_dir():
        narrow_umask()
        folder.mkdir(mode=OWNER_ONLY_FOLDER, parents=True, exist_ok=True)
    return folder


def open_owner_only(path: Path, flags: int) -> int:
    """A descriptor of `path` opened with `flags`, the file (created if O_CREAT says so) set to mode 0600."""
    owner_only_folder(path.parent)
    descriptor = os.open(path, flags, OWNER_ONLY_FILE)
    try:
        # A file made by an older shuno, or under a loose umask, is narrowed too.
        os.fchmod(descriptor, OWNER_ONLY_FILE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor
