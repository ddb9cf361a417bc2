"""The locks pin every requirement of pyproject.toml, consistently (`make lock` refreshes them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
# The environment the locks are checked for: the image's and CI's Python on Linux.
LINUX_311 = {"python_version": "3.11", "python_full_version": "3.11.2", "sys_platform": "linux"}


def pins(lock: str) -> dict[str, Version]:
    """name -> pinned version, for the entries of ``lock`` that apply to Python 3.11 on Linux."""
    pinned: dict[str, Version] = {}
    for line in (REPO / lock).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if not match:
            continue
        name, version, marker = match.groups()
        if marker and not Requirement(f"x; {marker}").marker.evaluate(LINUX_311):
            continue
        pinned[canonicalize_name(name)] = Version(version)
    return pinned


def requirements(*extras: str) -> list[tuple[str, str]]:
    """(requirement, extra) of the runtime dependencies and of ``extras``, following an extra
    that names the project itself (``schemahub[query]``) into that extra."""
    project = PROJECT["project"]
    wanted = [(text, "") for text in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project.get("optional-dependencies", {}).get(extra, []):
            req = Requirement(text)
            if canonicalize_name(req.name) == canonicalize_name(project["name"]):
                todo.extend(req.extras)
            else:
                wanted.append((text, extra))
    return wanted


def _unmet(wanted: list[tuple[str, str]], pinned: dict[str, Version]) -> list[str]:
    unmet = []
    for text, extra in wanted:
        req = Requirement(text)
        if req.marker and not req.marker.evaluate({**LINUX_311, "extra": extra}):
            continue
        version = pinned.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            unmet.append(f"{text} (lock has {version})")
    return unmet


def test_runtime_lock_pins_every_runtime_requirement() -> None:
    unmet = _unmet(requirements(), pins("requirements.lock"))
    assert not unmet, f"requirements.lock is stale, run `make lock`: {unmet}"


def test_test_lock_pins_runtime_and_test_requirements() -> None:
    unmet = _unmet(requirements("test"), pins("requirements-test.lock"))
    assert not unmet, f"requirements-test.lock is stale, run `make lock`: {unmet}"


def test_build_lock_pins_the_build_backend() -> None:
    wanted = [(text, "") for text in PROJECT["build-system"]["requires"]]
    unmet = _unmet(wanted, pins("requirements-build.lock"))
    assert not unmet, f"requirements-build.lock is stale, run `make lock`: {unmet}"


def test_shared_packages_have_one_version_in_every_lock() -> None:
    runtime, test, build = (
        pins(f) for f in ("requirements.lock", "requirements-test.lock", "requirements-build.lock")
    )
    assert runtime and test and build
    assert set(runtime) <= set(test)
    differ = {n: (v, test[n]) for n, v in runtime.items() if test[n] != v}
    differ |= {n: (v, test[n]) for n, v in build.items() if n in test and test[n] != v}
    assert not differ, f"the locks disagree, run `make lock`: {differ}"


def test_every_lock_entry_carries_hashes() -> None:
    for lock in ("requirements.lock", "requirements-test.lock", "requirements-build.lock"):
        text = (REPO / lock).read_text(encoding="utf-8")
        entries = [line for line in text.splitlines() if PIN.match(line)]
        assert entries, lock
        assert all(line.endswith("\\") for line in entries), f"{lock}: an entry without hashes"
