"""A realistic sample inbox for `shuno sample` (CONTRACT.md): receivables and the files of SPEC §1.

Pure generation: frames and bytes, no I/O and no clock; the seed decides everything. The bulk —
a city of receivables over several fiscal years, historical payments migrated as 仮登録 and the
payments of a few settlement days — is drawn column-wise with numpy and polars, personal fields
from pools (the writer encodes each distinct value once). The anomalies real deliveries bring are
planted row by row on taxpayers and receivables of their own, so `SampleInbox.cases` points a
test at each of them. Some anomalies are bytes no writer produces (an impossible date, a
half-width byte in a `K` field, a cut double-byte character, a trailer that miscounts, 髙 as the
NEC-selected 0xEEE0): they are patched into the written records at offsets from the layouts.
"""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cache

import numpy as np
import polars as pl

from schemas import codes
from schemas.inbox import FileKind, InboxName, parse_inbox_name
from schemas.layouts import Layout, LayoutName, load_layout, load_payment_file_layouts
from schemas.rates import RatesTable
from transforms import text_codec
from transforms.calendar import add_business_days, effective_due_date, effective_due_dates, is_closed_day
from transforms.fixed_width import encoded_field, records_bytes
from transforms.late_fee import interest_base, late_fee
from transforms.payment_file import payment_file_bytes

COLLECTOR_CODE = 132071
COLLECTOR_NAME = "昭島市"
COLLECTOR_NUMBER = "13207"
FIRST_SETTLEMENT_DATE = date(2026, 5, 11)
SETTLEMENT_DAYS = 3
FISCAL_YEARS = (2022, 2023, 2024, 2025, 2026)
# The money of a payment reaches the city's account two business days after its 納付日; the 納付日
# file (速報) comes the next business day.
QUICK_BUSINESS_DAYS, DEPOSIT_BUSINESS_DAYS = 1, 2
DUNNING_FEE = 100
DUNNING_SENT_AFTER_DAYS = 15  # §329: a 督促状 goes out within 20 days after the 納期限
RECEIVABLES_PER_PAYMENT = 2
RECEIVABLE_COLUMNS = (
    "receivable_id",
    "taxpayer_id",
    "tax_code",
    "fiscal_year",
    "tax_year",
    "installment",
    "notice_number",
    "payment_number",
    "confirmation_number",
    "filing_receipt_number",
    "due_date",
    "principal",
    "dunning_fee",
    "dunning_sent_on",
    "changed_on",
)
QR_TAX_CODES = ("010", "040", "050", "060")  # 賦課 taxes paid with an eL-QR 納付書 (route 1)
FILING_TAX_CODES = ("020", "030", "070")  # eLTAX 申告 taxes (route 2)
ELTAX_CLASS_BY_TAX_CODE = {tax_code: eltax for eltax, tax_code in codes.TAX_CODE_BY_ELTAX_CLASS.items()}
TAX_DESCRIPTIONS = {
    "010": ("市民税・都民税", "ｼﾐﾝｾﾞｲ ﾄﾐﾝｾﾞｲ"),
    "020": ("特別徴収", "ﾄｸﾍﾞﾂﾁﾖｳｼﾕｳ"),
    "030": ("法人市民税", "ﾎｳｼﾞﾝｼﾐﾝｾﾞｲ"),
    "040": ("固定資産税", "ｺﾃｲｼｻﾝｾﾞｲ"),
    "050": ("軽自動車税", "ｹｲｼﾞﾄﾞｳｼﾔｾﾞｲ"),
    "060": ("国民健康保険税", "ｺｸﾐﾝｹﾝｺｳﾎｹﾝｾﾞｲ"),
    "070": ("退職所得分離課税", "ﾀｲｼﾖｸｼﾖﾄｸ"),
}
# Share of the receivables by tax code; with the fiscal-year weights they give a snapshot whose
# past installments are mostly paid and whose future ones (特別徴収 above all) are not due yet.
TAX_CODE_SHARES = {"010": 0.20, "020": 0.30, "030": 0.04, "040": 0.24, "050": 0.05, "060": 0.12, "070": 0.05}
FISCAL_YEAR_WEIGHTS = {2022: 0.03, 2023: 0.05, 2024: 0.08, 2025: 0.24, 2026: 0.60}
# Annual 本税 by tax code: median yen and spread of a log-normal draw (050 is a flat rate).
ANNUAL_AMOUNTS = {
    "010": (110_000, 0.7),
    "020": (900_000, 1.0),
    "030": (160_000, 0.9),
    "040": (110_000, 0.8),
    "060": (170_000, 0.6),
    "070": (40_000, 1.0),
}
LIGHT_VEHICLE_RATES = (2_000, 3_900, 6_900, 7_200, 10_800, 12_900)
RETIREMENT_MONTHS = 0.3  # share of months in which a company files 退職所得
BUSINESS_YEAR_ENDS = (0.6, 0.15, 0.1, 0.15)  # 030: business years ending in March, June, September, December
HISTORICAL_SHARE = 0.8  # of the payments: migrated from before go-live, one 仮登録 each
HISTORICAL_LATE = 0.12  # of the historical payments: paid after the 納期限
PAST_PAID_AT_MOST = 0.92  # of the past receivables: paid by the migrated history at most
WINDOW_WEIGHTS = {"current": 30.0, "past": 1.0, "future": 0.6}  # which receivables the window's payments pay
ELECTRONIC_SHARE = 0.72  # of the window's payments: through eLTAX / eL-QR (payment files); the rest 仮登録
PARTIAL_SHARE = 0.04  # of the window's 申告 and 仮登録 payments: part of the 本税 only
LATE_FEE_PAYERS = 0.5  # of the late payments: the 延滞金 paid with the 本税
PROVISIONAL_WITH_ID = 0.5  # of the window's 仮登録: with a 共通納税ID (the rest: 納付情報シーケンス alone)
DUNNING_SENT = 0.9  # of the receivables unpaid 15 days after the 納期限: a 督促状 went out
QR_CHANNELS = {"05": 0.3, "06": 0.15, "02": 0.2, "04": 0.2, "01": 0.1, "03": 0.05}
FILING_CHANNELS = {"07": 0.5, "02": 0.35, "01": 0.15}
PAYMENT_METHOD_BY_CHANNEL = {
    "01": "01", "02": "02", "03": "02", "04": "01", "05": "04", "06": "03", "07": "02", "08": "01", "09": "01",
}
BANKS = (
    ("0001", "001"), ("0005", "153"), ("0009", "224"), ("0010", "361"), ("1360", "012"), ("9900", "019"), ("0017", "441"),
)
PASSWORD_POOL = 997
PLANTED_KEYS = 9_000_000_000  # payment and record keys of planted cases; bulk keys stay far below
UNRECOGNISED_FILE = "README.txt"
# The files delivered with a twist: (kind, index of the settlement date).
REDELIVERED_FILE = (FileKind.PAYMENT_BY_PAYMENT_DATE, 1)  # delivered again as 002 with a new header
REJECTED_FILE = (FileKind.PAYMENT_BY_DEPOSIT, 2)  # an extra 002 whose trailer miscounts
REJECTED_FILE_RECORDS = 3
CRLF_FILE = (FileKind.PAYMENT_BY_DEPOSIT, 1)  # the one file whose records end in CR LF
# The writer, like Windows, writes 髙 as the IBM extension 0xFBFC; the legacy system sending the
# 仮登録 exports writes the NEC-selected 0xEEE0, as Python's codec does. Both decode to 髙.
NEC_SELECTED_KINDS = (FileKind.PROVISIONAL_BY_PAYMENT_DATE, FileKind.PROVISIONAL_BY_DEPOSIT)
ROUTE_KINDS = {
    ("provisional", False): FileKind.PROVISIONAL_BY_PAYMENT_DATE,
    ("provisional", True): FileKind.PROVISIONAL_BY_DEPOSIT,
    ("electronic", False): FileKind.PAYMENT_BY_PAYMENT_DATE,
    ("electronic", True): FileKind.PAYMENT_BY_DEPOSIT,
}

