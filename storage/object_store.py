"""An S3 bucket as the hand-over sees it: put a file with its SHA-256, ask what is stored.

Any S3 API serves (AWS, Ceph RGW, MinIO, ``moto_server`` in the tests). Every object
carries the SHA-256 of its bytes as user metadata (``x-amz-meta-sha256``), because a
multipart object's ETag is not a hash of its content; the metadata is what a later run
and the verification compare. Calls block: the hand-over runs them in a worker thread.
Failures are ``ObjectStoreError`` with a sentence an operator can act on (the store is
down, the credentials are refused, the bucket is missing or full), never a raw botocore
trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proctorbot.config.settings import ArchiveSettings

SHA256_METADATA = "sha256"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0


class ObjectStoreError(Exception):
    """The store could not do what was asked; the message says why in words."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str  # from the object's metadata; "" when it was stored without one


def _in_words(exc: BaseException, store: str) -> str:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
    )
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )

    if isinstance(exc, EndpointConnectionError | BotoConnectionError):
        return f"the S3 store at {store} cannot be reached ({exc})"
    if isinstance(exc, NoCredentialsError):
        return "no S3 credentials: set archive.access_key_id and archive.secret_access_key"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or code
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
            return f"the S3 store at {store} refused the credentials ({code}: {message})"
        if code in ("NoSuchBucket", "404"):
            return f"the S3 bucket {store} does not exist ({message})"
        if code in ("QuotaExceeded", "EntityTooLarge", "InsufficientStorage", "507"):
            return f"the S3 store at {store} is full ({code}: {message})"
        return f"the S3 store at {store} refused the request ({code}: {message})"
    return f"the S3 store at {store} failed: {exc}"


class ObjectStore:
    """One bucket (``ArchiveSettings``); a boto3 client built on first use."""

    def __init__(self, settings: ArchiveSettings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def where(self) -> str:
        endpoint = self.settings.s3_endpoint_url or "AWS"
        return f"{endpoint} (bucket {self.settings.s3_bucket})"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            s = self.settings
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=s.s3_endpoint_url or None,
                region_name=s.s3_region,
                aws_access_key_id=s.access_key_id.get_secret_value() if s.access_key_id else None,
                aws_secret_access_key=(
                    s.secret_access_key.get_secret_value() if s.secret_access_key else None
                ),
                config=Config(
                    connect_timeout=CONNECT_TIMEOUT_S,
                    read_timeout=READ_TIMEOUT_S,
                    retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": "path"},
                ),
            )
        return self._client

    def head(self, key: str) -> StoredObject | None:
        """What the store holds under ``key``; None when nothing."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.head_object(Bucket=self.settings.s3_bucket, Key=key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise ObjectStoreError(_in_words(exc, self.where)) from exc
        except Exception as exc:  # noqa: BLE001 - said in words
            raise ObjectStoreError(_in_words(exc, self.where)) from exc
        metadata = {k.lower(): v for k, v in (answer.get("Metadata") or {}).items()}
        return StoredObject(key, int(answer["ContentLength"]), metadata.get(SHA256_METADATA, ""))

    def upload(self, path: Path, key: str, sha256: str) -> None:
        """The file under ``key`` with its hash as metadata; in parts above ``multipart_mb``."""
        from boto3.s3.transfer import TransferConfig

        part = self.settings.multipart_mb * 1024 * 1024
        try:
            self.client.upload_file(
                str(path),
                self.settings.s3_bucket,
                key,
                ExtraArgs={"Metadata": {SHA256_METADATA: sha256}},
                Config=TransferConfig(multipart_threshold=part, multipart_chunksize=part),
            )
        except Exception as exc:  # noqa: BLE001 - said in words
            raise ObjectStoreError(_in_words(exc, self.where)) from exc

    def read(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.settings.s3_bucket, Key=key)
            return answer["Body"].read()
        except Exception as exc:  # noqa: BLE001 - said in words
            raise ObjectStoreError(_in_words(exc, self.where)) from exc
