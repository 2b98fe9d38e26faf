"""One way to reach the local Docker engine.

Why a helper: this machine's daemon speaks API 1.41 (Debian's docker.io 20.10). The SDK negotiates the
version by asking the daemon; if that ever goes wrong (an SDK default newer than the daemon), we retry
pinned to 1.41 instead of failing with an obscure "client version too new".
"""
from __future__ import annotations

import docker
from docker.errors import APIError, DockerException

FALLBACK_API_VERSION = "1.41"


def docker_client() -> docker.DockerClient:
    """`docker.from_env()`, falling back to API 1.41; raises DockerException when no engine answers."""
    try:
        client = docker.from_env()
        client.ping()
        return client
    except (APIError, DockerException):
        client = docker.from_env(version=FALLBACK_API_VERSION)
        client.ping()
        return client
