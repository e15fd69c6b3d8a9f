"""Shared pytest configuration: each area's fixtures live in tests/fixtures/<area>.py."""
pytest_plugins = [
    "tests.fixtures.workspace",
    "tests.fixtures.postgres",
    "tests.fixtures.softhsm",
    "tests.fixtures.pcsc",
    "tests.fixtures.issuance",
]
