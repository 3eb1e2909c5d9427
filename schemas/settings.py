"""The settings of shuno (SPEC §4), declared once and read from one TOML file the city edits.

`shuno run`, `shuno late-fee` and the Prefect deployments all read them with `load_settings`, so
the command line and the scheduler compute the same 延滞金 from the same file.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from schemas.inbox import FileKind

# The city's time zone: "today", yesterday's settlement date and decisions' days are taken in it.
CITY_TIME_ZONE = ZoneInfo("Asia/Tokyo")
# The settings file read when none is named: shuno.toml in the working directory (a deployment's
# is the checkout); when it is absent every setting has its default.
DEFAULT_SETTINGS_FILE = Path("shuno.toml")
SETTINGS_VARIABLE = "SHUNO_SETTINGS"
# Taxes run 1 month at the lower 延滞金 rate; a 保険料 code would be set to 3 (SPEC §4.1).
DEFAULT_LOW_RATE_MONTHS = 1

TaxCode = Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
# SPEC §7: every business day the city expects a 納付情報ファイル by 入金日 and one by 納付日.
DEFAULT_EXPECTED_KINDS = (FileKind.PAYMENT_BY_DEPOSIT, FileKind.PAYMENT_BY_PAYMENT_DATE)
# `local:N`: a Dask cluster of N worker processes on this machine, started for the run (docs/cluster.md).
LOCAL_CLUSTER_PREFIX = "local:"
# A running Dask scheduler, plain or under TLS; or a local cluster; empty: every part in the run's own process.
CLUSTER_ADDRESS = re.compile(r"(tcp|tls)://[^\s/:]+:\d{1,5}|local:[1-9]\d{0,2}")


class OffsetOrder(StrEnum):
    """The order in which an overpayment is offset (充当) to a taxpayer's receivables (§17条の2 leaves it to the city)."""

    OLDEST_DUE_FIRST = "oldest_due_first"


class Settings(BaseModel):
    """The settings of a run (SPEC §4): rates table, low-rate months per tax code, 充当 order, 督促手数料, days to confirm."""

    # A misspelt setting is an error, never a silent default.
    model_config = ConfigDict(extra="forbid")

    rates_path: Path | None = Field(
        None, description="延滞金・還付加算金 rates CSV, relative to the settings file; left out: the table packaged with shuno"
    )
    exemptions_path: Path | None = Field(
        None, description="延滞金 exemption kinds CSV (SPEC §6.1), relative to the settings file; left out: the table packaged with shuno"
    )
    low_rate_months: dict[TaxCode, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description=f"months at the lower 延滞金 rate per 税目コード; a code left out runs {DEFAULT_LOW_RATE_MONTHS}"
    )
    offset_order: OffsetOrder = Field(OffsetOrder.OLDEST_DUE_FIRST, description="order of 充当 targets")
    dunning_fee: int = Field(100, ge=0, description="督促手数料 of the ordinance, yen: what a 督促状 sent now would add")
    snapshot_drop_share: Decimal = Field(
        Decimal("0.02"), ge=0, le=1, description="a receivables snapshot that drops more than this share of the receivables in force is held"
    )
    reader_wait_seconds: int = Field(
        60, ge=0, description="how long a run waits for another process (a reader) to let go of the database before it fails"
    )
    gap_days_to_confirm: int = Field(
        7, ge=1, description="a settlement date more than this many days after the latest run is refused unless confirmed (--confirm-gap)"
    )
    business_days_to_confirm: int = Field(
        5, ge=0, description="business days after 納付日 before a payment without 確報 is reported as unconfirmed"
    )
    expected_kinds: tuple[FileKind, ...] = Field(
        DEFAULT_EXPECTED_KINDS, description="the inbox file kinds (name prefixes) expected every business day (SPEC §7)"
    )
    # Personal data at rest (SPEC §8; issue 14).
    backups_kept: int = Field(7, ge=1, description="backups kept of the database (one is taken before each run); older ones are removed")
    retention_years: int = Field(
        5, ge=1, description="years personal fields of stored records are kept (評価書 II-3: 過去5年間) before shuno purge may erase them"
    )
    # Scale (issue 15; docs/cluster.md).
    rebuild_partitions: int = Field(
        0, ge=0, description="parts of the taxpayers the rebuild settles one at a time; 0: as many as rebuild_memory_gb needs, 1: the whole history in one pass"
    )
    rebuild_memory_gb: float = Field(4.0, gt=0, description="the memory a rebuild may take, GB, from which rebuild_partitions = 0 counts the parts")
    # A shared centre's inbox: the nightly-all flow runs one collector's night per 収納団体.
    collectors_at_once: int = Field(
        2, ge=1, description="collectors (収納団体) whose nights the nightly-all flow runs at the same time; each takes a core and its history's memory"
    )
    cluster_address: str = Field(
        "", description="the Dask scheduler the rebuild's parts run on: tcp://host:port, tls://host:port, local:N, or empty for this process"
    )

    @field_validator("cluster_address")
    @classmethod
    def _dask_address(cls, address: str) -> str:
        # Refused when the settings are read, before a run starts, rather than when the rebuild connects.
        if address and not CLUSTER_ADDRESS.fullmatch(address):
            raise ValueError("expected a Dask scheduler tcp://host:port or tls://host:port, local:N for N local workers, or empty")
        return address

    def low_rate_months_of(self, tax_code: str) -> int:
        """The months at the lower 延滞金 rate of one tax code."""
        return self.low_rate_months.get(tax_code, DEFAULT_LOW_RATE_MONTHS)


class SettingsError(ValueError):
    """A settings file that cannot be read or holds a wrong setting; the message is one line naming the file."""


def load_settings(path: Path = DEFAULT_SETTINGS_FILE) -> Settings:
    """The settings in the TOML file `path`; the defaults when `path` is the default file and it is absent."""
    if path == DEFAULT_SETTINGS_FILE and not path.exists():
        return Settings()
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"settings file {path} cannot be read ({type(error).__name__})") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"settings file {path} is not TOML: {error}") from None
    try:
        settings = Settings.model_validate(values)
    except ValidationError as error:
        raise SettingsError(f"settings file {path}: {_first_error(error)}") from None
    return _relative_to(settings, path.parent)


def _first_error(error: ValidationError) -> str:
    """The first wrong setting of a validation error, as `field: reason (got value)` on one line."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return f"{field}: {first['msg']} (got {first['input']!r})".replace("\n", " ")


PATH_SETTINGS = ("rates_path", "exemptions_path")


def _relative_to(settings: Settings, folder: Path) -> Settings:
    # A path in the file means the same wherever the command runs from: relative to the file.
    relative = {name: getattr(settings, name) for name in PATH_SETTINGS}
    return settings.model_copy(update={name: folder / path for name, path in relative.items() if path is not None and not path.is_absolute()})