FAMILY_NAMES = (
    ("髙橋", "ﾀｶﾊｼ"), ("髙田", "ﾀｶﾀﾞ"), ("髙木", "ﾀｶｷﾞ"), ("山﨑", "ﾔﾏｻﾞｷ"), ("宮﨑", "ﾐﾔｻﾞｷ"), ("川﨑", "ｶﾜｻｷ"),
    ("神﨑", "ｶﾝｻﾞｷ"), ("吉﨑", "ﾖｼｻﾞｷ"), ("德田", "ﾄｸﾀﾞ"), ("佐藤", "ｻﾄｳ"), ("鈴木", "ｽｽﾞｷ"), ("田中", "ﾀﾅｶ"),
    ("伊藤", "ｲﾄｳ"), ("渡辺", "ﾜﾀﾅﾍﾞ"), ("渡邉", "ﾜﾀﾅﾍﾞ"), ("渡邊", "ﾜﾀﾅﾍﾞ"), ("山本", "ﾔﾏﾓﾄ"), ("中村", "ﾅｶﾑﾗ"),
    ("小林", "ｺﾊﾞﾔｼ"), ("加藤", "ｶﾄｳ"), ("吉田", "ﾖｼﾀﾞ"), ("山田", "ﾔﾏﾀﾞ"), ("佐々木", "ｻｻｷ"), ("松本", "ﾏﾂﾓﾄ"),
    ("井上", "ｲﾉｳｴ"), ("木村", "ｷﾑﾗ"), ("林", "ﾊﾔｼ"), ("齋藤", "ｻｲﾄｳ"), ("清水", "ｼﾐｽﾞ"), ("森", "ﾓﾘ"),
    ("池田", "ｲｹﾀﾞ"), ("橋本", "ﾊｼﾓﾄ"), ("石川", "ｲｼｶﾜ"), ("前田", "ﾏｴﾀﾞ"), ("藤田", "ﾌｼﾞﾀ"), ("小川", "ｵｶﾞﾜ"),
    ("岡田", "ｵｶﾀﾞ"), ("長谷川", "ﾊｾｶﾞﾜ"), ("村上", "ﾑﾗｶﾐ"), ("近藤", "ｺﾝﾄﾞｳ"), ("石井", "ｲｼｲ"), ("坂本", "ｻｶﾓﾄ"),
    ("遠藤", "ｴﾝﾄﾞｳ"), ("青木", "ｱｵｷ"), ("福田", "ﾌｸﾀﾞ"), ("三浦", "ﾐｳﾗ"), ("土屋", "ﾂﾁﾔ"), ("野口", "ﾉｸﾞﾁ"),
)
GIVEN_NAMES = (
    ("太郎", "ﾀﾛｳ"), ("一郎", "ｲﾁﾛｳ"), ("健一", "ｹﾝｲﾁ"), ("誠", "ﾏｺﾄ"), ("大輔", "ﾀﾞｲｽｹ"), ("翔太", "ｼｮｳﾀ"),
    ("拓也", "ﾀｸﾔ"), ("浩二", "ｺｳｼﾞ"), ("髙志", "ﾀｶｼ"), ("修", "ｵｻﾑ"), ("昭", "ｱｷﾗ"), ("和夫", "ｶｽﾞｵ"),
    ("次郎", "ｼﾞﾛｳ"), ("花子", "ﾊﾅｺ"), ("恵子", "ｹｲｺ"), ("陽子", "ﾖｳｺ"), ("美咲", "ﾐｻｷ"), ("愛", "ｱｲ"),
    ("由美", "ﾕﾐ"), ("直美", "ﾅｵﾐ"), ("裕子", "ﾕｳｺ"), ("さくら", "ｻｸﾗ"), ("結衣", "ﾕｲ"), ("智子", "ﾄﾓｺ"),
    ("瑠璃", "ﾙﾘ"), ("千尋", "ﾁﾋﾛ"),
)
CORPORATE_STEMS = (
    ("髙﨑製作所", "ﾀｶｻｷｾｲｻｸｼﾖ"), ("山﨑商店", "ﾔﾏｻﾞｷｼﾖｳﾃﾝ"), ("昭島精機", "ｱｷｼﾏｾｲｷ"),
    ("多摩川運輸", "ﾀﾏｶﾞﾜｳﾝﾕ"), ("拝島フーズ", "ﾊｲｼﾞﾏﾌｰｽﾞ"), ("玉川建設", "ﾀﾏｶﾞﾜｹﾝｾﾂ"), ("①企画", "ｲﾁｷｶｸ"),
    ("中神電機", "ﾅｶｶﾞﾐﾃﾞﾝｷ"), ("つつじが丘ケア", "ﾂﾂｼﾞｶﾞｵｶｹｱ"), ("宮沢食品", "ﾐﾔｻﾞﾜｼﾖｸﾋﾝ"),
    ("昭和町不動産", "ｼﾖｳﾜﾁﾖｳﾌﾄﾞｳｻﾝ"), ("東町ソフト", "ｱｽﾞﾏﾁﾖｳｿﾌﾄ"), ("大神物流", "ｵｵｶﾞﾐﾌﾞﾂﾘﾕｳ"),
    ("郷地印刷", "ｺﾞｳﾁｲﾝｻﾂ"), ("福島工業", "ﾌｸｼﾏｺｳｷﾞﾖｳ"), ("美堀園芸", "ﾐﾎﾘｴﾝｹﾞｲ"),
    ("緑町クリニック", "ﾐﾄﾞﾘﾁﾖｳｸﾘﾆﾂｸ"), ("築地鉄工", "ﾂｲｼﾞﾃﾂｺｳ"), ("德田商事", "ﾄｸﾀﾞｼﾖｳｼﾞ"), ("富士見ホーム", "ﾌｼﾞﾐﾎｰﾑ"),
)
CORPORATE_FORMS = (("㈱{}", "ｶ){}"), ("{}㈱", "{}(ｶ"), ("有限会社{}", "ﾕ){}"), ("株式会社{}", "ｶ){}"), ("㈲{}", "ﾕ){}"))
TOWNS = (
    "昭和町", "玉川町", "東町", "朝日町", "松原町", "宮沢町", "中神町", "大神町", "上川原町", "田中町",
    "拝島町", "郷地町", "福島町", "築地町", "美堀町", "緑町", "つつじが丘", "武蔵野", "もくせいの杜", "富士見町",
)
STREET_NUMBERS = ((1, 2, 3), (2, 15, 8), (3, 7, 21), (4, 1, 1), (5, 22, 10))
BUILDINGS = ("", "", "", "メゾン①　２０１", "髙﨑ハイツ１０２", "グランドール昭島①号棟")
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def _individual_names() -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"{family}　{given}", f"{family_kana} {given_kana}")
        for family, family_kana in FAMILY_NAMES
        for given, given_kana in GIVEN_NAMES
    )


def _corporate_names() -> tuple[tuple[str, str], ...]:
    return tuple(
        (form.format(stem), kana_form.format(kana))
        for stem, kana in CORPORATE_STEMS
        for form, kana_form in CORPORATE_FORMS
    )


def _addresses() -> tuple[str, ...]:
    numbers = [f"{chome}丁目{ban}番{go}号".translate(FULL_WIDTH_DIGITS) for chome, ban, go in STREET_NUMBERS]
    return tuple(
        f"東京都昭島市{town}{number}" + (f"　{building}" if building else "")
        for index, town in enumerate(TOWNS)
        for number, building in zip(numbers, BUILDINGS[index % 2 :])
    )


INDIVIDUAL_NAMES = _individual_names()
CORPORATE_NAMES = _corporate_names()
ADDRESSES = _addresses()
# Every personal string the generator can emit: kanji and kana names of people and companies,
# and addresses. A test elsewhere scans shuno's outputs (logs, exports) for them.
SAMPLE_NAMES = tuple(dict.fromkeys([name for pair in INDIVIDUAL_NAMES + CORPORATE_NAMES for name in pair] + list(ADDRESSES)))

SIGHTING_SCHEMA = pl.Schema(
    {
        "record_key": pl.Int64(),
        "payment_key": pl.Int64(),
        "file_kind": pl.String(),
        "settlement_date": pl.Date(),
        "delivery_number": pl.Int64(),
        "route": pl.String(),
        "receivable_id": pl.String(),
        "taxpayer_id": pl.String(),
        "tax_code": pl.String(),
        "fiscal_year": pl.Int64(),
        "tax_year": pl.Int64(),
        "installment": pl.String(),
        "notice_number": pl.String(),
        "payment_number": pl.String(),
        "confirmation_number": pl.String(),
        "filing_receipt_number": pl.String(),
        "due_date": pl.Date(),
        "payer_name": pl.String(),
        "payer_name_kana": pl.String(),
        "payer_address": pl.String(),
        "corporate_number": pl.String(),
        "eltax_taxpayer_id": pl.String(),
        "common_tax_id": pl.String(),
        "sequence_number": pl.Int64(),
        "payment_info_sequence": pl.Int64(),
        "history_number": pl.Int64(),
        "receipt_class": pl.String(),
        "response_code": pl.String(),
        "payment_class": pl.String(),
        "payment_scheme": pl.String(),
        "channel_class": pl.String(),
        "payment_method": pl.String(),
        "bank_code": pl.String(),
        "branch_code": pl.String(),
        "password": pl.String(),
        "paid_on": pl.Date(),
        "processed_on": pl.Date(),
        "processed_at": pl.Time(),
        "mpn_serial": pl.String(),
        "deposited_on": pl.Date(),
        "billed_principal": pl.Int64(),
        "billed_late_fee": pl.Int64(),
        "paid_principal": pl.Int64(),
        "paid_dunning_fee": pl.Int64(),
        "paid_late_fee": pl.Int64(),
        "estimated_payment_flag": pl.String(),
        "delete_next_run_flag": pl.String(),
        "management_on": pl.Date(),
        "patch": pl.String(),
    }
)
"""One row per record of a payment or 仮登録 file (a sighting of a payment). `paid_principal` is
本税 alone; `billed_principal` is 本税等 as printed. `management_on` is the settlement date whose
管理 file carries the payment's 管理 record (null: none); `patch` names a byte anomaly."""

