"""Shared Kafka helpers: bootstrap servers, clients, topics, and clean failures (exit 5).

Every Kafka command reads the bootstrap servers from `Settings.kafka` (REPUTATION_KAFKA or
`--kafka`) and the topic names through `Settings.topic(...)` (REPUTATION_TOPIC_PREFIX).
When Kafka is not configured or cannot be reached, the commands stop with exit code 5 and a
message saying how to point them at a broker, never with a traceback.
"""

from __future__ import annotations

import signal
import socket
import threading
from typing import Any, Iterable

from reputation.config import Settings
from reputation.errors import Unavailable

CONTRACT_EVENTS = "contract-events"
REJECTED = "contract-events.rejected"
SCORE_CHANGES = "score-changes"  # the freelancer audience: published changes (consumers.publications)
SCORE_CHANGES_TRUST = "score-changes.trust"  # the trust audience: every ledger entry (consumers.relay)

DEFAULT_PARTITIONS = 3  # topics created when missing; score-changes is keyed by freelancer id
CONNECT_TIMEOUT = 3.0  # seconds for the quick TCP check before a client is built
BOOTSTRAP_TIMEOUT_MS = 10_000

HOW_TO_START = (
    "start one (e.g. `docker compose -f deploy/compose.yaml up -d kafka`, see deploy/RUNBOOK.md) "
    "or point REPUTATION_KAFKA / --kafka at a running broker (host:port,...)"
)

# Producer settings tuned for throughput with ordered, duplicate-free retries: batching
# (linger + large batches), acks from every in-sync replica, and the idempotent producer
# (retries keep the order within a partition and never write a batch twice). Compression is
# off by default: gzip (the only codec without extra packages; lz4/snappy/zstd need them)
# halves the relay's throughput when client and broker share a machine;
# `reputation relay --compression gzip` turns it on for slow links.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "compression_type": None,
    "linger_ms": 10,
    "batch_size": 512 * 1024,
    "max_in_flight_requests_per_connection": 5,
    "delivery_timeout_ms": 60_000,
    "request_timeout_ms": 15_000,
    "max_block_ms": 15_000,
    "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
}

# Consumer settings. The group timeouts are a compromise: short enough that a group join
# is quick (some brokers hold a JoinGroup for half the session timeout), long enough for a
# real cluster. Tests lower them (session_timeout_ms=2000, heartbeat_interval_ms=500).
CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable_auto_commit": False,
    "session_timeout_ms": 6_000,
    "heartbeat_interval_ms": 1_500,
    "fetch_max_wait_ms": 200,
    "max_poll_interval_ms": 300_000,
    "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
}


class KafkaUnavailable(Unavailable):
    """Kafka is not configured or cannot be reached (exit code 5 at the CLI)."""


def bootstrap(settings: Settings) -> list[str]:
    """The bootstrap servers of the settings, or a clean failure when not configured."""
    servers = [s.strip() for s in (settings.kafka or "").split(",") if s.strip()]
    if not servers:
        raise KafkaUnavailable(
            "Kafka is not configured: set REPUTATION_KAFKA=host:port or --kafka host:port "
            "(a comma-separated list of bootstrap servers); to run a broker locally see deploy/RUNBOOK.md"
        )
    return servers


def _host_port(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    if not host:
        return server, 9092
    host = host.strip("[]")
    try:
        return host, int(port)
    except ValueError:
        raise KafkaUnavailable(f"REPUTATION_KAFKA: {server!r} is not host:port") from None


def check_reachable(settings: Settings, timeout: float = CONNECT_TIMEOUT) -> list[str]:
    """Fail fast (exit 5) when none of the bootstrap servers accepts a TCP connection."""
    servers = bootstrap(settings)
    errors = []
    for server in servers:
        host, port = _host_port(server)
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return servers
        except OSError as exc:
            errors.append(f"{server}: {exc.strerror or exc}")
    raise KafkaUnavailable(f"cannot reach the Kafka broker at {settings.kafka} ({'; '.join(errors)}); {HOW_TO_START}")


def unavailable(settings: Settings, exc: BaseException, doing: str = "talking to") -> KafkaUnavailable:
    return KafkaUnavailable(
        f"Kafka at {settings.kafka} failed while {doing} it ({type(exc).__name__}: {exc}); {HOW_TO_START}"
    )


def _client_errors() -> tuple[type[BaseException], ...]:
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable

    return (NoBrokersAvailable, KafkaTimeoutError, KafkaConnectionError)


def make_producer(settings: Settings, **overrides: Any):
    from kafka import KafkaProducer

    servers = check_reachable(settings)
    config = {**PRODUCER_DEFAULTS, **overrides}
    try:
        return KafkaProducer(bootstrap_servers=servers, **config)
    except _client_errors() as exc:
        raise unavailable(settings, exc, "connecting to") from None


def make_consumer(settings: Settings, group: str | None = None, **overrides: Any):
    from kafka import KafkaConsumer

    servers = check_reachable(settings)
    config = {**CONSUMER_DEFAULTS, **overrides}
    try:
        return KafkaConsumer(bootstrap_servers=servers, group_id=group, **config)
    except _client_errors() as exc:
        raise unavailable(settings, exc, "connecting to") from None


def ensure_topics(
    settings: Settings, names: Iterable[str], partitions: int | dict[str, int] = DEFAULT_PARTITIONS
) -> list[str]:
    """Create the (unprefixed) topics that are missing; return their full names.

    `partitions` is used only for topics this call creates (an existing topic is left as is).
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    full = {name: settings.topic(name) for name in names}
    servers = check_reachable(settings)
    try:
        admin = KafkaAdminClient(bootstrap_servers=servers, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    except _client_errors() as exc:
        raise unavailable(settings, exc, "connecting to") from None
    try:
        existing = set(admin.list_topics())
        wanted = []
        for name, topic in full.items():
            if topic in existing:
                continue
            n = partitions.get(name, DEFAULT_PARTITIONS) if isinstance(partitions, dict) else partitions
            wanted.append(NewTopic(topic, n, 1))
        for topic in wanted:  # one by one: a topic created meanwhile must not hide the others
            try:
                admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
    except _client_errors() as exc:
        raise unavailable(settings, exc, "creating topics on") from None
    finally:
        admin.close()
    return list(full.values())


def partitions_of(consumer, topic: str, wait: float = 10.0) -> list:
    """The TopicPartitions of `topic` (metadata may take a moment after creation)."""
    import time

    from kafka import TopicPartition

    deadline = time.monotonic() + wait
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        if time.monotonic() > deadline:
            raise KafkaUnavailable(f"topic {topic} has no partitions on {consumer.config['bootstrap_servers']}")
        time.sleep(0.1)


class StopSignal:
    """A stop flag set by SIGINT/SIGTERM (when installed from the main thread) or by code."""

    def __init__(self, event: threading.Event | None = None):
        self.event = event or threading.Event()
        self._previous: dict[int, Any] = {}

    def is_set(self) -> bool:
        return self.event.is_set()

    def set(self) -> None:
        self.event.set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.event.set()

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
