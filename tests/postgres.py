"""A throwaway PostgreSQL server on loopback, from Debian's packages."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.moto_server import free_port


@contextlib.contextmanager
def postgres_server(password: str | None = None, database: str = "lake") -> Iterator[str]:
    """Start a server with ``database``; yields its host:port. With ``password``, the
    ``postgres`` user logs in over TCP with it only (scram-sha-256); without, TCP is trusted.
    Local socket connections (used here to create ``database``) are trusted."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.fail(
            "PostgreSQL is not installed (Debian package `postgresql`; .ci/run installs it)"
        )
    bin_dir = Path(bins[-1])
    root = Path(tempfile.mkdtemp(prefix="schemahub-pg-"))
    port = free_port()
    auth = ["--auth-local=trust", "--auth-host=trust"]
    if password is not None:
        pwfile = root / "pw"
        pwfile.write_text(password + "\n")
        auth = [f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256"]
    if os.geteuid() == 0:
        for path in (root, *root.iterdir()):
            shutil.chown(path, "postgres")

    def run(*args: str) -> None:
        # PostgreSQL refuses to run as root; CI runs as root, so drop to the packaged user.
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    data = str(root / "data")
    run(f"{bin_dir}/initdb", "-D", data, "-U", "postgres", *auth)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root}"
    run(f"{bin_dir}/pg_ctl", "-D", data, "-w", "-o", options, "-l", f"{root}/log", "start")
    try:
        run(f"{bin_dir}/createdb", "-h", str(root), "-p", str(port), "-U", "postgres", database)
        yield f"127.0.0.1:{port}"
    finally:
        run(f"{bin_dir}/pg_ctl", "-D", data, "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)
