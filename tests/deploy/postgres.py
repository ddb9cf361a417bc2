"""A throwaway PostgreSQL server on loopback that wants a password (scram-sha-256) over TCP."""

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

from tests.deploy.serving import free_port


@contextlib.contextmanager
def password_postgres(password: str, database: str = "lake") -> Iterator[str]:
    """Start a server whose ``postgres`` user logs in over TCP with ``password`` only; yields the
    host:port. Local socket connections (used here to create ``database``) are trusted."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.fail(
            "PostgreSQL is not installed (Debian package `postgresql`; .ci/run installs it)"
        )
    bin_dir = Path(bins[-1])
    root = Path(tempfile.mkdtemp(prefix="schemahub-pgpw-"))
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")

    def run(*args: str) -> None:
        # PostgreSQL refuses to run as root; CI runs as root, so drop to the packaged user.
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    data = str(root / "data")
    run(f"{bin_dir}/initdb", "-D", data, "-U", "postgres", f"--pwfile={pwfile}",
        "--auth-local=trust", "--auth-host=scram-sha-256")  # fmt: skip
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root}"
    run(f"{bin_dir}/pg_ctl", "-D", data, "-w", "-o", options, "-l", f"{root}/log", "start")
    try:
        run(f"{bin_dir}/createdb", "-h", str(root), "-p", str(port), "-U", "postgres", database)
        yield f"127.0.0.1:{port}"
    finally:
        run(f"{bin_dir}/pg_ctl", "-D", data, "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)
