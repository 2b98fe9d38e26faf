"""exec probes: run argv inside the container; exit code 0 = success, past timeoutSeconds = failure."""
from __future__ import annotations

import asyncio

from agent.runtime import Runtime


async def probe_exec(runtime: Runtime, container_id: str, argv: list[str], timeout: float) -> tuple[bool, str]:
    try:
        code, output = await asyncio.to_thread(runtime.exec, container_id, argv, timeout)
    except TimeoutError:
        return False, f"command {argv!r} timed out after {timeout:g}s"
    except Exception as exc:  # noqa: BLE001 - the runtime's error is the probe's message
        return False, f"exec failed: {exc}"
    if code == 0:
        return True, ""
    text = output.decode(errors="replace").strip()
    return False, text or f"command {argv!r} exited with {code}"
