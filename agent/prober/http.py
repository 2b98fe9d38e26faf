"""httpGet probes, as the kubelet does them.

- URL: scheme://host:port/path, host defaulting to the pod IP (pure `probe_url`, unit-tested);
- `User-Agent: kube-probe/1.33`, `Accept: */*`, then the probe's `httpHeaders` (they may override both,
  and a `Host` header sets the virtual host);
- HTTPS without certificate verification;
- success = status 200–399; redirects are followed only to the same host (a redirect elsewhere is
  answered by its own 3xx, which counts as success, as in Kubernetes);
- the whole exchange must finish within timeoutSeconds.
"""
from __future__ import annotations

import asyncio
from urllib.parse import urljoin, urlsplit

import aiohttp

USER_AGENT = "kube-probe/1.33"
MAX_REDIRECTS = 10


def probe_url(scheme: str, host: str, port: int, path: str) -> str:
    scheme = (scheme or "HTTP").lower()
    path = path or "/"
    if not path.startswith("/"):
        path = "/" + path
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}{path}"


def probe_headers(http_headers: list[dict] | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    for h in http_headers or []:
        name = h.get("name", "")
        # Header names are case-insensitive; a probe's header replaces our default of the same name.
        for k in [k for k in headers if k.lower() == name.lower()]:
            del headers[k]
        headers[name] = h.get("value", "")
    return headers


async def probe_http(url: str, headers: dict[str, str], timeout: float,
                     session: aiohttp.ClientSession | None = None) -> tuple[bool, str]:
    own = session is None
    if own:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False, force_close=True))
    try:
        return await asyncio.wait_for(_probe(session, url, headers), timeout)
    except asyncio.TimeoutError:
        return False, (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
                       f'headers)')
    finally:
        if own:
            await session.close()


async def _probe(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[bool, str]:
    first_host = urlsplit(url).netloc
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            async with session.get(current, headers=headers, allow_redirects=False) as resp:
                body = await resp.content.read(10 * 1024)
                location = resp.headers.get("Location")
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            err = exc.os_error
            reason = "connect: connection refused" if isinstance(err, ConnectionRefusedError) else str(
                getattr(err, "strerror", None) or err)
            return False, f'Get "{current}": dial tcp {exc.host}:{exc.port}: {reason}'
        except (aiohttp.ClientError, OSError) as exc:
            return False, f'Get "{current}": {exc}'
        if 300 <= status < 400 and location:
            nxt = urljoin(current, location)
            if urlsplit(nxt).netloc != first_host:
                return True, f"Probe terminated redirects, Response body: {body.decode(errors='replace')}"
            current = nxt
            continue
        if 200 <= status < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {status}"
    return False, f'Get "{url}": stopped after {MAX_REDIRECTS} redirects'
