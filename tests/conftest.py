"""Shared fixtures (each area adds its own import here)."""

from tests.integration.kafka_broker import kafka_broker, kafka_settings  # noqa: F401  (Kafka tests)