SAMPLE_RECEIVABLE_SCHEMA = pl.Schema(
    {
        **{name: pl.String() for name in RECEIVABLE_COLUMNS},
        "fiscal_year": pl.Int64(),
        "tax_year": pl.Int64(),
        "due_date": pl.Date(),
        "principal": pl.Int64(),
        "dunning_fee": pl.Int64(),
        "dunning_sent_on": pl.Date(),
        "changed_on": pl.Date(),
        "listed_from": pl.Date(),
        "listed_until": pl.Date(),
        "reduced_to": pl.Int64(),
        "reduced_on": pl.Date(),
        "effective_due_date": pl.Date(),
    }
)
"""Receivables as generated: the CONTRACT columns, when each is listed in the snapshots (a later
snapshot may add, drop or reduce one) and its effective 納期限."""

LINK_SCHEMA = pl.Schema(
    {
        "eltax_taxpayer_id": pl.String(),
        "eltax_tax_class": pl.String(),
        "corporate_number": pl.String(),
        "taxpayer_id": pl.String(),
        "registration_class": pl.String(),
        "linked_at": pl.Datetime("us"),
        "settlement_date": pl.Date(),
        "file_created_on": pl.Date(),
    }
)
"""紐付履歴 events: the link, the settlement date whose file delivers it, and the file creation
date it carries (a re-delivered event keeps the first one: it is the same event)."""

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
class BytePatch:
    """Bytes written over one record of an encoded file: an anomaly no writer produces."""

    record: int  # 0-based position of the record in the file (header included); negative from the end
    offset: int  # byte offset in the record, taken from the layout
    value: bytes


@dataclass(frozen=True)
class SampleFile:
    """One inbox file: its name and what its bytes are made from."""

    name: str
    kind: FileKind | None
    records: pl.DataFrame | None = None  # data records typed by the kind's layout; receivables rows
    header: dict | None = None  # header values of a payment file
    crlf: bool = False
    nec_selected: bool = False  # K fields with NEC-selected codes (髙 0xEEE0) where the writer puts IBM ones
    patches: tuple[BytePatch, ...] = ()
    content: bytes | None = None  # a file not made of records (the unrecognised one)


@dataclass(frozen=True)
class SampleInbox:
    """The sample: its settlement dates, its files, and where each planted case lies."""

    settlement_dates: tuple[date, ...]
    files: tuple[SampleFile, ...]
    cases: pl.DataFrame


def sample_inbox(payments: int, seed: int, rates: RatesTable, settlement_days: int = SETTLEMENT_DAYS) -> SampleInbox:
    """The whole sample inbox: about `payments` payments over `settlement_days` business days."""
    if payments < 1 or settlement_days < SETTLEMENT_DAYS:
        raise ValueError(f"a sample needs at least 1 payment and {SETTLEMENT_DAYS} settlement days")
    rng = np.random.default_rng(seed)
    dates = settlement_dates(FIRST_SETTLEMENT_DATE, settlement_days)
    taxpayers = sample_taxpayers(rng, RECEIVABLES_PER_PAYMENT * payments)
    receivables = sample_receivables(rng, taxpayers, RECEIVABLES_PER_PAYMENT * payments, dates[0])
    plan = bulk_payment_plan(rng, receivables, payments, dates)
    receivables = with_dunning(rng, receivables, plan, dates[0])
    passwords = password_pool(rng)
    bulk = bulk_sightings(rng, plan, receivables, taxpayers, dates, rates, passwords)
    planted = planted_cases(dates, rates, passwords)
    sightings = pl.concat([bulk, planted.sightings], how="vertical")
    links = pl.concat([bulk_links(rng, receivables, taxpayers, dates[0]), planted.links], how="vertical")
    all_receivables = pl.concat([receivables.cast(dict(SAMPLE_RECEIVABLE_SCHEMA)), planted.receivables], how="vertical")
    case_keys = planted.cases["record_key"].drop_nulls().to_list()
    files, locations = sample_files(sightings, all_receivables, links, dates, planted.management_redeliveries, case_keys)
    return SampleInbox(dates, tuple(files), located_cases(planted.cases, sightings, locations))


def settlement_dates(first: date, count: int) -> tuple[date, ...]:
    """`count` consecutive business days, the first of them `first`."""
    return tuple(add_business_days(first, offset) if offset else first for offset in range(count))


def sighting_dates(paid_on: date) -> tuple[date, date]:
    """The settlement dates of a payment's 速報 (納付日 file) and 確報 (入金日 file, = deposit day)."""
    return add_business_days(paid_on, QUICK_BUSINESS_DAYS), add_business_days(paid_on, DEPOSIT_BUSINESS_DAYS)


