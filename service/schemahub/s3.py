"""S3 access for the batch commands: put, get, list, and every failure as one clear line.

boto3 is used as the AWS SDKs are: credentials from the standard variables and files, the
endpoint from config (``s3.endpoint_url``) or ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, so
a moto or MinIO server on loopback stands in for AWS. Nothing here logs keys or credentials.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from schemahub.errors import StorageError

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_NO_BUCKET = frozenset({"NoSuchBucket"})
_REFUSED = frozenset(
    {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
)


def endpoint_url(configured: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The S3 endpoint: the configured one, else ``AWS_ENDPOINT_URL_S3``, else
    ``AWS_ENDPOINT_URL``, else None (AWS itself)."""
    return service_endpoint_url("S3", configured, environ)


def service_endpoint_url(
    service: str, configured: str | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """An AWS service's endpoint as the AWS SDKs pick it: the configured one, else
    ``AWS_ENDPOINT_URL_<SERVICE>`` (e.g. ``_S3``, ``_GLUE``), else ``AWS_ENDPOINT_URL``, else
    None (AWS itself)."""
    environ = os.environ if environ is None else environ
    return (
        configured
        or environ.get(f"AWS_ENDPOINT_URL_{service.upper()}")
        or environ.get("AWS_ENDPOINT_URL")
    )


def region_name(configured: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The AWS region: the configured one, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``."""
    environ = os.environ if environ is None else environ
    return configured or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix without slashes at the ends)."""
    if not url.startswith("s3://") or len(url) <= len("s3://"):
        raise StorageError(f"{url!r} is not an S3 URL; expected s3://BUCKET[/PREFIX]")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    return bucket, prefix.strip("/")


@dataclass
class Bucket:
    """One S3 bucket, reached through ``endpoint`` (None: AWS)."""

    name: str
    endpoint: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        import boto3
        from botocore.config import Config

        logging.getLogger("botocore").setLevel(logging.WARNING)  # no "found credentials" chatter

        settings = Config(
            connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
        )
        self._client: Any = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region, config=settings
        )

    def check(self) -> None:
        """Fail now, with one line, if the bucket cannot be reached or used."""
        self._call("reach", "", lambda: self._client.head_bucket(Bucket=self.name))

    def put(self, key: str, body: bytes) -> None:
        """Write ``body`` at ``key`` (replacing what was there: writes are idempotent)."""
        self._call(
            "write", key, lambda: self._client.put_object(Bucket=self.name, Key=key, Body=body)
        )

    def get(self, key: str) -> bytes | None:
        """The bytes at ``key``, or None when there is no such object."""
        try:
            answer = self._call(
                "read", key, lambda: self._client.get_object(Bucket=self.name, Key=key)
            )
        except _Missing:
            return None
        return answer["Body"].read()

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix``, in key order."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        )
        iterator = iter(pages)
        while True:
            page = self._call("list", prefix, lambda: next(iterator, None))
            if page is None:
                return
            for item in page.get("Contents", []):
                yield item["Key"]

    def where(self, key: str) -> str:
        """``s3://bucket/key`` for messages."""
        return f"s3://{self.name}/{key}"

    def _call(self, action: str, key: str, call: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        target = self.where(key) if key else f"bucket {self.name!r}"
        try:
            return call()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NO_BUCKET or (code in _NOT_FOUND and not key):
                raise StorageError(f"S3 bucket {self.name!r} does not exist") from None
            if code in _NOT_FOUND:
                raise _Missing(target) from None
            if code in _REFUSED:
                raise StorageError(
                    f"S3 refused to {action} {target} ({code}): check the AWS credentials "
                    "and the bucket policy"
                ) from None
            raise StorageError(f"S3 could not {action} {target}: {code}") from None
        except NoCredentialsError:
            raise StorageError(
                "no AWS credentials found (set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a "
                "profile)"
            ) from None
        except EndpointConnectionError as exc:
            raise StorageError(
                f"cannot reach the S3 endpoint {exc.kwargs.get('endpoint_url', '')} "
                f"to {action} {target}"
            ) from None
        except BotoCoreError as exc:
            raise StorageError(f"S3 could not {action} {target}: {exc}") from None


class _Missing(StorageError):
    """No object at that key (turned into None by :meth:`Bucket.get`)."""
