"""The Prefect automation that posts failed and warned nights to the city's webhook, declared here and applied by `shuno alerts apply`.

Prefect's server emits an event `prefect.flow-run.<state name>` at every state change of a flow
run: `prefect.flow-run.Failed`, `prefect.flow-run.Crashed` (the process died), and
`prefect.flow-run.Warned` for the Completed state a night with warnings ends in. The automation
reacts to those of the `nightly`, `backfill` and `nightly-all` flows with Prefect's "call a webhook" action,
whose URL lives in a Webhook block, so the city's URL is kept by the server, not in this checkout.
"""

from __future__ import annotations

from uuid import UUID

from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.events.actions import CallWebhook
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

from flows.night_summary import WARNED

AUTOMATION_NAME = "shuno: failed or warned night"
WEBHOOK_BLOCK_NAME = "shuno-alerts"
# nightly-all too: a collector whose night never started (a code that is none) has no nightly run of its own to alert.
ALERTED_FLOWS = ["nightly", "backfill", "nightly-all"]
ALERTED_EVENTS = {f"prefect.flow-run.{state}" for state in ("Failed", "Crashed", WARNED)}
# JSON for the receiver, with a `text` line chat webhooks (Slack, Teams, Mattermost) show as is.
# The state message is shuno's own line (counts, dates, file names): nothing personal.
PAYLOAD = (
    '{"text": {{ ("shuno: " ~ flow_run.name ~ " ended " ~ flow_run.state.name ~ ": " ~ (flow_run.state.message or "")) | tojson }}, '
    '"flow_run": {{ flow_run.name | tojson }}, "state": {{ flow_run.state.name | tojson }}, '
    '"message": {{ flow_run.state.message | tojson }}, "url": {{ flow_run | ui_url | tojson }}}'
)


def alert_trigger() -> EventTrigger:
    """The trigger: any one failed, crashed or warned flow run of the nightly or backfill flow, as it happens."""
    return EventTrigger(
        expect=ALERTED_EVENTS,
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": ALERTED_FLOWS},
        posture=Posture.Reactive,
        threshold=1,
    )


def alert_automation(webhook_block_id: UUID) -> AutomationCore:
    """The automation: the trigger above, and a call of the webhook block with the run's name, state and message."""
    return AutomationCore(
        name=AUTOMATION_NAME,
        description="Posts every failed, crashed or warned nightly, backfill and nightly-all run to the city's webhook (shuno alerts apply).",
        trigger=alert_trigger(),
        actions=[CallWebhook(block_document_id=webhook_block_id, payload=PAYLOAD)],
    )


def apply_alerts(webhook_url: str) -> UUID:
    """Stores the webhook block and (re)creates the automation on the Prefect API in use; returns the automation's id.

    Applying again replaces both, so the repository's declaration is what the server holds.
    """
    block_id = Webhook(url=webhook_url).save(WEBHOOK_BLOCK_NAME, overwrite=True)
    with get_client(sync_client=True) as client:
        for existing in client.read_automations_by_name(AUTOMATION_NAME):
            client.delete_automation(existing.id)
        return client.create_automation(alert_automation(block_id))
