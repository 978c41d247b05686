"""Benchmarks that print figures and ratios against baselines measured in the same run."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator
from uuid import uuid4


@contextmanager
def postgres_schema() -> Iterator[tuple[str, str]]:
    """(database URL, schema): a fresh schema in the test database, dropped afterwards."""
    from tests.services import create_schema, drop_schema, ensure_test_database

    url, schema = ensure_test_database(), f"bench_{uuid4().hex[:8]}"
    create_schema(schema)
    try:
        yield url, schema
    finally:
        drop_schema(schema)
