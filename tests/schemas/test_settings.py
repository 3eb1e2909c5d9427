"""The settings model and its file: defaults, the committed shuno.toml, and wrong files refused in one line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from schemas.settings import DEFAULT_SETTINGS_FILE, OffsetOrder, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_settings_file_holds_every_setting_at_its_default(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert load_settings() == Settings()
    written = tomllib.loads((ROOT / "shuno.toml").read_text(encoding="utf-8"))
    # The paths are the settings TOML cannot write at their default (no null): the file shows them commented out.
    paths = {"rates_path", "exemptions_path"}
    assert set(written) == set(Settings.model_fields) - paths
    assert all(f"# {name} = " in (ROOT / "shuno.toml").read_text(encoding="utf-8") for name in paths)


def test_every_setting_is_described():
    assert all(field.description for field in Settings.model_fields.values())


def test_a_missing_default_file_means_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(DEFAULT_SETTINGS_FILE) == Settings()


def test_a_file_sets_each_setting_and_a_rates_path_is_relative_to_the_file(tmp_path):
    path = tmp_path / "city" / "shuno.toml"
    path.parent.mkdir()
    path.write_text(
        'rates_path = "rates/2027.csv"\noffset_order = "oldest_due_first"\ndunning_fee = 150\n'
        'business_days_to_confirm = 3\ncluster_address = "tls://scheduler.city.example:8786"\n[low_rate_months]\n"090" = 3\n',
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings == Settings(
        rates_path=tmp_path / "city" / "rates" / "2027.csv", low_rate_months={"090": 3}, dunning_fee=150, business_days_to_confirm=3,
        cluster_address="tls://scheduler.city.example:8786",
    )
    assert settings.offset_order is OffsetOrder.OLDEST_DUE_FIRST
    assert (settings.low_rate_months_of("090"), settings.low_rate_months_of("010")) == (3, 1)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('offset_order = "newest_due_first"\n', "offset_order: Input should be 'oldest_due_first' (got 'newest_due_first')"),
        ("dunning_fe = 100\n", "dunning_fe: Extra inputs are not permitted (got 100)"),
        ("dunning_fee = -1\n", "dunning_fee: Input should be greater than or equal to 0 (got -1)"),
        ('dunning_fee = "100 yen"\n', "dunning_fee: Input should be a valid integer"),
        ('[low_rate_months]\n"60" = 3\n', "low_rate_months.60.[key]: String should match pattern"),
        ('[low_rate_months]\n"060" = 0\n', "low_rate_months.060: Input should be greater than or equal to 1 (got 0)"),
        ('cluster_address = "ray://head:10001"\n', "cluster_address: Value error, expected a Dask scheduler tcp://host:port"),
        ('cluster_address = "local:0"\n', "cluster_address: Value error, expected a Dask scheduler"),
        ("dunning_fee = \n", "is not TOML: Invalid value (at line 1, column 15)"),
    ],
)
def test_a_wrong_setting_is_refused_in_one_line_naming_the_file_and_the_setting(tmp_path, text, reason):
    path = tmp_path / "shuno.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        load_settings(path)
    message = str(refused.value)
    assert message.startswith(f"settings file {path}") and reason in message
    assert "\n" not in message


def test_a_named_file_that_is_missing_is_refused(tmp_path):
    with pytest.raises(SettingsError) as refused:
        load_settings(tmp_path / "city.toml")
    assert str(refused.value) == f"settings file {tmp_path / 'city.toml'} does not exist"
