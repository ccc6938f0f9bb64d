"""Session-wide test setup. Shared fixtures live in tests/fixtures/, one module per service."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.store",
    "tests.fixtures.pgroles",
    "tests.fixtures.sandbox",
    "tests.fixtures.model",
]
