"""The CloudFormation template in deploy/aws: valid (cfn-lint), least privilege, and consistent
with the code it deploys (commands, health check, stop time, configuration keys, shards)."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from schemahub.cli import build_parser
from schemahub.config import Config, load_config
from schemahub.daemon.shards import configured_streams
from schemahub.lake.writer import commit_append
from schemahub.ops.http import Readiness, bound_port, ops_app, start_ops_server
from schemahub.ops.metrics import Registry

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "aws" / "schemahub.cfn.yaml"
MAX_SHARDS = 4
FARGATE_MAX_STOP_TIMEOUT = 120
REGION = "eu-west-1"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (``!Ref X`` -> ``{"Ref": "X"}``)."""


def _short_form(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, short-form tags turned into their long form."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)


class Resolver:
    """Evaluates the template's intrinsic functions for given parameter values (the subset the
    template uses), as CloudFormation would, so tests can read what a task really gets."""

    def __init__(self, template: dict[str, Any], **overrides: str) -> None:
        self.template = template
        self.params = {
            name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()
        }
        self.params.update({"AWS::Region": REGION, "AWS::StackName": "schemahub"})
        self.params.update({"AWS::AccountId": "123456789012", "AWS::Partition": "aws"})
        self.params.update(overrides)

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def enabled(self, resource: dict[str, Any]) -> bool:
        return "Condition" not in resource or self.condition(resource["Condition"])

    def rules_broken(self) -> list[str]:
        """The descriptions of the template's rules these parameters break."""
        broken = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            broken += [
                a["AssertDescription"] for a in rule["Assertions"] if not self.value(a["Assert"])
            ]
        return broken

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
        return {
            k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.params:
            return self.params[name]
        assert name in self.template["Resources"], f"!Ref to an unknown name {name}"
        resource = self.template["Resources"][name]
        if resource["Type"] == "AWS::Glue::Database":  # its Ref is the database's name
            return self.value(resource["Properties"]["DatabaseInput"]["Name"])
        return f"<{name}>"

    def sub(self, arg: Any) -> str:
        text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in names:
                return str(names[name])
            if "." in name:
                return f"<{name}>"
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)


_NO_VALUE = object()
_FUNCTIONS = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::If": lambda r, a: r.value(a[1] if r.condition(a[0]) else a[2]),
    "Fn::Equals": lambda r, a: str(r.value(a[0])) == str(r.value(a[1])),
    "Fn::Not": lambda r, a: not r.value(a[0]),
    "Fn::Or": lambda r, a: any(r.value(x) for x in a),
    "Fn::And": lambda r, a: all(r.value(x) for x in a),
    "Fn::Condition": lambda r, a: r.condition(a),
    "Fn::Contains": lambda r, a: str(r.value(a[1])) in [str(x) for x in r.value(a[0])],
    "Fn::GetAtt": lambda _r, a: f"<{'.'.join(a)}>",
    "Fn::Join": lambda r, a: a[0].join(str(x) for x in r.value(a[1])),
    "Fn::Split": lambda r, a: str(r.value(a[1])).split(a[0]),
    "Fn::Select": lambda r, a: r.value(a[1])[int(a[0])],
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == kind}


def _containers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tasks = _of_type(template, "AWS::ECS::TaskDefinition")
    out = {}
    for name, task in tasks.items():
        (container,) = task["Properties"]["ContainerDefinitions"]
        out[name] = container
    return out


def test_cfn_lint_finds_nothing() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            str(TEMPLATE),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    found = []
    for policy in policies:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # a conditional statement: check its enabled branch
                statement = statement["Fn::If"][1]
            found.append(statement)
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_role_grants_every_action_or_the_task_role_any_resource_wildcard(template) -> None:
    roles = _of_type(template, "AWS::IAM::Role")
    assert set(roles) == {"ExecutionRole", "TaskRole"}
    for role in roles:
        for statement in _statements(template, role):
            assert statement["Effect"] == "Allow"
            for action in _listed(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), (role, action)
            if "*" in _listed(statement["Resource"]):
                # The one action AWS grants only account-wide: the ECR login token (the image
                # pull itself is limited to the image's repository).
                assert (role, _listed(statement["Action"])) == (
                    "ExecutionRole",
                    ["ecr:GetAuthorizationToken"],
                )
    assert "ManagedPolicyArns" not in str(roles)  # AWS's managed task execution policy uses "*"
    # The bucket policy only denies (plain HTTP); it grants nothing to anyone.
    policy = template["Resources"]["WarehouseBucketPolicy"]["Properties"]["PolicyDocument"]
    assert {s["Effect"] for s in policy["Statement"]} == {"Deny"}


