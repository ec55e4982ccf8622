"""The deployment file: read, validated, and turned into ``Settings``.

A file is TOML. Numbers with a fraction are read as ``Decimal``, so
``fee = 0.10`` never becomes a float. Types are strict: a switch is ``true``
or ``false``, a count a whole number, never a string or a switch taken for
one. Any mistake stops start-up with one line naming the file, the key and
what is wrong (``ConfigError``).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from currencies import CurrencyRegistry, CurrencyUnit, build_unit, load_kinds
from gateway.errors import ConfigError, GatewayError

DEFAULT_CONFIG = Path(__file__).resolve().parent / "default.toml"  # the embedded default, shipped in the package
ENV_CONFIG = "GATEWAY_CONFIG"
ENV_DATABASE_URL = "GATEWAY_DATABASE_URL"
RAILS_ENTRY_POINTS = "gateway.rails"
MAX_HOLD_DAYS = 180  # card networks give a cardholder about 120 days to dispute

PeriodLength = Literal["month", "week"]  # how long a deployment's periods are: a month, or an ISO week


def _shown(value: object) -> str:
    """A value as the deployment file writes it, for a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _exact_number(value: object) -> Decimal:
    """A rate or fee: a TOML number (an int, or a Decimal as ``parse_float`` reads it) or a string; no switch, no float."""
    number: object = value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            pass
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    if isinstance(number, Decimal) and number.is_finite():
        return number
    raise PydanticCustomError("exact_number", 'expected a number such as 0.10 or "0.10", got {shown}', {"shown": _shown(value)})


def _amount_text(value: object) -> str:
    """An amount as the currency's ``parse`` reads it: written as a string ("2.00") or a TOML number (2.00, 5)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return f"{value:f}"
    raise PydanticCustomError("amount", 'expected an amount such as "2.00", got {shown}', {"shown": _shown(value)})


def _date(value: object) -> object:
    """A TOML date (2026-10-30), or the same written as a string."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "date", "expected a date such as 2026-10-30, got {shown}", {"shown": _shown(value)}
            ) from None
    return value


