"""Pod sync: make the containers on this node match the pods bound to it, and report their status.

`sync_pod(uid)` is the one level-triggered function (run by `PodWorkers`, one task per pod). It re-reads
the pod from the informer cache and the pod's containers from Docker (by labels), then:

1. pod gone from the API (or never known, e.g. found at adoption) → tear everything down;
2. pod has `deletionTimestamp` → stop containers (SIGTERM, SIGKILL after the grace period), remove them
   and the sandbox, release the IP, delete the pod dir, then finish the deletion (`grace_period_seconds=0`);
3. pod in a terminal phase → stop the sandbox, keep the exited containers for `logs`;
4. otherwise: ensure the sandbox (pause + network), the volumes, then init containers in order, then the
   app containers: start missing ones, restart exited ones per restartPolicy with the CrashLoopBackOff
   backoff (10 s doubling to 300 s; reset after 10 min of running), kill those whose liveness/startup probe
   failed;
5. compute the status and write it if it changed since our last write.

What wakes it: informer events for the pod, Docker events for its containers (die/start/oom), probe
result changes, timers it set itself (backoff expiry), and a slow periodic resync as a safety net.
"""
from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any, Callable

from minikube_py.client import ApiClient, ApiError, Conflict, EventRecorder, NotFound
from minikube_py.client.events import now_rfc3339
from minikube_py.config import IMAGES, LABEL_CONTAINER, LABEL_NODE, LABEL_POD_UID, LABEL_PROFILE, LABEL_SANDBOX

from agent import containers as cspec
from agent import volumes
from agent.network import PodNetwork
from agent.prober import ProbeManager
from agent.runtime import ContainerInfo, ContainerSpec, ImageNotFound, Runtime, RuntimeFailure, parse_rfc3339
from agent.sandbox import SANDBOX_CONTAINER, container_labels, container_name, dns_settings, sandbox_spec
from agent.status import ContainerView, compute_pod_status, status_changed
from agent.workers import PodWorkers

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET_AFTER = 600.0  # a container that ran this long starts from the initial backoff again
ORPHAN_GRACE = 2


def go_duration(seconds: float) -> str:
    """Go's time.Duration formatting for whole seconds: 10s, 1m20s, 5m0s."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"


class Backoff:
    """Per-key exponential backoff, the kubelet's `flowcontrol.Backoff` (IsInBackOffSince / Next)."""

    def __init__(self, initial: float = BACKOFF_INITIAL, maximum: float = BACKOFF_MAX) -> None:
        self.initial, self.maximum = initial, maximum
        self.entries: dict[Any, float] = {}

    def in_backoff_since(self, key: Any, event_time: float, now: float) -> float:
        """Seconds left of the backoff window started at *event_time* (0 = not in backoff)."""
        delay = self.entries.get(key)
        if delay is None:
            return 0.0
        return max(0.0, event_time + delay - now)

    def current(self, key: Any) -> float:
        return self.entries.get(key, self.initial)

    def next(self, key: Any) -> None:
        delay = self.entries.get(key)
        self.entries[key] = self.initial if delay is None else min(delay * 2, self.maximum)

    def reset(self, key: Any) -> None:
        self.entries.pop(key, None)

    def forget_prefix(self, uid: str) -> None:
        for k in [k for k in self.entries if isinstance(k, tuple) and k and k[0] == uid]:
            del self.entries[k]


def backoff_key(uid: str, name: str, image: str) -> tuple[str, str, str]:
    """The crash back-off's key: pod, container and image. The kubelet keys it on the container spec's
    hash, so `kubectl set image` on a crash-looping container starts the new image at once instead of
    waiting out the old image's back-off (image is the only container field a pod update may change)."""
    return (uid, name, image)


def _ts(value: str) -> float:
    d = parse_rfc3339(value)
    return d.timestamp() if d else 0.0



def _rv(obj: dict | None) -> int:
    """An object's resourceVersion as a number (our store's global revision), 0 when absent."""
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0

