"""The agent's logs/exec/attach/port-forward server: what the API server relays `kubectl logs`, `exec`,
`attach` and `port-forward` to.

Plain HTTP on `<node ip>:10250` (the node network only), every request but `/healthz` authenticated with
`Authorization: Bearer <node token>` (the API server holds it; users never reach this port directly).

- `GET /containerLogs/{ns}/{pod}/{container}?follow=&tailLines=&previous=&timestamps=&sinceSeconds=&limitBytes=`
  streams Docker's log of the current instance (or, with `previous=true`, of the one before it), chunked.
- `GET /exec/{ns}/{pod}/{container}?command=…&stdin=&stdout=&stderr=&tty=` upgrades to a WebSocket speaking
  `v5.channel.k8s.io` or `v4.channel.k8s.io` (whichever the client offers): binary frames whose first
  byte is the channel — 0 stdin, 1 stdout, 2 stderr, 3 status (a `Status` JSON at the end), 4 resize
  (`{"Width":…,"Height":…}`), and in v5 255 = "close channel N" (`FF 00`: stdin EOF). After the
  status the socket is closed (kubectl waits for that).
- `GET /attach/{ns}/{pod}/{container}?stdin=&stdout=&stderr=` speaks the same channels to the running
  container's own stdio (Docker's attach); the container's `tty` decides raw or stdout/stderr.
- `GET /portForward/{ns}/{pod}` upgrades to a WebSocket speaking `SPDY/3.1+portforward.k8s.io`: SPDY/3.1
  frames tunnelled in binary messages (agent/portforward.py), each forwarded port connected to
  localhost:<port> inside the pod sandbox's network namespace, as containerd does for the kubelet.

Docker's exec and attach are hijacked raw sockets: without a tty the output is multiplexed (8-byte headers
saying stdout or stderr), with a tty it's raw. Their blocking I/O runs in threads; the WebSocket side stays
on the event loop.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import threading
from typing import TYPE_CHECKING, Callable

from aiohttp import WSMsgType, web

from agent import portforward, spdy
from agent.sandbox import SANDBOX_CONTAINER
from minikube_py.config import LABEL_CONTAINER, LABEL_NAMESPACE, LABEL_NODE, LABEL_POD, LABEL_PROFILE

if TYPE_CHECKING:
    from agent.pods import PodSyncer

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
SYNCER = web.AppKey("syncer", object)
TOKEN = web.AppKey("token", str)


def _truthy(v: str | None) -> bool:
    return (v or "").lower() in ("1", "true", "yes")


def exec_status(exit_code: int, command: list[str]) -> dict:
    """The Status sent on channel 3 when the command ends (what kubectl turns into its exit code)."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], exit code {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


