"""A throw-away PostgreSQL cluster for the tests, CI and the benchmark.

``start(folder)`` runs ``initdb`` and ``pg_ctl start`` for a cluster in *folder* that
listens on a unix socket inside it only (no TCP port), and returns its connection URL;
``stop(folder)`` stops it. ``initdb`` refuses to run as root, so as root the cluster runs
as the unprivileged user ``nobody`` (the folder is handed to it). The server binaries are
found on ``PATH`` or in ``/usr/lib/postgresql/*/bin``; :func:`binaries` is ``None`` when
there are none.

As a script (``.ci/run`` uses it)::

    python tests/postgres_cluster.py start FOLDER   # prints the URL
    python tests/postgres_cluster.py stop FOLDER
    python tests/postgres_cluster.py binaries       # prints their folder, or fails
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

USER = "nobody"  # who runs the server when we are root


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or ``None``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _run(command: list[str], folder: Path) -> None:
    if os.geteuid() == 0:
        runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
        if runuser is None:
            raise RuntimeError("running as root, and runuser is missing: cannot run initdb")
        command = [runuser, "-u", USER, "--", *command]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")


def url(folder: str | os.PathLike[str]) -> str:
    """The connection URL of the cluster in *folder* (its socket is in the folder)."""
    return f"postgresql://postgres@/postgres?host={Path(folder).resolve()}"


def _tools() -> Path:
    tools = binaries()
    if tools is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    return tools


def start(folder: str | os.PathLike[str]) -> str:
    """Create and start a cluster in *folder* (made if missing); its URL."""
    where = Path(folder).resolve()
    tools = _tools()
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(where, USER)
    data = where / "data"
    _run(
        [
            str(tools / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        where,
    )
    return restart(where)


def restart(folder: str | os.PathLike[str]) -> str:
    """Start the (stopped) cluster created in *folder*; its URL."""
    where = Path(folder).resolve()
    options = (
        f"-c listen_addresses='' -c unix_socket_directories='{where}' -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
        "-c shared_buffers=64MB"
    )
    _run(
        [
            str(_tools() / "pg_ctl"),
            "-D",
            str(where / "data"),
            "-l",
            str(where / "server.log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        where,
    )
    return url(where)


def stop(folder: str | os.PathLike[str], *, mode: str = "immediate") -> None:
    """Stop the cluster in *folder*; nothing if it is not running.

    ``immediate`` (the default, for throw-away clusters) may lose the last commits, as
    ``synchronous_commit`` is off; ``fast`` writes them first.
    """
    tools = binaries()
    data = Path(folder).resolve() / "data"
    if tools is None or not (data / "postmaster.pid").exists():
        return
    _run([str(tools / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"], data.parent)


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    if action == "binaries":
        tools = binaries()
        if tools is None:
            raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl)")
        sys.stdout.write(f"{tools}\n")
    elif action == "start" and len(sys.argv) == 3:
        sys.stdout.write(start(sys.argv[2]) + "\n")
    elif action == "stop" and len(sys.argv) == 3:
        stop(sys.argv[2])
    else:
        raise SystemExit(f"usage: {sys.argv[0]} start|stop FOLDER, or binaries")
