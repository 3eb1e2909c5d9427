"""The options shuno's commands share: `--settings FILE`, loaded the one way (schemas/settings.py), and `--db FILE`."""

from pathlib import Path
from typing import Annotated

import typer

from schemas.settings import DEFAULT_SETTINGS_FILE, SETTINGS_VARIABLE, Settings, SettingsError, load_settings

BAD_INPUT_EXIT_CODE = 2

DatabaseOption = Annotated[Path, typer.Option("--db", envvar="SHUNO_DB", help="DuckDB file")]

SettingsOption = Annotated[
    Path,
    typer.Option(
        "--settings",
        envvar=SETTINGS_VARIABLE,
        metavar="FILE",
        help=f"Settings file (TOML); the defaults when {DEFAULT_SETTINGS_FILE} is absent.",
    ),
]


def command_settings(path: Path, command: str) -> Settings:
    """The settings in `path`; a wrong or missing file ends the command with exit 2 and its one-line reason."""
    try:
        return load_settings(path)
    except SettingsError as error:
        typer.echo(f"shuno {command}: {error}", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE) from None
