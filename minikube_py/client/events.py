"""Recording Kubernetes Events (what `kubectl describe` shows under "Events:").

Why a helper: every component emits events (Scheduled, Pulled, Started, Unhealthy, ScalingReplicaSet…)
and they must look alike. Repeats of the same (object, reason, message) within a component are folded
into one Event with a growing `count`, as the real event recorder does, so a crash-looping pod does not
write hundreds of objects.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from minikube_py.client.client import ApiClient, ApiError, NotFound

log = logging.getLogger(__name__)


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, host: str | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: dict[tuple, tuple[str, str, int]] = {}  # key -> (namespace, event name, count)

    async def event(self, obj: dict, reason: str, message: str, type_: str = "Normal",
                    field_path: str | None = None) -> None:
        """Record an event about `obj`; never raises (an event is not worth failing a sync for)."""
        meta = obj.get("metadata", {})
        ns = meta.get("namespace") or "default"
        involved = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"), "name": meta.get("name"),
                    "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                    "resourceVersion": meta.get("resourceVersion")}
        if field_path:
            involved["fieldPath"] = field_path
        key = (meta.get("uid"), reason, message, type_, field_path)
        now = now_rfc3339()
        try:
            if key in self._seen:
                ev_ns, ev_name, count = self._seen[key]
                try:
                    await self.client.patch("events", ev_name, {"count": count + 1, "lastTimestamp": now},
                                            namespace=ev_ns)
                    self._seen[key] = (ev_ns, ev_name, count + 1)
                    return
                except NotFound:
                    pass
            # Kubernetes names events `<object>.<unix nanos in hex>`: unique, and sorted by time.
            name = f"{meta.get('name')}.{time.time_ns():x}"
            ev = {"apiVersion": "v1", "kind": "Event",
                  "metadata": {"name": name, "namespace": ns},
                  "involvedObject": {k: v for k, v in involved.items() if v is not None},
                  "reason": reason, "message": message, "type": type_,
                  "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                  "reportingComponent": self.component, "reportingInstance": self.host or "",
                  "firstTimestamp": now, "lastTimestamp": now, "count": 1}
            await self.client.create("events", ev, namespace=ns)
            self._seen[key] = (ns, name, 1)
            if len(self._seen) > 4096:
                self._seen.pop(next(iter(self._seen)))
        except (ApiError, OSError) as exc:
            log.debug("event %s/%s not recorded: %s", reason, meta.get("name"), exc)
