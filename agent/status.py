"""Pod status computation: what the agent observed → the `status` a real kubelet would write.

Pure: the pod sync gathers one `ContainerView` per spec container (its current and previous Docker
instance, a waiting reason if the sync decided one, and the probe results), and `compute_pod_status`
turns that into the status dict. `status_changed` decides whether it is worth a write (the kubelet's
status manager also writes only on change). Rules follow `pkg/kubelet/kubelet_pods.go`:

- container state: waiting (reason) | running (startedAt) | terminated (exitCode, reason
  Completed/Error/OOMKilled, startedAt, finishedAt); `lastState` = the previous instance's termination;
- phase (`getPhase`): any init container not done → Pending (Failed if it failed and won't restart);
  a container that never ran and is waiting → Pending; any running → Running; all stopped → Running under
  restartPolicy Always, Succeeded if all exited 0, Failed under Never, else Running (OnFailure restarts);
  but once a deleted pod's containers were stopped for good, all stopped is terminal under any policy;
- conditions: PodScheduled, Initialized, ContainersReady, Ready; `lastTransitionTime` changes only when a
  condition's status changes.
"""
from __future__ import annotations

import copy
import dataclasses

from minikube_py.api.defaults import qos_class

from agent.runtime import ContainerInfo


@dataclasses.dataclass
class ContainerView:
    name: str
    image: str
    current: ContainerInfo | None = None
    previous: ContainerInfo | None = None
    waiting_reason: str | None = None
    waiting_message: str = ""
    ready: bool = False
    started: bool = False


def terminated_state(c: ContainerInfo) -> dict:
    if c.oom_killed:
        reason = "OOMKilled"
    elif c.cannot_run:
        reason = "ContainerCannotRun"
    else:
        reason = "Completed" if c.exit_code == 0 else "Error"
    st = {"exitCode": c.exit_code, "reason": reason, "startedAt": c.started_at or None,
          "finishedAt": c.finished_at or None, "containerID": f"docker://{c.id}"}
    if c.error:
        st["message"] = c.error
    return {"terminated": {k: v for k, v in st.items() if v is not None}}


def image_id_of(c: ContainerInfo) -> str:
    return f"docker://{c.image_id}" if c.image_id else ""


def container_status(v: ContainerView) -> dict:
    cur, prev = v.current, v.previous
    last: dict = {}
    if v.waiting_reason:
        state = {"waiting": {"reason": v.waiting_reason, **({"message": v.waiting_message}
                                                             if v.waiting_message else {})}}
        if cur is not None and cur.state in ("exited", "dead"):
            last = terminated_state(cur)
        elif prev is not None:
            last = terminated_state(prev)
    elif cur is None or cur.state == "created":
        state = {"waiting": {"reason": "ContainerCreating"}}
        if prev is not None:
            last = terminated_state(prev)
    elif cur.running:
        state = {"running": {"startedAt": cur.started_at}}
        if prev is not None:
            last = terminated_state(prev)
    else:
        state = terminated_state(cur)
        if prev is not None:
            last = terminated_state(prev)
    status = {"name": v.name, "image": v.image, "imageID": image_id_of(cur) if cur else "",
              "ready": bool(v.ready and cur is not None and cur.running and not v.waiting_reason),
              "restartCount": cur.restart_count if cur else (prev.restart_count + 1 if prev else 0),
              "started": bool(cur is not None and cur.running and v.started and not v.waiting_reason),
              "state": state, "lastState": last}
    if cur is not None:
        status["containerID"] = f"docker://{cur.id}"
    return status


def _is_done_init(v: ContainerView) -> bool:
    return v.current is not None and v.current.state == "exited" and v.current.exit_code == 0 and not v.waiting_reason


