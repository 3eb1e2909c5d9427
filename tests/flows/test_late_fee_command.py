"""`shuno late-fee` (CONTRACT.md): JSON on success, exit 2 with a one-line reason on bad input."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from flows.late_fee_command import late_fee

RATES_HEADER = "year,late_fee_low_rate,late_fee_high_rate,refund_interest_rate\n"


def app_with(command) -> typer.Typer:
    """A Typer app holding the command as `late-fee`, as flows.cli registers it."""
    app = typer.Typer()
    app.command("late-fee")(command)

    # A second command keeps Typer from collapsing the app into its only command.
    @app.command("other")
    def other() -> None:
        """Unused."""

    return app


def invoke(*arguments: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app_with(late_fee), ["late-fee", *arguments], env=env)


def settings_file(folder: Path, text: str) -> Path:
    """A settings file holding `text`, in `folder`."""
    path = folder / "shuno.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_late_fee_with_a_moved_due_date_and_a_partial_payment():
    # 納期限 Saturday 5/31/2025 → Monday 6/2. Base 3,650,000 (a piece = 100 × rate × days):
    # 6/3–7/2 low (30 days) = 100 × 2.4 × 30 = 7,200; 7/3–7/31 high (29 days) = 100 × 8.7 × 29 = 25,230;
    # 1,825,000 paid 7/31 → base 1,825,000: 8/1–8/29 (29 days) = 50 × 8.7 × 29 = 12,615.
    # 45,045 → 45,000.
    result = invoke(
        "--principal", "3650000", "--due", "2025-05-31", "--paid", "2025-08-29",
        "--payment", "2025-07-31:1825000",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["late_fee"] == 45_000
    assert (report["due_date"], report["effective_due_date"], report["paid_on"]) == (
        "2025-05-31", "2025-06-02", "2025-08-29",
    )
    assert report["principal"] == 3_650_000
    assert report["pieces"] == [
        {"start": "2025-06-03", "end": "2025-07-02", "days": 30, "base": 3_650_000, "rate": "2.4", "exempted_fraction": "0", "amount": 7_200},
        {"start": "2025-07-03", "end": "2025-07-31", "days": 29, "base": 3_650_000, "rate": "8.7", "exempted_fraction": "0", "amount": 25_230},
        {"start": "2025-08-01", "end": "2025-08-29", "days": 29, "base": 1_825_000, "rate": "8.7", "exempted_fraction": "0", "amount": 12_615},
    ]
    assert (report["exemptions"], report["late_fee_exempted"]) == ([], 0)


def test_late_fee_with_exemption_periods_shows_each_piece_with_its_fraction():
    # 納期限 Monday 12/15/2025, paid 2/11/2026, base 3,650,000 (a piece = 100 × rate × days × (1 − f)).
    # Half 12/20–1/5 and whole from 1/10, still in force:
    # 12/16–12/19 (4 days, 2.4) 960; 12/20–12/31 half (12 days, 2.4) 1,440; 1/1–1/5 half (5 days, 2.8)
    # 700; 1/6–1/9 (4 days, 2.8) 1,120; 1/10–1/15 whole (2.8) 0; 1/16–2/11 whole (9.1) 0.
    # 4,220 → 4,200. Without the periods 3,840 + 4,200 + 24,570 = 32,610 → 32,600: 28,400 exempted.
    result = invoke(
        "--principal", "3650000", "--due", "2025-12-15", "--paid", "2026-02-11",
        "--exempt", "2025-12-20:2026-01-05:1/2", "--exempt", "2026-01-10::1",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["late_fee"], report["late_fee_exempted"]) == (4_200, 28_400)
    assert report["exemptions"] == [
        {"start": "2025-12-20", "end": "2026-01-05", "fraction": "1/2"},
        {"start": "2026-01-10", "end": None, "fraction": "1"},
    ]
    pieces = [(p["start"], p["end"], p["rate"], p["exempted_fraction"], p["amount"]) for p in report["pieces"]]
    assert pieces == [
        ("2025-12-16", "2025-12-19", "2.4", "0", 960),
        ("2025-12-20", "2025-12-31", "2.4", "1/2", 1_440),
        ("2026-01-01", "2026-01-05", "2.8", "1/2", 700),
        ("2026-01-06", "2026-01-09", "2.8", "0", 1_120),
        ("2026-01-10", "2026-01-15", "2.8", "1", 0),
        ("2026-01-16", "2026-02-11", "9.1", "1", 0),
    ]


def test_low_rate_months_come_from_the_tax_code_setting(tmp_path: Path):
    # 保険料 code "900" set to 3 months: 納期限 3/31/2025 (Monday), low 4/1–6/30 (91 days)
    # = 100 × 2.4 × 91 = 21,840 → 21,800; a tax code without a setting gets 1 month:
    # 4/1–4/30 = 7,200 + 5/1–6/30 (61 days) 100 × 8.7 × 61 = 53,070; 60,270 → 60,200.
    settings = settings_file(tmp_path, '[low_rate_months]\n"900" = 3\n')
    arguments = ("--principal", "3650000", "--due", "2025-03-31", "--paid", "2025-06-30", "--settings", str(settings))
    insurance = invoke(*arguments, "--tax-code", "900")
    tax = invoke(*arguments, "--tax-code", "010")
    assert json.loads(insurance.stdout)["late_fee"] == 21_800
    assert json.loads(tax.stdout)["late_fee"] == 60_200
    # The same file named by SHUNO_SETTINGS, as a deployment's environment would.
    from_environment = invoke(*arguments[:-2], "--tax-code", "900", env={"SHUNO_SETTINGS": str(settings)})
    assert json.loads(from_environment.stdout)["late_fee"] == 21_800


def test_rates_table_path_is_a_setting_relative_to_the_settings_file(tmp_path: Path):
    (tmp_path / "rates.csv").write_text(RATES_HEADER + "2027,3.0,9.3,1.5\n")
    settings = settings_file(tmp_path, 'rates_path = "rates.csv"\n')
    # 納期限 Friday 1/29/2027; 1/30–2/28 (30 days) at 3.0: 100 × 3.0 × 30 = 9,000.
    result = invoke("--principal", "3650000", "--due", "2027-01-29", "--paid", "2027-02-28", "--settings", str(settings))
    assert json.loads(result.stdout)["pieces"][0]["rate"] == "3.0"
    assert json.loads(result.stdout)["late_fee"] == 9_000


def test_without_a_settings_file_the_defaults_hold(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no shuno.toml here
    result = invoke("--principal", "3650000", "--due", "2025-03-31", "--paid", "2025-06-30", "--tax-code", "900")
    assert json.loads(result.stdout)["low_rate_months"] == 1 and json.loads(result.stdout)["late_fee"] == 60_200


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ('offset_order = "newest_due_first"\n', "offset_order: Input should be 'oldest_due_first'"),
        ('[low_rate_months]\n"900" = 0\n', "low_rate_months.900"),
        ('rates_path = "none.csv"\n', "cannot be read (FileNotFoundError)"),
        ('rates_path = "rates.csv"\n', "line 2: column late_fee_low_rate: rate 2.405% has more than two decimals"),
    ],
)
def test_a_wrong_settings_or_rates_file_exits_2_with_a_one_line_reason_naming_it(tmp_path: Path, settings, reason):
    (tmp_path / "rates.csv").write_text(RATES_HEADER + "2025,2.405,8.7,0.9\n")
    path = settings_file(tmp_path, settings)
    result = invoke("--principal", "3650000", "--due", "2025-03-31", "--paid", "2025-06-30", "--settings", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert reason in result.stderr and str(tmp_path) in result.stderr
    assert result.stderr.startswith("shuno late-fee: ") and result.stderr.count("\n") == 1


def test_a_named_settings_file_that_does_not_exist_is_refused(tmp_path: Path):
    result = invoke("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--settings", str(tmp_path / "city.toml"))
    assert result.exit_code == 2
    assert result.stderr == f"shuno late-fee: settings file {tmp_path / 'city.toml'} does not exist\n"


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (("--principal", "-1", "--due", "2025-05-31", "--paid", "2025-08-29"), "negative"),
        (("--principal", "1000", "--due", "2025-02-30", "--paid", "2025-08-29"), "--due"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "20250829"), "--paid"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--payment", "2025-07-31"), "--payment"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--payment", "2025-07-31:-5"), "--payment"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--payment", "2025-09-01:5"), "after"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--payment", "2025-07-31:5000"), "exceed"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-05-30"), "before --due"),
        (("--principal", "3650000", "--due", "2026-12-15", "--paid", "2027-01-10"), "2027"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--tax-code", "1"), "--tax-code"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--exempt", "2025-07-01"), "FROM:TO:FRACTION"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--exempt", "2025-07-01:1"), "FROM:TO:FRACTION"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--exempt", "::1"), "--exempt FROM"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--exempt", "2025-07-01:2025-06-31:1"), "--exempt TO"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--exempt", "2025-07-01:2025-06-30:1"), "ends before it starts"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--exempt", "2025-07-01::0.5"), "1 or 1/2, got '0.5'"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--exempt", "2025-07-01::"), "1 or 1/2, got ''"),
        (("--principal", "1000", "--due", "2025-05-31", "--paid", "2025-08-29", "--exempt", "2025-07-01::1/3"), "1 or 1/2, got '1/3'"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_reason(arguments, reason):
    result = invoke(*arguments)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_non_numeric_principal_is_a_usage_error_without_traceback():
    result = invoke("--principal", "abc", "--due", "2025-05-31", "--paid", "2025-08-29")
    assert result.exit_code == 2
    assert "--principal" in result.stderr
    assert "Traceback" not in result.stderr
