"""The commands of personal data at rest (SPEC §8): `shuno backups`, `shuno restore`, `shuno rekey`, `shuno purge`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from flows.backups import backups
from flows.database import DEFAULT_DATABASE
from flows.keys import DatabaseKeyError
from flows.operation import OperationFailed, OperationRefused
from flows.purge import purge_before
from flows.rekey import rekey_database
from flows.restore import restore_backup
from flows.settings_option import BAD_INPUT_EXIT_CODE, DatabaseOption, SettingsOption, command_settings
from schemas.settings import CITY_TIME_ZONE, DEFAULT_SETTINGS_FILE

REFUSED_EXIT_CODE = 1
MEGABYTE = 1 << 20


def backups_command(db: DatabaseOption = DEFAULT_DATABASE) -> None:
    """The backups of the database, oldest first: name, when taken, size."""
    found = backups(db)
    if not found:
        typer.echo(f"no backups of {db} yet: one is taken before each run")
        return
    for backup in found:
        typer.echo(f"{backup.name}  {backup.taken_at.isoformat(timespec='seconds')}  {backup.size / MEGABYTE:.1f} MB")


def restore_command(
    backup: Annotated[str, typer.Argument(help="the backup's name, as shuno backups lists it")],
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Put a backup back in place of the database, under the run lock (the database is backed up first)."""
    settings = command_settings(settings_file, "restore")
    copy = _refused_in_one_line("restore", lambda: restore_backup(db, backup, settings.backups_kept))
    typer.echo(f"{backup} restored in place of {db}; analyst copy {copy}")


def rekey_command(db: DatabaseOption = DEFAULT_DATABASE) -> None:
    """Re-encrypt the database and its backups under a new key, written where the key is (SHUNO_KEY_FILE)."""
    files = _refused_in_one_line("rekey", lambda: rekey_database(db))
    typer.echo(f"rekeyed {files} files of {db}" if files else f"finished the rekey of {db} a kill had interrupted")


def purge_command(
    before: Annotated[str, typer.Option(help="erase personal fields of closed records received before YYYY-MM-DD")],
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Erase the personal fields of stored records older than the retention period whose payment is closed (SPEC §8)."""
    try:
        day = dt.date.fromisoformat(before)
    except ValueError:
        typer.echo(f"shuno purge: --before {before!r} is not a date YYYY-MM-DD", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE) from None
    settings = command_settings(settings_file, "purge")
    today = dt.datetime.now(CITY_TIME_ZONE).date()
    done = _refused_in_one_line("purge", lambda: purge_before(day, db, settings, today))
    erased = ", ".join(f"{table} {count}" for table, count in done.result.items())
    typer.echo(f"personal fields erased before {day}: {erased}; file rewritten; analyst copy {done.analyst_copy}")


def _refused_in_one_line(command: str, action):
    try:
        return action()
    except (OperationRefused, OperationFailed, DatabaseKeyError) as failure:
        typer.echo(f"shuno {command}: {failure}", err=True)
        raise typer.Exit(REFUSED_EXIT_CODE) from None
