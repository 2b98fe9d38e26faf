"""tcpSocket probes: success = the TCP handshake completes within the timeout (nothing is sent)."""
from __future__ import annotations

import asyncio


async def probe_tcp(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """(success, message) for a connect to host:port."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except OSError as exc:
        reason = "connect: connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc.strerror or exc)
        return False, f"dial tcp {host}:{port}: {reason}"
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True, ""
