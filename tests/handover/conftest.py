"""Fixtures of the hand-over tests: an S3 store (moto_server) for the archive step."""

from tests.storage.s3_server import s3_endpoint  # noqa: F401 - a fixture
