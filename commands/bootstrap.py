"""The composition root: builds the stores, the Kafka clients and the workers from Settings."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import structlog

from commands import democlock
from commands.auth import TokenRegistry, admin_token_for
from commands.democlock import DemoClock
from commands.scheduler import Scheduler
from commands.settings import Settings
from sqlstore.keystore import SqlKeyStore
from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.calendar import TIER_TARGETS, with_holidays
from engine.domain.clock import Clock, SystemClock
from engine.domain.jobs import DEFAULT_REPAIR_LIABILITY
from engine.domain.returns import DEFAULT_REQUIRED
from engine.store.eventstore import event_store_env
from engine.store.personal import KeyStore
from engine.store.signing import Signer
from projections.base import Projection
from projections.queries import Views
from projections.registry import build as build_projections
from projections.worker import ProjectionWorker
from streams.anchors import AnchorPublisher
from streams.broker import BrokerProcess
from streams.kafka import KafkaConfig
from streams.relay import Relay, RelayState
from streams.sealed import PersonalFields
from sqlstore.sqldb import Database

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    app: ServiceOrderApp
    state_db: Database
    views_db: Database
    tokens: TokenRegistry
    admin_token: str
    admin_token_generated: bool
    kafka: KafkaConfig | None = None
    broker: BrokerProcess | None = None
    keys_db: Database | None = None
    # Only on a demo store (commands/democlock.py): the clock an operator may move.
    demo_clock: DemoClock | None = None
    # The key store the service seals personal data with (the views open it with the same).
    keys: SqlKeyStore | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    on_close: list[Callable[[], None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def views(self) -> Views:
        return Views(self.views_db, ZoneInfo(self.settings.display_time_zone),
                     phone_region=self.settings.phone_default_region)

    def start_kafka(self) -> KafkaConfig:
        """Connect to the configured cluster, or spawn the bundled broker."""
        if self.kafka is not None:
            return self.kafka
        s = self.settings
        servers = s.kafka_bootstrap_servers
        if servers is None:
            s.data_dir.mkdir(parents=True, exist_ok=True)
            self.broker = BrokerProcess(binary=s.broker_binary, log_file=s.data_dir / "broker.log").start()
            servers = self.broker.bootstrap_servers
        self.kafka = KafkaConfig(
            bootstrap_servers=servers,
            topic_prefix=s.topic_prefix,
            partitions=s.topic_partitions,
            replication_factor=s.topic_replication_factor,
        )
        return self.kafka

    def relay_state(self) -> RelayState:
        return RelayState(self.state_db, name=f"{self.settings.topic_prefix}.relay")

    def relay(self) -> Relay:
        s = self.settings
        return Relay(
            self.app,
            self.start_kafka(),
            self.relay_state(),
            source_prefix=s.event_source,
            batch_size=s.relay_batch_size,
            poll_interval=s.relay_poll_interval,
            min_cycle=s.relay_min_cycle,
            verify_interval=s.relay_verify_interval,
        )

    def projections(self, names: list[str] | None = None) -> list[Projection]:
        return build_projections(names, self.personal_fields(), phone_region=self.settings.phone_default_region)

    def personal_fields(self) -> PersonalFields | None:
        """The opener of sealed personal fields, with the key store the service seals with."""
        return PersonalFields(self.keys) if self.keys is not None else None

    def worker(self, projection: Projection, db: Database | None = None) -> ProjectionWorker:
        """A worker writing ``projection`` to the views database (or to ``db``: a rebuild's shadow)."""
        s = self.settings
        return ProjectionWorker(
            projection,
            self.views_db if db is None else db,
            self.start_kafka(),
            mode=s.projection_mode,
            max_poll_interval_ms=s.projection_max_poll_interval_ms,
            max_records=s.projection_batch_size,
            verify_interval=s.projection_verify_interval,
            fetch_max_wait_ms=s.projection_fetch_wait_ms,
            poll_timeout_ms=s.projection_poll_timeout_ms,
        )

    @property
    def signer(self) -> Signer:
        """The engine's signing key and keyring (build_runtime always gives the app one)."""
        assert self.app.signer is not None
        return self.app.signer

    def anchors(self, at_start: bool = False) -> AnchorPublisher:
        """Publishes signed hashes of new events to the anchors topic (streams/anchors.py)."""
        return AnchorPublisher(self.app, self.start_kafka(), self.signer, self.settings.anchor_interval, at_start)

    def scheduler(self) -> Scheduler:
        return Scheduler(self.app, self.views_db, self.app.clock, interval=self.settings.scheduler_interval)

    def start_background(self, *, relay: bool = True, projections: list[str] | None = None,
                         scheduler: bool = True) -> None:
        """Run the relay, projection workers and scheduler in threads of this process (serve)."""
        if relay:
            r = self.relay()
            self._spawn("relay", lambda: r.run(self.stop))
            anchors = self.anchors()
            self._spawn("anchors", lambda: anchors.run(self.stop))
        if scheduler:
            sched = self.scheduler()
            self._spawn("scheduler", lambda: sched.run(self.stop))
        for projection in self.projections(projections):
            w = self.worker(projection)
            self._spawn(f"projection-{projection.name}", lambda w=w: w.run(self.stop))

    def _spawn(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self.threads.append(thread)

    def close(self, grace: float = 2.0) -> None:
        """Stop the background workers, waiting ``grace`` seconds in all for them to finish
        what they are doing (a worker waiting on a broker that is down may not). One still
        running is left behind (a daemon thread: the process exits): whatever it did not
        commit is done again by its successor (at-least-once publishing, views' offsets
        committed with their rows)."""
        self.stop.set()
        deadline = time.monotonic() + grace
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        busy = [thread.name for thread in self.threads if thread.is_alive()]
        if busy:
            log.warning("workers_left_running", threads=busy, grace_s=grace)
        self.app.close()
        self.views_db.close()
        self.state_db.close()
        if self.keys_db is not None:
            self.keys_db.close()
        if self.broker is not None:
            self.broker.stop()
        for undo in self.on_close:
            undo()


def signer_for(settings: Settings) -> Signer:
    """The engine's signing key: the named file, or one generated on first run in the data dir."""
    path = settings.signing_key_path
    generated = settings.signing_key_file is None and not path.exists()
    signer = Signer.from_files(path, settings.signing_retired_keys_file, create=settings.signing_key_file is None)
    if generated:
        log.warning("signing_key_generated", path=str(path), key_id=signer.key_id.hex(),
                    hint="production names a secret file in SERVICEORDER_SIGNING_KEY_FILE")
    return signer


def engine_config(settings: Settings, env: dict[str, str], clock: Clock, key_store: KeyStore) -> EngineConfig:
    """The engine's configuration from the settings (docs/operations.md lists them)."""
    tier_targets = dict(TIER_TARGETS)
    if settings.holidays or settings.make_up_working_days:
        tier_targets = with_holidays(tier_targets, frozenset(settings.holidays),
                                     frozenset(settings.make_up_working_days))
    return EngineConfig(
        env=env, clock=clock, group_commit_max=settings.group_commit_max, key_store=key_store,
        signer=signer_for(settings),
        visit_max_distance_m=settings.visit_max_distance_m,
        device_time_max_age=timedelta(hours=settings.device_time_max_age_hours),
        reschedule_min_notice=timedelta(hours=settings.reschedule_min_notice_hours),
        repair_liability={**DEFAULT_REPAIR_LIABILITY, **{str(k): str(v) for k, v in settings.repair_liability.items()}},
        tier_targets=tier_targets,
        hotline_time_zone=settings.hotline_time_zone,
        return_departments={**DEFAULT_REQUIRED,
                            **{k: tuple(v) for k, v in (settings.return_departments or {}).items()}},
        currency=settings.currency, settlement_time_zone=settings.settlement_time_zone,
        holdback_rule={"rule": "quality_holdback", "percent": str(settings.holdback_percent),
                       "min_jobs": settings.holdback_min_jobs})


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    data_dir: Path = settings.data_dir
    if settings.database_url:
        db = Database(settings.database_url, settings.database_schema, max_connections=settings.db_pool_size)
        db.ensure_schema()
        env = event_store_env(postgres=db.pg.eventsourcing_env(settings.database_schema),
                              pool_size=settings.event_store_pool_size)
        state_db = views_db = db
        store = f"postgresql://{db.pg.host}:{db.pg.port}/{db.pg.dbname} schema={settings.database_schema}"
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        env = event_store_env(sqlite_path=str(data_dir / "events.sqlite"))
        state_db = Database(str(data_dir / "relay.sqlite"))
        views_db = Database(str(data_dir / "views.sqlite"))
        store = str(data_dir.resolve())
    demo_clock, on_close = None, []
    if clock is None and democlock.is_demo_store(state_db):
        clock = demo_clock = DemoClock(state_db)
        on_close.append(democlock.stamp_events(demo_clock))
    # The key store has its own connections: keys are read while decoding events, which
    # other code may do while it holds a connection of the state or views database.
    keys_db = Database(settings.database_url, settings.database_schema, max_connections=settings.keys_pool_size,
                       max_idle=min(2, settings.keys_pool_size)) \
        if settings.database_url else Database(str(data_dir / "relay.sqlite"))
    keys = SqlKeyStore(keys_db)
    app = ServiceOrderApp(engine_config(settings, env, clock or SystemClock(), keys))
    for projection in build_projections(phone_region=settings.phone_default_region):
        projection.create(views_db)
    tokens = TokenRegistry(state_db, app.clock)
    admin_token, generated = admin_token_for(data_dir, settings.admin_token)
    tokens.add(admin_token, "admin", ["admin"])
    if settings.tokens_file:
        tokens.load_file(settings.tokens_file)
    log.info("runtime_built", store=store, embedded_store=settings.embedded_store,
             embedded_broker=settings.embedded_broker, demo=demo_clock is not None)
    return Runtime(settings, app, state_db, views_db, tokens, admin_token, generated, keys_db=keys_db,
                   demo_clock=demo_clock, on_close=on_close, keys=keys)
