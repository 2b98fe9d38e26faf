"""The container runtime boundary: a small `Runtime` protocol and its Docker implementation.

Why a protocol: the pod sync logic (what to start, when to restart, what status to report) is the part
worth testing exhaustively, and it must not need a Docker engine to test. Everything the agent asks of a
runtime goes through these few blocking methods; the agent calls them in threads (`asyncio.to_thread`).
Tests of the sync logic plug a fake in exactly here; integration tests use `DockerRuntime`.

The contract:
- Containers are found by labels only (`io.minikube-py.*`, see config.py); names are for humans.
- `list_containers` returns `ContainerInfo` snapshots (including exited ones), never live objects.
- Failures raise `RuntimeErrorX` subclasses carrying a message fit for an Event.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Extra labels the agent puts on containers besides the shared ones in config.py.
LABEL_RESTART_COUNT = "io.minikube-py.restart-count"
LABEL_INIT = "io.minikube-py.init"


class RuntimeFailure(Exception):
    """A runtime operation failed; `str(exc)` is what the Event/status message shows."""


class ImageNotFound(RuntimeFailure):
    pass


@dataclasses.dataclass
class ContainerInfo:
    """What the agent needs to know about one container instance."""

    id: str
    name: str
    image: str
    image_id: str
    labels: dict[str, str]
    state: str  # created | running | exited | dead | paused | restarting | removing
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    created_at: str = ""
    started_at: str = ""  # RFC 3339, "" when never started
    finished_at: str = ""
    pid: int = 0
    # Docker's failed start (its process never ran: `exec: "/x": no such file`): Docker leaves it "created"
    # with a non-zero exit code. cri-dockerd (minikube's runtime) reports that as exited, reason
    # ContainerCannotRun, started and finished at creation; `inspect` does the same.
    cannot_run: bool = False

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    @property
    def restart_count(self) -> int:
        try:
            return int(self.labels.get(LABEL_RESTART_COUNT, "0"))
        except ValueError:
            return 0


@dataclasses.dataclass
class ContainerSpec:
    """Everything needed to create one container (already resolved from the pod spec)."""

    name: str
    image: str
    labels: dict[str, str]
    entrypoint: list[str] | None = None
    command: list[str] | None = None
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    working_dir: str | None = None
    binds: list[str] = dataclasses.field(default_factory=list)  # "src:dst:ro|rw"
    tmpfs: dict[str, str] = dataclasses.field(default_factory=dict)
    network_mode: str = "none"
    ipc_mode: str | None = None
    pid_mode: str | None = None
    hostname: str | None = None
    dns: list[str] | None = None
    dns_search: list[str] | None = None
    dns_opt: list[str] | None = None
    extra_hosts: dict[str, str] | None = None
    mem_limit: int | None = None
    nano_cpus: int | None = None
    init: bool = False
    tty: bool = False
    stdin_open: bool = False
    stdin_once: bool = False  # Docker closes the container's stdin when the first attach session ends
    privileged: bool = False
    user: str | None = None


class Runtime(Protocol):
    """Blocking container operations. Implementations must be safe to call from several threads."""

    def version(self) -> str: ...
    def list_containers(self, labels: dict[str, str]) -> list[ContainerInfo]: ...
    def inspect(self, container_id: str) -> ContainerInfo | None: ...
    def image_id(self, image: str) -> str | None: ...
    def pull(self, image: str) -> str: ...
    def create(self, spec: ContainerSpec) -> str: ...
    def start(self, container_id: str) -> None: ...
    def stop(self, container_id: str, timeout: int) -> None: ...
    def remove(self, container_id: str) -> None: ...
    def exec(self, container_id: str, argv: list[str], timeout: float) -> tuple[int, bytes]: ...


def _docker_time(value: str | None) -> str:
    """Docker's `2024-01-01T10:00:00.123456789Z` (or the zero time) → RFC 3339 seconds, or ""."""
    if not value or value.startswith("0001-"):
        return ""
    return value.split(".")[0].rstrip("Z") + "Z"


