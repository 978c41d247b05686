"""All configuration, read from the environment into one typed object."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVICEORDER_", extra="ignore", populate_by_name=True)

    # Stores. No DATABASE_URL: SQLite files in data_dir (the embedded default).
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "SERVICEORDER_DATABASE_URL"))
    database_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    data_dir: Path = Path(".serviceorder")
    # PostgreSQL connections per process (docs/operations.md sums them for a deployment):
    # our own SQL (views, relay checkpoints, tokens), the event store (eventsourcing's
    # pool: one kept open, the rest opened under load), and the personal-data keys.
    db_pool_size: int = Field(default=10, ge=2, le=1000)
    event_store_pool_size: int = Field(default=10, ge=2, le=1000)
    keys_pool_size: int = Field(default=3, ge=1, le=100)

    # Kafka. No KAFKA_BOOTSTRAP_SERVERS: the bundled broker on a free local port.
    kafka_bootstrap_servers: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SERVICEORDER_KAFKA_BOOTSTRAP_SERVERS")
    )
    topic_prefix: str = Field(default="serviceorder", pattern=r"^[A-Za-z0-9._-]+$")
    topic_partitions: int = Field(default=3, ge=1, le=1000)
    topic_replication_factor: int = Field(default=1, ge=1, le=10)
    broker_binary: str | None = None
    event_source: str = "/serviceorder"

    # Group commit: at most this many concurrent commands share one transaction of the
    # event store (engine/groupcommit.py); 1 writes every command in its own transaction.
    group_commit_max: int = Field(default=200, ge=1, le=10_000)

    # Relay.
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval: float = Field(default=0.1, gt=0, le=60)
    # On PostgreSQL the relay wakes on every write (LISTEN/NOTIFY) but starts batches at
    # most this often, so that under load the writes of this interval go out together.
    relay_min_cycle: float = Field(default=0.05, ge=0, le=10)
    # Seconds between read-back checks of the topics (a broker that came back empty is
    # noticed within this, and its topics republished): one cheap read for all partitions.
    relay_verify_interval: float = Field(default=5.0, gt=0)

    # Projections: "assign" reads every partition in one worker; "group" joins a consumer
    # group so that several workers share the partitions.
    projection_mode: Literal["assign", "group"] = "assign"
    projection_max_poll_interval_ms: int = Field(default=30_000, ge=1_000)
    projection_batch_size: int = Field(default=500, ge=1, le=10_000)
    # How often a running worker checks that the broker still holds what it applied (a
    # broker that lost its memory and was republished is re-read from offset zero).
    projection_verify_interval: float = Field(default=5.0, gt=0)
    # The longest a fetch waits at the broker for new records: a bound on a view's lag when
    # the broker holds a fetch for its full wait (kafka-python's default is 500 ms).
    projection_fetch_wait_ms: int = Field(default=100, ge=1, le=5_000)
    # The longest one poll of a worker's consumer blocks when nothing arrives: a worker
    # notices a stop request only between polls, so this is also how long a stop waits.
    projection_poll_timeout_ms: int = Field(default=500, ge=10, le=30_000)

    # Command intake from Kafka (serviceorder intake): the token whose principal runs the
    # commands (its roles are checked per command, as over HTTP), and at most how many
    # messages one poll runs together.
    intake_token: str | None = Field(default=None, min_length=16)
    intake_batch_size: int = Field(default=500, ge=1, le=10_000)

    # Field work.
    visit_max_distance_m: float = Field(default=200.0, gt=0, le=50_000)
    # A device time on a check-in or check-out (offline work) is at most this old when the
    # server receives it; never in the future, never before the job was dispatched.
    device_time_max_age_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    # Unless the customer asks, an appointment is moved at least this long before it starts.
    reschedule_min_notice_hours: float = Field(default=4.0, ge=0, le=24 * 14)
    # Who pays for a repair by its fault cause (JSON); causes left out keep the default rule:
    # installation_error -> installer, product_quality -> manufacturer, customer_misuse and
    # weather_conditions -> customer.
    repair_liability: dict[Literal["installation_error", "product_quality", "customer_misuse",
                                   "weather_conditions"],
                           Literal["customer", "installer", "manufacturer"]] = Field(default_factory=dict)
    scheduler_interval: float = Field(default=1.0, gt=0, le=3600)

    # Returns: which departments judge each resolution (JSON), e.g.
    # {"refund": ["sales", "finance"], "exchange": ["technical", "logistics"]}.
    return_departments: dict[Literal["refund", "exchange"],
                             list[Literal["sales", "technical", "finance", "logistics"]]] | None = None

    # Public holidays (JSON list of dates) that the 5x8 tiers do not count; 7x24 ignores them.
    holidays: list[date] = Field(default_factory=list)
    # Make-up working days (调休): weekend dates (JSON list) worked instead of days around a
    # holiday; the 5x8 tiers count them as working days.
    make_up_working_days: list[date] = Field(default_factory=list)

    # Settlement (workflow 8): the currency of every amount, the time zone whose months are
    # the settlement periods, and the recorded holdback rule: a share of each period's fees
    # kept back until the next settlement, never from engineers with fewer jobs than the
    # minimum in that period (seed 002: a few jobs a month, nothing withheld).
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    settlement_time_zone: str = "Asia/Shanghai"
    holdback_percent: Decimal = Field(default=Decimal("10"), ge=0, le=100, decimal_places=2)
    holdback_min_jobs: int = Field(default=10, ge=0, le=100_000)
    # The first-install repair rate counts repairs opened within this many days.
    first_install_repair_days: int = Field(default=90, ge=1, le=3650)

    # Phones written without a country code belong to this region (ISO 3166 code; its country
    # code applies: CN -> +86), for finding customers by phone however it is written.
    phone_default_region: str = Field(default="CN", pattern=r"^[A-Z]{2}$")

    # The hotline's time zone: which day a call counts on.
    hotline_time_zone: str = "Asia/Shanghai"
    # The time zone of the times written in timeline and tracking summaries (docs/api.md).
    display_time_zone: str = "Asia/Shanghai"

    # Audit evidence (docs/audit.md). The Ed25519 private key (PEM) the engine signs every
    # event's chain link, snapshot, digest, anchor and bundle with. Unset: a key generated on
    # first run at data_dir/signing-key.pem (the embedded default); production names a secret
    # file, which must exist. Retired public keys (a `serviceorder audit keys` export) keep
    # what earlier keys signed valid after a rotation.
    signing_key_file: Path | None = None
    signing_retired_keys_file: Path | None = None
    # How often the signed hashes of new events are published to the anchors topic (seconds).
    anchor_interval: float = Field(default=3600.0, gt=0, le=7 * 86400)

    # HTTP.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    admin_token: str | None = Field(default=None, min_length=16)
    tokens_file: Path | None = None
    read_wait_max_seconds: float = Field(default=30.0, gt=0)
    # Request bodies above this size are refused (413) before they are read in full.
    max_request_bytes: int = Field(default=1_048_576, ge=1_024, le=100 * 1_048_576)
    # An oversized body is read and discarded up to this many bytes before the 413 is sent,
    # so that clients that send the whole body before reading (http.client, urllib) read it;
    # a body declared or sent beyond this gets the 413 at once and the connection closed.
    drain_request_bytes: int = Field(default=16 * 1_048_576, ge=0, le=1_024 * 1_048_576)
    # Tokens issued over HTTP or the CLI expire after this many days unless told otherwise.
    token_ttl_days: int = Field(default=90, ge=1, le=3650)

    # Logs.
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"

    @field_validator("settlement_time_zone", "hotline_time_zone", "display_time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    @field_validator("phone_default_region")
    @classmethod
    def _known_region(cls, region: str) -> str:


        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {region!r}")
        return region

    @model_validator(mode="after")
    def _make_up_days_are_not_holidays(self) -> Settings:
        clash = sorted(set(self.holidays) & set(self.make_up_working_days))
        if clash:
            raise ValueError(f"{', '.join(d.isoformat() for d in clash)} cannot be both a holiday and a make-up "
                             "working day")
        return self

    @property
    def embedded_store(self) -> bool:
        return self.database_url is None

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.data_dir / "signing-key.pem"

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap_servers is None
