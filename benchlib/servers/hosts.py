"""Where a profile's model server runs: a Docker host (the local engine, a Docker context or a DOCKER_HOST
URL such as ssh://user@gpu2), with its lock, its address and the record of the container benchlib
started there.

One model server per host at a time: each host has its own lock file beside BENCH_SERVER_LOCK (the local
engine and `native` processes share the machine-wide one), so `doit -n K` keeps up to K hosts busy and
never starts two servers on one host. While it holds a host's lock, benchlib records the container it
starts there; a record found by the next holder means the run that wrote it was killed (kill -9, a
reboot of this machine), so that container is ours to remove, while any other llama-server container on
the host is somebody else's and is left alone.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ServerError
from ..storage import atomic_write_json, read_json

__all__ = ["LOCAL", "DockerHost", "lock_file", "host_label"]

LOCAL = "local"  # the label of this machine (the local Docker engine, native processes)
CHECK_TIMEOUT = 30.0  # seconds `docker info` may take (an ssh:// host opens a connection first)


def host_label(host: str) -> str:
    return host or LOCAL


def lock_file(machine_lock: str | Path, host: str) -> Path:
    """The lock of one host: the machine-wide lock for this machine, a sibling file for any other host."""
    machine_lock = Path(machine_lock)
    if not host or host == LOCAL:
        return machine_lock
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", host).strip("_")[:60]
    return machine_lock.with_name(f"{machine_lock.stem}@{slug}{machine_lock.suffix or '.lock'}")


@dataclass(frozen=True)
class DockerHost:
    """A Docker engine: "" is the one the docker CLI uses by default, a name with "://" a DOCKER_HOST URL
    (unix://, tcp://, ssh://), anything else a Docker context (`docker context ls`)."""

    spec: str = ""

    @property
    def label(self) -> str:
        return host_label(self.spec)

    @property
    def is_url(self) -> bool:
        return "://" in self.spec

    def flags(self) -> list[str]:
        """The docker CLI's global flags that select this engine."""
        if not self.spec:
            return []
        return ["-H", self.spec] if self.is_url else ["--context", self.spec]

    def docker(self, *args: str) -> list[str]:
        return ["docker", *self.flags(), *args]

    def compose(self, base: list[str]) -> list[str]:
        """A compose command line aimed at this engine: `docker <flags> compose` (v2, a CLI plugin) or
        `docker-compose <flags>` (v1, which takes -H and --context too)."""
        if not self.spec:
            return list(base)
        if len(base) > 1 and Path(base[0]).name == "docker" and base[1] == "compose":
            return [base[0], *self.flags(), *base[1:]]
        if self.is_url:
            return [*base, "-H", self.spec]
        endpoint = self.endpoint()  # v1 reads contexts only where a config.json exists: give it the URL
        return [*base, "-H", endpoint] if endpoint and not self._context_uses_tls() else [*base, *self.flags()]

    def check_command(self) -> str:
        return shlex.join(self.docker("info"))

    def check(self, timeout: float = CHECK_TIMEOUT) -> str:
        """The engine's version; a ServerError naming the host, what failed and how to check, if it does
        not answer."""
        try:
            done = subprocess.run(self.docker("info", "--format", "{{.ServerVersion}}"), capture_output=True,
                                  text=True, timeout=timeout)
        except FileNotFoundError:
            raise ServerError("docker is not installed on this machine",
                              "install the Docker CLI (Debian: apt-get install docker.io)") from None
        except subprocess.TimeoutExpired:
            raise ServerError(f"Docker host {self.label} did not answer within {timeout:.0f} s",
                              f"check it with: {self.check_command()}") from None
        version = done.stdout.strip()
        if done.returncode != 0 or not version or version.startswith("<no value>"):
            lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            reason = lines[-1] if lines else f"docker info exited with code {done.returncode}"
            raise ServerError(f"Docker host {self.label} is not reachable: {reason}",
                              f"check it with: {self.check_command()}")
        return version

    def endpoint(self) -> str:
        """The engine's URL: the spec itself, a context's endpoint, or "" for the default engine."""
        return self._context()[0] if self.spec and not self.is_url else self.spec

    def _context_uses_tls(self) -> bool:
        return self._context()[1]

    @functools.cache
    def _context(self) -> tuple[str, bool]:
        """(endpoint URL, whether it has TLS material) of the context: one `docker context inspect`."""
        done = subprocess.run(["docker", "context", "inspect", self.spec, "--format",
                               "{{.Endpoints.docker.Host}} {{json .TLSMaterial}}"],
                              capture_output=True, text=True, timeout=CHECK_TIMEOUT)
        if done.returncode != 0:
            raise ServerError(f"Docker context {self.spec} not found: {done.stderr.strip()[-300:]}",
                              "create it (docker context create NAME --docker host=ssh://user@box) or fix `host` "
                              "in models.conf")
        endpoint, _, tls = done.stdout.strip().partition(" ")
        return endpoint, tls.strip() not in ("", "null", "{}")

    def address(self) -> str:
        """The name a server published on this host answers at: 127.0.0.1 for a local engine (unix socket,
        default), else the host name of its tcp:// or ssh:// URL."""
        endpoint = self.endpoint()
        parts = urlsplit(endpoint)
        if not endpoint or parts.scheme in ("unix", "npipe", "fd") or not parts.hostname:
            return "127.0.0.1"
        return f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname

    # -- the record of the container benchlib started on this host ----------------------------------

    def container(self, name: str) -> dict:
        """{"id", "created", "status", "exit_code"} of the container `name` on this host, {} if there is none."""
        done = subprocess.run(self.docker("inspect", "-f", "{{.Id}} {{.Created}} {{.State.Status}} {{.State.ExitCode}}",
                                          name), capture_output=True, text=True, timeout=CHECK_TIMEOUT)
        if done.returncode != 0 or not done.stdout.strip():
            return {}
        container_id, created, status, code = (done.stdout.split() + ["", "", "", ""])[:4]
        return {"id": container_id, "created": created, "status": status, "exit_code": code}


def record_file(lock: Path) -> Path:
    """Where the holder of a host's lock records the container it started there."""
    return lock.with_name(lock.name + ".container.json")


def write_record(lock: Path, record: dict) -> None:
    atomic_write_json(record_file(lock), record)


def read_record(lock: Path) -> dict:
    try:
        record = read_json(record_file(lock))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def clear_record(lock: Path) -> None:
    record_file(lock).unlink(missing_ok=True)
