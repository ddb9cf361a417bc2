"""The production shape: S3 warehouse + Glue catalog, against a real moto server on loopback."""

from __future__ import annotations

import boto3
import pytest

from schemahub.config import CatalogConfig, LakeConfig
from schemahub.lake import UNIFIED_TABLE, Lake, TableChange
from schemahub.lake.writer import commit_append
from tests.lake.test_tables import unified_rows

pytestmark = pytest.mark.slow
BUCKET = "schemahub-test"


@pytest.fixture
def aws_env(monkeypatch, moto_endpoint):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=BUCKET)
    return moto_endpoint


def glue_lake(endpoint: str, namespace: str) -> Lake:
    return Lake(
        LakeConfig(
            warehouse=f"s3://{BUCKET}/warehouse",
            namespace=namespace,
            catalog=CatalogConfig(
                type="glue",
                region="us-east-1",
                properties={
                    "glue.endpoint": endpoint,
                    "s3.endpoint": endpoint,
                    "s3.access-key-id": "testing",
                    "s3.secret-access-key": "testing",
                    "s3.path-style-access": "true",
                },
            ),
        )
    )


def test_tables_init_append_and_read_back_on_glue_and_s3(aws_env):
    lake = glue_lake(aws_env, "schemahub_glue")
    changes = lake.init()
    assert changes[UNIFIED_TABLE] is TableChange.CREATED
    assert set(lake.init().values()) == {TableChange.UNCHANGED}

    table = lake.table(UNIFIED_TABLE)
    commit_append(table, lambda _t: (unified_rows(range(20)), {"schemahub.test": "glue"}))

    fresh = glue_lake(aws_env, "schemahub_glue").table(UNIFIED_TABLE)
    assert sorted(fresh.scan().to_arrow()["trade_id"].to_pylist()) == list(range(20))
    assert fresh.metadata_location.startswith(f"s3://{BUCKET}/warehouse/")
    glue = boto3.client("glue", endpoint_url=aws_env, region_name="us-east-1")
    stored = glue.get_table(DatabaseName="schemahub_glue", Name=UNIFIED_TABLE)["Table"]
    assert stored["Parameters"]["table_type"].upper() == "ICEBERG"