ExactNumber = Annotated[Decimal, BeforeValidator(_exact_number)]
Amount = Annotated[str, BeforeValidator(_amount_text)]
Date = Annotated[dt.date, BeforeValidator(_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Database(_Strict):
    url: str = "sqlite:///gateway.sqlite3"


class _Platform(_Strict):
    name: str = "Flattr gateway"
    default_currency: str
    fee: ExactNumber = Field(ge=0, lt=1)
    period: PeriodLength = "month"
    weighted_points: bool = False
    max_points: int = Field(default=1, ge=1, le=1000)
    unspent: str = "return"
    give_to_receive: bool = False
    settle_batch: int = Field(default=10_000, ge=1)
    settle_workers: int | None = Field(default=None, ge=1, le=16)


class _Currency(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)  # the extra keys are the kind's, checked by the kind
    kind: str
    minimum_budget: Amount
    minimum_withdrawal: Amount = "0"
    fee: ExactNumber | None = Field(default=None, ge=0, lt=1)
    totp_withdrawal_above: Amount | None = None


class _Rates(_Strict):
    providers: list[Literal["static", "ecb"]] = ["static"]
    date: Date | None = None
    static: dict[str, ExactNumber] = {}


class _Http(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    base_url: str = "http://127.0.0.1:8080"
    session_days: int = Field(default=30, ge=1)
    redis_url: str | None = None  # rate limits shared through Redis; else in memory, per process
    threads: int | None = Field(default=None, ge=1, le=256)  # for database work; None: 2 on SQLite, 16 on PostgreSQL
    metrics_port: int | None = Field(default=None, ge=1, le=65535)  # /metrics without a token on this port of the host
    # Stripe.js's origin (https://js.stripe.com), the one other origin pages may take scripts and frames from;
    # plain http only on this machine (a test's Stripe.js mock)
    stripe_js_origin: str | None = Field(
        default=None, pattern=r"^(https://[A-Za-z0-9.-]+|http://(127\.[0-9.]+|localhost|\[::1\]))(:[0-9]{1,5})?$"
    )


class _Mail(_Strict):
    sender: str = "flattr-gateway@localhost"
    outbox: str = "mail-outbox"  # a folder where each mail is written as a .eml file
    smtp_host: str | None = None  # when set, mail goes out through SMTP instead
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False


class _File(_Strict):
    database: _Database = _Database()
    http: _Http = _Http()
    mail: _Mail = _Mail()
    platform: _Platform
    currencies: dict[str, _Currency]
    rails: dict[str, dict[str, Any]] = {}
    rates: _Rates = _Rates()


@dataclass(frozen=True)
class CurrencyPolicy:
    """A currency of the deployment and the operator's rules for it."""

    unit: CurrencyUnit
    minimum_budget: int
    minimum_withdrawal: int
    fee: Decimal
    totp_withdrawal_above: int | None = None  # a withdrawal above it needs the one-time code (and two-factor sign-in on)


@dataclass(frozen=True)
class HttpSettings:
    host: str
    port: int
    base_url: str
    session_days: int
    redis_url: str | None
    threads: int | None
    metrics_port: int | None = None  # where ``serve`` also answers /metrics, to anyone who reaches it: a private network's port
    stripe_js_origin: str | None = None  # the pages' Content-Security-Policy allows scripts and frames from it too

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


@dataclass(frozen=True)
class MailSettings:
    sender: str
    outbox: str
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_starttls: bool


@dataclass(frozen=True)
class Settings:
    source: str
    name: str
    database_url: str
    default_currency: str
    currencies: CurrencyRegistry
    policies: dict[str, CurrencyPolicy]
    period: PeriodLength
    weighted_points: bool
    max_points: int
    unspent: str  # "return" or "account:<handle>"
    give_to_receive: bool
    settle_batch: int
    settle_workers: int | None  # None: one on SQLite, one a core (at most 4) on PostgreSQL
    rails: dict[str, dict[str, Any]]
    rate_providers: list[str]
    static_rates: dict[tuple[str, str], Decimal]
    rates_date: dt.date | None
    http: HttpSettings
    mail: MailSettings

    def policy(self, code: str) -> CurrencyPolicy:
        self.currencies.get(code)  # raises CurrencyNotEnabled
        return self.policies[code]

    def hold_days(self, rail: str) -> int:
        """Days a receipt funded through ``rail`` is held against a chargeback (``rails.<name>.hold_days``)."""
        return int(self.rails.get(rail, {}).get("hold_days", 0))

    @property
    def unspent_account(self) -> str | None:
        return self.unspent.split(":", 1)[1] if self.unspent.startswith("account:") else None


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    return DEFAULT_CONFIG


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read and check a deployment file; ``overrides`` replace keys of ``[platform]`` or ``database_url``."""
    source = config_path(path)
    try:
        data = tomllib.loads(_read_text(source), parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML ({error})") from None
    return settings_from_dict(data, source=str(source), **overrides)


def _read_text(source: Path) -> str:
    """The file's text; TOML is UTF-8, so other bytes are refused with the line they are on."""
    try:
        content = source.read_bytes()
    except OSError as error:
        raise ConfigError(f"{source}: cannot read the deployment file ({error.strerror})") from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}: not UTF-8 text (line {line}: byte 0x{content[error.start]:02x}); save it as UTF-8"
        ) from None


def settings_from_dict(data: dict[str, Any], source: str = "<memory>", **overrides: Any) -> Settings:
    database_url = overrides.pop("database_url", None) or os.environ.get(ENV_DATABASE_URL)
    if overrides:
        data = {**data, "platform": {**data.get("platform", {}), **overrides}}
    try:
        raw = _File.model_validate(data)
    except pydantic.ValidationError as error:
        raise ConfigError(f"{source}: {_first_problem(error)}") from None
    try:
        return _build(raw, source, database_url or raw.database.url)
    except GatewayError as error:
        raise ConfigError(f"{source}: {error.message}") from None


_SHOW_GIVEN = {"literal_error", "greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _first_problem(error: pydantic.ValidationError) -> str:
    """``key: what is wrong``, from pydantic's first error, with the value given where it is a plain one."""
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    message = first["msg"][:1].lower() + first["msg"][1:]
    given = first.get("input")
    if first["type"].endswith("_type") or first["type"] in _SHOW_GIVEN:
        if isinstance(given, bool | int | str | Decimal | dt.date):
            message += f", got {_shown(given)}"
    return f"{key}: {message}"


def _build(raw: _File, source: str, database_url: str) -> Settings:
    if not raw.currencies:
        raise ConfigError("currencies: enable at least one currency")
    kinds = load_kinds()
    policies: dict[str, CurrencyPolicy] = {}
    for code, spec in raw.currencies.items():
        unit = build_unit(code, spec.kind, spec.model_extra or {}, kinds)
        policies[code] = CurrencyPolicy(
            unit=unit,
            minimum_budget=_amount(unit, spec.minimum_budget, f"currencies.{code}.minimum_budget", positive=True),
            minimum_withdrawal=_amount(unit, spec.minimum_withdrawal, f"currencies.{code}.minimum_withdrawal"),
            fee=raw.platform.fee if spec.fee is None else spec.fee,
            totp_withdrawal_above=None
            if spec.totp_withdrawal_above is None
            else _amount(unit, spec.totp_withdrawal_above, f"currencies.{code}.totp_withdrawal_above"),
        )
    registry = CurrencyRegistry({code: policy.unit for code, policy in policies.items()})
    platform = raw.platform
    if platform.default_currency not in registry:
        raise ConfigError(f"platform.default_currency: {platform.default_currency!r} is not among [currencies]")
    if platform.unspent != "return" and not (platform.unspent.startswith("account:") and len(platform.unspent) > 8):
        raise ConfigError(f"platform.unspent: expected 'return' or 'account:<handle>', got {platform.unspent!r}")
    _check_rails(raw.rails, registry)
    return Settings(
        source=source,
        name=platform.name,
        database_url=database_url,
        default_currency=platform.default_currency,
        currencies=registry,
        policies=policies,
        period=platform.period,
        weighted_points=platform.weighted_points,
        max_points=platform.max_points if platform.weighted_points else 1,
        unspent=platform.unspent,
        give_to_receive=platform.give_to_receive,
        settle_batch=platform.settle_batch,
        settle_workers=platform.settle_workers,
        rails=raw.rails,
        rate_providers=list(raw.rates.providers),
        static_rates=_static_rates(raw.rates.static),
        rates_date=raw.rates.date,
        http=HttpSettings(**raw.http.model_dump()),
        mail=MailSettings(**raw.mail.model_dump()),
    )


def _check_rails(rails: dict[str, dict[str, Any]], registry: CurrencyRegistry) -> None:
    """Each rail is installed, moves currencies of the deployment, and accepts its options."""
    installed = {entry.name: entry for entry in entry_points(group=RAILS_ENTRY_POINTS)}
    for name, options in rails.items():
        if name not in installed:
            raise ConfigError(f"rails.{name}: no such rail is installed (installed: {', '.join(sorted(installed)) or 'none'})")
        _check_rail_currencies(name, options.get("currencies", []), registry)
        _check_hold_days(name, options.get("hold_days", 0))
        _build_rail(installed[name], name, options)


def _check_rail_currencies(name: str, codes: object, registry: CurrencyRegistry) -> None:
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise ConfigError(f'rails.{name}.currencies: expected a list of currency codes such as ["EUR"], got {_shown(codes)}')
    for code in codes:
        if code not in registry:
            raise ConfigError(f"rails.{name}.currencies: {code!r} is not among [currencies]")


def _check_hold_days(name: str, days: object) -> None:
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_HOLD_DAYS:
        raise ConfigError(
            f"rails.{name}.hold_days: expected a whole number of days from 0 to {MAX_HOLD_DAYS}, got {_shown(days)}"
        )


def _build_rail(entry: EntryPoint, name: str, options: dict[str, Any]) -> None:
    """Build the rail once and drop it: a rail checks its options as it is built (``adapters.base.Rail``)."""
    entry.load()(name=name, options=dict(options))


def _amount(unit: CurrencyUnit, value: str, key: str, positive: bool = False) -> int:
    try:
        minor = unit.parse(value)
    except GatewayError as error:
        raise ConfigError(f"{key}: {error.message}") from None
    if minor < 0 or (positive and minor == 0):
        raise ConfigError(f"{key}: must be {'more than' if positive else 'at least'} zero")
    return minor


def _static_rates(table: dict[str, Decimal]) -> dict[tuple[str, str], Decimal]:
    rates = {}
    for pair, value in table.items():
        base, _, quote = pair.partition("/")
        if not base or not quote or value <= 0:
            raise ConfigError(f'rates.static.{pair}: write pairs as "EUR/USD" = "1.10", with a positive rate')
        rates[base, quote] = value
    return rates
