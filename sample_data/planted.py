"""The planted cases of the sample: the anomalies of real deliveries (SPEC §2, §3), each on
taxpayers and receivables of its own, and where each lies in the inbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

from sample_data.anomalies import CRLF_FILE, REDELIVERED_FILE, REJECTED_FILE, REJECTED_FILE_DELIVERY
from sample_data.common import (
    BANKS,
    DEPOSIT_BUSINESS_DAYS,
    DUNNING_FEE,
    DUNNING_SENT_AFTER_DAYS,
    ELTAX_CLASS_BY_TAX_CODE,
    LINK_SCHEMA,
    PAYMENT_METHOD_BY_CHANNEL,
    QR_TAX_CODES,
    ROUTE_KINDS,
    SAMPLE_RECEIVABLE_SCHEMA,
    SIGHTING_SCHEMA,
    corporate_numbers,
    inbox_file_name,
    ordinance_due_dates,
    previous_business_day,
    sighting_dates,
)
from sample_data.names import ADDRESSES, CORPORATE_FORMS, CORPORATE_STEMS, INDIVIDUAL_NAMES
from schemas import codes
from schemas.inbox import FileKind, parse_inbox_name
from schemas.rates import RatesTable
from transforms.calendar import add_business_days, effective_due_date
from transforms.late_fee import LateFeeCase, late_fee

PLANTED_KEYS = 9_000_000_000  # payment and record keys of planted cases; bulk keys stay far below
CASE_SCHEMA = pl.Schema(
    {
        "case": pl.String(),
        "common_tax_id": pl.String(),
        "sequence_number": pl.Int64(),
        "payment_info_sequence": pl.Int64(),
        "receivable_id": pl.String(),
        "settlement_date": pl.Date(),
        "file_name": pl.String(),
        "record_number": pl.Int64(),
        "description": pl.String(),
    }
)
"""The planted cases: which payment and receivable each concerns and where it lies (file, and
1-based record number with a payment file's header counted, for a case that is one record)."""


@dataclass(frozen=True)
class PlantedCases:
    """The planted cases' own receivables, records and links, and what each case is."""

    receivables: pl.DataFrame
    sightings: pl.DataFrame
    links: pl.DataFrame
    cases: pl.DataFrame  # case, record_key, file_name, description
    management_redeliveries: tuple[int, ...]  # payment keys whose 管理 record comes again on the last date


@dataclass
class _Planter:
    """Collects the rows of the planted cases while they are built, one case at a time."""

    dates: tuple[date, ...]
    rates: RatesTable
    passwords: pl.Series
    receivables: list[dict] = field(default_factory=list)
    sightings: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    cases: list[dict] = field(default_factory=list)
    management_redeliveries: list[int] = field(default_factory=list)
    counter: int = 0

    def number(self) -> int:
        """The next planted number: every planted id and key is made from one."""
        self.counter += 1
        return self.counter

    def taxpayer(self, name: tuple[str, str], corporate: bool = False) -> dict:
        """A taxpayer of its own: ids, the (kanji, kana) name, an address."""
        number = self.number()
        return {
            "taxpayer_id": str(PLANTED_KEYS + number),
            "payer_name": name[0],
            "payer_name_kana": name[1],
            "payer_address": ADDRESSES[number * 7 % len(ADDRESSES)],
            "corporate_number": corporate_numbers(np.array([900_000_000_000 + number]))[0] if corporate else None,
            "eltax_taxpayer_id": f"9{number:014d}" if corporate else None,
        }

    def receivable(
        self, taxpayer: dict, tax_code: str, fiscal_year: int, installment: str, principal: int, dunned: bool = False, **snapshot
    ) -> dict:
        """A receivable of `taxpayer` (listed in the snapshots as `snapshot` says), with the payer's fields."""
        number = self.number()
        due = next(
            due for code, number_, _, due, _ in ordinance_due_dates(fiscal_year) if (code, number_) == (tax_code, installment)
        )
        effective = effective_due_date(due)
        qr = tax_code in QR_TAX_CODES
        row = {
            "receivable_id": f"9{number:011d}",
            "taxpayer_id": taxpayer["taxpayer_id"],
            "tax_code": tax_code,
            "fiscal_year": fiscal_year,
            "tax_year": fiscal_year,
            "installment": installment,
            "notice_number": f"{tax_code}{fiscal_year}9{number:08d}",
            "payment_number": f"2{number:015d}" if qr else None,
            "confirmation_number": f"{number * 7919 % 10**6:06d}" if qr else None,
            "filing_receipt_number": None if qr else f"{due.year}9{number:015d}",
            "due_date": due,
            "principal": principal,
            "dunning_fee": DUNNING_FEE if dunned else 0,
            "dunning_sent_on": effective + timedelta(days=DUNNING_SENT_AFTER_DAYS) if dunned else None,
            "changed_on": None,
            "listed_from": None,
            "listed_until": None,
            "reduced_to": None,
            "reduced_on": None,
            "effective_due_date": effective,
        } | snapshot
        self.receivables.append(row)
        return row | {name: value for name, value in taxpayer.items() if name != "taxpayer_id"}

    def payment(
        self,
        receivable: dict,
        paid_on: date,
        route: str,
        sighted: list[tuple[bool, date]] | None = None,
        confirmation_changes: dict | None = None,
        with_late_fee: bool = False,
        **values,
    ) -> dict[bool, int]:
        """The records of one payment, their record keys by confirmation (False: 速報, True: 確報)."""
        base = self._payment_values(receivable, paid_on, route, with_late_fee) | values
        if sighted is None:
            sightings = zip((False, True), sighting_dates(base["processed_on"]))
            sighted = [(confirmation, day) for confirmation, day in sightings if day in self.dates]
        if route == "filing" and "management_on" not in values:
            base["management_on"] = min(day for _, day in sighted)
        kind_route = "provisional" if route == "provisional" else "electronic"
        deposited_on = add_business_days(base["processed_on"], DEPOSIT_BUSINESS_DAYS)
        keys = {}
        for confirmation, day in sighted:
            keys[confirmation] = PLANTED_KEYS + self.number()
            sighting = {
                "record_key": keys[confirmation],
                "file_kind": ROUTE_KINDS[kind_route, confirmation].value,
                "settlement_date": day,
                "deposited_on": deposited_on if confirmation else None,
            }
            self.sightings.append(base | sighting | ((confirmation_changes or {}) if confirmation else {}))
        return keys

    def _payment_values(self, receivable: dict, paid_on: date, route: str, with_late_fee: bool) -> dict:
        number = self.number()
        dunned = receivable.get("dunning_sent_on") is not None and paid_on > receivable["dunning_sent_on"]
        dunning = receivable["dunning_fee"] if dunned else 0
        principal = receivable["principal"]
        fee = late_fee(LateFeeCase(principal, receivable["effective_due_date"], paid_on), self.rates) if with_late_fee else 0
        channel = {"qr": "05", "filing": "07", "provisional": None}[route]
        bank, branch = BANKS[number % len(BANKS)]
        return {name: receivable.get(name) for name in SIGHTING_SCHEMA.names()} | {
            "payment_key": PLANTED_KEYS + number,
            "delivery_number": 1,
            "route": route,
            "common_tax_id": None if route == "provisional" else f"9{number:017d}",
            "sequence_number": 0 if route == "provisional" else 1,
            "payment_info_sequence": PLANTED_KEYS + number if route == "provisional" else None,
            "history_number": 0,
            "receipt_class": "1",
            "response_code": codes.RESPONSE_CODE_NORMAL,
            "payment_class": "01",
            "payment_scheme": {"qr": "02", "filing": "03"}.get(route),
            "channel_class": channel,
            "payment_method": PAYMENT_METHOD_BY_CHANNEL.get(channel),
            "bank_code": bank,
            "branch_code": branch,
            "password": self.passwords[number % len(self.passwords)],
            "paid_on": paid_on,
            "processed_on": paid_on,
            "processed_at": time(10, number % 60, 0),
            "mpn_serial": f"9{number:07d}",
            "billed_principal": principal + dunning,
            "billed_late_fee": fee,
            "paid_principal": principal,
            "paid_dunning_fee": dunning,
            "paid_late_fee": fee,
            "estimated_payment_flag": "0",
            "delete_next_run_flag": "0",
            "management_on": None,
            "patch": None,
        }

    def link(
        self, taxpayer: dict, tax_code: str, linked_at: datetime, delivered_on: date, registration_class: str = "1",
        created_on: date | None = None,
    ) -> None:
        """A 紐付履歴 event of `taxpayer`'s tax, delivered on `delivered_on`."""
        self.links.append(
            {
                "eltax_taxpayer_id": taxpayer["eltax_taxpayer_id"],
                "eltax_tax_class": ELTAX_CLASS_BY_TAX_CODE[tax_code],
                "corporate_number": taxpayer["corporate_number"],
                "taxpayer_id": taxpayer["taxpayer_id"],
                "registration_class": registration_class,
                "linked_at": linked_at,
                "settlement_date": delivered_on,
                "file_created_on": created_on or delivered_on,
            }
        )

    def case(self, name: str, record_key: int | None, description: str, file_name: str | None = None) -> None:
        """A planted case: its record, or for a case that is a file, the file's name."""
        self.cases.append({"case": name, "record_key": record_key, "file_name": file_name, "description": description})

    def previous_business_day(self, day: date, count: int = 1) -> date:
        """The business day `count` business days before `day`."""
        return previous_business_day(day, count)

    def frames(self) -> PlantedCases:
        """What was planted, as frames."""
        case_schema = {"case": pl.String, "record_key": pl.Int64, "file_name": pl.String, "description": pl.String}
        return PlantedCases(
            receivables=pl.DataFrame(self.receivables, schema=SAMPLE_RECEIVABLE_SCHEMA),
            sightings=pl.DataFrame(self.sightings, schema=SIGHTING_SCHEMA),
            links=pl.DataFrame(self.links, schema=LINK_SCHEMA),
            cases=pl.DataFrame(self.cases, schema=case_schema),
            management_redeliveries=tuple(self.management_redeliveries),
        )


def _person(family: str, given: str) -> tuple[str, str]:
    return next(pair for pair in INDIVIDUAL_NAMES if pair[0] == f"{family}　{given}")


def _company(stem: str, form: int = 0) -> tuple[str, str]:
    kanji, kana = next(pair for pair in CORPORATE_STEMS if pair[0] == stem)
    return CORPORATE_FORMS[form][0].format(kanji), CORPORATE_FORMS[form][1].format(kana)


def planted_cases(dates: tuple[date, ...], rates: RatesTable, passwords: pl.Series) -> PlantedCases:
    """The anomalies of real deliveries, each on receivables of its own (SPEC §2, §3)."""
    planter = _Planter(dates, rates, passwords)
    for plant in (
        _plant_routes,
        _plant_amounts,
        _plant_receivable_changes,
        _plant_sightings,
        _plant_eltax_links,
        _plant_provisional,
        _plant_invalid_records,
        _plant_offsets,
        _plant_files,
    ):
        plant(planter)
    return planter.frames()


def _plant_routes(p: _Planter) -> None:
    first = p.dates[0]
    before = p.previous_business_day(first)
    person = p.taxpayer(_person("髙橋", "太郎"))
    keys = p.payment(p.receivable(person, "050", 2026, "01", 10_800), before, "qr")
    p.case("qr_full", keys[False], "eL-QR payment in full before its 納期限 (route 1: 納付番号 + 確認番号)")
    p.case("ibm_extension_kanji", keys[False], "payer name's 髙 as the IBM extension 0xFBFC, as Windows writes it")
    company = p.taxpayer(_company("髙﨑製作所"), corporate=True)
    p.link(company, "030", datetime(2023, 6, 1, 10, 0), first)
    p.link(company, "030", datetime(2023, 6, 1, 10, 0), p.dates[-1], created_on=first)
    keys = p.payment(p.receivable(company, "030", 2026, "00", 180_000), first, "filing")
    p.management_redeliveries.append(p.sightings[-1]["payment_key"])
    p.case("filing_full", keys[False], "eLTAX 申告 payment in full (route 2: 管理 → 紐付履歴 → 申告受付番号)")
    last_links, last_management = inbox_file_name(FileKind.LINK_HISTORY, p.dates[-1]), inbox_file_name(FileKind.MANAGEMENT, p.dates[-1])
    p.case("link_redelivered", keys[False], "its 紐付履歴 event delivered again, identical, on the last date", last_links)
    p.case("management_redelivered", keys[False], "its 管理 record delivered again, identical, on the last date", last_management)


def _plant_amounts(p: _Planter) -> None:
    first, second = p.dates[:2]
    before, earlier = p.previous_business_day(first), p.previous_business_day(first, 2)
    company = p.taxpayer(_company("昭島精機", 1), corporate=True)
    p.link(company, "020", datetime(2022, 5, 20, 14, 30), first)
    partial = p.receivable(company, "020", 2025, "11", 84_000)
    keys = p.payment(partial, first, "filing", paid_principal=50_000, billed_principal=50_000)
    p.case("partial", keys[False], "申告 payment of 50,000 of an 84,000 yen 特別徴収 installment")
    person = p.taxpayer(_person("山﨑", "花子"))
    keys = p.payment(p.receivable(person, "010", 2024, "04", 352_300, dunned=True), before, "qr", with_late_fee=True)
    p.case("late_with_late_fee", keys[False], "paid 15 months late: 本税 + 督促手数料 in 支払納付額, exact 延滞金 in 支払延滞金額")
    p.case("dunning_fee_paid", keys[False], "督促手数料 100 charged (督促状 sent) and paid within 支払納付額")
    person = p.taxpayer(_person("宮﨑", "健一"))
    late = p.receivable(person, "040", 2025, "02", 268_400, dunned=True)
    keys = p.payment(late, earlier, "qr")
    p.case("late_without_late_fee", keys[True], "paid late without 延滞金 (確定 延滞金 left); first seen in a 入金日 file")
    fee = late_fee(LateFeeCase(late["principal"], late["effective_due_date"], earlier), p.rates)
    fee_only = {"paid_principal": 0, "paid_dunning_fee": 0, "billed_principal": 0, "paid_late_fee": fee, "billed_late_fee": fee}
    keys = p.payment(late, second, "qr", payment_class="02", **fee_only)
    p.case("late_fee_only", keys[False], "納付金区分 02: the 延滞金 left by late_without_late_fee, paid alone")
    person = p.taxpayer(_person("佐藤", "美咲"))
    twice = p.receivable(person, "040", 2026, "02", 41_200)
    keys = p.payment(twice, before, "qr", channel_class="01", payment_method="01")
    p.case("double_payment_first", keys[False], "first payment of a receivable paid twice")
    keys = p.payment(twice, first, "qr")
    p.case("double_payment", keys[False], "second payment of the same receivable (誤納)")
    company = p.taxpayer(_company("多摩川運輸", 2), corporate=True)
    p.link(company, "070", datetime(2024, 11, 5, 9, 15), first)
    over = p.receivable(company, "070", 2026, "01", 45_000)
    keys = p.payment(over, before, "filing", paid_principal=50_000, billed_principal=50_000)
    p.case("overpayment", keys[False], "申告 payment of 50,000 for 45,000 owed (5,000 誤納)")


def _plant_receivable_changes(p: _Planter) -> None:
    first, second = p.dates[:2]
    before = p.previous_business_day(first)
    person = p.taxpayer(_person("田中", "翔太"))
    cancelled = p.receivable(person, "050", 2026, "01", 6_900, listed_until=second)
    keys = p.payment(cancelled, second, "qr")
    p.case("cancelled_receivable_payment", keys[False], "paid after its receivable left the second date's snapshot (誤納)")
    person = p.taxpayer(_person("渡邉", "恵子"))
    reduced = p.receivable(person, "040", 2026, "01", 58_000, reduced_to=52_000, reduced_on=second)
    keys = p.payment(reduced, before, "qr")
    p.case("reduced_receivable", keys[False], "paid in full, then reduced 58,000 → 52,000 in the second snapshot (過納 6,000)")


def _plant_sightings(p: _Planter) -> None:
    first = p.dates[0]
    before = p.previous_business_day(first)
    person = p.taxpayer(_person("鈴木", "一郎"))
    paid = p.receivable(person, "050", 2026, "01", 3_900)
    keys = p.payment(paid, before, "qr")
    original = p.sightings[-1]
    p.case("reversal_original", keys[False], "payment later reversed by a 取消")
    same_payment = {name: original[name] for name in ("payment_key", "common_tax_id", "mpn_serial")}
    keys = p.payment(paid, before, "qr", receipt_class="2", history_number=1, processed_on=first, **same_payment)
    p.case("reversal", keys[False], "取消 (領収区分 2, 履歴番号 001) of reversal_original, delivered a day later")
    person = p.taxpayer(_person("髙田", "陽子"))
    keys = p.payment(p.receivable(person, "040", 2026, "02", 30_000), before, "qr", confirmation_changes={"paid_principal": 3_000})
    p.case("conflict", keys[True], "速報 says 30,000 yen, 確報 says 3,000: sightings disagree (40)")
    person = p.taxpayer(_person("小林", "誠"))
    keys = p.payment(p.receivable(person, "060", 2025, "08", 15_000), before, "qr", response_code="1001")
    p.case("response_code_error", keys[False], "レスポンスコード 1001: not a completed payment")
    person = p.taxpayer(_person("中村", "直美"))
    keys = p.payment(p.receivable(person, "050", 2026, "01", 7_200), first, "qr", channel_class="09", payment_method="01")
    p.case("unknown_channel", keys[False], "チャネル区分 09, not in the code list: a warning, the record loads")
    person = p.taxpayer(_person("加藤", "和夫"))
    stray = person | {"tax_code": "010", "payment_number": "3132071000000001", "confirmation_number": "271828",
                      "principal": 25_000, "dunning_fee": 0}
    keys = p.payment(stray, first, "qr")
    p.case("unknown_payment", keys[False], "納付番号 of no receivable")
    person = p.taxpayer(_person("德田", "昭"))
    keys = p.payment(p.receivable(person, "050", 2026, "01", 12_900), date(2026, 4, 30), "qr", sighted=[(False, first)])
    p.case("unconfirmed", keys[False], "paid 4/30, in the first 納付日 file and never in a 入金日 file")


def _plant_eltax_links(p: _Planter) -> None:
    first = p.dates[0]
    before = p.previous_business_day(first)
    company = p.taxpayer(_company("拝島フーズ"), corporate=True)
    p.link(company, "030", datetime(2022, 7, 1, 11, 0), first)
    estimated = p.receivable(company, "030", 2026, "00", 300_000, listed_from=p.dates[2])
    keys = p.payment(estimated, first, "filing", estimated_payment_flag="1")
    p.case("estimated_payment", keys[False], "見込納付: its 申告受付番号's receivable first appears in the third snapshot")
    company = p.taxpayer(_company("玉川建設", 3), corporate=True)
    p.link(company, "020", datetime(2021, 5, 10, 9, 0), first)
    keys = p.payment(p.receivable(company, "020", 2025, "11", 120_000), before, "filing", management_on=None)
    p.case("missing_management", keys[False], "申告 payment whose 管理 record never arrives (30)")
    company = p.taxpayer(_company("中神電機", 1), corporate=True)
    keys = p.payment(p.receivable(company, "030", 2026, "00", 95_000), before, "filing")
    p.case("unlinked_taxpayer", keys[False], "申告 payment of a 納税者ID no 紐付履歴 links (10)")
    company = p.taxpayer(_company("宮沢食品", 4), corporate=True)
    p.link(company, "020", datetime(2024, 4, 1, 9, 0), first)
    p.link(company, "020", datetime(2026, 4, 20, 16, 0), first, registration_class="9")
    keys = p.payment(p.receivable(company, "020", 2025, "11", 66_000), first, "filing")
    p.case("link_released", keys[False], "its link was 解除 (9) before the payment: not linked (10)")
    company = p.taxpayer(_company("①企画", 3), corporate=True)
    p.link(company, "070", datetime.combine(before - timedelta(days=7), time(9, 0)), p.dates[1])
    keys = p.payment(p.receivable(company, "070", 2026, "01", 38_000), before, "filing")
    p.case("late_link", keys[False], "its link (dated before the payment) arrives only in the second date's 紐付履歴")


def _plant_provisional(p: _Planter) -> None:
    first, second = p.dates[:2]
    before = p.previous_business_day(first)
    person = p.taxpayer(_person("川﨑", "千尋"))
    keys = p.payment(p.receivable(person, "060", 2025, "08", 22_000, dunned=True), first, "provisional")
    p.case("provisional_blank_id", keys[False], "仮登録 without 共通納税ID, identified by 納付情報シーケンス")
    p.case("nec_selected_kanji", keys[False], "payer name's 﨑 as the NEC-selected 0xED95, as every 仮登録 file writes it")
    person = p.taxpayer(_person("吉田", "由美"))
    keys = p.payment(p.receivable(person, "010", 2025, "04", 31_000), before, "provisional", delete_next_run_flag="1")
    p.case("provisional_withdrawn", keys[False], "仮登録 with 次回削除フラグ 1: withdrawn by the sender")
    person = p.taxpayer(_person("石井", "さくら"))
    with_id = {"common_tax_id": "900000000000000999", "sequence_number": 1}
    keys = p.payment(p.receivable(person, "040", 2026, "01", 44_000), second, "provisional", **with_id)
    p.case("provisional_by_notice_number", keys[False], "仮登録 with 共通納税ID, matched by (通知書番号, WebRings用期別)")
    person = p.taxpayer(_person("齋藤", "修"))
    migrated = p.receivable(person, "010", 2023, "02", 27_000)
    keys = p.payment(migrated, date(2023, 8, 30), "provisional", sighted=[(True, first)])
    p.case("historical_provisional", keys[True], "paid in 2023, migrated from before go-live in the first 入金日 仮登録 file")


def _plant_invalid_records(p: _Planter) -> None:
    invalid = {
        "invalid_impossible_date": ("impossible_date", "納付年月日 20260231"),
        "invalid_half_width_in_k": ("half_width_in_full_width", "half-width kana bytes in 氏名漢字 (K)"),
        "invalid_split_double_byte": ("split_double_byte", "氏名カナ ends with the lead byte of a cut double-byte character"),
    }
    for (name, (anomaly, description)), given in zip(invalid.items(), ("誠", "大輔", "拓也")):
        person = p.taxpayer(_person("森", given))
        keys = p.payment(p.receivable(person, "050", 2026, "01", 10_800), p.dates[1], "qr", patch=anomaly)
        p.case(name, keys[False], f"invalid record: {description}")


def _plant_offsets(p: _Planter) -> None:
    """Overpayments of taxpayers who owe other receivables: past their 納期限 (充当, §17条の2) or not yet due."""
    first, second = p.dates[:2]
    before, earlier = p.previous_business_day(first), p.previous_business_day(first, 2)
    person = p.taxpayer(_person("神﨑", "浩二"))
    # The target: an installment unpaid since 2025, 督促状 sent; its 延滞金 runs to the 充当適状日.
    p.receivable(person, "010", 2025, "03", 30_500, dunned=True)
    twice = p.receivable(person, "040", 2026, "02", 47_300)
    keys = p.payment(twice, before, "qr")
    p.case("offset_first_payment", keys[False], "first payment of a receivable its payer pays twice (offset)")
    # Paid again at a bank window: a 仮登録 without 共通納税ID, keyed by the legacy system.
    keys = p.payment(twice, first, "provisional")
    p.case(
        "offset",
        keys[False],
        "second payment (誤納 47,300) offset against the payer's 2025 市民税 of 30,500 unpaid since 2025-10-31: "
        "本税, 督促手数料 100, then 延滞金 to the 充当適状日 (this 納付日); the rest refunded",
    )
    person = p.taxpayer(_person("渡邊", "智子"))
    p.receivable(person, "040", 2026, "03", 25_000)  # not due before 2026-12-25: never a 充当 target
    paid = p.receivable(person, "040", 2026, "02", 25_000)
    p.payment(paid, earlier, "qr")
    keys = p.payment(paid, second, "qr")
    description = "second payment (誤納 25,000) of a payer whose other receivable is not yet due: refunded whole"
    p.case("offset_not_yet_due", keys[False], description)


def _plant_files(p: _Planter) -> None:
    kind, index = REDELIVERED_FILE
    redelivered = inbox_file_name(kind, p.dates[index], 2)
    p.case("redelivery", None, "the same 納付日 records delivered again with a new header", redelivered)
    kind, index = REJECTED_FILE
    rejected = inbox_file_name(kind, p.dates[index], REJECTED_FILE_DELIVERY)
    p.case("rejected_file", None, "trailer データ件数 one more than the data records: rejected whole", rejected)
    kind, index = CRLF_FILE
    p.case("crlf_file", None, "records followed by CR LF (the other files have no terminators)", inbox_file_name(kind, p.dates[index]))


def located_cases(cases: pl.DataFrame, sightings: pl.DataFrame, locations: pl.DataFrame) -> pl.DataFrame:
    """The planted cases with the identity of their payment and where their record lies."""
    identity = sightings.select(
        "record_key", "common_tax_id", "sequence_number", "payment_info_sequence", "receivable_id", "settlement_date"
    )
    located = cases.join(identity, on="record_key", how="left", maintain_order="left").join(
        locations.rename({"file_name": "record_file"}), on="record_key", how="left", maintain_order="left"
    )
    file_dates = [_settlement_date_of(name) for name in located["file_name"].to_list()]
    return located.select(
        "case",
        "common_tax_id",
        "sequence_number",
        "payment_info_sequence",
        "receivable_id",
        settlement_date=pl.coalesce(pl.Series(file_dates, dtype=pl.Date), "settlement_date"),
        file_name=pl.coalesce("file_name", "record_file"),
        record_number=pl.when(pl.col("file_name").is_null()).then("record_number"),
        description="description",
    ).cast(dict(CASE_SCHEMA))


def _settlement_date_of(name: str | None) -> date | None:
    parsed = parse_inbox_name(name) if name else None
    return parsed.settlement_date if parsed else None


