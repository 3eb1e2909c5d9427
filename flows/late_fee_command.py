"""`shuno late-fee`: the 延滞金 of one receivable, printed as JSON (CONTRACT.md)."""

import json
import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

import typer

from flows.settings_option import BAD_INPUT_EXIT_CODE, SettingsOption, command_settings
from schemas.exemptions import parsed_fraction
from schemas.rates import MissingRateError, RatesTable, load_rates
from schemas.settings import DEFAULT_SETTINGS_FILE, Settings
from transforms.calendar import effective_due_date
from transforms.late_fee import ExemptionPeriod, LateFeeCase, PartialPayment, late_fee_exempted, late_fee_pieces, rounded_total

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
PAYMENT_PATTERN = re.compile(r"(\d{4}-\d{2}-\d{2}):(\d+)")
# FROM:TO:FRACTION, TO empty for a period still in force.
EXEMPTION_PATTERN = re.compile(r"([^:]*):([^:]*):([^:]*)")
TAX_CODE_PATTERN = re.compile(r"\d{3}")


def late_fee(
    principal: Annotated[int, typer.Option(metavar="YEN", help="本税 in yen.")],
    due: Annotated[str, typer.Option(metavar="YYYY-MM-DD", help="Ordinance 納期限; §20条の5 applied.")],
    paid: Annotated[str, typer.Option(metavar="YYYY-MM-DD", help="納付日 of the full payment.")],
    payment: Annotated[
        list[str] | None,
        typer.Option(metavar="YYYY-MM-DD:YEN", help="Earlier partial payment of 本税; repeatable."),
    ] = None,
    tax_code: Annotated[str, typer.Option(metavar="CODE", help="税目コード (its low-rate period in the settings).")] = "010",
    exempt: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FROM:TO:FRACTION",
            help="延滞金 exemption period (SPEC §6.1), TO empty while in force, FRACTION 1 or 1/2; repeatable.",
        ),
    ] = None,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Print the 延滞金 of one receivable paid in full on --paid, with the pieces it sums, as JSON."""
    settings = command_settings(settings_file, "late-fee")
    try:
        months = _low_rate_months(tax_code, settings)
        rates = load_rates(settings.rates_path)
        report = late_fee_report(principal, due, paid, payment or [], months, rates, exempt or [])
    except (ValueError, MissingRateError) as error:
        typer.echo(f"shuno late-fee: {error}", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE) from None
    typer.echo(json.dumps({**report, "tax_code": tax_code}, ensure_ascii=False, indent=2))


def late_fee_report(
    principal: int,
    due: str,
    paid: str,
    payments: list[str],
    low_rate_months: int,
    rates: RatesTable,
    exemptions: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON-ready 延滞金 of one receivable from the command's text arguments."""
    due_date, paid_on = _parsed_date(due, "--due"), _parsed_date(paid, "--paid")
    partial_payments = [_parsed_payment(text) for text in payments]
    periods = [_parsed_exemption(text) for text in exemptions]
    if paid_on < due_date:
        raise ValueError(f"--paid {paid_on} is before --due {due_date}")
    effective = effective_due_date(due_date)
    case = LateFeeCase(principal, effective, paid_on, partial_payments, low_rate_months, periods)
    pieces = late_fee_pieces(case, rates)
    return {
        "late_fee": rounded_total(pieces),
        "late_fee_exempted": late_fee_exempted(case, rates),
        "principal": principal,
        "low_rate_months": low_rate_months,
        "due_date": due_date.isoformat(),
        "effective_due_date": effective.isoformat(),
        "paid_on": paid_on.isoformat(),
        "payments": [{"paid_on": p.paid_on.isoformat(), "amount": p.amount} for p in partial_payments],
        "exemptions": [
            {"start": p.start.isoformat(), "end": p.end and p.end.isoformat(), "fraction": str(p.fraction)}
            for p in periods
        ],
        "pieces": [
            {"start": piece.start.isoformat(), "end": piece.end.isoformat(), "days": piece.days,
             "base": piece.base, "rate": str(piece.rate), "exempted_fraction": str(piece.exempted_fraction),
             "amount": piece.amount}
            for piece in pieces
        ],
    }


def _low_rate_months(tax_code: str, settings: Settings) -> int:
    """The length of the low-rate period of a tax code, as the settings give it."""
    if not TAX_CODE_PATTERN.fullmatch(tax_code):
        raise ValueError(f"--tax-code must be three digits, got {tax_code!r}")
    return settings.low_rate_months_of(tax_code)


def _parsed_date(text: str, option: str) -> date:
    """A YYYY-MM-DD date, or a ValueError naming the option."""
    try:
        # fullmatch first: date.fromisoformat also takes 20250531 and week dates.
        if DATE_PATTERN.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{option} must be a date YYYY-MM-DD, got {text!r}")


def _parsed_payment(text: str) -> PartialPayment:
    """A partial payment from YYYY-MM-DD:YEN, or a ValueError."""
    match = PAYMENT_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"--payment must be YYYY-MM-DD:YEN with whole non-negative yen, got {text!r}")
    return PartialPayment(_parsed_date(match[1], "--payment"), int(match[2]))



def _parsed_exemption(text: str) -> ExemptionPeriod:
    """An exemption period from FROM:TO:FRACTION (TO empty while in force), or a ValueError naming --exempt."""
    match = EXEMPTION_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"--exempt must be FROM:TO:FRACTION (TO may be empty), got {text!r}")
    start = _parsed_date(match[1], "--exempt FROM")
    end = _parsed_date(match[2], "--exempt TO") if match[2] else None
    if end is not None and end < start:
        raise ValueError(f"--exempt {text!r} ends before it starts")
    try:
        return ExemptionPeriod(start, end, parsed_fraction(match[3]))
    except ValueError as error:
        raise ValueError(f"--exempt FRACTION: {error}") from None
