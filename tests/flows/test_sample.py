"""`shuno sample` (CONTRACT.md): the files it writes read back, through the project's reader, as planted."""

from pathlib import Path

import polars as pl
import pytest
import typer
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from flows.check import check_file
from flows.files import checked_chunks, inspect_file, recognised_name
from flows.sample import sample, write_sample_inbox
from tests.flows.test_files import read_whole_file
from schemas.inbox import FileKind, parse_inbox_name
from schemas.layouts import LayoutName, load_layout
from sample_data import COMMITTED_PAYMENTS, COMMITTED_SEED
from sample_data.anomalies import EARLY_REJECTED_KIND
from sample_data.common import FIRST_SETTLEMENT_DATE, inbox_file_name, previous_business_day
from sample_data.names import SAMPLE_NAMES

PAYMENTS, SEED = COMMITTED_PAYMENTS, COMMITTED_SEED
CONTRACT_COLUMNS = [
    "receivable_id", "taxpayer_id", "tax_code", "fiscal_year", "tax_year", "installment", "notice_number",
    "payment_number", "confirmation_number", "filing_receipt_number", "due_date", "principal", "dunning_fee",
    "dunning_sent_on", "changed_on",
]
AMOUNTS = ["receipt_class", "paid_total", "paid_principal", "paid_late_fee", "paid_consumption_tax", "payment_class"]


@pytest.fixture(scope="module")
def written(sample_inbox_folder, committed_sample):
    """The committed sample: its directory (a read-only copy) and the in-memory sample (planted cases included)."""
    return sample_inbox_folder, committed_sample


def case(inbox, name: str) -> dict:
    return inbox.cases.filter(pl.col("case") == name).row(0, named=True)


def read_back(path: Path):
    """Every checked chunk of a data file, through the project's reader."""
    return list(checked_chunks(inspect_file(path, recognised_name(path))))


def accepted_records(path: Path) -> pl.DataFrame:
    return pl.concat([chunk.records for chunk in read_back(path)])


def files_of(directory: Path, kind: FileKind, delivery: int = 1) -> list[Path]:
    found = [(parse_inbox_name(path.name), path) for path in directory.iterdir()]
    # The rejected file of the business day before the first date is no delivery of the sample's dates.
    return sorted(
        path for name, path in found if name and name.kind == kind and name.delivery_number == delivery and name.settlement_date >= FIRST_SETTLEMENT_DATE
    )


def early_rejected_file(inbox) -> str:
    """The name of the 納付日 file of the business day before the sample's first date, rejected whole."""
    return inbox_file_name(EARLY_REJECTED_KIND, previous_business_day(inbox.settlement_dates[0]))


def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_bytes(written, tmp_path):
    out, _ = written
    write_sample_inbox(tmp_path / "again", PAYMENTS, SEED)
    write_sample_inbox(tmp_path / "other", PAYMENTS, SEED + 1)

    def contents(directory: Path) -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in directory.iterdir()}

    assert contents(tmp_path / "again") == contents(out)
    other = contents(tmp_path / "other")
    assert other.keys() == contents(out).keys()
    assert any(other[name] != content for name, content in contents(out).items())


def test_every_file_kind_comes_for_every_settlement_date(written):
    out, inbox = written
    names = {path.name: parse_inbox_name(path.name) for path in out.iterdir()}
    delivered = {(name.kind, name.settlement_date) for name in names.values() if name and name.delivery_number == 1}
    early = {(EARLY_REJECTED_KIND, previous_business_day(inbox.settlement_dates[0]))}
    assert delivered == {(kind, day) for kind in FileKind for day in inbox.settlement_dates} | early
    # Inbox files only: a run of the sample lists nothing as not recognised.
    assert [file_name for file_name, name in names.items() if name is None] == []