class DemuxParser:
    """Incremental parser of Docker's multiplexed stream: feed bytes, get (stream, payload) frames."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= 8:
            stream, size = self.buf[0], int.from_bytes(self.buf[4:8], "big")
            if len(self.buf) < 8 + size:
                break
            out.append((STDERR if stream == 2 else STDOUT, bytes(self.buf[8:8 + size])))
            del self.buf[:8 + size]
        return out


@web.middleware
async def auth_middleware(request: web.Request, handler):
    if request.path == "/healthz":
        return await handler(request)
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    if not token or not hmac.compare_digest(token, request.app[TOKEN]):
        return web.Response(status=401, text="Unauthorized")
    return await handler(request)


def _find_instances(syncer: "PodSyncer", ns: str, pod: str, container: str) -> list:
    infos = syncer.runtime.list_containers({LABEL_PROFILE: syncer.profile, LABEL_NODE: syncer.node_name,
                                            LABEL_NAMESPACE: ns, LABEL_POD: pod, LABEL_CONTAINER: container})
    # A pod recreated under the same name: prefer the instances of the pod the API knows now.
    uid = next((u for u, p in syncer.pods.items()
                if p["metadata"]["name"] == pod and p["metadata"].get("namespace") == ns), None)
    if uid is not None:
        mine = [c for c in infos if c.labels.get("io.minikube-py.pod-uid") == uid]
        if mine:
            infos = mine
    infos.sort(key=lambda c: (c.restart_count, c.created_at), reverse=True)
    return infos


async def container_logs(request: web.Request) -> web.StreamResponse:
    syncer: PodSyncer = request.app[SYNCER]  # type: ignore[assignment]
    ns, pod, container = (request.match_info[k] for k in ("ns", "pod", "container"))
    q = request.query
    previous = _truthy(q.get("previous"))
    infos = await asyncio.to_thread(_find_instances, syncer, ns, pod, container)
    if previous:
        if len(infos) < 2:
            return web.Response(status=400, text=f'previous terminated container "{container}" in pod "{pod}" '
                                                 f'not found')
        target = infos[1]
    else:
        if not infos:
            return web.Response(status=400, text=f'container "{container}" in pod "{pod}" is waiting to start: '
                                                 f'ContainerCreating')
        target = infos[0]
    follow = _truthy(q.get("follow")) and not previous
    kwargs: dict = {"stdout": True, "stderr": True, "timestamps": _truthy(q.get("timestamps")),
                    "follow": follow, "stream": True}
    if q.get("tailLines") not in (None, ""):
        kwargs["tail"] = max(0, int(q["tailLines"]))
    if q.get("sinceSeconds"):
        import time
        kwargs["since"] = int(time.time() - int(q["sinceSeconds"]))
    limit = int(q["limitBytes"]) if q.get("limitBytes") else None
    api = syncer.runtime.api  # type: ignore[attr-defined]
    stream = await asyncio.to_thread(api.logs, target.id, **kwargs)
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for chunk in stream:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except Exception as exc:  # noqa: BLE001 - closed by us, or the container went away
            log.debug("log stream of %s ended: %s", target.id[:12], exc)
        finally:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except RuntimeError:
                pass  # the loop is gone (agent stopping)

    threading.Thread(target=pump, name="logs", daemon=True).start()
    sent = 0
    try:
        while True:
            chunk = await queue.get()
            if chunk is None:
                break
            if limit is not None:
                chunk = chunk[:max(0, limit - sent)]
            await resp.write(chunk)
            sent += len(chunk)
            if limit is not None and sent >= limit:
                break
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        try:
            stream.close()
        except Exception:  # noqa: BLE001
            pass
    try:
        await resp.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass
    return resp


async def _stream(ws: web.WebSocketResponse, raw: socket.socket, *, tty: bool, stdin: bool, stdout: bool,
                  stderr: bool, resize: Callable[[int, int], None], hang_up: bool = False) -> None:
    """Relay between a channel-protocol WebSocket and Docker's hijacked socket until the socket's output ends.

    Stdin frames go to the socket, a v5 "close stdin" half-closes it (the process sees EOF), resize frames
    call `resize(width, height)` in a thread. With `hang_up`, the client going away also ends the session
    (attach: the container keeps running; exec keeps its process until it ends by itself).
    """
    proto = ws.ws_protocol or ""
    loop = asyncio.get_running_loop()
    out_q: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

    def reader() -> None:
        parser = None if tty else DemuxParser()
        try:
            while True:
                data = raw.recv(65536)
                if not data:
                    break
                frames = [(STDOUT, data)] if parser is None else parser.feed(data)
                for frame in frames:
                    loop.call_soon_threadsafe(out_q.put_nowait, frame)
        except OSError:
            pass
        finally:
            try:
                loop.call_soon_threadsafe(out_q.put_nowait, None)
            except RuntimeError:
                pass  # the loop is gone (agent stopping)

    threading.Thread(target=reader, name="stream-read", daemon=True).start()

    async def from_client() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel == STDIN and stdin:
                if payload:
                    await asyncio.to_thread(raw.sendall, payload)
            elif channel == RESIZE and tty:
                try:
                    size = json.loads(payload or b"{}")
                    await asyncio.to_thread(resize, int(size.get("Width", 80)), int(size.get("Height", 24)))
                except Exception as exc:  # noqa: BLE001 - a resize before the process exists
                    log.debug("resize: %s", exc)
            elif channel == CLOSE and stdin and proto.startswith("v5") and payload[:1] == bytes([STDIN]):
                try:
                    raw.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        if hang_up:
            try:
                raw.shutdown(socket.SHUT_RDWR)  # ends the reader: recv returns b""
            except OSError:
                pass

    client_task = asyncio.create_task(from_client())
    try:
        while True:
            frame = await out_q.get()
            if frame is None:
                break
            channel, data = frame
            if ((channel == STDOUT and stdout) or (channel == STDERR and stderr)) and not ws.closed:
                await ws.send_bytes(bytes([channel]) + data)
    finally:
        client_task.cancel()


async def exec_handler(request: web.Request) -> web.StreamResponse:
    syncer: PodSyncer = request.app[SYNCER]  # type: ignore[assignment]
    ns, pod, container = (request.match_info[k] for k in ("ns", "pod", "container"))
    q = request.query
    command = q.getall("command", [])
    tty, want_stdin = _truthy(q.get("tty")), _truthy(q.get("stdin") or q.get("input"))
    want_stdout = _truthy(q.get("stdout") or q.get("output") or "1")
    want_stderr = _truthy(q.get("stderr") or q.get("error")) and not tty
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=0)
    await ws.prepare(request)

    async def send(channel: int, data: bytes) -> None:
        if not ws.closed:
            await ws.send_bytes(bytes([channel]) + data)

    infos = await asyncio.to_thread(_find_instances, syncer, ns, pod, container)
    current = next((c for c in infos[:1] if c.running), None)
    if not command or current is None:
        msg = "you must specify at least one command for the container" if not command else \
            f'container {container} is not running'
        await send(ERROR, json.dumps({"metadata": {}, "status": "Failure", "message": msg,
                                      "reason": "BadRequest", "code": 400}).encode())
        await ws.close()
        return ws
    api = syncer.runtime.api  # type: ignore[attr-defined]
    try:
        ex = await asyncio.to_thread(api.exec_create, current.id, command, stdin=want_stdin, stdout=want_stdout,
                                     stderr=want_stderr, tty=tty)
        sock_io = await asyncio.to_thread(api.exec_start, ex["Id"], socket=True, tty=tty)
    except Exception as exc:  # noqa: BLE001 - e.g. the executable doesn't exist
        await send(ERROR, json.dumps({"metadata": {}, "status": "Failure", "message": str(exc),
                                      "reason": "InternalError", "code": 500}).encode())
        await ws.close()
        return ws
    raw: socket.socket = getattr(sock_io, "_sock", sock_io)

    def resize(width: int, height: int) -> None:
        api.exec_resize(ex["Id"], height=height, width=width)

    try:
        await _stream(ws, raw, tty=tty, stdin=want_stdin, stdout=want_stdout, stderr=want_stderr,
                      resize=resize)
        code = None
        for _ in range(50):  # the process may need a moment after closing its streams
            info = await asyncio.to_thread(api.exec_inspect, ex["Id"])
            if not info.get("Running"):
                code = info.get("ExitCode")
                break
            await asyncio.sleep(0.05)
        await send(ERROR, json.dumps(exec_status(int(code if code is not None else 0), command)).encode())
    finally:
        try:
            raw.close()
        except OSError:
            pass
        await ws.close()
    return ws


async def attach_handler(request: web.Request) -> web.StreamResponse:
    """`kubectl attach` / `run -i`: the running container's own stdio, over the same channels as exec.

    As the kubelet does, the container's TTY setting (not the query's) decides whether the stream is raw or
    split into stdout/stderr: it can't change after the process started. The session ends when Docker's
    attach stream ends: the container exited, or stdin was closed (Docker then ends the attach; with
    StdinOnce it closes the container's stdin instead and waits for the container to stop). Then a Success
    status on channel 3, as the kubelet sends; the exit code reaches kubectl through the pod's status.
    """
    syncer: PodSyncer = request.app[SYNCER]  # type: ignore[assignment]
    ns, pod, container = (request.match_info[k] for k in ("ns", "pod", "container"))
    q = request.query
    want_stdin = _truthy(q.get("stdin") or q.get("input"))
    want_stdout = _truthy(q.get("stdout") or q.get("output") or "1")
    want_stderr = _truthy(q.get("stderr") or q.get("error"))
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=0)
    await ws.prepare(request)

    async def fail(message: str, reason: str, code: int) -> web.WebSocketResponse:
        await ws.send_bytes(bytes([ERROR]) + json.dumps({"metadata": {}, "status": "Failure", "message": message,
                                                          "reason": reason, "code": code}).encode())
        await ws.close()
        return ws

    infos = await asyncio.to_thread(_find_instances, syncer, ns, pod, container)
    current = next((c for c in infos[:1] if c.running), None)
    if current is None:
        return await fail(f"container {container} is not running", "BadRequest", 400)
    api = syncer.runtime.api  # type: ignore[attr-defined]
    try:
        config = (await asyncio.to_thread(api.inspect_container, current.id)).get("Config") or {}
        tty = bool(config.get("Tty"))
        want_stdin = want_stdin and bool(config.get("OpenStdin"))
        sock_io = await asyncio.to_thread(api.attach_socket, current.id, params={
            "stream": 1, "stdin": int(want_stdin), "stdout": int(want_stdout), "stderr": int(want_stderr)})
    except Exception as exc:  # noqa: BLE001 - e.g. the container was just removed
        return await fail(str(exc), "InternalError", 500)
    raw: socket.socket = getattr(sock_io, "_sock", sock_io)

    def resize(width: int, height: int) -> None:
        api.resize(current.id, height=height, width=width)

    try:
        await _stream(ws, raw, tty=tty, stdin=want_stdin, stdout=want_stdout, stderr=want_stderr and not tty,
                      resize=resize, hang_up=True)
        if not ws.closed:
            await ws.send_bytes(bytes([ERROR]) + json.dumps({"metadata": {}, "status": "Success"}).encode())
    finally:
        try:
            raw.close()
        except OSError:
            pass
        await ws.close()
    return ws


async def portforward_handler(request: web.Request) -> web.StreamResponse:
    syncer: PodSyncer = request.app[SYNCER]  # type: ignore[assignment]
    ns, pod = request.match_info["ns"], request.match_info["pod"]
    ws = web.WebSocketResponse(protocols=(portforward.WS_TUNNEL_PROTOCOL,), autoping=True, max_msg_size=0)
    await ws.prepare(request)

    async def dial(port: int) -> portforward.Streams:
        infos = await asyncio.to_thread(_find_instances, syncer, ns, pod, SANDBOX_CONTAINER)
        sandbox = next((c for c in infos if c.running and c.pid), None)
        if sandbox is None:
            raise portforward.DialError(f"error forwarding port {port} to pod {ns}/{pod}, uid : "
                                        f"pod sandbox of {ns}/{pod} is not running")
        try:
            return await portforward.dial_netns(f"/proc/{sandbox.pid}/ns/net", port, sandbox.id)
        except portforward.DialError as e:  # the kubelet's wrapping of the runtime's error
            raise portforward.DialError(f"error forwarding port {port} to pod {sandbox.id}, uid : {e}") from None

    session = portforward.PortForwardSession(ws.send_bytes, dial)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await session.feed(msg.data)
                if session.closed:
                    break
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
    except spdy.SpdyError as e:
        log.info("port-forward to %s/%s: %s", ns, pod, e)
    except ConnectionResetError:
        pass
    finally:
        await session.close()
        await ws.close()
    return ws


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app(syncer: "PodSyncer", token: str) -> web.Application:
    app = web.Application(middlewares=[auth_middleware])
    app[SYNCER] = syncer
    app[TOKEN] = token
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/containerLogs/{ns}/{pod}/{container}", container_logs)
    app.router.add_get("/exec/{ns}/{pod}/{container}", exec_handler)
    app.router.add_post("/exec/{ns}/{pod}/{container}", exec_handler)
    app.router.add_get("/attach/{ns}/{pod}/{container}", attach_handler)
    app.router.add_post("/attach/{ns}/{pod}/{container}", attach_handler)
    app.router.add_get("/portForward/{ns}/{pod}", portforward_handler)
    return app


async def serve(syncer: "PodSyncer", *, host: str, port: int, token: str) -> None:
    """Serve until cancelled (bound to the node IP only, never 0.0.0.0)."""
    runner = web.AppRunner(make_app(syncer, token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    log.info("logs/exec server on http://%s:%d", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
