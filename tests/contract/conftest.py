"""Fixtures of the contract tests: the catalog's importer, to seed data through the real import."""

from tests.catalog.conftest import load, s3  # noqa: F401 (fixtures used by the tests here)
