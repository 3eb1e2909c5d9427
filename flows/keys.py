"""The city's key to the database (SPEC §8): a file the setting SHUNO_KEY_FILE names, or one beside the database.

The key is 32 random bytes written as 64 hexadecimal digits on one line. A fresh checkout works
out of the box: when neither the database nor its key exists and SHUNO_KEY_FILE is not set, a key
is created beside the database (mode 0600) with a one-line warning, because a key kept beside the
file it opens protects only copies of the file, not the machine. Production sets SHUNO_KEY_FILE to
a file elsewhere (docs/encryption.md). A key that is missing or wrong is one line, and nothing is
opened or changed; shuno never creates a key for a database that exists.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

from flows.owner_only import open_owner_only

KEY_FILE_VARIABLE = "SHUNO_KEY_FILE"
KEY_SUFFIX = ".key"
# The new key of a rekey, beside the key file until the rekeyed database is in place.
PENDING_SUFFIX = ".new"
KEY_BYTES = 32
KEY_TEXT = re.compile(r"[0-9a-f]{64}")


class DatabaseKeyError(OSError):
    """The key cannot open the database (missing, unreadable, not a key, or another database's); the message is one line, without the key."""


def key_path(database: Path) -> Path:
    """The key file of `database`: the file SHUNO_KEY_FILE names, else `<database>.key` beside the real file."""
    named = os.environ.get(KEY_FILE_VARIABLE)
    if named:
        return Path(named)
    resolved = database.resolve()
    return resolved.with_name(resolved.name + KEY_SUFFIX)


def pending_key_path(database: Path) -> Path:
    """Where `shuno rekey` keeps the new key of `database` until the rekeyed database is in place."""
    path = key_path(database)
    return path.with_name(path.name + PENDING_SUFFIX)


def new_key() -> str:
    """A fresh key: 32 random bytes as 64 hexadecimal digits."""
    return secrets.token_hex(KEY_BYTES)


def read_key(path: Path) -> str:
    """The key in the file `path`; raises DatabaseKeyError when it is missing, unreadable or no key."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise DatabaseKeyError(f"key file {path} does not exist (set {KEY_FILE_VARIABLE} to the city's key file); nothing was changed") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatabaseKeyError(f"key file {path} cannot be read ({type(error).__name__}); nothing was changed") from None
    if not KEY_TEXT.fullmatch(text):
        raise DatabaseKeyError(f"key file {path} is not a shuno key (64 hexadecimal digits); nothing was changed")
    return text


def write_key(path: Path, key: str) -> None:
    """Writes `key` to the new file `path` (mode 0600, folder 0700); an existing file is never overwritten."""
    descriptor = open_owner_only(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        os.write(descriptor, (key + "\n").encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def database_key(database: Path, create: bool = True) -> str:
    """The key of `database`; with `create`, made beside it first on a fresh checkout (no database, no key, no SHUNO_KEY_FILE)."""
    path = key_path(database)
    if create and not database.exists() and not path.exists() and not os.environ.get(KEY_FILE_VARIABLE):
        write_key(path, new_key())
        print(f"shuno: created the key {path} beside the database; production keeps its key elsewhere ({KEY_FILE_VARIABLE})", file=sys.stderr)
    return read_key(path)