def test_the_task_role_reaches_only_its_bucket_prefix_and_glue_database(template) -> None:
    resolver = Resolver(template)
    resources = set()
    for statement in _statements(template, "TaskRole"):
        resources.update(_listed(resolver.value(statement["Resource"])))
    assert resources == {
        "<WarehouseBucket.Arn>",
        "<WarehouseBucket.Arn>/warehouse/*",
        f"arn:aws:glue:{REGION}:123456789012:catalog",
        f"arn:aws:glue:{REGION}:123456789012:database/schemahub",
        f"arn:aws:glue:{REGION}:123456789012:table/schemahub/*",
    }


def test_the_image_pull_is_limited_to_the_image_repository(template) -> None:
    image = "210987654321.dkr.ecr.ap-northeast-1.amazonaws.com/schemahub:v1.2"
    resolver = Resolver(template, ImageUri=image)
    (pull,) = [s for s in _statements(template, "ExecutionRole") if s["Sid"] == "PullTheImage"]
    arn = resolver.value(pull["Resource"])
    assert arn == "arn:aws:ecr:ap-northeast-1:210987654321:repository/schemahub"
    pattern = template["Parameters"]["ImageUri"]["AllowedPattern"]
    assert re.fullmatch(pattern, image)
    assert not re.fullmatch(pattern, "210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/schemahub")


