"""`shuno alerts apply --webhook URL`: puts the repository's alert automation (flows/alerts.py) on the Prefect server in use."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.settings_option import BAD_INPUT_EXIT_CODE

alerts_app = typer.Typer(no_args_is_help=True, help="Prefect alerts for failed and warned nights.")
FAILED_EXIT_CODE = 1


@alerts_app.command()
def apply(webhook: Annotated[str, typer.Option("--webhook", metavar="URL", help="the URL Prefect posts each failed or warned night to")]) -> None:
    """Create or replace the automation that posts failed, crashed and warned nightly, backfill and nightly-all runs to the webhook."""
    if not webhook.startswith(("http://", "https://")):
        typer.echo(f"shuno alerts apply: --webhook {webhook!r} is not an http(s) URL", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE)
    # Without a server, Prefect would serve a temporary API that forgets the automation at once.
    if not _configured_api_url():
        typer.echo("shuno alerts apply: PREFECT_API_URL is not set: point it at the Prefect server the worker uses", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE)
    # Prefect takes a second to import: only this command needs its client.
    from flows.alerts import AUTOMATION_NAME, apply_alerts

    try:
        automation_id = apply_alerts(webhook)
    except Exception as error:  # noqa: BLE001 - the API's failure in one line; the URL may hold a token, so it is not repeated
        typer.echo(f"shuno alerts apply: the Prefect API refused or did not answer ({type(error).__name__})", err=True)
        raise typer.Exit(FAILED_EXIT_CODE) from None
    typer.echo(f"automation {AUTOMATION_NAME!r} ({automation_id}) posts failed, crashed and warned nightly, backfill and nightly-all runs to the webhook")


def _configured_api_url() -> str | None:
    # Imported here for the same second; the setting comes from the environment or Prefect's profile.
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()
