"""Where an S3 warehouse and the Glue catalog find their endpoints and region: the same
resolution as the batch commands (schemahub.s3) and the AWS SDKs."""

from __future__ import annotations

import pytest

from schemahub.config import LakeConfig, S3Config
from schemahub.lake.catalog import catalog_properties

GLUE_ON_S3 = {"warehouse": "s3://bucket/warehouse", "catalog": {"type": "glue"}}


@pytest.fixture(autouse=True)
def no_aws_env(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_GLUE"):
        monkeypatch.delenv(key, raising=False)
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)


def props(lake: dict, s3: S3Config | None = None) -> dict[str, str]:
    return catalog_properties(LakeConfig.model_validate(lake), s3)


def test_the_standard_variables_give_both_endpoints_and_the_region(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    got = props(GLUE_ON_S3)
    assert got["s3.endpoint"] == got["glue.endpoint"] == "http://127.0.0.1:5000"
    assert got["client.region"] == "eu-west-1"


def test_service_variables_win_over_the_general_one(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://general")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3")
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", "http://glue")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    got = props(GLUE_ON_S3)
    assert (got["s3.endpoint"], got["glue.endpoint"]) == ("http://s3", "http://glue")
    assert got["client.region"] == "us-west-2"


def test_the_config_wins_over_the_variables_and_properties_win_over_all(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://general")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    configured = S3Config(endpoint_url="http://configured", region="ap-south-1")
    got = props(GLUE_ON_S3, configured)
    assert (got["s3.endpoint"], got["client.region"]) == ("http://configured", "ap-south-1")
    explicit = {**GLUE_ON_S3, "catalog": {"type": "glue", "region": "eu-north-1"}}
    assert props(explicit, configured)["client.region"] == "eu-north-1"
    pinned = {
        **GLUE_ON_S3,
        "catalog": {"type": "glue", "properties": {"s3.endpoint": "http://pinned"}},
    }
    assert props(pinned, configured)["s3.endpoint"] == "http://pinned"


def test_a_local_sql_lake_gets_no_aws_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://general")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    got = props({"warehouse": str(tmp_path / "warehouse")})
    assert not {k for k in got if k.startswith(("s3.", "glue.", "client."))}


def test_a_sql_catalog_on_s3_uses_the_s3_endpoint_but_no_glue(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://general")
    lake = {
        "warehouse": "s3://bucket/warehouse",
        "catalog": {"type": "sql", "uri": "postgresql+psycopg://db/lake"},
    }
    got = props(lake)
    assert got["s3.endpoint"] == "http://general" and "glue.endpoint" not in got
