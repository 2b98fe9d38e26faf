"""`kill -9` of the control plane during a burst of creates loses no acknowledged object, and the database
passes `PRAGMA integrity_check` afterwards."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_controlplane(state_dir: Path, port: int, log) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.controlplane", "--state-dir", str(state_dir),
                             "--port", str(port), "--no-controllers"], cwd=REPO, stdout=log, stderr=log)
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"control plane exited with {proc.returncode}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc
        except OSError:
            await asyncio.sleep(0.05)
    proc.kill()
    raise TimeoutError("control plane did not listen")


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait()


async def test_kill_9_during_creates_loses_no_acknowledged_write(tmp_path, procs):
    port = free_port()
    log = open(tmp_path / "controlplane.log", "ab")
    proc = await start_controlplane(tmp_path, port, log)
    procs.append(proc)
    token = json.loads((tmp_path / "tokens.json").read_text())["admin"]
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    url = f"https://127.0.0.1:{port}/api/v1/namespaces/default/configmaps"
    acknowledged: list[str] = []
    stop = asyncio.Event()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=0),
                                     headers={"Authorization": f"Bearer {token}"}) as s:
        async def creator(w: int) -> None:
            i = 0
            while not stop.is_set():
                name = f"w{w}-{i}"
                i += 1
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"i": str(i)}}
                try:
                    async with s.post(url, json=body) as r:
                        if r.status == 201:
                            acknowledged.append(name)
                except (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError):
                    return  # the server died under us: this create was never acknowledged

        workers = [asyncio.create_task(creator(w)) for w in range(8)]
        while len(acknowledged) < 300:
            await asyncio.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # mid-burst
        proc.wait()
        stop.set()
        await asyncio.gather(*workers)
    assert len(acknowledged) >= 300

    conn = sqlite3.connect(tmp_path / "store.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    proc = await start_controlplane(tmp_path, port, log)
    procs.append(proc)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx),
                                     headers={"Authorization": f"Bearer {token}"}) as s:
        async with s.get(url) as r:
            listing = await r.json()
    stored = {i["metadata"]["name"] for i in listing["items"]}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged creates lost: {sorted(missing)[:5]}"
    revs = [int(i["metadata"]["resourceVersion"]) for i in listing["items"]]
    assert len(set(revs)) == len(revs) and int(listing["metadata"]["resourceVersion"]) >= max(revs)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert not (tmp_path / "controlplane.pid").exists()
    conn = sqlite3.connect(tmp_path / "store.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
