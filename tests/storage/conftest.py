"""Fixtures of the storage tests: an S3 store (moto_server)."""

from tests.storage.s3_server import s3_endpoint  # noqa: F401 - a fixture