class PodSyncer:
    """Owns the node's pods: the informer handlers feed `PodWorkers`, which run `sync_pod`."""

    def __init__(self, *, client: ApiClient, runtime: Runtime, network: PodNetwork, recorder: EventRecorder,
                 profile: str, node_name: str, node_ip: str, state_dir: Path, dns_service_ip: str,
                 host_resolv: str = "", get_configmap: Callable[[str, str], dict | None] = lambda ns, n: None,
                 get_secret: Callable[[str, str], dict | None] = lambda ns, n: None,
                 list_services: Callable[[str], list[dict]] = lambda ns: [],
                 pause_image: str = IMAGES["pause"]) -> None:
        self.client = client
        self.runtime = runtime
        self.network = network
        self.recorder = recorder
        self.profile = profile
        self.node_name = node_name
        self.node_ip = node_ip
        self.state_dir = state_dir
        self.dns_service_ip = dns_service_ip
        self.host_resolv = host_resolv
        self.get_configmap = get_configmap
        self.get_secret = get_secret
        self.list_services = list_services
        self.pause_image = pause_image
        self.pods: dict[str, dict] = {}  # uid -> latest pod from the informer
        self.pod_ips: dict[str, str] = {}
        self.last_status: dict[str, dict] = {}  # uid -> status we last wrote
        self.last_status_rv: dict[str, int] = {}  # uid -> the resourceVersion that write produced
        self.crash_backoff = Backoff()
        self.pull_backoff = Backoff()
        self._pull_failed_at: dict[tuple[str, str], float] = {}
        self.adopted: set[str] = set()
        self.workers = PodWorkers(self.sync_pod)
        self.prober = ProbeManager(runtime, on_change=self.workers.enqueue, on_event=self._probe_event,
                                   jitter_first=True)

    # --- informer handlers: record and enqueue, nothing else --------------------------------------
    def on_pod_add(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        self.pods[uid] = pod
        self.workers.enqueue(uid)

    def on_pod_update(self, old: dict, new: dict) -> None:
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self.on_pod_delete(old)
        self.on_pod_add(new)

    def on_pod_delete(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        self.pods.pop(uid, None)
        self.workers.enqueue(uid)

    def on_volume_source_change(self, obj: dict) -> None:
        """A ConfigMap/Secret changed: resync the pods of its namespace that use it (volumes, env)."""
        ns, name = obj["metadata"].get("namespace"), obj["metadata"]["name"]
        for uid, pod in list(self.pods.items()):
            if pod["metadata"].get("namespace") == ns and name in _referenced_sources(pod):
                self.workers.enqueue(uid)

    def resync_all(self) -> None:
        for uid in set(self.pods) | set(self.workers.uids()):
            self.workers.enqueue(uid)

    def on_runtime_event(self, uid: str) -> None:
        self.workers.enqueue(uid)

    # --- helpers -----------------------------------------------------------------------------------
    async def _rt(self, fn: Callable, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def _list(self, uid: str) -> list[ContainerInfo]:
        return await self._rt(self.runtime.list_containers,
                              {LABEL_PROFILE: self.profile, LABEL_NODE: self.node_name, LABEL_POD_UID: uid})

    async def _event(self, pod: dict, reason: str, message: str, type_: str = "Normal",
                     container: str | None = None) -> None:
        obj = {"kind": "Pod", "apiVersion": "v1", "metadata": pod["metadata"]}
        field_path = None
        if container:
            spec = pod.get("spec") or {}
            for i, c in enumerate(spec.get("containers") or []):
                if c["name"] == container:
                    field_path = f"spec.containers{{{container}}}"
            for c in spec.get("initContainers") or []:
                if c["name"] == container:
                    field_path = f"spec.initContainers{{{container}}}"
        await self.recorder.event(obj, reason, message, type_, field_path=field_path)

    async def _probe_event(self, uid: str, container: str, reason: str, message: str) -> None:
        pod = self.pods.get(uid)
        if pod is not None:
            await self._event(pod, reason, message, "Warning", container)

    @staticmethod
    def _by_name(infos: list[ContainerInfo]) -> dict[str, list[ContainerInfo]]:
        """Instances per container name, newest (highest restart count, then creation) first."""
        out: dict[str, list[ContainerInfo]] = {}
        for c in infos:
            out.setdefault(c.labels.get(LABEL_CONTAINER, ""), []).append(c)
        for lst in out.values():
            lst.sort(key=lambda c: (c.restart_count, c.created_at), reverse=True)
        return out

    # --- the sync ----------------------------------------------------------------------------------
    async def sync_pod(self, uid: str) -> bool:
        pod = self.pods.get(uid)
        infos = await self._list(uid)
        if pod is None:
            if infos or uid in self.pod_ips:
                log.info("pod %s is gone from the API: removing its containers", uid)
            await self._teardown(uid, infos, None, ORPHAN_GRACE)
            return True
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            grace = meta.get("deletionGracePeriodSeconds")
            if grace is None:
                grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            # As the kubelet (its status manager deletes only a pod whose phase is terminal): stop the
            # containers, report the final status (containers terminated, not ready, Succeeded/Failed: what
            # `kubectl get pod -w` shows as `0/1 Completed` or `Error` before the pod goes), only then
            # remove everything and finish the deletion.
            await self._stop_apps(pod, infos, int(grace))
            infos = await self._list(uid)
            await self._write_status(pod, infos, {}, pod_ip=None, pod_terminated=True)
            await self._teardown(uid, infos, pod, int(grace))
            try:
                await self.client.delete("pods", meta["name"], meta.get("namespace"), grace_period_seconds=0,
                                         preconditions={"uid": uid})
            except NotFound:
                pass
            except ApiError as exc:
                if exc.status != 409:  # 409: the uid precondition failed; a new pod of that name
                    raise
            return True
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            await self._stop_sandbox(uid, infos)
            await self._write_status(pod, infos, {}, pod_ip=None)
            return False
        waiting: dict[str, tuple[str, str]] = {}
        if uid not in self.last_status and not (pod.get("status") or {}).get("containerStatuses"):
            # The kubelet's first sync reports the pod before it makes anything (Pending, containers waiting
            # `ContainerCreating`: what `kubectl get pod -w` shows on the way to Running), and its probe
            # manager adds the pod's workers at admission, before the containers exist.
            self.prober.update_pod(pod, {}, None)
            await self._write_status(pod, infos, waiting, pod_ip=None)
        pod_ip = await self._ensure_sandbox(pod, infos)
        infos = await self._list(uid)
        if pod_ip is None:
            await self._write_status(pod, infos, waiting, pod_ip=None)
            return False
        try:
            vols = await self._rt(volumes.setup_volumes, pod, self.state_dir, self.get_configmap, self.get_secret)
        except volumes.MountError as exc:
            await self._event(pod, "FailedMount", str(exc), "Warning")
            self.workers.enqueue_after(uid, 5)
            await self._write_status(pod, infos, waiting, pod_ip=pod_ip)
            return False
        await self._sync_containers(pod, infos, vols, pod_ip, waiting)
        infos = await self._list(uid)
        await self._write_status(pod, infos, waiting, pod_ip=pod_ip)
        return False

    async def _sync_containers(self, pod: dict, infos: list[ContainerInfo], vols: dict, pod_ip: str,
                               waiting: dict[str, tuple[str, str]]) -> None:
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy", "Always")
        by_name = self._by_name(infos)
        sandbox = by_name.get(SANDBOX_CONTAINER, [None])[0]
        init_done = True
        for c in spec.get("initContainers") or []:
            insts = by_name.get(c["name"], [])
            cur = insts[0] if insts else None
            if cur is not None and cur.state == "exited" and cur.exit_code == 0:
                continue
            init_done = False
            if cur is not None and cur.running:
                break
            if cur is not None and cur.state == "exited" and policy == "Never":
                break  # a failed init container under Never: the pod fails
            await self._ensure_container(pod, c, insts, sandbox, pod_ip, vols, waiting, init=True,
                                         restart=cur is not None)
            break
        if not init_done:
            for c in spec.get("containers") or []:
                waiting[c["name"]] = ("PodInitializing", "")
            return
        # One container after the other, in spec order, as the kubelet's SyncPod starts them: the events read
        # Pulled/Created/Started app, then Pulled/Created/Started db, and the first container is up first.
        for c in spec.get("containers") or []:
            await self._sync_app_container(pod, c, by_name.get(c["name"], []), sandbox, pod_ip, vols, waiting,
                                           policy)

    async def _sync_app_container(self, pod: dict, c: dict, insts: list[ContainerInfo], sandbox: ContainerInfo,
                                  pod_ip: str, vols: dict, waiting: dict, policy: str) -> None:
        uid = pod["metadata"]["uid"]
        name = c["name"]
        cur = insts[0] if insts else None
        spec_changed = False
        if cur is not None and cur.running:
            # The kubelet restarts a running container whose spec changed (for a pod only `image` may change:
            # `kubectl set image pod/...`; restarted whatever the restart policy) or whose liveness probe
            # failed, saying which.
            failed = self.prober.liveness_failed(uid, name, cur.id)
            spec_changed = bool(cur.image and c.get("image") and cur.image != c["image"])
            if spec_changed:
                why = f"Container {name} definition changed, will be restarted"
            elif failed:
                # "will be restarted" only when the restart policy restarts a failed container.
                why = f"Container {name} failed {failed} probe" + (", will be restarted" if policy != "Never" else "")
            else:
                return
            await self._event(pod, "Killing", why, container=name)
            grace = int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
            await self._rt(self.runtime.stop, cur.id, grace)
            cur = await self._rt(self.runtime.inspect, cur.id)
            insts = [cur] + insts[1:] if cur else insts[1:]
            if cur is None:
                return
        if cur is not None and cur.state == "created":
            # Created but never started (the agent died in between): start it now.
            try:
                await self._rt(self.runtime.start, cur.id)
                await self._event(pod, "Started", f"Started container {name}", container=name)
            except RuntimeFailure as exc:
                await self._event(pod, "Failed", f"Error: {exc}", "Warning", container=name)
                waiting[name] = ("RunContainerError", str(exc))
            return
        if cur is not None and cur.state in ("exited", "dead") and not spec_changed:
            if not (policy == "Always" or (policy == "OnFailure" and cur.exit_code != 0)):
                return  # terminated for good
        await self._ensure_container(pod, c, insts, sandbox, pod_ip, vols, waiting, init=False,
                                     restart=cur is not None)

    async def _ensure_container(self, pod: dict, c: dict, insts: list[ContainerInfo], sandbox: ContainerInfo,
                                pod_ip: str, vols: dict, waiting: dict, *, init: bool, restart: bool) -> None:
        """Start a new instance of container *c* (first start or restart), honouring the backoffs."""
        meta = pod["metadata"]
        uid, name = meta["uid"], c["name"]
        cur = insts[0] if insts else None
        pod_ref = f"{meta['name']}_{meta.get('namespace', 'default')}({uid})"
        key = backoff_key(uid, name, c.get("image", ""))
        now = time.time()
        if restart and cur is not None:
            finished, started = _ts(cur.finished_at), _ts(cur.started_at)
            if started and finished and finished - started >= BACKOFF_RESET_AFTER:
                self.crash_backoff.reset(key)
            left = self.crash_backoff.in_backoff_since(key, finished or now, now)
            if left > 0:
                delay = self.crash_backoff.current(key)
                waiting[name] = ("CrashLoopBackOff",
                                 f"back-off {go_duration(delay)} restarting failed container={name} pod={pod_ref}")
                await self._event(pod, "BackOff", f"Back-off restarting failed container {name} in pod {pod_ref}",
                                  "Warning", container=name)
                self.workers.enqueue_after(uid, left + 0.05)
                return
            self.crash_backoff.next(key)
        attempt = cur.restart_count + 1 if cur is not None else 0
        image = c.get("image", "")
        if not await self._ensure_image(pod, c, waiting):
            return
        try:
            spec = await self._container_spec(pod, c, sandbox, pod_ip, vols, attempt, init)
        except (cspec.ConfigError, volumes.MountError) as exc:
            waiting[name] = ("CreateContainerConfigError", str(exc))
            await self._event(pod, "Failed", f"Error: {exc}", "Warning", container=name)
            self.workers.enqueue_after(uid, 5)
            return
        try:
            cid = await self._rt(self.runtime.create, spec)
        except RuntimeFailure as exc:
            waiting[name] = ("CreateContainerError", str(exc))
            await self._event(pod, "Failed", f"Error: {exc}", "Warning", container=name)
            self.workers.enqueue_after(uid, 5)
            return
        await self._event(pod, "Created", f"Created container: {name}", container=name)
        try:
            await self._rt(self.runtime.start, cid)
        except RuntimeFailure as exc:
            # cri-dockerd's words for a failed start; the container is left exited (ContainerCannotRun), so
            # the next sync restarts it under the restart policy, with back-off, as any dead container.
            msg = f'failed to start container "{cid}": Error response from daemon: {exc}'
            waiting[name] = ("RunContainerError", msg)
            await self._event(pod, "Failed", f"Error: {msg}", "Warning", container=name)
            return
        await self._event(pod, "Started", f"Started container {name}", container=name)
        log.info("started %s/%s container %s (attempt %d, image %s)", meta.get("namespace"), meta["name"], name,
                 attempt, image)
        # Keep the instance just replaced (for `logs --previous`); remove anything older.
        for old in insts[1:]:
            await self._rt(self.runtime.remove, old.id)

    async def _ensure_image(self, pod: dict, c: dict, waiting: dict) -> bool:
        """True when the image is on the machine; else sets ErrImagePull/ImagePullBackOff and requeues."""
        uid, name = pod["metadata"]["uid"], c["name"]
        image = c.get("image", "")
        policy = c.get("imagePullPolicy") or ("Always" if image.endswith(":latest") or ":" not in
                                              image.rsplit("/", 1)[-1] else "IfNotPresent")
        present = await self._rt(self.runtime.image_id, image)
        if present and policy != "Always":
            await self._event(pod, "Pulled", f'Container image "{image}" already present on machine',
                              container=name)
            return True
        if present and policy == "Always":
            # Our own images (built by `image bootstrap`) exist in no registry: pulling them can only fail.
            if not getattr(self.runtime, "allow_pull", True) or await self._rt(self._locally_built, image):
                await self._event(pod, "Pulled", f'Container image "{image}" already present on machine',
                                  container=name)
                return True
        # Each refusal is two events, as the kubelet records them: the image manager's own (ErrImageNeverPull,
        # BackOff, Failed to pull) and then startContainer's `Failed` / `Error: <reason>`.
        if policy == "Never" and not present:
            msg = f'Container image "{image}" is not present with pull policy of Never'
            waiting[name] = ("ErrImageNeverPull", msg)
            await self._event(pod, "ErrImageNeverPull", msg, "Warning", container=name)
            await self._event(pod, "Failed", "Error: ErrImageNeverPull", "Warning", container=name)
            return False
        key = (uid, image)
        now = time.time()
        left = self.pull_backoff.in_backoff_since(key, self._pull_failed_at.get(key, 0.0), now)
        if left > 0:
            waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            await self._event(pod, "BackOff", f'Back-off pulling image "{image}"', container=name)
            await self._event(pod, "Failed", "Error: ImagePullBackOff", "Warning", container=name)
            self.workers.enqueue_after(uid, left + 0.05)
            return False
        await self._event(pod, "Pulling", f'Pulling image "{image}"', container=name)
        t0 = time.monotonic()
        try:
            await self._rt(self.runtime.pull, image)
        except (ImageNotFound, RuntimeFailure) as exc:
            if present:
                log.warning("pull of %s failed (%s); using the local image", image, exc)
                await self._event(pod, "Pulled", f'Container image "{image}" already present on machine',
                                  container=name)
                return True
            self.pull_backoff.next(key)
            self._pull_failed_at[key] = time.time()
            waiting[name] = ("ErrImagePull", f'failed to pull image "{image}": {exc}')
            await self._event(pod, "Failed", f'Failed to pull image "{image}": {exc}', "Warning", container=name)
            await self._event(pod, "Failed", "Error: ErrImagePull", "Warning", container=name)
            self.workers.enqueue_after(uid, self.pull_backoff.current(key) + 0.05)
            return False
        self.pull_backoff.reset(key)
        await self._event(pod, "Pulled", f'Successfully pulled image "{image}" in {time.monotonic() - t0:.3f}s',
                          container=name)
        return True

    def _locally_built(self, image: str) -> bool:
        api = getattr(self.runtime, "api", None)
        if api is None:
            return False
        try:
            labels = (api.inspect_image(image).get("Config") or {}).get("Labels") or {}
        except Exception:  # noqa: BLE001
            return False
        return "io.minikube-py.built-by" in labels

    async def _container_spec(self, pod: dict, c: dict, sandbox: ContainerInfo, pod_ip: str, vols: dict,
                              attempt: int, init: bool) -> ContainerSpec:
        ns = pod["metadata"].get("namespace") or "default"
        services = self.list_services(ns) if (pod.get("spec") or {}).get("enableServiceLinks", True) else []
        env = cspec.resolve_env(pod, c, get_configmap=self.get_configmap, get_secret=self.get_secret,
                                services=services, host_ip=self.node_ip, pod_ip=pod_ip)
        entrypoint, cmd = cspec.entrypoint_and_cmd(c, env)
        sc = c.get("securityContext") or {}
        user = None
        if sc.get("runAsUser") is not None:
            user = str(sc["runAsUser"]) + (f":{sc['runAsGroup']}" if sc.get("runAsGroup") is not None else "")
        return ContainerSpec(
            name=container_name(self.profile, pod, c["name"], attempt), image=c["image"],
            labels=container_labels(self.profile, self.node_name, pod, c["name"], attempt, init=init),
            entrypoint=entrypoint, command=cmd, env=env, working_dir=c.get("workingDir"),
            binds=volumes.binds_for(c, vols), network_mode=f"container:{sandbox.id}",
            ipc_mode=f"container:{sandbox.id}", mem_limit=cspec.memory_limit(c), nano_cpus=cspec.nano_cpus(c),
            tty=bool(c.get("tty")), stdin_open=bool(c.get("stdin")),
            stdin_once=bool(c.get("stdinOnce")), privileged=bool(sc.get("privileged")),
            user=user)

    # --- sandbox -----------------------------------------------------------------------------------
    async def _ensure_sandbox(self, pod: dict, infos: list[ContainerInfo]) -> str | None:
        """The running, plumbed sandbox's pod IP; (re)creates it when missing or dead."""
        uid = pod["metadata"]["uid"]
        by_name = self._by_name(infos)
        sandboxes = by_name.get(SANDBOX_CONTAINER, [])
        sb = sandboxes[0] if sandboxes else None
        if sb is not None and sb.running and sb.pid:
            ip = self.pod_ips.get(uid) or await self.network.sandbox_ip(sb.pid)
            if ip is None:
                ip = await self.network.plumb_pod_network(uid, sb.pid)
            elif uid not in self.pod_ips:
                await self.network.adopt(uid, ip)
            self.pod_ips[uid] = ip
            return ip
        attempt = 0
        if sb is not None:
            # The sandbox died (its netns with it): every app container goes, then a new sandbox.
            await self._event(pod, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
            attempt = sb.restart_count + 1
            for c in infos:
                if c.labels.get(LABEL_CONTAINER) != SANDBOX_CONTAINER and c.running:
                    await self._rt(self.runtime.stop, c.id, 2)
            for old in sandboxes:
                await self._rt(self.runtime.remove, old.id)
            await self.network.unplumb_pod_network(uid)
            self.pod_ips.pop(uid, None)
        if not await self._rt(self.runtime.image_id, self.pause_image):
            raise RuntimeFailure(f"pause image {self.pause_image} is missing: run `minikube-py image bootstrap`")
        dns = dns_settings(pod, self.dns_service_ip, self.host_resolv)
        spec = sandbox_spec(self.profile, self.node_name, pod, dns, attempt, self.pause_image)
        sid = await self._rt(self.runtime.create, spec)
        await self._rt(self.runtime.start, sid)
        info = await self._rt(self.runtime.inspect, sid)
        if info is None or not info.pid:
            raise RuntimeFailure("pause container exited right after start")
        try:
            ip = await self.network.plumb_pod_network(uid, info.pid)
        except Exception:
            await self._rt(self.runtime.remove, sid)
            await self.network.unplumb_pod_network(uid)
            raise
        self.pod_ips[uid] = ip
        return ip

    async def _stop_sandbox(self, uid: str, infos: list[ContainerInfo]) -> None:
        running = [c for c in infos if c.running]
        for c in running:
            await self._rt(self.runtime.stop, c.id, 2)
        if uid in self.pod_ips or running:
            await self.network.unplumb_pod_network(uid)
            self.prober.remove_pod(uid)
            self.pod_ips.pop(uid, None)

    # --- teardown ----------------------------------------------------------------------------------
    async def _stop_apps(self, pod: dict, infos: list[ContainerInfo], grace: int) -> None:
        """Stop the pod's running app and init containers (SIGTERM, SIGKILL after *grace*), keeping them."""
        self.prober.remove_pod(pod["metadata"]["uid"])

        async def stop(c: ContainerInfo) -> None:
            name = c.labels.get(LABEL_CONTAINER, "")
            await self._event(pod, "Killing", f"Stopping container {name}", container=name)
            await self._rt(self.runtime.stop, c.id, grace)

        await asyncio.gather(*(stop(c) for c in infos if c.running and c.labels.get(LABEL_SANDBOX) != "true"))

    async def _teardown(self, uid: str, infos: list[ContainerInfo], pod: dict | None, grace: int) -> None:
        self.prober.remove_pod(uid)
        apps = [c for c in infos if c.labels.get(LABEL_SANDBOX) != "true"]
        sandboxes = [c for c in infos if c.labels.get(LABEL_SANDBOX) == "true"]

        async def stop(c: ContainerInfo) -> None:
            if c.running:
                if pod is not None:
                    name = c.labels.get(LABEL_CONTAINER, "")
                    await self._event(pod, "Killing", f"Stopping container {name}", container=name)
                await self._rt(self.runtime.stop, c.id, grace)
            await self._rt(self.runtime.remove, c.id)

        await asyncio.gather(*(stop(c) for c in apps))
        for c in sandboxes:
            await self._rt(self.runtime.stop, c.id, 2)
            await self._rt(self.runtime.remove, c.id)
        await self.network.unplumb_pod_network(uid)
        self.pod_ips.pop(uid, None)
        await self._rt(volumes.remove_pod_dir, self.state_dir, uid)
        self.last_status.pop(uid, None)
        self.last_status_rv.pop(uid, None)
        self.crash_backoff.forget_prefix(uid)
        self.adopted.discard(uid)

    # --- status ------------------------------------------------------------------------------------
    async def _write_status(self, pod: dict, infos: list[ContainerInfo], waiting: dict[str, tuple[str, str]],
                            pod_ip: str | None, pod_terminated: bool = False) -> None:
        uid = pod["metadata"]["uid"]
        spec = pod.get("spec") or {}
        by_name = self._by_name(infos)
        phase = (pod.get("status") or {}).get("phase")
        if pod_ip is not None and phase not in ("Succeeded", "Failed"):
            # Workers first: a container with a readiness probe must read as not ready from the start.
            current = {}
            for c in spec.get("containers") or []:
                insts = by_name.get(c["name"], [])
                if insts:
                    current[c["name"]] = (insts[0].id, insts[0].running, insts[0].started_at)
            self.prober.update_pod(pod, current, pod_ip, adopted=uid in self.adopted)

        def view(c: dict) -> ContainerView:
            insts = by_name.get(c["name"], [])
            cur = insts[0] if insts else None
            prev = insts[1] if len(insts) > 1 else None
            v = ContainerView(name=c["name"], image=c.get("image", ""), current=cur, previous=prev)
            if c["name"] in waiting:
                v.waiting_reason, v.waiting_message = waiting[c["name"]]
            if cur is not None:
                v.started = self.prober.started(uid, c["name"], cur.id)
                v.ready = self.prober.ready(uid, c["name"], cur.id)
            return v

        inits = [view(c) for c in spec.get("initContainers") or []]
        apps = [view(c) for c in spec.get("containers") or []]
        # Start from the status we last wrote, not the informer's copy: that one lags our own writes, and
        # computing from it (a fresh startTime/lastTransitionTime each time) against a baseline one write
        # ahead ping-pongs between two versions forever (the kubelet's status manager keeps its own cache).
        # But when the API's copy is newer than our last write, someone else has written since (the node
        # lifecycle controller's Ready=False after a partition): reconcile against it, as the kubelet's
        # status manager does, or the pod would stay NotReady while we believe it Ready.
        known = self.last_status.get(uid)
        if known is not None and _rv(pod) > self.last_status_rv.get(uid, 0):
            known = None
        basis = pod if known is None else {**pod, "status": known}
        status = compute_pod_status(basis, inits, apps, pod_ip=pod_ip, host_ip=self.node_ip, now=now_rfc3339(),
                                    pod_terminated=pod_terminated)
        baseline = known if known is not None else pod.get("status") or {}
        if not status_changed(baseline, status):
            return
        meta = pod["metadata"]
        # The uid makes the patch conditional, as the kubelet's PatchPodStatus does: a pod deleted and
        # created again under the same name (the guide does it all the time) never gets our old status.
        try:
            written = await self.client.patch("pods", meta["name"], {"metadata": {"uid": uid}, "status": status},
                                              meta.get("namespace"), patch_type="merge", subresource="status")
        except (NotFound, Conflict):
            return
        self.last_status[uid] = copy.deepcopy(status)
        self.last_status_rv[uid] = _rv(written)

    # --- start-up ----------------------------------------------------------------------------------
    async def adopt_existing(self) -> set[str]:
        """Find this node's containers from before a restart; enqueue their pods (nothing is restarted)."""
        infos = await self._rt(self.runtime.list_containers, {LABEL_PROFILE: self.profile, LABEL_NODE: self.node_name})
        uids = {c.labels.get(LABEL_POD_UID, "") for c in infos} - {""}
        for c in infos:
            if c.labels.get(LABEL_SANDBOX) == "true" and c.running and c.pid:
                ip = await self.network.sandbox_ip(c.pid)
                if ip:
                    uid = c.labels[LABEL_POD_UID]
                    self.pod_ips[uid] = ip
                    await self.network.adopt(uid, ip)
        await self.network.reconcile(set(self.pod_ips))
        # A crash-looping container keeps its back-off across our restart (the kubelet would forget it
        # and restart it at once): seed it from the restart count, 10 s doubling, as it would have grown.
        for c in infos:
            if c.labels.get(LABEL_SANDBOX) != "true" and not c.running and c.restart_count > 0:
                key = backoff_key(c.labels.get(LABEL_POD_UID, ""), c.labels.get(LABEL_CONTAINER, ""), c.image)
                self.crash_backoff.entries[key] = min(BACKOFF_INITIAL * 2 ** (c.restart_count - 1), BACKOFF_MAX)
        self.adopted |= uids
        log.info("adopted %d container(s) of %d pod(s)", len(infos), len(uids))
        return uids

    async def stop(self) -> None:
        await self.workers.stop()
        await self.prober.stop()


def _referenced_sources(pod: dict) -> set[str]:
    """Names of ConfigMaps and Secrets a pod uses (volumes, env, envFrom)."""
    names: set[str] = set()
    spec = pod.get("spec") or {}
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            names.add(v["configMap"].get("name", ""))
        if "secret" in v:
            names.add(v["secret"].get("secretName", ""))
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for e in c.get("env") or []:
            vf = e.get("valueFrom") or {}
            for k in ("configMapKeyRef", "secretKeyRef"):
                if k in vf:
                    names.add(vf[k].get("name", ""))
        for ef in c.get("envFrom") or []:
            for k in ("configMapRef", "secretRef"):
                if k in ef:
                    names.add(ef[k].get("name", ""))
    return names


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