def test_container_commands_are_commands_of_our_cli(template) -> None:
    """Needs every command the template runs (gap-fill included) in ``schemahub.cli``."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["schemahub"]' in dockerfile
    parser = build_parser()
    for name, container in _containers(template).items():
        assert container["EntryPoint"] == ["schemahub"], name
        args = parser.parse_args(container["Command"])
        assert args.command == container["Command"][0]


async def test_the_health_check_passes_against_the_real_ops_server_and_fails_without_it(
    template,
) -> None:
    containers = _containers(template)
    checks = {n: c["HealthCheck"]["Command"] for n, c in containers.items() if "HealthCheck" in c}
    assert set(checks) == {f"Shard{i}TaskDefinition" for i in range(MAX_SHARDS)}
    (command,) = {tuple(c) for c in checks.values()}
    assert command[:2] == ("CMD", "python")
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", command[-1])
    assert url and url.group(1) == "8080" and url.group(2) == "/healthz"
    runner = await start_ops_server(
        ops_app(Registry(), lambda: Readiness(False, ("venue down",))), "127.0.0.1", 0
    )
    port = bound_port(runner)
    try:
        alive = await _run_check(command, port)
        missing = await _run_check(command, port, path="/nothing")
    finally:
        await runner.cleanup()
    gone = await _run_check(command, port)
    assert (alive, missing, gone) == (0, 1, 1)  # liveness only: a venue down is still alive


async def _run_check(command: tuple[str, ...], port: int, path: str = "/healthz") -> int:
    code = command[-1].replace("127.0.0.1:8080/healthz", f"127.0.0.1:{port}{path}")
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command[2:-1], code, stderr=asyncio.subprocess.DEVNULL
    )
    return await process.wait()


def test_the_stop_timeout_leaves_room_for_the_final_flush(template) -> None:
    # A clean stop commits once more; a commit that keeps conflicting backs off through every
    # retry of lake.commit_retries before giving up. The design promises the stop inside 30 s
    # (ECS's default) without conflicts; the stop timeout must cover that plus a full backoff.
    retries = Config().lake.commit_retries
    base = inspect.signature(commit_append).parameters["base_delay"].default
    full_backoff = sum(base * 2**k * 1.5 for k in range(retries))
    for name, container in _containers(template).items():
        assert 30 + full_backoff < container["StopTimeout"] <= FARGATE_MAX_STOP_TIMEOUT, name


def _config_key_exists(model: type[BaseModel], parts: list[str]) -> bool:
    field = model.model_fields.get(parts[0])
    if field is None:
        return False
    if len(parts) == 1:
        return True
    inner = field.annotation
    return (
        isinstance(inner, type)
        and issubclass(inner, BaseModel)
        and (_config_key_exists(inner, parts[1:]))
    )


def _environments(resolver: Resolver) -> dict[str, dict[str, str]]:
    out = {}
    for name, container in _containers(resolver.template).items():
        if not resolver.enabled(resolver.template["Resources"][name]):
            continue
        env = {e["Name"]: str(e["Value"]) for e in resolver.value(container["Environment"])}
        secrets = resolver.value(container.get("Secrets", []))
        secrets = [] if secrets is _NO_VALUE else secrets
        out[name] = {**env, **{s["Name"]: "a-secret-token" for s in secrets}}
    return out


def test_environment_names_are_config_keys_and_load_as_the_parameters_say(template) -> None:
    resolver = Resolver(
        template, ShardCount="4", CatalogTokenSecretArn="arn:aws:secretsmanager:x", KrakenSymbols=""
    )
    environments = _environments(resolver)
    assert len(environments) == MAX_SHARDS + 1
    for name, env in environments.items():
        for key in env:
            parts = key.removeprefix("SCHEMAHUB_").lower().split("__")
            assert key.startswith("SCHEMAHUB_") and _config_key_exists(Config, parts), (name, key)
        config = load_config(None, env)  # as in the image: its config/schemahub.yaml + env
        assert config.lake.catalog.type == "glue"
        assert config.lake.catalog.region == REGION
        assert config.lake.warehouse == "s3://<WarehouseBucket>/warehouse"
        assert config.lake.namespace == "schemahub"
        assert config.lake.catalog.token.get_secret_value() == "a-secret-token"
        assert configured_streams(config.venues) == [
            ("binance", "BTCUSDT"),
            ("binance", "ETHUSDT"),
            ("coinbase", "BTC-USD"),
            ("coinbase", "ETH-USD"),
        ]


@pytest.mark.parametrize("count", range(1, MAX_SHARDS + 1))
def test_shard_count_creates_that_many_services_with_indexes_0_to_count(template, count) -> None:
    resolver = Resolver(template, ShardCount=str(count))
    services = [
        n for n, r in _of_type(template, "AWS::ECS::Service").items() if resolver.enabled(r)
    ]
    assert services == [f"Shard{i}Service" for i in range(count)]
    shards = set()
    for name, env in _environments(resolver).items():
        if name.startswith("Shard"):
            config = load_config(None, env)
            shards.add((config.shard.index, config.shard.count))
    assert shards == {(i, count) for i in range(count)}


def test_shard_blocks_differ_only_in_their_index(template) -> None:
    resources = template["Resources"]
    for kind in ("TaskDefinition", "Service"):
        first = yaml.safe_dump(resources[f"Shard0{kind}"])
        for index in range(1, MAX_SHARDS):
            block = dict(resources[f"Shard{index}{kind}"])
            assert block.pop("Condition") == f"Shard{index}On"
            text = yaml.safe_dump(block)
            text = text.replace(f"Shard{index}", "Shard0").replace(f"shard-{index}", "shard-0")
            text = text.replace(f"Value: '{index}'", "Value: '0'")
            assert text == first, f"Shard{index}{kind} drifted from Shard0{kind}"


def test_deployments_never_run_two_tasks_of_a_shard_and_roll_back_on_failure(template) -> None:
    for name, service in _of_type(template, "AWS::ECS::Service").items():
        props = service["Properties"]
        deployment = props["DeploymentConfiguration"]
        assert props["DesiredCount"] == 1, name
        assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (0, 100)
        assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_the_bucket_is_private_encrypted_versioned_and_frees_old_versions(template) -> None:
    bucket = template["Resources"]["WarehouseBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in rule for rule in rules)


def test_the_production_config_file_is_valid() -> None:
    config = load_config(REPO / "deploy" / "aws" / "schemahub.config.yaml", {})
    assert config.lake.catalog.type == "glue"
    assert config.lake.warehouse.startswith("s3://")


def test_binance_in_a_us_region_is_refused_before_anything_is_created(template) -> None:
    assert Resolver(template).rules_broken() == []
    refused = Resolver(template, **{"AWS::Region": "us-east-1"}).rules_broken()
    assert len(refused) == 1 and "HTTP 451" in refused[0]
    assert (
        Resolver(template, **{"AWS::Region": "us-east-1", "BinanceSymbols": ""}).rules_broken()
        == []
    )


# Fargate's task sizes for the CPU values the template allows (AWS ECS documentation).
FARGATE_MEMORY = {
    "512": {"1024", "2048", "3072", "4096"},
    "1024": {"2048", "3072", "4096", "5120", "6144", "7168", "8192"},
    "2048": {str(m) for m in range(4096, 16385, 1024)},
}


def test_only_task_sizes_fargate_offers_pass_the_rules(template) -> None:
    cpus = [str(c) for c in template["Parameters"]["TaskCpu"]["AllowedValues"]]
    memories = [str(m) for m in template["Parameters"]["TaskMemory"]["AllowedValues"]]
    for cpu in cpus:
        for memory in memories:
            broken = Resolver(template, TaskCpu=cpu, TaskMemory=memory).rules_broken()
            assert (not broken) == (memory in FARGATE_MEMORY[cpu]), (cpu, memory, broken)


def test_tasks_may_only_reach_out_on_443_and_binances_9443_and_be_reached_if_asked(template):
    group = template["Resources"]["TaskSecurityGroup"]["Properties"]
    egress = {(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in group["SecurityGroupEgress"]}
    assert egress == {("tcp", 443, 443), ("tcp", 9443, 9443)}
    binance = Config().venues.binance.ws_url
    assert binance.endswith(":9443")
    closed = Resolver(template).value(group["SecurityGroupIngress"])
    opened = Resolver(template, OpsCidr="203.0.113.7/32").value(group["SecurityGroupIngress"])
    assert closed is _NO_VALUE
    assert [(r["FromPort"], r["CidrIp"]) for r in opened] == [(8080, "203.0.113.7/32")]