def test_check_rejects_the_planted_file_and_records_and_warns_on_the_unknown_channel(written):
    out, inbox = written
    found = {path.name: check_file(path) for path in out.iterdir()}
    rejected_file = case(inbox, "rejected_file")["file_name"]
    assert found.pop(rejected_file).verdict == "rejected"
    assert found.pop(early_rejected_file(inbox)).verdict == "rejected"

    invalid = {"invalid_impossible_date": "paid_on", "invalid_half_width_in_k": "payer_name", "invalid_split_double_byte": "payer_name_kana"}
    invalid_cases = inbox.cases.filter(pl.col("case").is_in(list(invalid)))
    [invalid_file] = invalid_cases["file_name"].unique().to_list()
    with_rejects = found.pop(invalid_file)
    assert with_rejects.verdict == "has rejected records"
    assert [(number, field) for number, field, _ in with_rejects.counts.first_rejects] == [
        (number, invalid[name]) for name, number in invalid_cases.select("case", "record_number").iter_rows()
    ]

    channel = case(inbox, "unknown_channel")
    warned = {name: check.counts.first_warnings for name, check in found.items() if check.counts.warnings}
    assert warned[channel["file_name"]] == [(channel["record_number"], "channel_class", "09")]
    assert len(warned) == 3  # its 速報, its 確報 and the re-delivered 速報, all of which load
    for name in warned:
        records = accepted_records(out / name)
        assert records.filter(pl.col("channel_class") == "09")["common_tax_id"].to_list() == [channel["common_tax_id"]]

    receivables = [name for name in found if name.startswith(("CHOTEI_", "GINKO_"))]
    assert {found.pop(name).verdict for name in receivables} == {"not checked"}
    assert {name: check.verdict for name, check in found.items() if check.verdict != "ok"} == {}


def test_quick_and_confirmed_sightings_agree_except_the_planted_conflict(written):
    out, inbox = written
    key = ["common_tax_id", "sequence_number", "history_number"]

    def sightings(kind: FileKind) -> pl.DataFrame:
        return pl.concat([accepted_records(path) for path in files_of(out, kind)]).select(*key, *AMOUNTS)

    pairs = sightings(FileKind.PAYMENT_BY_PAYMENT_DATE).join(sightings(FileKind.PAYMENT_BY_DEPOSIT), on=key, suffix="_confirmed")
    differ = pl.any_horizontal(pl.col(column) != pl.col(f"{column}_confirmed") for column in AMOUNTS)
    conflict = case(inbox, "conflict")
    assert pairs.height > 20
    assert pairs.filter(differ).select("common_tax_id", "sequence_number").rows() == [(conflict["common_tax_id"], conflict["sequence_number"])]

    provisional_amounts = ["paid_total", "paid_principal", "paid_late_fee", "paid_dunning_fee", "payment_class"]

    def provisional(kind: FileKind) -> pl.DataFrame:
        return pl.concat([accepted_records(path) for path in files_of(out, kind)]).select("payment_info_sequence", *provisional_amounts)

    quick, confirmed = provisional(FileKind.PROVISIONAL_BY_PAYMENT_DATE), provisional(FileKind.PROVISIONAL_BY_DEPOSIT)
    paired = confirmed.join(quick.select("payment_info_sequence"), on="payment_info_sequence", how="semi")
    assert paired.height > 10
    assert_frame_equal(quick.join(paired, on="payment_info_sequence", how="semi").sort("payment_info_sequence"),
                       paired.sort("payment_info_sequence"))


def test_receivables_snapshots_have_the_contract_columns_and_unique_ids(written):
    out, inbox = written
    snapshots = files_of(out, FileKind.RECEIVABLES)
    assert len(snapshots) == len(inbox.settlement_dates)
    for path in snapshots:
        assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(CONTRACT_COLUMNS)
        receivables = pl.read_csv(path, infer_schema=False)
        assert receivables["receivable_id"].is_unique().all()
        assert receivables["installment"].str.contains(r"^\d{2}$").all()
        assert receivables["tax_code"].is_in(["010", "020", "030", "040", "050", "060", "070"]).all()
        assert 1.6 * PAYMENTS <= receivables.height <= 2.4 * PAYMENTS


