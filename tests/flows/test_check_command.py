"""`shuno check`: verdicts, counts and exit status, and never a name or 納付番号 in its output."""

from __future__ import annotations

from typer.testing import CliRunner

from flows.cli import app
from schemas.layouts import load_layout
from tests.records import patched, payment_file_bytes_for, record_frame

RUNNER = CliRunner()
PAYMENT = load_layout("payment")


def _files(tmp_path, damage_record: bool = False, damage_file: bool = False):
    data = payment_file_bytes_for(record_frame("payment", 4))
    if damage_record:
        data = patched(data, 3, PAYMENT.field("paid_on").offset, b"20260231")
    if damage_file:
        data = data[:-700]
    payment = tmp_path / "NOFU_NYUKIN_132071_20260501_001.dat"
    payment.write_bytes(data)
    other = tmp_path / "notes.txt"
    other.write_text("not a delivery")
    return payment, other


def test_a_sound_file_exits_zero_with_counts_and_totals(tmp_path):
    payment, _ = _files(tmp_path)
    result = RUNNER.invoke(app, ["check", str(payment)])
    assert result.exit_code == 0, result.output
    assert "NOFU_NYUKIN_132071_20260501_001.dat: ok" in result.output
    assert "data records 4, accepted 4, rejected 0" in result.output
    assert "paid_total_sum 40,000" in result.output


def test_a_rejected_record_exits_one_and_names_record_field_and_reason(tmp_path):
    payment, _ = _files(tmp_path, damage_record=True)
    result = RUNNER.invoke(app, ["check", str(payment)])
    assert result.exit_code == 1
    assert "has rejected records" in result.output
    assert "rejected record 3: paid_on: 納付年月日: impossible date" in result.output
    for secret in ["髙橋", "ﾀｶﾊｼ", "1234567890123456", "SECRETPW", "123456 "]:
        assert secret not in result.output


def test_a_file_rejected_whole_and_an_unknown_name_exit_one(tmp_path):
    payment, other = _files(tmp_path, damage_file=True)
    result = RUNNER.invoke(app, ["check", str(payment), str(other)])
    assert result.exit_code == 1
    assert "NOFU_NYUKIN_132071_20260501_001.dat: rejected (record 6: データ区分 is '8' where the end record belongs)" in result.output
    assert "notes.txt: not recognised" in result.output


def test_a_missing_file_is_bad_usage(tmp_path):
    result = RUNNER.invoke(app, ["check", str(tmp_path / "nothing.dat")])
    assert result.exit_code == 2
    assert "no such file" in result.output
