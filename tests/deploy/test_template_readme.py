"""Every command deploy/README.md tells a user to run is one the repository supports.

AWS cannot be reached from a test, so each ``aws`` command is checked against what AWS and the
template define: the operation and its options in botocore's models of the AWS APIs (or the CLI's
own commands, with their options listed below), the template's parameter and output names, and
the cluster, service, log group and container names the template gives. Our own commands are
parsed by ``schemahub``'s parser, and ``schemahub shards`` is run exactly as written.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from schemahub.cli import build_parser
from schemahub.config import load_config
from schemahub.lake import UNIFIED_TABLE
from tests.deploy.test_template import REPO, Resolver, load_template

README = REPO / "deploy" / "README.md"
STACK = "schemahub"
ENV = {"ACCOUNT": "123456789012", "AWS_REGION": "eu-west-1"}
ENV["REGISTRY"] = f"{ENV['ACCOUNT']}.dkr.ecr.{ENV['AWS_REGION']}.amazonaws.com"
# The AWS CLI's own commands (not API operations) that the guide uses, with their options.
CLI_COMMANDS = {
    ("cloudformation", "deploy"): {
        "--stack-name",
        "--template-file",
        "--capabilities",
        "--parameter-overrides",
    },
    ("ecr", "get-login-password"): set(),
    ("logs", "tail"): {"--follow"},
    ("s3", "rm"): {"--recursive"},
    ("s3", "rb"): set(),
}
GLOBAL_OPTIONS = {"--query", "--output", "--region"}


def _commands() -> list[str]:
    """Each command line of the guide: the lines of its ``sh`` blocks (the commands inside
    ``$(...)`` on their own) and the commands quoted inline in its text."""
    text = README.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        lines += [line.strip() for line in block.splitlines() if line.strip()]
    lines += re.findall(r"`((?:aws|schemahub) [^`]+)`", text)
    commands = []
    for line in lines:
        inner = re.fullmatch(r"\w+=\$\((.*)\)", line)
        commands += (inner.group(1) if inner else line).split(" | ")
    return commands


COMMANDS = _commands()
AWS = [c for c in COMMANDS if c.startswith("aws ")]


def _argv(command: str) -> list[str]:
    expanded = re.sub(r"\$(\w+)", lambda m: ENV.get(m.group(1), f"<{m.group(1)}>"), command)
    return shlex.split(expanded)


def _options(argv: list[str]) -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    current = None
    for arg in argv:
        if arg.startswith("--"):
            current = arg
            options[current] = []
        elif current is not None:
            options[current].append(arg)
    return options


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_the_guide_has_every_step_of_the_brief() -> None:
    assert len(AWS) > 20
    wanted = [
        "docker buildx build --platform linux/amd64",
        "aws cloudformation deploy",
        "aws ecs wait services-stable",
        "aws logs tail",
        "/readyz",
        "aws athena start-query-execution",
        "aws ecs run-task",
        "ShardCount=3",
        "aws cloudformation delete-stack",
    ]
    text = "\n".join(COMMANDS)
    assert [w for w in wanted if w not in text] == []


@pytest.mark.parametrize("command", AWS)
def test_each_aws_command_is_an_operation_or_cli_command_with_its_options(command) -> None:
    argv = _argv(command)
    service, action = argv[1], argv[2]
    options = set(_options(argv)) - GLOBAL_OPTIONS
    if (service, action) in CLI_COMMANDS:
        assert options <= CLI_COMMANDS[service, action], command
        return
    session = botocore.session.get_session()
    model = session.get_service_model(service)
    if action == "wait":
        name = "".join(part.title() for part in argv[3].split("-"))
        waiter = session.get_waiter_model(service).get_waiter(name)
        operation = model.operation_model(waiter.operation)
    else:
        names = {xform_name(name, "-"): name for name in model.operation_names}
        assert action in names, f"{service} has no operation {action}"
        operation = model.operation_model(names[action])
    members = {xform_name(m, "-") for m in operation.input_shape.members}
    assert {o.removeprefix("--") for o in options} <= members, command


def test_deploys_name_real_parameters_and_the_right_capability(template) -> None:
    deploys = [_options(_argv(c)) for c in AWS if c.startswith("aws cloudformation deploy")]
    assert len(deploys) >= 3
    roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert all("RoleName" not in r["Properties"] for r in roles)  # CAPABILITY_IAM suffices
    for options in deploys:
        assert options["--template-file"] == ["deploy/aws/schemahub.cfn.yaml"]
        assert (REPO / options["--template-file"][0]).is_file()
        assert options["--capabilities"] == ["CAPABILITY_IAM"]
        assert options["--stack-name"] == [STACK]
        for pair in options["--parameter-overrides"]:
            name, _, value = pair.partition("=")
            assert name in template["Parameters"], pair
            if name == "ImageUri":
                assert re.fullmatch(template["Parameters"]["ImageUri"]["AllowedPattern"], value)
    first = deploys[0]["--parameter-overrides"]
    required = {n for n, p in template["Parameters"].items() if "Default" not in p}
    assert required <= {pair.split("=")[0] for pair in first}


def test_outputs_clusters_services_and_log_groups_are_the_templates(template) -> None:
    resolver = Resolver(template, ShardCount="4")
    resources = template["Resources"]
    services = {
        resolver.value(r["Properties"]["ServiceName"])
        for r in resources.values()
        if r["Type"] == "AWS::ECS::Service"
    }
    cluster = resolver.value(resources["Cluster"]["Properties"]["ClusterName"])
    log_group = resolver.value(resources["LogGroup"]["Properties"]["LogGroupName"])
    for command in AWS:
        for key in re.findall(r"OutputKey=='(\w+)'", command):
            assert key in template["Outputs"], command
        options = _options(_argv(command))
        for name in options.get("--cluster", []):
            assert name in (cluster, "<CLUSTER>"), command
        for name in options.get("--services", []) + options.get("--service-name", []):
            assert name in services, command
        if command.startswith("aws logs tail /"):
            assert _argv(command)[3] == log_group
    assert cluster == STACK


def test_run_task_overrides_run_our_commands_in_the_templates_container(template) -> None:
    """Needs ``schemahub gap-fill`` (merged from the gap-fill work)."""
    container = template["Resources"]["GapFillTaskDefinition"]["Properties"]
    (definition,) = container["ContainerDefinitions"]
    runs = [_options(_argv(c)) for c in AWS if c.startswith("aws ecs run-task")]
    assert runs
    parser = build_parser()
    for options in runs:
        assert options["--launch-type"] == ["FARGATE"]
        overrides = json.loads(options["--overrides"][0])
        (override,) = overrides["containerOverrides"]
        assert override["name"] == definition["Name"]
        args = parser.parse_args(override["command"])
        assert args.command == "gap-fill"


def test_the_readyz_probe_and_athena_query_use_our_port_path_and_tables(template) -> None:
    from schemahub.ops.http import ops_app
    from schemahub.ops.metrics import Registry

    (definition,) = template["Resources"]["Shard0TaskDefinition"]["Properties"][
        "ContainerDefinitions"
    ]
    routes = {r.resource.canonical for r in ops_app(Registry(), lambda: None).router.routes()}
    probes = [c for c in COMMANDS if c.startswith("curl ")]
    assert probes
    for probe in probes:
        url = re.search(r":(\d+)(/\w+)", probe)
        assert url and int(url.group(1)) == definition["PortMappings"][0]["ContainerPort"]
        assert url.group(2) in routes
    (athena,) = [c for c in AWS if "start-query-execution" in c]
    database = template["Parameters"]["GlueDatabase"]["Default"]
    assert f"FROM {database}.{UNIFIED_TABLE} " in athena
    blocked = template["Rules"]["BinanceIsNotReachableFromUsRegions"]["Assertions"][0]
    assert ENV["AWS_REGION"] not in str(blocked["Assert"])


def test_the_image_is_built_for_fargates_platform_from_the_repository() -> None:
    (build,) = [c for c in COMMANDS if c.startswith("docker buildx ")]
    options = _options(_argv(build))
    assert options["--platform"] == ["linux/amd64"]
    assert options["--tag"][0].startswith(f"{ENV['REGISTRY']}/schemahub:")
    assert _argv(build)[-1] == "." and (REPO / "Dockerfile").is_file()


def test_the_shards_command_runs_exactly_as_written(tmp_path: Path) -> None:
    (command,) = [c for c in COMMANDS if re.search(r"\bschemahub shards\b", c)]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    run = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"shard {i} of 3" for i in range(3)]
    assert sum(int(line.split(": ")[1].split()[0]) for line in lines) == 6
    assignments = [a for a in shlex.split(command) if a.startswith("SCHEMAHUB_")]
    config = load_config(None, dict(a.split("=", 1) for a in assignments))
    assert config.venues.kraken.symbols == ["BTC/USD", "ETH/USD"]