def compute_phase(restart_policy: str, inits: list[ContainerView], apps: list[ContainerView],
                  previous_phase: str | None = None, pod_terminated: bool = False) -> str:
    """The kubelet's getPhase. *pod_terminated*: the pod is being deleted and its containers were stopped
    for good; then, as the kubelet does, all-stopped is terminal whatever the restart policy (Succeeded
    when every container exited 0, else Failed) instead of "Running, restarting"."""
    if previous_phase in ("Succeeded", "Failed"):
        return previous_phase  # terminal phases never change back
    for v in inits:
        if _is_done_init(v):
            continue
        c = v.current
        if c is not None and c.state == "exited" and c.exit_code != 0 and restart_policy == "Never":
            return "Failed"
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for v in apps:
        c = v.current
        if c is not None and c.running and not v.waiting_reason:
            running += 1
        elif c is not None and c.state in ("exited", "dead"):
            stopped += 1
            if c.exit_code == 0:
                succeeded += 1
        elif v.previous is not None:  # waiting after having run (CrashLoopBackOff)
            stopped += 1
        else:
            waiting += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if pod_terminated:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(old: dict[str, dict], ctype: str, ok: bool, now: str, reason: str | None = None,
               message: str | None = None) -> dict:
    status = "True" if ok else "False"
    prev = old.get(ctype)
    cond = {"type": ctype, "status": status,
            "lastTransitionTime": prev["lastTransitionTime"] if prev and prev.get("status") == status
            and prev.get("lastTransitionTime") else now,
            "lastProbeTime": None}
    if reason and not ok:
        cond["reason"] = reason
    if message and not ok:
        cond["message"] = message
    return cond


def compute_pod_status(pod: dict, inits: list[ContainerView], apps: list[ContainerView], *, pod_ip: str | None,
                       host_ip: str, now: str, start_time: str | None = None, pod_terminated: bool = False) -> dict:
    """The pod's whole `status` (a new dict; the cached pod is not touched)."""
    spec = pod.get("spec") or {}
    old = copy.deepcopy(pod.get("status") or {})
    phase = compute_phase(spec.get("restartPolicy", "Always"), inits, apps, old.get("phase"), pod_terminated)
    terminal = phase in ("Succeeded", "Failed")
    old_conds = {c["type"]: c for c in old.get("conditions") or []}
    initialized = all(_is_done_init(v) for v in inits) or terminal or (
        bool(inits) and any(v.current is not None and v.current.running for v in apps))
    init_statuses = [container_status(v) for v in inits]
    app_statuses = [container_status(v) for v in apps]
    if terminal:
        for s in app_statuses:
            s["ready"] = False
    not_ready = [s["name"] for s in app_statuses if not s["ready"]]
    containers_ready = not not_ready
    pending_inits = [v.name for v in inits if not _is_done_init(v)]
    if terminal:
        reason, msg = "PodCompleted", None
    else:
        reason, msg = "ContainersNotReady", f"containers with unready status: [{' '.join(not_ready)}]"
    conds = [
        # True while the pod has a ready sandbox (the kubelet's PodSandboxChanged): a finished pod's sandbox
        # is stopped, so `kubectl describe` of a Completed pod shows it False.
        _condition(old_conds, "PodReadyToStartContainers", pod_ip is not None, now),
        _condition(old_conds, "Initialized", initialized, now,
                   "ContainersNotInitialized",
                   f"containers with incomplete status: [{' '.join(pending_inits)}]"),
        _condition(old_conds, "Ready", containers_ready and initialized, now, reason, msg),
        _condition(old_conds, "ContainersReady", containers_ready and initialized, now, reason, msg),
        _condition(old_conds, "PodScheduled", True, now),
    ]
    if terminal and "Initialized" in old_conds and not initialized:
        conds[1] = _condition(old_conds, "Initialized", True, now)
    status: dict = {"phase": phase, "conditions": conds, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                    "startTime": old.get("startTime") or start_time or now,
                    "containerStatuses": app_statuses, "qosClass": qos_class(spec)}
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    elif old.get("podIP") and terminal:
        status["podIP"] = old["podIP"]
        status["podIPs"] = old.get("podIPs") or [{"ip": old["podIP"]}]
    for keep in ("nominatedNodeName", "reason", "message"):
        if keep in old and terminal:
            status[keep] = old[keep]
    return status


def _normalise(status: dict) -> dict:
    s = copy.deepcopy(status or {})
    s["conditions"] = sorted(s.get("conditions") or [], key=lambda c: c.get("type", ""))
    for c in s["conditions"]:
        c.pop("lastProbeTime", None)
    return s


def status_changed(old: dict | None, new: dict) -> bool:
    """True when writing *new* would change what the API holds (ignoring condition order)."""
    return _normalise(old or {}) != _normalise(new)
