"""Reading the Dockerfile the way the image is built from it: the final stage's instructions."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

# What the python:3.11-slim base image sets before our ENV lines.
BASE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class FinalStage:
    """The runtime stage: what `docker run` starts and with which settings."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=lambda: {"PATH": BASE_PATH})
    workdir: str = "/"
    user: str = "root"
    healthcheck: list[str] = field(default_factory=list)
    # (source in the build context, destination) of every COPY without --from
    context_copies: list[tuple[str, str]] = field(default_factory=list)
    # (stage, source, destination) of every COPY --from
    stage_copies: list[tuple[str, str, str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # the RUN commands


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    pairs = []
    for line in lines:
        name, _, args = line.partition(" ")
        pairs.append((name.upper(), args.strip()))
    return pairs


def final_stage(path: Path) -> FinalStage:
    """The last stage of the Dockerfile at ``path``."""
    pairs = instructions(path.read_text(encoding="utf-8"))
    last_from = max(i for i, (name, _) in enumerate(pairs) if name == "FROM")
    stage = FinalStage()
    for name, args in pairs[last_from + 1 :]:
        _apply(stage, name, args)
    return stage


def _apply(stage: FinalStage, name: str, args: str) -> None:
    if name == "ENTRYPOINT":
        stage.entrypoint = _exec_form(name, args)
    elif name == "CMD":
        stage.cmd = _exec_form(name, args)
    elif name == "ENV":
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            stage.env[key] = _expand(value, stage.env)
    elif name == "WORKDIR":
        stage.workdir = _expand(args, stage.env)
    elif name == "USER":
        stage.user = args
    elif name == "HEALTHCHECK":
        _, _, command = args.partition(" CMD ")
        stage.healthcheck = _exec_form(name, command.strip())
    elif name == "COPY":
        _add_copy(stage, shlex.split(args))
    elif name == "RUN":
        stage.runs.append(args)


def _add_copy(stage: FinalStage, words: list[str]) -> None:
    options = [w for w in words if w.startswith("--")]
    *sources, dest = [w for w in words if not w.startswith("--")]
    if not dest.startswith("/"):
        dest = f"{stage.workdir.rstrip('/')}/{dest.removeprefix('./')}"
    built = [o.split("=", 1)[1] for o in options if o.startswith("--from=")]
    for source in sources:
        if built:
            stage.stage_copies.append((built[0], source, dest))
        else:
            stage.context_copies.append((source, dest))


def _exec_form(name: str, args: str) -> list[str]:
    try:
        words = json.loads(args)
    except json.JSONDecodeError:
        raise AssertionError(f"{name} must use the exec (JSON) form, got {args!r}") from None
    assert isinstance(words, list) and all(isinstance(w, str) for w in words), args
    return words


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)