def payment_days(dates: tuple[date, ...]) -> pl.DataFrame:
    """The days paid on whose 速報 or 確報 falls on a settlement date, with each sighting's date."""
    rows = []
    day = dates[0] - timedelta(days=14)
    while day < dates[-1]:
        quick, confirm = sighting_dates(day)
        if quick in dates or confirm in dates:
            weight = 0.3 if is_closed_day(day) else 1.0
            rows.append((day, quick if quick in dates else None, confirm if confirm in dates else None, weight))
        day += timedelta(days=1)
    schema = {"paid_on": pl.Date, "quick_on": pl.Date, "confirm_on": pl.Date, "weight": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _digits(values: np.ndarray | pl.Series, width: int) -> pl.Series:
    return pl.Series(values).cast(pl.String).str.zfill(width)


def _scrambled(index: np.ndarray, digits: int, multiplier: int) -> np.ndarray:
    # An odd multiplier that is no multiple of 5 permutes 0..10^digits − 1: unique, unordered numbers.
    return (index.astype(np.int64) * multiplier + 104_729) % 10**digits


def _pool_column(rng: np.random.Generator, pool: Iterable, count: int) -> pl.Series:
    pool = pl.Series(list(pool))
    return pool.gather(rng.integers(0, len(pool), count))


def sample_taxpayers(rng: np.random.Generator, receivables: int) -> pl.DataFrame:
    """The city's taxpayers: people (賦課 taxes) and companies (申告 taxes), with names and ids."""
    people, companies = max(30, receivables // 10), max(12, receivables // 25)
    count = people + companies
    corporate = np.arange(count) >= people
    company_index = np.arange(count) - people
    people_names, company_names = _pool_column(rng, INDIVIDUAL_NAMES, count), _pool_column(rng, CORPORATE_NAMES, count)
    names = pl.select(pl.when(pl.Series(corporate)).then(company_names).otherwise(people_names)).to_series()
    people_only = pl.Series(~corporate)
    return pl.DataFrame(
        {
            "taxpayer_id": pl.Series(np.where(corporate, 5_000_000_001 + company_index, 1_000_000_001 + np.arange(count))),
            "corporate": corporate,
            "payer_name": names.list.get(0),
            "payer_name_kana": names.list.get(1),
            "payer_address": _pool_column(rng, ADDRESSES, count),
            "corporate_number": corporate_numbers(rng.integers(10**11, 10**12, count)).set(people_only, None),
            "eltax_taxpayer_id": ("1" + _digits(_scrambled(company_index, 14, 3_000_017), 14)).set(people_only, None),
        }
    ).with_columns(pl.col("taxpayer_id").cast(pl.String))


def corporate_numbers(bases: np.ndarray) -> pl.Series:
    """法人番号: a check digit, then the 12-digit 会社法人等番号 (9 − Σ digit × 1,2,1,2… mod 9)."""
    weights = np.where(np.arange(12) % 2 == 0, 1, 2)  # from the last digit up
    digits = bases[:, None] // 10 ** np.arange(12) % 10
    check = 9 - (digits * weights).sum(axis=1) % 9
    return _digits(check * 10**12 + bases, 13)


@cache
def due_date_table(first_settlement_date: date) -> pl.DataFrame:
    """Every (tax code, fiscal year, installment, variant) assessed by the first settlement date."""
    rows = [
        (tax_code, year, installment, variant, due, assessed_on)
        for year in FISCAL_YEARS
        for tax_code, installment, variant, due, assessed_on in _ordinance_due_dates(year)
        if assessed_on <= first_settlement_date
    ]
    schema = {
        "tax_code": pl.String, "fiscal_year": pl.Int64, "installment": pl.String, "variant": pl.Int64,
        "due_date": pl.Date, "assessed_on": pl.Date,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _last_day(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, month_calendar.monthrange(year, month)[1])


def _month_day(year: int, month: int, day: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, day)


def _ordinance_due_dates(year: int) -> list[tuple[str, str, int, date, date]]:
    """(tax code, installment, variant, 納期限 by ordinance, assessed on) of one fiscal year."""
    # Months past 12 fall in the next calendar year; 030's variant is the business year's end month.
    fixed = {
        "010": ([(6, 30), (8, 31), (10, 31), (13, 31)], date(year, 6, 1)),
        "040": ([(4, 30), (7, 31), (12, 25), (14, 28)], date(year, 4, 1)),
        "050": ([(5, 31)], date(year, 4, 1)),
        "060": ([(7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 25), (13, 31), (14, 28)], date(year, 7, 1)),
        "020": ([(month, 10) for month in range(7, 19)], date(year, 5, 1)),
    }
    rows = [
        (tax_code, f"{number:02d}", 0, _month_day(year, month, day), assessed)
        for tax_code, (days, assessed) in fixed.items()
        for number, (month, day) in enumerate(days, start=1)
    ]
    # 申告 taxes exist once filed, shortly before their 納期限.
    retirement = [_month_day(year, month, 10) for month in range(5, 17)]
    rows += [("070", f"{number:02d}", 0, due, due - timedelta(days=20)) for number, due in enumerate(retirement, 1)]
    corporate = [_last_day(year, end_month + 2) for end_month in (3, 6, 9, 12)]
    rows += [("030", "00", variant, due, due - timedelta(days=20)) for variant, due in enumerate(corporate)]
    return rows


def sample_receivables(rng: np.random.Generator, taxpayers: pl.DataFrame, count: int, first_settlement_date: date) -> pl.DataFrame:
    """About `count` receivables (調定): whole assessments split into their installments."""
    table = due_date_table(first_settlement_date)
    assessments = pl.concat([_assessments(rng, taxpayers, tax_code, table, count) for tax_code in TAX_CODE_SHARES])
    rows = assessments.join(table, on=["tax_code", "fiscal_year", "variant"], how="inner")
    # 退職所得 is filed only for the months someone retired.
    rows = rows.filter((pl.col("tax_code") != "070") | pl.Series(rng.random(rows.height) < RETIREMENT_MONTHS))
    rows = rows.sort("taxpayer_id", "tax_code", "fiscal_year", "installment")
    return _receivable_columns(rows.with_columns(principal=_installment_principal(rng, rows)), rng)


def _assessments(rng: np.random.Generator, taxpayers: pl.DataFrame, tax_code: str, table: pl.DataFrame, count: int) -> pl.DataFrame:
    """One row per (taxpayer, tax code, fiscal year) with the year's 本税, enough for its share of `count`."""
    available = table.filter(pl.col("tax_code") == tax_code).group_by("fiscal_year", "variant").len()
    years = available["fiscal_year"].unique().sort().to_list()
    year_weights = np.array([FISCAL_YEAR_WEIGHTS[year] for year in years])
    year_weights = year_weights / year_weights.sum()
    variant_weights = BUSINESS_YEAR_ENDS if tax_code == "030" else (1.0,)
    # Installments an assessment expands to, on average: not every year has all of them assessed yet.
    expected = sum(
        year_weights[years.index(year)] * variant_weights[variant] * rows for year, variant, rows in available.iter_rows()
    ) * (RETIREMENT_MONTHS if tax_code == "070" else 1.0)
    size = max(3, round(count * TAX_CODE_SHARES[tax_code] / expected))
    payers = taxpayers.filter(pl.col("corporate") == (tax_code in FILING_TAX_CODES))["taxpayer_id"]
    drawn = np.sort(rng.choice(years, size, p=year_weights))
    # A taxpayer has at most one assessment of a tax a year: draw each year's payers without replacement.
    per_year = [rng.permutation(len(payers))[: int((drawn == year).sum())] for year in years]
    fiscal_years = np.repeat(years, [len(chosen) for chosen in per_year])
    size = len(fiscal_years)
    return pl.DataFrame(
        {
            "taxpayer_id": payers.gather(np.concatenate(per_year)),
            "tax_code": pl.Series([tax_code] * size, dtype=pl.String),
            "fiscal_year": pl.Series(fiscal_years, dtype=pl.Int64),
            "variant": pl.Series(rng.choice(len(variant_weights), size, p=variant_weights)),
            "annual": pl.Series(_annual_amounts(rng, tax_code, size)),
            "installments": pl.Series([len(codes.INSTALLMENTS_BY_TAX_CODE[tax_code])] * size),
        }
    )


def _annual_amounts(rng: np.random.Generator, tax_code: str, size: int) -> np.ndarray:
    if tax_code == "050":
        return rng.choice(LIGHT_VEHICLE_RATES, size)
    median, spread = ANNUAL_AMOUNTS[tax_code]
    # 地方税 amounts are in whole 100 yen (§20条の4の2).
    return np.maximum(np.round(rng.lognormal(np.log(median), spread, size) / 100) * 100, 1_000).astype(np.int64)


def _installment_principal(rng: np.random.Generator, rows: pl.DataFrame) -> pl.Series:
    """Each installment's share of the year, the remainder under 1,000 yen in the first one."""
    annual, count = pl.col("annual"), pl.col("installments")
    share = (annual // count) // 1_000 * 1_000
    split = pl.when(pl.col("installment").is_in(["00", "01"])).then(annual - share * (count - 1)).otherwise(share)
    # Each 退職所得 month is its own filing: its own amount.
    monthly = pl.Series(_annual_amounts(rng, "070", rows.height))
    return rows.select(pl.when(pl.col("tax_code") == "070").then(monthly).otherwise(split)).to_series()


def _receivable_columns(rows: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """The CONTRACT columns of bulk receivables, plus the effective 納期限 and snapshot columns."""
    index = np.arange(rows.height)
    qr = pl.col("tax_code").is_in(QR_TAX_CODES)
    filing_receipt = pl.col("due_date").dt.year().cast(pl.String) + _digits(_scrambled(index, 16, 1_000_003), 16)
    return rows.select(
        receivable_id=_digits(100_000_000_001 + index, 12),
        taxpayer_id="taxpayer_id",
        tax_code="tax_code",
        fiscal_year="fiscal_year",
        tax_year="fiscal_year",
        installment="installment",
        notice_number=pl.col("tax_code") + pl.col("fiscal_year").cast(pl.String) + _digits(index + 1, 9),
        payment_number=pl.when(qr).then("1" + _digits(_scrambled(index, 15, 7_919_311), 15)),
        confirmation_number=pl.when(qr).then(_digits(rng.integers(0, 10**6, rows.height), 6)),
        filing_receipt_number=pl.when(~qr).then(filing_receipt),
        due_date="due_date",
        principal="principal",
        dunning_fee=pl.lit(0, pl.Int64),
        dunning_sent_on=pl.lit(None, pl.Date),
        changed_on=pl.lit(None, pl.Date),
        listed_from=pl.lit(None, pl.Date),
        listed_until=pl.lit(None, pl.Date),
        reduced_to=pl.lit(None, pl.Int64),
        reduced_on=pl.lit(None, pl.Date),
        effective_due_date=effective_due_dates(rows["due_date"]),
    )


def bulk_payment_plan(rng: np.random.Generator, receivables: pl.DataFrame, payments: int, dates: tuple[date, ...]) -> pl.DataFrame:
    """Which receivables the bulk payments pay, and when: migrated history, then the window's."""
    due = receivables["effective_due_date"]
    past = (due < dates[0] - timedelta(days=14)).to_numpy()
    future = (due > dates[-1] + timedelta(days=31)).to_numpy()
    historical_count = min(round(payments * HISTORICAL_SHARE), int(past.sum() * PAST_PAID_AT_MOST))
    historical = np.sort(rng.choice(np.flatnonzero(past), historical_count, replace=False))
    still_open = np.ones(receivables.height, dtype=bool)
    still_open[historical] = False
    weights = np.select([future, past], [WINDOW_WEIGHTS["future"], WINDOW_WEIGHTS["past"]], WINDOW_WEIGHTS["current"])
    # Weighted sampling without replacement: the smallest exponential keys scaled by weight.
    keys = np.where(still_open, rng.exponential(size=receivables.height) / weights, np.inf)
    window_count = min(payments - historical_count, int(still_open.sum()))
    chosen = np.argpartition(keys, window_count)[:window_count] if window_count < len(keys) else np.flatnonzero(still_open)
    window = np.sort(chosen)
    paid_on = [_historical_paid_on(rng, receivables, historical, dates[0]), _window_paid_on(rng, len(window), dates)]
    return pl.DataFrame(
        {
            "receivable_index": np.concatenate([historical, window]),
            "historical": np.repeat([True, False], [len(historical), len(window)]),
            "paid_on": np.concatenate(paid_on),
        }
    )


def _historical_paid_on(
    rng: np.random.Generator, receivables: pl.DataFrame, historical: np.ndarray, first_settlement_date: date
) -> np.ndarray:
    """納付日 of migrated payments: up to three weeks before the 納期限, some up to eight months after."""
    due = receivables["effective_due_date"].to_numpy()[historical]
    late = rng.random(len(due)) < HISTORICAL_LATE
    offsets = np.where(late, rng.integers(1, 240, len(due)), -rng.integers(0, 21, len(due))).astype("timedelta64[D]")
    return np.minimum(due + offsets, np.datetime64(first_settlement_date - timedelta(days=10)))


def _window_paid_on(rng: np.random.Generator, count: int, dates: tuple[date, ...]) -> np.ndarray:
    """納付日 of the window's payments: the days whose files the settlement dates carry, weekends fewer."""
    days = payment_days(dates)
    weights = days["weight"].to_numpy()
    return days["paid_on"].to_numpy()[rng.choice(len(days), count, p=weights / weights.sum())]


def with_dunning(
    rng: np.random.Generator, receivables: pl.DataFrame, plan: pl.DataFrame, first_settlement_date: date
) -> pl.DataFrame:
    """Receivables with 督促手数料 where a 督促状 went out: unpaid 15 days after the 納期限."""
    first_paid = plan.group_by("receivable_index").agg(pl.col("paid_on").min())
    paid = np.full(receivables.height, np.datetime64("NaT"), dtype="datetime64[D]")
    paid[first_paid["receivable_index"].to_numpy()] = first_paid["paid_on"].to_numpy()
    sent = (receivables["effective_due_date"] + timedelta(days=DUNNING_SENT_AFTER_DAYS)).to_numpy()
    unpaid_then = np.isnat(paid) | (paid > sent)
    dunned = unpaid_then & (sent < np.datetime64(first_settlement_date)) & (rng.random(receivables.height) < DUNNING_SENT)
    return receivables.with_columns(
        dunning_fee=pl.Series(np.where(dunned, DUNNING_FEE, 0)),
        dunning_sent_on=pl.Series(sent).set(pl.Series(~dunned), None),
    )


def password_pool(rng: np.random.Generator) -> pl.Series:
    """Random MPN passwords (8–12 letters and digits) the payments draw from."""
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"))
    return pl.Series(["".join(rng.choice(letters, rng.integers(8, 13))) for _ in range(PASSWORD_POOL)], dtype=pl.String)


def bulk_sightings(
    rng: np.random.Generator,
    plan: pl.DataFrame,
    receivables: pl.DataFrame,
    taxpayers: pl.DataFrame,
    dates: tuple[date, ...],
    rates: RatesTable,
    passwords: pl.Series,
) -> pl.DataFrame:
    """The records of the bulk payments in the payment and 仮登録 files, one per sighting."""
    payments = bulk_payments(rng, plan, receivables, taxpayers, rates, passwords)
    days = payment_days(dates).select("paid_on", "quick_on", "confirm_on")
    window = payments.filter(~pl.col("historical")).join(days, on="paid_on", how="left", maintain_order="left")
    window = window.with_columns(
        management_on=pl.when(pl.col("route") == "filing").then(pl.min_horizontal("quick_on", "confirm_on"))
    )
    # Migrated payments come once, in the first 入金日 仮登録 file.
    historical = payments.filter(pl.col("historical")).with_columns(
        confirm_on=pl.lit(dates[0]), quick_on=pl.lit(None, pl.Date), management_on=pl.lit(None, pl.Date)
    )
    both = pl.concat([window, historical], how="diagonal_relaxed")
    quick = both.filter(pl.col("quick_on").is_not_null()).with_columns(
        settlement_date="quick_on", deposited_on=pl.lit(None, pl.Date), file_kind=_file_kind(confirmation=False)
    )
    confirm = both.filter(pl.col("confirm_on").is_not_null())
    confirm = confirm.with_columns(
        settlement_date="confirm_on",
        deposited_on=_shifted_business_days(confirm["paid_on"], DEPOSIT_BUSINESS_DAYS),
        file_kind=_file_kind(confirmation=True),
    )
    sightings = pl.concat([quick, confirm], how="diagonal_relaxed").with_columns(record_key=pl.int_range(pl.len(), dtype=pl.Int64))
    return sightings.select(SIGHTING_SCHEMA.names()).cast(dict(SIGHTING_SCHEMA))


def _file_kind(confirmation: bool) -> pl.Expr:
    provisional = ROUTE_KINDS["provisional", confirmation].value
    payment = ROUTE_KINDS["electronic", confirmation].value
    return pl.when(pl.col("route") == "provisional").then(pl.lit(provisional)).otherwise(pl.lit(payment))


def _shifted_business_days(days: pl.Series, business_days: int) -> pl.Series:
    # A few thousand distinct days at most: shift each once.
    distinct = days.unique()
    shifted = pl.Series([add_business_days(day, business_days) for day in distinct], dtype=pl.Date)
    return days.replace_strict(distinct, shifted, return_dtype=pl.Date)


def bulk_payments(
    rng: np.random.Generator,
    plan: pl.DataFrame,
    receivables: pl.DataFrame,
    taxpayers: pl.DataFrame,
    rates: RatesTable,
    passwords: pl.Series,
) -> pl.DataFrame:
    """One row per bulk payment: receivable, payer, route, identity and amounts."""
    count = plan.height
    indexed = receivables.with_row_index("receivable_index").with_columns(pl.col("receivable_index").cast(pl.Int64))
    payments = (
        plan.with_columns(payment_key=pl.int_range(count, dtype=pl.Int64))
        .join(indexed, on="receivable_index", how="left", maintain_order="left")
        .join(taxpayers.drop("corporate"), on="taxpayer_id", how="left", maintain_order="left")
    )
    provisional = plan["historical"].to_numpy() | (rng.random(count) >= ELECTRONIC_SHARE)
    payments = payments.with_columns(
        route=pl.when(pl.Series(provisional))
        .then(pl.lit("provisional"))
        .when(pl.col("tax_code").is_in(QR_TAX_CODES))
        .then(pl.lit("qr"))
        .otherwise(pl.lit("filing")),
        password=passwords.gather(rng.integers(0, len(passwords), count)),
        processed_at=_processing_times(rng, count),
        bank=pl.Series(rng.integers(0, len(BANKS), count)),
    )
    return _with_identity(rng, _with_amounts(rng, payments, rates))


def _processing_times(rng: np.random.Generator, count: int) -> pl.Series:
    # Most payments in office hours, the rest spread over the day (smartphones, cards).
    in_office_hours = rng.random(count) < 0.7
    seconds = np.where(in_office_hours, rng.integers(9 * 3600, 17 * 3600, count), rng.integers(0, 86_400, count))
    return pl.Series(seconds * 1_000_000_000, dtype=pl.Int64).cast(pl.Time)


def _with_amounts(rng: np.random.Generator, payments: pl.DataFrame, rates: RatesTable) -> pl.DataFrame:
    """What each payment pays: in full (with 督促手数料 once charged, 延滞金 for some late ones) or in part."""
    count = payments.height
    partial = pl.Series(rng.random(count) < PARTIAL_SHARE) & (pl.col("route") != "qr") & ~pl.col("historical")
    late = pl.col("paid_on") > pl.col("effective_due_date")
    dunned = pl.col("dunning_sent_on").is_not_null() & (pl.col("paid_on") > pl.col("dunning_sent_on"))
    part = (pl.col("principal") * pl.Series(rng.uniform(0.3, 0.8, count)) / 1_000).floor().cast(pl.Int64) * 1_000
    payments = payments.with_columns(
        with_late_fee=late & pl.Series(rng.random(count) < LATE_FEE_PAYERS) & ~partial,
        paid_principal=pl.when(partial)
        .then(pl.max_horizontal(part, 1_000).clip(upper_bound=pl.col("principal")))
        .otherwise("principal"),
        paid_dunning_fee=pl.when(dunned & ~partial).then("dunning_fee").otherwise(0),
        billed_principal=pl.col("principal") + pl.when(dunned).then("dunning_fee").otherwise(0),
    )
    keys = ["principal", "effective_due_date", "paid_on"]
    fees = _late_fees(payments.filter("with_late_fee").select(keys).unique(), rates)
    paid_fee = pl.when("with_late_fee").then(pl.col("late_fee")).otherwise(0)
    return payments.join(fees, on=keys, how="left", maintain_order="left").with_columns(
        billed_late_fee=paid_fee, paid_late_fee=paid_fee
    )


def _late_fees(keys: pl.DataFrame, rates: RatesTable) -> pl.DataFrame:
    """The exact 延滞金 (SPEC §4.1) of paying each distinct (本税, effective 納期限, 納付日) in full."""
    # 本税 counts only through its base (floored to 1,000 yen): distinct (base, 納期限, 納付日) are
    # far fewer than the keys, and each costs an exact computation.
    principals = keys["principal"].unique()
    bases = pl.Series([interest_base(principal) for principal in principals], dtype=pl.Int64)
    keys = keys.with_columns(base=pl.col("principal").replace_strict(principals, bases))
    distinct = keys.select("base", "effective_due_date", "paid_on").unique()
    fees = [late_fee(base, due, paid, (), rates) for base, due, paid in distinct.iter_rows()]
    distinct = distinct.with_columns(late_fee=pl.Series(fees, dtype=pl.Int64))
    return keys.join(distinct, on=["base", "effective_due_date", "paid_on"], how="left").drop("base")


def _with_identity(rng: np.random.Generator, payments: pl.DataFrame) -> pl.DataFrame:
    """共通納税ID and 連番, 納付番号 of 申告 payments, channel and bank, MPN serial, 納付情報シーケンス."""
    count = payments.height
    filing, provisional = pl.col("route") == "filing", pl.col("route") == "provisional"
    # A company paying several 申告 the same day pays them as one eLTAX case: 連番 1, 2, …
    taxpayer, paid_on = pl.col("taxpayer_id"), pl.col("paid_on")
    same_case = filing & (taxpayer == taxpayer.shift()) & (paid_on == paid_on.shift())
    payments = payments.sort("route", "taxpayer_id", "paid_on", "payment_key").with_columns(
        case=(~same_case.fill_null(False)).cum_sum()
    )
    # Payments outside eLTAX carry a 共通納税ID or only the sender's 納付情報シーケンス.
    with_id = ~provisional | (pl.Series(rng.random(count) < PROVISIONAL_WITH_ID) & ~pl.col("historical"))
    channel, filing_channel = _choice(rng, QR_CHANNELS, count), _choice(rng, FILING_CHANNELS, count)
    case_number = _digits(_scrambled(payments["case"].to_numpy(), 12, 1_000_000_007), 12)
    serial = pl.int_range(pl.len()).over("paid_on", order_by=["processed_at", "payment_key"]) + 1
    return payments.with_columns(
        common_tax_id=pl.when(with_id).then(paid_on.dt.strftime("%y%m%d") + case_number),
        sequence_number=pl.when(with_id).then(pl.int_range(pl.len()).over("case") + 1).otherwise(0).cast(pl.Int64),
        payment_info_sequence=pl.when(provisional).then(pl.col("payment_key") + 1),
        payment_number=pl.when(filing)
        .then("9" + _digits(_scrambled(np.arange(count), 15, 3_333_331), 15))
        .otherwise("payment_number"),
        confirmation_number=pl.when(filing).then(_digits(rng.integers(0, 10**6, count), 6)).otherwise("confirmation_number"),
        channel_class=pl.when(filing).then(filing_channel).otherwise(channel),
        payment_scheme=pl.when(~filing)
        .then(pl.lit("02"))
        .when(filing_channel == "07")
        .then(pl.lit("03"))
        .otherwise(pl.lit("01")),
        mpn_serial=serial.cast(pl.String).str.zfill(8),
        bank_code=pl.Series([bank for bank, _ in BANKS]).gather(payments["bank"]),
        branch_code=pl.Series([branch for _, branch in BANKS]).gather(payments["bank"]),
    ).with_columns(
        payment_method=pl.col("channel_class").replace_strict(PAYMENT_METHOD_BY_CHANNEL),
        processed_on="paid_on",
        history_number=pl.lit(0, pl.Int64),
        receipt_class=pl.lit("1"),
        response_code=pl.lit(codes.RESPONSE_CODE_NORMAL),
        payment_class=pl.lit("01"),
        estimated_payment_flag=pl.lit("0"),
        delete_next_run_flag=pl.lit("0"),
        patch=pl.lit(None, pl.String),
        delivery_number=pl.lit(1, pl.Int64),
    )


def _choice(rng: np.random.Generator, weights: dict[str, float], count: int) -> pl.Series:
    values = np.array(list(weights))
    p = np.array(list(weights.values()))
    return pl.Series(values[rng.choice(len(values), count, p=p / p.sum())])


def bulk_links(
    rng: np.random.Generator, receivables: pl.DataFrame, taxpayers: pl.DataFrame, first_settlement_date: date
) -> pl.DataFrame:
    """紐付履歴 linking each company's (納税者ID, 税目区分) to its 義務者住民コード, all before the window."""
    pairs = (
        receivables.filter(pl.col("tax_code").is_in(FILING_TAX_CODES))
        .select("taxpayer_id", eltax_tax_class=pl.col("tax_code").replace_strict(ELTAX_CLASS_BY_TAX_CODE))
        .unique(maintain_order=True)
        .join(
            taxpayers.select("taxpayer_id", "eltax_taxpayer_id", "corporate_number"),
            on="taxpayer_id",
            how="left",
            maintain_order="left",
        )
    )
    start = datetime(2021, 4, 1)
    span = int((datetime.combine(first_settlement_date, time()) - timedelta(days=11) - start).total_seconds())
    linked_at = np.datetime64(start, "s") + rng.integers(0, span, pairs.height).astype("timedelta64[s]")
    return pairs.with_columns(
        registration_class=pl.lit("1"),
        linked_at=pl.Series(linked_at.astype("datetime64[us]")),
        settlement_date=pl.lit(first_settlement_date),
        file_created_on=pl.lit(first_settlement_date),
    ).select(LINK_SCHEMA.names()).cast(dict(LINK_SCHEMA))


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
            due for code, number_, _, due, _ in _ordinance_due_dates(fiscal_year) if (code, number_) == (tax_code, installment)
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
        fee = late_fee(principal, receivable["effective_due_date"], paid_on, (), self.rates) if with_late_fee else 0
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
        for _ in range(count):
            day -= timedelta(days=1)
            while is_closed_day(day):
                day -= timedelta(days=1)
        return day

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
    last_links, last_management = _file_name(FileKind.LINK_HISTORY, p.dates[-1]), _file_name(FileKind.MANAGEMENT, p.dates[-1])
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
    fee = late_fee(late["principal"], late["effective_due_date"], earlier, (), p.rates)
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
    redelivered = _file_name(kind, p.dates[index], 2)
    p.case("redelivery", None, "the same 納付日 records delivered again with a new header", redelivered)
    kind, index = REJECTED_FILE
    rejected = _file_name(kind, p.dates[index], 2)
    p.case("rejected_file", None, "trailer データ件数 one more than the data records: rejected whole", rejected)
    kind, index = CRLF_FILE
    p.case("crlf_file", None, "records followed by CR LF (the other files have no terminators)", _file_name(kind, p.dates[index]))
    p.case("unrecognised_file", None, "a file of no inbox name", UNRECOGNISED_FILE)


def _layout_frame(frame: pl.DataFrame, layout: Layout, values: dict[str, pl.Expr | str | int]) -> pl.DataFrame:
    """A record frame of `layout`: each field from `values` (an expression or a constant), blank where none."""

    def column(layout_field) -> pl.Expr:
        value = values.get(layout_field.name)
        expression = value if isinstance(value, pl.Expr) else pl.lit(value)
        return expression.cast(layout_field.polars_dtype).alias(layout_field.name)

    return frame.select([column(layout_field) for layout_field in layout.fields])


def _tax_description(index: int) -> pl.Expr:
    names = {tax_code: descriptions[index] for tax_code, descriptions in TAX_DESCRIPTIONS.items()}
    return pl.col("tax_code").replace_strict(names, default=None, return_dtype=pl.String)


def _eltax_tax_class() -> pl.Expr:
    return pl.col("tax_code").replace_strict(ELTAX_CLASS_BY_TAX_CODE, default=None)


_FILING_PERIOD = pl.col("tax_year").cast(pl.String) + pl.col("installment")
_PAYMENT_CATEGORY = pl.col("tax_code") + _FILING_PERIOD  # MPN 納付区分: 税目・料金番号, then 申告区分・課税期間
_PAID_TOTAL = pl.col("paid_principal") + pl.col("paid_dunning_fee") + pl.col("paid_late_fee")


def payment_records(sightings: pl.DataFrame) -> pl.DataFrame:
    """The data records of one payment file from its sightings, typed by the payment layout."""
    values = {
        "common_tax_id": pl.col("common_tax_id"),
        "sequence_number": pl.col("sequence_number"),
        "record_type": codes.RECORD_TYPE_DATA,
        "payment_number": pl.col("payment_number"),
        "collector_code": COLLECTOR_CODE,
        "tax_fee_number": pl.col("tax_code").cast(pl.Int64),
        "filing_period_code": _FILING_PERIOD,
        "confirmation_number": pl.col("confirmation_number"),
        "history_number": pl.col("history_number"),
        "password": pl.col("password"),
        "response_code": pl.col("response_code"),
        "payment_class": pl.col("payment_class"),
        "payer_name_kana": pl.col("payer_name_kana"),
        "payer_name": pl.col("payer_name"),
        "billed_total": pl.col("billed_principal") + pl.col("billed_late_fee"),
        "billed_principal": pl.col("billed_principal"),
        "billed_late_fee": pl.col("billed_late_fee"),
        "late_fee_recalc_flag": "0",
        "due_date": pl.col("due_date"),
        "billed_consumption_tax": 0,
        "payment_description_kana": _tax_description(1),
        "payment_description": _tax_description(0),
        "fee_bearer_class": "2",
        "payment_scheme": pl.col("payment_scheme"),
        "paid_total_cumulative": _PAID_TOTAL.cum_sum().over("common_tax_id", order_by="sequence_number"),
        "paid_total": _PAID_TOTAL,
        # 支払納付額 is 本税等: 本税 and 督促手数料 together (SPEC §3.1).
        "paid_principal": pl.col("paid_principal") + pl.col("paid_dunning_fee"),
        "paid_late_fee": pl.col("paid_late_fee"),
        "paid_consumption_tax": 0,
        "receipt_class": pl.col("receipt_class"),
        "payment_method": pl.col("payment_method"),
        "channel_class": pl.col("channel_class"),
        "stamp_duty": 0,
        "other_bank_cheque_amount": 0,
        "deposited_on": pl.col("deposited_on"),
        "paid_on": pl.col("paid_on"),
        "mpn_processed_on": pl.col("processed_on"),
        "mpn_processed_at": pl.col("processed_at"),
        "mpn_serial": pl.col("mpn_serial"),
        "bank_code": pl.col("bank_code"),
        "branch_code": pl.col("branch_code"),
        "sender_processed_on": pl.col("processed_on"),
        "sender_processed_at": pl.col("processed_at"),
        "settlement_date": pl.col("deposited_on"),
        "mpn_registered_on": pl.col("processed_on"),
    }
    return _layout_frame(sightings, load_layout(LayoutName.PAYMENT), values)


def provisional_records(sightings: pl.DataFrame) -> pl.DataFrame:
    """The records of one 仮登録 file from its sightings, typed by the 仮登録 layout."""
    month = pl.col("paid_on").dt.month()
    paid_year = pl.col("paid_on").dt.year() - (month < 4).cast(pl.Int32)
    # 出納整理期間: April and May receipts of an earlier year's receivable belong to that year's accounts.
    closing = month.is_between(4, 5) & (pl.col("fiscal_year") < paid_year)
    values = {
        "payment_info_sequence": pl.col("payment_info_sequence"),
        "common_tax_id": pl.col("common_tax_id"),
        "sequence_number": pl.col("sequence_number"),
        "filing_receipt_number": pl.col("filing_receipt_number"),
        "eltax_tax_class": _eltax_tax_class(),
        "estimated_payment_flag": pl.col("estimated_payment_flag"),
        "tax_code": pl.col("tax_code"),
        "assessment_period": pl.col("installment"),
        "tax_year": pl.col("tax_year"),
        "notice_number": pl.col("notice_number"),
        "installment": pl.col("installment"),
        "branch_number": 0,
        "taxpayer_id": pl.col("taxpayer_id"),
        "corporate_number": pl.col("corporate_number"),
        "payer_name": pl.col("payer_name"),
        "payer_address": pl.col("payer_address"),
        "collector_number": COLLECTOR_NUMBER,
        "confirmation_number": pl.col("confirmation_number"),
        "payment_number": pl.col("payment_number"),
        "payment_category": _PAYMENT_CATEGORY,
        "paid_principal": pl.col("paid_principal"),
        "paid_retirement_income_levy": pl.when(pl.col("tax_code") == "070").then(pl.col("paid_principal")).otherwise(0),
        "paid_late_fee": pl.col("paid_late_fee"),
        "paid_dunning_fee": pl.col("paid_dunning_fee"),
        "paid_additional_charge": 0,
        "fiscal_year": paid_year - closing.cast(pl.Int32),
        "deposited_on": pl.col("deposited_on"),
        "paid_on": pl.col("paid_on"),
        "collector_code": COLLECTOR_CODE,
        "tax_fee_number": pl.col("tax_code").cast(pl.Int64),
        "filing_period_code": _FILING_PERIOD,
        "payment_class": pl.col("payment_class"),
        "paid_total": _PAID_TOTAL,
        "error_class": "00",
        "delete_next_run_flag": pl.col("delete_next_run_flag"),
        "created_on": pl.col("paid_on"),
        "updated_on": pl.col("settlement_date"),
    }
    return _layout_frame(sightings, load_layout(LayoutName.PROVISIONAL), values)


# 納付額 breakdown groups of a 管理 record: (納付額コード, 納付額区分, 納付額名, amount column).
BREAKDOWN = (
    ("001", "1", "本税", "paid_principal"),
    ("003", "3", "督促手数料", "paid_dunning_fee"),
    ("002", "2", "延滞金", "paid_late_fee"),
)


def _breakdown_values() -> dict[str, pl.Expr]:
    """納付額 breakdown groups 1.. of the 管理 record: the non-zero parts, packed from group 1."""
    present = [pl.col(column) > 0 for *_, column in BREAKDOWN]
    positions = [pl.sum_horizontal(present[: index + 1]) for index in range(len(BREAKDOWN))]
    values: dict[str, pl.Expr] = {"breakdown_count": pl.sum_horizontal(present)}
    for group in range(1, len(BREAKDOWN) + 1):
        for name, part in (("amount_code", 0), ("amount_class", 1), ("amount_name", 2), ("amount", 3)):
            expression = pl.lit(None, pl.Int64 if name == "amount" else pl.String)
            for kind, is_present, position in zip(BREAKDOWN, present, positions):
                value = pl.col(kind[3]) if name == "amount" else pl.lit(kind[part])
                expression = pl.when(is_present & (position == group)).then(value).otherwise(expression)
            values[f"{name}_{group}"] = expression
    return values


def management_records(payments: pl.DataFrame) -> pl.DataFrame:
    """The 管理 records of route-2 payments (one row each), typed by the 管理 layout."""
    requested = (pl.col("paid_on") - timedelta(days=1)).cast(pl.Datetime("us")) + timedelta(hours=9)
    corporate, due = pl.col("tax_code") == "030", pl.col("due_date")
    # 法人市民税 is due two months after the business year; 特別徴収 and 退職所得 the month after.
    period_to = pl.when(corporate).then(due.dt.offset_by("-2mo")).otherwise(due.dt.offset_by("-1mo")).dt.month_end()
    period_from = pl.when(corporate).then(period_to.dt.offset_by("-1y") + timedelta(days=1)).otherwise(period_to.dt.month_start())
    values = {
        "payment_info_sequence": pl.col("payment_key") + 1,
        "common_tax_id": pl.col("common_tax_id"),
        "sequence_number": pl.col("sequence_number"),
        "local_government_code": COLLECTOR_CODE,
        "eltax_taxpayer_id": pl.col("eltax_taxpayer_id"),
        "issue_requested_at": requested,
        "eltax_filing_class": "01",
        "eltax_tax_class": _eltax_tax_class(),
        "estimated_payment_flag": pl.col("estimated_payment_flag"),
        "period_from": period_from,
        "period_to": period_to,
        "filing_receipt_number": pl.col("filing_receipt_number"),
        "filing_received_on": pl.col("paid_on") - timedelta(days=1),
        "filing_received_at": requested,
        "eltax_user_id": "U" + pl.col("taxpayer_id"),
        "payer_name_kana": pl.col("payer_name_kana"),
        "payer_name": pl.col("payer_name"),
        "payer_address": pl.col("payer_address"),
        "principal_total": pl.col("paid_principal") + pl.col("paid_dunning_fee"),
        "late_fee_total": pl.col("paid_late_fee"),
        "collector_name": COLLECTOR_NAME,
        "payment_description": _tax_description(0),
        "collector_number": COLLECTOR_NUMBER,
        "payment_number": pl.col("payment_number"),
        "payment_category": _PAYMENT_CATEGORY,
        "confirmation_number": pl.col("confirmation_number"),
        "payable_until": pl.max_horizontal("due_date", "paid_on"),
        "registered_at": requested,
        "created_at": requested,
        "mpn_registered_at": requested,
        "corporate_number": pl.col("corporate_number"),
        **_breakdown_values(),
    }
    return _layout_frame(payments, load_layout(LayoutName.MANAGEMENT), values)


def link_history_records(links: pl.DataFrame) -> pl.DataFrame:
    """The 紐付履歴 records of `links`, typed by the 紐付履歴 layout (linked by 納税者ID alone)."""
    values = {
        "sequence_number": 0,
        "local_government_code": COLLECTOR_CODE,
        "eltax_tax_class": pl.col("eltax_tax_class"),
        "eltax_taxpayer_id": pl.col("eltax_taxpayer_id"),
        "corporate_number": pl.col("corporate_number"),
        "specific_key_1": pl.col("taxpayer_id"),
        "registration_class": pl.col("registration_class"),
        "linked_at": pl.col("linked_at"),
        "file_created_on": pl.col("file_created_on"),
    }
    return _layout_frame(links, load_layout(LayoutName.LINK_HISTORY), values)


def receivables_snapshot(receivables: pl.DataFrame, day: date) -> pl.DataFrame:
    """The receivables extract of one settlement date, CONTRACT columns in order."""
    listed_from, listed_until = pl.col("listed_from"), pl.col("listed_until")
    listed = (listed_from.is_null() | (listed_from <= day)) & (listed_until.is_null() | (day < listed_until))
    reduced = pl.col("reduced_on").is_not_null() & (pl.col("reduced_on") <= day)
    return (
        receivables.filter(listed)
        .with_columns(
            principal=pl.when(reduced).then("reduced_to").otherwise("principal"),
            changed_on=pl.when(reduced).then("reduced_on").otherwise("changed_on"),
        )
        .select(RECEIVABLE_COLUMNS)
    )


# A total order within a file, so the same seed always writes the same bytes.
_SORT_KEYS = {
    LayoutName.PAYMENT: ["paid_on", "processed_at", "mpn_serial", "common_tax_id", "sequence_number", "history_number"],
    LayoutName.PROVISIONAL: ["paid_on", "payment_info_sequence"],
}
_LINK_ORDER = ["linked_at", "eltax_taxpayer_id", "eltax_tax_class", "registration_class"]
_RECORD_BUILDERS = {LayoutName.PAYMENT: payment_records, LayoutName.PROVISIONAL: provisional_records}


def sample_files(
    sightings: pl.DataFrame,
    receivables: pl.DataFrame,
    links: pl.DataFrame,
    dates: tuple[date, ...],
    management_redeliveries: tuple[int, ...],
    case_keys: list[int],
) -> tuple[list[SampleFile], pl.DataFrame]:
    """Every file of the inbox, and where the records of `case_keys` lie (record_key, file_name, record_number)."""
    files, locations = [], []
    for index, day in enumerate(dates):
        snapshot = receivables_snapshot(receivables, day)
        files.append(SampleFile(_file_name(FileKind.RECEIVABLES, day), FileKind.RECEIVABLES, snapshot))
        for kind in ROUTE_KINDS.values():
            day_sightings = sightings.filter((pl.col("file_kind") == kind.value) & (pl.col("settlement_date") == day))
            if day_sightings.height:
                file, location = sighting_file(day_sightings, kind, day, (kind, index) == CRLF_FILE, case_keys)
                files.append(file)
                locations.append(location)
        management = _management_payments(sightings, day, day == dates[-1], management_redeliveries)
        if management.height:
            files.append(SampleFile(_file_name(FileKind.MANAGEMENT, day), FileKind.MANAGEMENT, management_records(management)))
        day_links = links.filter(pl.col("settlement_date") == day).sort(_LINK_ORDER)
        if day_links.height:
            files.append(SampleFile(_file_name(FileKind.LINK_HISTORY, day), FileKind.LINK_HISTORY, link_history_records(day_links)))
    return files + twisted_files(files, dates), pl.concat(locations)


def _file_name(kind: FileKind, day: date, delivery: int = 1) -> str:
    return InboxName(kind, COLLECTOR_CODE, day, delivery).file_name()


def sighting_file(
    sightings: pl.DataFrame, kind: FileKind, day: date, crlf: bool, case_keys: list[int]
) -> tuple[SampleFile, pl.DataFrame]:
    """A payment or 仮登録 file of one day's sightings, and where the case records among them lie."""
    layout = load_layout(kind.layout)
    ordered = sightings.sort(_SORT_KEYS[kind.layout]).with_row_index("row")
    name = _file_name(kind, day)
    control = 1 if kind.has_control_records else 0  # the header comes before the data records
    header = {
        "file_class": kind.payment_file_class,
        "base_date": day,
        "created_on": day,
        "created_at": time(1, 30),
        "collector_code": COLLECTOR_CODE,
        "collector_name": COLLECTOR_NAME,
        "file_serial": 1,
    }
    anomalies = ordered.filter(pl.col("patch").is_not_null()).select("patch", "row", "paid_on")
    patches = tuple(record_patch(anomaly, row + control, layout, paid_on) for anomaly, row, paid_on in anomalies.iter_rows())
    records = _RECORD_BUILDERS[kind.layout](ordered)
    file = SampleFile(name, kind, records, header if control else None, crlf, kind in NEC_SELECTED_KINDS, patches)
    location = ordered.filter(pl.col("record_key").is_in(case_keys)).select(
        "record_key", file_name=pl.lit(name), record_number=pl.col("row").cast(pl.Int64) + control + 1
    )
    return file, location


def record_patch(anomaly: str, record: int, layout: Layout, paid_on: date) -> BytePatch:
    """The bytes of one planted anomaly over a record; each makes the record invalid (SPEC §1)."""
    if anomaly == "impossible_date":
        return BytePatch(record, layout.field("paid_on").offset, f"{paid_on.year:04d}0231".encode("ascii"))
    if anomaly == "half_width_in_full_width":
        return BytePatch(record, layout.field("payer_name").offset, "ｱｲ".encode("cp932"))
    if anomaly == "split_double_byte":
        # The lead byte of a double-byte character whose trail byte fell outside the field.
        return BytePatch(record, layout.field("payer_name_kana").end - 1, "あ".encode("cp932")[:1])
    raise ValueError(f"unknown anomaly {anomaly!r}")


def _management_payments(sightings: pl.DataFrame, day: date, last: bool, redeliveries: tuple[int, ...]) -> pl.DataFrame:
    """The route-2 payments whose 管理 record the day's file carries; the last day repeats some."""
    due = pl.col("management_on") == day
    if last:
        # Some earlier records come again, unchanged, as in a cumulative export.
        again = pl.col("payment_key").is_in(list(redeliveries)) | (pl.col("payment_key") % 97 == 0)
        due = due | ((pl.col("management_on") < day) & again)
    chosen = sightings.filter(pl.col("management_on").is_not_null() & (pl.col("history_number") == 0)).filter(due)
    return chosen.unique("payment_key", keep="first").sort("payment_key")


def twisted_files(files: list[SampleFile], dates: tuple[date, ...]) -> list[SampleFile]:
    """The re-delivered file, the file rejected whole, and a file of no inbox name."""
    by_name = {file.name: file for file in files}
    kind, index = REDELIVERED_FILE
    original = by_name[_file_name(kind, dates[index])]
    new_header = original.header | {"created_at": time(6, 45), "file_serial": 2}
    redelivered = replace(original, name=_file_name(kind, dates[index], 2), header=new_header)
    kind, index = REJECTED_FILE
    original = by_name[_file_name(kind, dates[index])]
    records = original.records.head(REJECTED_FILE_RECORDS)
    count = load_payment_file_layouts().trailer.field("data_count")
    miscount = BytePatch(-2, count.offset, encoded_field(pl.Series([records.height + 1]), count).tobytes())
    rejected = replace(
        original,
        name=_file_name(kind, dates[index], 2),
        records=records,
        header=original.header | {"created_at": time(7, 10), "file_serial": 2},
        crlf=False,
        patches=(miscount,),
    )
    note = "このフォルダは収納サンプルの受信箱です。\n処理対象のファイルは名前で判別されます。\n".encode()
    return [redelivered, rejected, SampleFile(UNRECOGNISED_FILE, None, content=note)]


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


def sample_file_bytes(file: SampleFile) -> bytes:
    """The bytes of one sample file: its records through the project's writer, then patched."""
    if file.content is not None:
        return file.content
    if file.kind == FileKind.RECEIVABLES:
        return file.records.write_csv(date_format="%Y-%m-%d").encode("utf-8")
    if file.kind.has_control_records:
        layouts = load_payment_file_layouts()
        layout, content = layouts.data, payment_file_bytes(file.records, file.header, layouts, file.crlf)
        data_rows = slice(1, -2)  # between the header and the trailer and end records
    else:
        layout = load_layout(file.kind.layout)
        content, data_rows = records_bytes(file.records, layout, file.crlf), slice(None)
    if not (file.nec_selected or file.patches):
        return content
    records = np.frombuffer(content, dtype=np.uint8).reshape(-1, layout.record_length + 2 * file.crlf).copy()
    if file.nec_selected:
        records[data_rows] = with_nec_selected_codes(records[data_rows], layout)
    for patch in file.patches:
        records[patch.record, patch.offset : patch.offset + len(patch.value)] = np.frombuffer(patch.value, dtype=np.uint8)
    return records.tobytes()


def with_nec_selected_codes(records: np.ndarray, layout: Layout) -> np.ndarray:
    """The records with each IBM extension code of their K fields (髙 0xFBFC) as its NEC-selected twin (0xEEE0)."""
    changed = records.copy()
    table = _nec_selected_table()
    for layout_field in layout.fields:
        if layout_field.type == "K":
            text = changed[:, layout_field.offset : layout_field.end]
            units = table[text[:, 0::2].astype(np.uint16) << 8 | text[:, 1::2]]
            text[:, 0::2], text[:, 1::2] = units >> 8, units & 0xFF
    return changed


@cache
def _nec_selected_table() -> np.ndarray:
    """Each two-byte code mapped to itself, except IBM extension codes, mapped to their NEC-selected twin."""
    table = np.arange(65536, dtype=np.uint16)
    for character, ibm in text_codec.ibm_extension_bytes().items():
        nec_selected = character.encode("cp932")  # Python's codec prefers the NEC-selected code
        table[int.from_bytes(ibm, "big")] = int.from_bytes(nec_selected, "big")
    return table