def parse_rfc3339(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


class DockerRuntime:
    """`Runtime` over the Docker engine API (the SDK's low-level client, thread-safe per request)."""

    def __init__(self, allow_pull: bool | None = None) -> None:
        from minikube_py.images.docker_client import docker_client

        self._client = docker_client()
        self.api = self._client.api
        if allow_pull is None:
            # Machines without a registry (`start --offline`, which sets it for the node's processes, and
            # our tests, whose rules forbid traffic to addresses we did not create) set
            # MINIKUBE_PY_OFFLINE=1: a missing image then fails at once, with that reason.
            allow_pull = os.environ.get("MINIKUBE_PY_OFFLINE", "") not in ("1", "true", "yes")
        self.allow_pull = allow_pull
        self._lock = threading.Lock()

    # --- facts -------------------------------------------------------------------------------------
    def version(self) -> str:
        return str(self.api.version().get("Version", "unknown"))

    def list_containers(self, labels: dict[str, str]) -> list[ContainerInfo]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        out = []
        for c in self.api.containers(all=True, filters=filters):
            info = self.inspect(c["Id"])
            if info is not None:
                out.append(info)
        return out

    def inspect(self, container_id: str) -> ContainerInfo | None:
        import docker.errors

        try:
            a = self.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        st = a.get("State", {})
        cfg = a.get("Config", {})
        state, exit_code = st.get("Status", "unknown"), int(st.get("ExitCode") or 0)
        created = _docker_time(a.get("Created"))
        started, finished = _docker_time(st.get("StartedAt")), _docker_time(st.get("FinishedAt"))
        cannot_run = state == "created" and exit_code != 0
        if cannot_run:
            state, started, finished = "exited", created, created
        return ContainerInfo(
            id=a["Id"], name=a.get("Name", "").lstrip("/"), image=cfg.get("Image", ""),
            image_id=a.get("Image", ""), labels=cfg.get("Labels") or {}, state=state,
            exit_code=exit_code, oom_killed=bool(st.get("OOMKilled")),
            error=st.get("Error") or "", created_at=created, started_at=started, finished_at=finished,
            pid=int(st.get("Pid") or 0), cannot_run=cannot_run)

    def image_id(self, image: str) -> str | None:
        import docker.errors

        try:
            return self.api.inspect_image(image)["Id"]
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code == 404:
                return None
            raise

    def pull(self, image: str) -> str:
        """Pull `image`; returns its id. Raises ImageNotFound with Docker's reason."""
        import docker.errors

        if not self.allow_pull:
            raise ImageNotFound("image not present on this machine and pulling is disabled "
                                "(an --offline cluster asks no registry)")
        repo, tag = _split_image(image)
        try:
            self.api.pull(repo, tag=tag)
        except docker.errors.APIError as exc:
            raise ImageNotFound(str(exc.explanation or exc)) from exc
        except Exception as exc:  # noqa: BLE001 - connection errors from the registry side
            raise ImageNotFound(str(exc)) from exc
        found = self.image_id(image)
        if not found:
            raise ImageNotFound("pulled but not found locally")
        return found

    # --- lifecycle ---------------------------------------------------------------------------------
    def create(self, spec: ContainerSpec) -> str:
        import docker.errors
        import docker.utils

        host_config = self.api.create_host_config(
            binds=spec.binds or None, tmpfs=spec.tmpfs or None, network_mode=spec.network_mode,
            ipc_mode=spec.ipc_mode, pid_mode=spec.pid_mode, dns=spec.dns, dns_search=spec.dns_search,
            dns_opt=spec.dns_opt, extra_hosts=spec.extra_hosts, mem_limit=spec.mem_limit,
            nano_cpus=spec.nano_cpus, init=spec.init or None, privileged=spec.privileged)
        env = docker.utils.format_environment(spec.env) if spec.env else None
        proxies = getattr(self.api, "_proxy_configs", None)  # what create_container's use_config_proxy adds
        if proxies is not None:
            env = proxies.inject_proxy_environment(env) or None
        kwargs: dict[str, Any] = dict(
            image=spec.image, command=spec.command, labels=spec.labels, environment=env,
            working_dir=spec.working_dir or None, host_config=host_config, hostname=spec.hostname,
            tty=spec.tty, stdin_open=spec.stdin_open, user=spec.user, detach=True)
        if spec.entrypoint is not None:
            kwargs["entrypoint"] = spec.entrypoint
        # create_container's two steps, so that StdinOnce can be set: docker-py ties it to a non-detached
        # run, a pod sets it with `stdinOnce` (the first attach session's end closes the container's stdin).
        config = self.api.create_container_config(**kwargs)
        config["StdinOnce"] = bool(spec.stdin_open and spec.stdin_once)
        try:
            return self.api.create_container_from_config(config, spec.name)["Id"]
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # a leftover with our name (e.g. a crash between create and label read)
                try:
                    self.api.remove_container(spec.name, force=True)
                except docker.errors.APIError:
                    pass
                return self.api.create_container_from_config(config, spec.name)["Id"]
            raise RuntimeFailure(str(exc.explanation or exc)) from exc

    def start(self, container_id: str) -> None:
        import docker.errors

        try:
            self.api.start(container_id)
        except docker.errors.APIError as exc:
            raise RuntimeFailure(str(exc.explanation or exc)) from exc

    def stop(self, container_id: str, timeout: int) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds (Docker's stop does exactly that)."""
        import docker.errors

        try:
            self.api.stop(container_id, timeout=max(0, int(timeout)))
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code not in (304, 404):
                raise RuntimeFailure(str(exc.explanation or exc)) from exc

    def remove(self, container_id: str) -> None:
        import docker.errors

        try:
            self.api.remove_container(container_id, force=True, v=False)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc):
                return
            if exc.status_code != 404:
                raise RuntimeFailure(str(exc.explanation or exc)) from exc

    def exec(self, container_id: str, argv: list[str], timeout: float) -> tuple[int, bytes]:
        """Run `argv` in the container; `(exit code, combined output)`. Raises TimeoutError past `timeout`.

        A raw socket with a deadline instead of `exec_run`, because `exec_run` blocks until the command
        ends: a probe that hangs must count as a failure after timeoutSeconds, not stall the prober.
        """
        ex = self.api.exec_create(container_id, argv, stdout=True, stderr=True)
        sock = self.api.exec_start(ex["Id"], socket=True)
        raw = getattr(sock, "_sock", sock)
        raw.settimeout(timeout)
        out = bytearray()
        deadline = _monotonic() + timeout
        try:
            while True:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"command timed out after {timeout}s")
                raw.settimeout(remaining)
                try:
                    chunk = raw.recv(65536)
                except socket.timeout as exc:
                    raise TimeoutError(f"command timed out after {timeout}s") from exc
                if not chunk:
                    break
                out += chunk
        finally:
            try:
                raw.close()
            except OSError:
                pass
        code = self.api.exec_inspect(ex["Id"]).get("ExitCode")
        return (int(code) if code is not None else -1), demux_docker_stream(bytes(out))[0]


def _monotonic() -> float:
    import time

    return time.monotonic()


def _split_image(image: str) -> tuple[str, str]:
    """`repo[:tag][@digest]` → (repo, tag); a `:` after the last `/` is a tag, not a registry port."""
    if "@" in image:
        return image, ""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1:]
    return image, "latest"


def demux_docker_stream(data: bytes) -> tuple[bytes, bytes, bytes]:
    """Split Docker's multiplexed stream (8-byte headers: stream, 0, 0, 0, size BE32) into
    (all, stdout, stderr). Data without valid headers (a tty stream) is returned as is."""
    out, err, both = bytearray(), bytearray(), bytearray()
    i = 0
    while i + 8 <= len(data):
        stream, size = data[i], int.from_bytes(data[i + 4:i + 8], "big")
        if stream not in (0, 1, 2) or data[i + 1:i + 4] != b"\0\0\0":
            return data, data, b""
        chunk = data[i + 8:i + 8 + size]
        both += chunk
        (err if stream == 2 else out).extend(chunk)
        i += 8 + size
    if i != len(data):
        return data, data, b""
    return bytes(both), bytes(out), bytes(err)
