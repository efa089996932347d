"""Kafka adapters: thin wrappers over confluent-kafka (producer tuning, topic admin)."""