def test_names_keep_their_cp932_only_characters_through_the_reader(written):
    out, inbox = written
    payer_name = load_layout(LayoutName.PAYMENT).field("payer_name")
    for name, text, code in (("ibm_extension_kanji", "髙橋　太郎", b"\xfb\xfc"), ("nec_selected_kanji", "川﨑　千尋", b"\xed\x95")):
        planted = case(inbox, name)
        path = out / planted["file_name"]
        record = accepted_records(path).filter(pl.col("record_number") == planted["record_number"])
        assert record["payer_name"].to_list() == [text]
        layout = load_layout(recognised_name(path).kind.layout)
        start = (planted["record_number"] - 1) * layout.record_length + layout.field("payer_name").offset
        assert code in path.read_bytes()[start : start + payer_name.width * 2]

    personal = set()
    for path in out.glob("*.dat"):
        verdict, chunks = read_whole_file(path, recognised_name(path))
        if verdict.rejection is None:
            records = pl.concat([chunk.records for chunk in chunks])
            for column in {"payer_name", "payer_name_kana", "payer_address"} & set(records.columns):
                personal |= set(records[column].drop_nulls().to_list())
    assert personal <= set(SAMPLE_NAMES)
    assert {"髙", "﨑", "①", "㈱"} <= set("".join(personal))


def test_each_planted_record_lies_where_its_case_says(written):
    out, inbox = written
    located = inbox.cases.filter(pl.col("record_number").is_not_null())
    # Several cases lie in one file: each file is read back once.
    chunks_of = {name: read_back(out / name) for name in located["file_name"].unique()}
    for planted in located.iter_rows(named=True):
        chunks = chunks_of[planted["file_name"]]
        records = pl.concat([chunk.records for chunk in chunks]).filter(pl.col("record_number") == planted["record_number"])
        if planted["case"].startswith("invalid_"):
            rejects = pl.concat([chunk.rejects for chunk in chunks])
            assert planted["record_number"] in rejects["record_number"].to_list(), planted["case"]
            continue
        identity = "payment_info_sequence" if planted["common_tax_id"] is None else "common_tax_id"
        assert records[identity].to_list() == [planted[identity]], planted["case"]


def test_only_the_planted_file_ends_its_records_in_cr_lf(written):
    out, inbox = written
    crlf = case(inbox, "crlf_file")["file_name"]
    for path in out.glob("*.dat"):
        verdict = inspect_file(path, recognised_name(path))
        if verdict.shape is not None:
            assert (verdict.shape.stride == verdict.shape.record_length + 2) == (path.name == crlf), path.name


def test_the_redelivery_repeats_the_records_under_a_new_header(written):
    out, inbox = written
    redelivered = out / case(inbox, "redelivery")["file_name"]
    first = redelivered.with_name(redelivered.name.replace("_002.", "_001."))
    length = load_layout(LayoutName.PAYMENT).record_length
    again, original = redelivered.read_bytes(), first.read_bytes()
    assert again[length:] == original[length:]
    assert again[:length] != original[:length]


def test_the_sample_command_writes_an_inbox(tmp_path):
    app = typer.Typer()
    app.command("sample")(sample)

    # A second command keeps Typer from collapsing the app into its only command.
    @app.command("other")
    def other() -> None:
        """Unused."""

    result = CliRunner().invoke(app, ["sample", "--out", str(tmp_path / "inbox"), "--payments", "40", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "2026-05-11" in result.stdout
    # Every kind for three dates (the bank's credits included), a re-delivery, a rejected file and the early rejected file.
    assert len(list((tmp_path / "inbox").iterdir())) == 27
    refused = CliRunner().invoke(app, ["sample", "--out", str(tmp_path / "other"), "--collector", "132070"])
    assert refused.exit_code == 2 and "132070 is not a 収納団体コード" in refused.stderr and not (tmp_path / "other").exists()
