"""The logs/exec server against real containers: the channel protocol kubectl and the API relay speak.

Served on loopback with the real aiohttp app (`agent.server.make_app`), a pod started by the real sync
in a test node namespace (no API server).
"""
from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from agent.server import make_app
from minikube_py.client.client import wait_for
from tests.integration.agent_harness import bb, make_pod, pod_syncer, running

pytestmark = pytest.mark.integration
TOKEN = "node-token-for-tests"


@pytest.fixture
async def agent(tmp_path):
    async with pod_syncer(tmp_path, node="agprb", pod_cidr="10.201.9.0/24", index=78, node_name="mkt-prb") as a:
        yield a


async def _exec(base: str, query: list[tuple[str, str]], stdin: bytes | None = None,
                proto: str = "v5.channel.k8s.io") -> tuple[dict[int, bytes], dict]:
    out: dict[int, bytes] = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as s:
        async with s.ws_connect(f"{base}/exec/default/talk/app", params=query, protocols=(proto,)) as ws:
            assert ws.protocol == proto
            if stdin is not None:
                await ws.send_bytes(b"\x00" + stdin)
                await ws.send_bytes(b"\xff\x00")  # v5: stdin closed
            async for msg in ws:
                assert msg.type == aiohttp.WSMsgType.BINARY
                out[msg.data[0]] = out.get(msg.data[0], b"") + msg.data[1:]
    return out, json.loads(out.get(3, b"{}"))


async def test_exec_and_logs(agent):
    syncer, api, node = agent
    syncer.on_pod_add(make_pod("talk", [bb("app", "echo started-up; exec sleep 3600")]))
    await wait_for(lambda: running(api, "talk"), 30)
    server = TestServer(make_app(syncer, TOKEN), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        out, status = await _exec(base, [("command", "sh"), ("command", "-c"), ("command", "echo out; echo err >&2"),
                                         ("stdout", "1"), ("stderr", "1")])
        assert out[1] == b"out\n" and out[2] == b"err\n"
        assert status == {"metadata": {}, "status": "Success"}
        out, status = await _exec(base, [("command", "sh"), ("command", "-c"), ("command", "exit 3"),
                                         ("stdout", "1"), ("stderr", "1")], proto="v4.channel.k8s.io")
        assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
        assert status["message"] == ("command terminated with non-zero exit code: error executing command "
                                     "[sh -c exit 3], exit code 3")
        out, status = await _exec(base, [("command", "cat"), ("stdin", "1"), ("stdout", "1")], stdin=b"piped\n")
        assert out[1] == b"piped\n" and status["status"] == "Success"
        out, status = await _exec(base, [("command", "tty"), ("stdout", "1"), ("tty", "1")])
        assert out[1].startswith(b"/dev/pts/")

        async with aiohttp.ClientSession() as s:
            async with s.get(f"{base}/containerLogs/default/talk/app") as r:
                assert r.status == 401
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with s.get(f"{base}/containerLogs/default/talk/app", headers=headers) as r:
                assert r.status == 200 and (await r.text()) == "started-up\n"
            async with s.get(f"{base}/containerLogs/default/talk/app?timestamps=true&tailLines=1",
                             headers=headers) as r:
                line = await r.text()
                assert line.endswith(" started-up\n") and line[:4].isdigit()
            async with s.get(f"{base}/containerLogs/default/talk/app?previous=true", headers=headers) as r:
                assert r.status == 400 and "previous terminated container" in await r.text()
    finally:
        await server.close()


async def _attach(base: str, pod: str, query: list[tuple[str, str]],
                  send: list[bytes]) -> tuple[dict[int, bytes], dict]:
    """Attach to container `app` of *pod*, send the frames of *send*, collect what comes back per channel."""
    out: dict[int, bytes] = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as s:
        async with s.ws_connect(f"{base}/attach/default/{pod}/app", params=query,
                                protocols=("v5.channel.k8s.io",)) as ws:
            for frame in send:
                await ws.send_bytes(frame)
            async for msg in ws:
                assert msg.type == aiohttp.WSMsgType.BINARY
                out[msg.data[0]] = out.get(msg.data[0], b"") + msg.data[1:]
    return out, json.loads(out.get(3, b"{}"))


async def test_attach_stdin_once_and_tty_resize(agent):
    syncer, api, node = agent
    syncer.on_pod_add(make_pod("reader", [bb("app", "read x; echo got $x; echo bye >&2", stdin=True, stdinOnce=True)],
                               restartPolicy="Never"))
    syncer.on_pod_add(make_pod("term", [{**bb("app", "exec sh"), "stdin": True, "tty": True}],
                               restartPolicy="Never"))
    await wait_for(lambda: running(api, "reader") and running(api, "term"), 30)

    def phase(name: str) -> str | None:
        syncer.resync_all()  # no Docker event watcher in this harness: look again
        return api.status_of(name).get("phase")
    server = TestServer(make_app(syncer, TOKEN), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        # No tty: the container's own stdin, then stdin closed (stdinOnce); split stdout/stderr; the session
        # ends when the container exits, with a Success status.
        out, status = await _attach(base, "reader", [("stdin", "true"), ("stdout", "true"), ("stderr", "true")],
                                    [b"\x00hello\n", b"\xff\x00"])
        assert out[1] == b"got hello\n" and out[2] == b"bye\n"
        assert status == {"metadata": {}, "status": "Success"}
        await wait_for(lambda: phase("reader") == "Succeeded", 20)

        # A tty: raw stream (no stderr channel even when asked), resize reaches the terminal, `exit` ends it.
        out, status = await _attach(base, "term", [("stdin", "true"), ("stdout", "true"), ("stderr", "true"),
                                                   ("tty", "true")],
                                    [b'\x04{"Width":101,"Height":33}', b"\x00stty size; exit 4\n"])
        assert b"33 101" in out[1] and 2 not in out
        assert status["status"] == "Success"
        await wait_for(lambda: phase("term") == "Failed", 20)

        out, status = await _attach(base, "term", [("stdout", "true")], [])
        assert status["status"] == "Failure" and status["message"] == "container app is not running"
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{base}/attach/default/term/app") as r:
                assert r.status == 401
    finally:
        await server.close()
