"""The pod sync's decisions with a fake runtime at the `Runtime` boundary (no Docker, no network).

Scenarios: first start, CrashLoopBackOff timing and message, restart policies and phases, init
containers, missing images, deletion, orphans, pruning of old instances.
"""
from __future__ import annotations

import copy
import datetime as dt
import itertools
import uuid
from pathlib import Path

import pytest

from agent.pods import PodSyncer
from agent.runtime import ContainerInfo, ContainerSpec, ImageNotFound, RuntimeFailure
from agent.status import ContainerView, compute_phase
from agent.testing import FakeApi
from minikube_py.client import EventRecorder

_counter = itertools.count()


def _now(offset: float = 0) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeRuntime:
    allow_pull = False

    def __init__(self, images: set[str]) -> None:
        self.images = set(images)
        self.containers: dict[str, ContainerInfo] = {}
        self.specs: dict[str, ContainerSpec] = {}

    def version(self) -> str:
        return "fake"

    def list_containers(self, labels: dict[str, str]) -> list[ContainerInfo]:
        return [c for c in self.containers.values() if all(c.labels.get(k) == v for k, v in labels.items())]

    def inspect(self, cid: str) -> ContainerInfo | None:
        return self.containers.get(cid)

    def image_id(self, image: str) -> str | None:
        return f"sha256:{abs(hash(image)):x}" if image in self.images else None

    def pull(self, image: str) -> str:
        raise ImageNotFound("pull access denied, repository does not exist")

    def create(self, spec: ContainerSpec) -> str:
        cid = uuid.uuid4().hex
        self.containers[cid] = ContainerInfo(id=cid, name=spec.name, image=spec.image, image_id="sha256:x",
                                             labels=dict(spec.labels), state="created",
                                             created_at=f"{next(_counter):08d}")
        self.specs[cid] = spec
        return cid

    def start(self, cid: str) -> None:
        c = self.containers[cid]
        c.state, c.started_at, c.pid = "running", _now(), 4242

    def stop(self, cid: str, timeout: int) -> None:
        c = self.containers.get(cid)
        if c is not None and c.state == "running":
            c.state, c.exit_code, c.finished_at = "exited", 143, _now()

    def remove(self, cid: str) -> None:
        self.containers.pop(cid, None)

    def exec(self, cid: str, argv: list[str], timeout: float) -> tuple[int, bytes]:
        return 0, b""

    # test helpers
    def app(self, name: str) -> list[ContainerInfo]:
        return sorted((c for c in self.containers.values() if c.labels.get("io.minikube-py.container") == name),
                      key=lambda c: c.restart_count, reverse=True)

    def die(self, cid: str, code: int, ago: float = 0) -> None:
        c = self.containers[cid]
        c.state, c.exit_code, c.finished_at = "exited", code, _now(-ago)


class FakeNetwork:
    def __init__(self) -> None:
        self.plumbed: dict[str, str] = {}

    async def plumb_pod_network(self, uid: str, pid: int) -> str:
        self.plumbed[uid] = f"10.244.0.{len(self.plumbed) + 2}"
        return self.plumbed[uid]

    async def unplumb_pod_network(self, uid: str) -> None:
        self.plumbed.pop(uid, None)

    async def sandbox_ip(self, pid: int) -> str | None:
        return None

    async def adopt(self, uid: str, ip: str) -> None: ...
    async def reconcile(self, uids: set[str]) -> None: ...


IMAGES = {"minikube-py/pause:3.9", "app:1", "app:2", "init:1"}


@pytest.fixture
async def env(tmp_path: Path):
    api, rt, net = FakeApi(), FakeRuntime(IMAGES), FakeNetwork()
    syncer = PodSyncer(client=api, runtime=rt, network=net, recorder=EventRecorder(api, "kubelet", "n1"),  # type: ignore[arg-type]
                       profile="mkt-unit", node_name="n1", node_ip="192.168.49.2", state_dir=tmp_path,
                       dns_service_ip="10.96.0.10")
    yield syncer, api, rt
    await syncer.stop()


def pod(restart: str = "Always", image: str = "app:1", init: bool = False) -> dict:
    spec: dict = {"restartPolicy": restart, "nodeName": "n1", "terminationGracePeriodSeconds": 1,
                  "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"}]}
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "init:1", "imagePullPolicy": "IfNotPresent"}]
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec, "status": {"phase": "Pending"},
            "metadata": {"name": "x", "namespace": "default", "uid": str(uuid.uuid4())}}


async def sync(syncer: PodSyncer, api: FakeApi, p: dict) -> dict:
    """One sync, as the worker would run it, with the API's view updated from what we wrote."""
    syncer.pods[p["metadata"]["uid"]] = p
    await syncer.sync_pod(p["metadata"]["uid"])
    p["status"] = api.status_of("x") or p["status"]
    return p["status"]


def app_status(st: dict, init: bool = False) -> dict:
    return st["initContainerStatuses" if init else "containerStatuses"][0]


async def test_first_sync_starts_sandbox_and_app_and_reports_running(env):
    syncer, api, rt = env
    p = pod()
    st = await sync(syncer, api, p)
    assert st["phase"] == "Running" and st["podIP"] == "10.244.0.2" and st["hostIP"] == "192.168.49.2"
    cs = app_status(st)
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and "running" in cs["state"]
    sandbox = next(c for c in rt.containers.values() if c.labels.get("io.minikube-py.sandbox") == "true")
    app = rt.app("app")[0]
    assert rt.specs[app.id].network_mode == f"container:{sandbox.id}"
    assert rt.specs[sandbox.id].dns == ["10.96.0.10"] and rt.specs[sandbox.id].dns_opt == ["ndots:5"]
    assert api.reasons("x") == ["Pulled", "Created", "Started"]
    assert 'Container image "app:1" already present on machine' in api.messages("x")
    writes = api.status_writes
    await sync(syncer, api, p)  # nothing changed: no second write
    assert api.status_writes == writes


async def test_first_status_is_container_creating_before_anything_is_made(env):
    """The kubelet reports Pending/ContainerCreating before it creates the sandbox, so `kubectl get pod -w`
    shows `0/1 ContainerCreating` between `Pending` and `Running`."""
    syncer, api, rt = env
    await sync(syncer, api, pod())
    first, last = api.status_history[0], api.status_history[-1]
    assert first["phase"] == "Pending" and "podIP" not in first
    assert app_status(first)["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert {c["type"]: c["status"] for c in first["conditions"]}["PodReadyToStartContainers"] == "False"
    assert last["phase"] == "Running" and "running" in app_status(last)["state"]


async def test_a_stale_informer_copy_causes_no_status_write(env, monkeypatch):
    """The informer's pod lags our own writes (it may still show the first, ContainerCreating status). The
    status is computed from what we last wrote, so a sync seeing the stale copy a second later writes
    nothing; computing from the stale copy wrote a new startTime/lastTransitionTime, whose watch event
    made the next sync write the other version back: an endless MODIFIED storm in `kubectl get pod -w`."""
    import agent.pods as pods_mod
    syncer, api, rt = env
    p = pod()
    await sync(syncer, api, p)
    writes = api.status_writes
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    monkeypatch.setattr(pods_mod, "now_rfc3339", lambda: later)
    p["status"] = api.status_history[0]  # the cache still holds our first write
    syncer.pods[p["metadata"]["uid"]] = p
    await syncer.sync_pod(p["metadata"]["uid"])
    assert api.status_writes == writes


async def test_a_newer_status_written_by_someone_else_is_reconciled(env):
    """The node lifecycle controller marks a partitioned node's pods Ready=False. When the agent (which
    kept running) syncs a copy *newer* than its own last write, it writes the truth back, as the kubelet's
    status manager does; otherwise the pod would stay out of its Service's endpoints for good."""
    syncer, api, rt = env
    p = pod()
    await sync(syncer, api, p)
    writes = api.status_writes
    marked = copy.deepcopy(p)
    marked["metadata"]["resourceVersion"] = str(api.revision + 5)   # written after our last write
    for c in marked["status"]["conditions"]:
        if c["type"] == "Ready":
            c["status"] = "False"
    syncer.pods[p["metadata"]["uid"]] = marked
    await syncer.sync_pod(p["metadata"]["uid"])
    assert api.status_writes == writes + 1
    assert {c["type"]: c["status"] for c in api.status_of("x")["conditions"]}["Ready"] == "True"


async def test_liveness_first_probes_a_period_after_admission_not_at_container_start(env):
    """Probe workers are added before the containers exist (the kubelet's AddPod): a fresh container is not
    probed the instant it starts (an app still binding its port would log `Liveness probe failed`)."""
    import asyncio
    syncer, api, rt = env
    execs: list[list[str]] = []
    rt.exec = lambda cid, argv, timeout: (execs.append(argv), (0, b""))[1]
    p = pod()
    p["spec"]["containers"][0]["livenessProbe"] = {"exec": {"command": ["probe"]}, "periodSeconds": 10,
                                                  "initialDelaySeconds": 0, "failureThreshold": 3}
    await sync(syncer, api, p)
    assert "running" in app_status(p["status"])["state"]
    await asyncio.sleep(0.3)
    assert execs == []
    assert ("Unhealthy" not in api.reasons("x"))


async def test_crash_loop_backoff_message_and_timing(env):
    syncer, api, rt = env
    p = pod()
    await sync(syncer, api, p)
    rt.die(rt.app("app")[0].id, 1)
    st = await sync(syncer, api, p)  # the first restart is immediate
    assert app_status(st)["restartCount"] == 1 and "running" in app_status(st)["state"]
    assert app_status(st)["lastState"]["terminated"]["reason"] == "Error"
    rt.die(rt.app("app")[0].id, 1)
    st = await sync(syncer, api, p)  # then 10 s of back-off
    cs = app_status(st)
    uid = p["metadata"]["uid"]
    assert cs["state"]["waiting"] == {
        "reason": "CrashLoopBackOff",
        "message": f"back-off 10s restarting failed container=app pod=x_default({uid})"}
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["exitCode"] == 1
    assert st["phase"] == "Running" and not cs["ready"]
    assert f"Back-off restarting failed container app in pod x_default({uid})" in api.messages("x")
    rt.die(rt.app("app")[0].id, 1, ago=11)  # the back-off has passed
    st = await sync(syncer, api, p)
    assert app_status(st)["restartCount"] == 2 and "running" in app_status(st)["state"]
    rt.die(rt.app("app")[0].id, 1, ago=11)  # 11 s < the next back-off of 20 s
    st = await sync(syncer, api, p)
    assert "back-off 20s" in app_status(st)["state"]["waiting"]["message"]
    assert len(rt.app("app")) == 2  # only the current and the previous instance are kept


@pytest.mark.parametrize("policy,code,phase,restarted", [
    ("Never", 0, "Succeeded", False),
    ("Never", 1, "Failed", False),
    ("OnFailure", 0, "Succeeded", False),
    ("OnFailure", 1, "Running", True),
    ("Always", 0, "Running", True),
], ids=["never-ok", "never-fail", "onfailure-ok", "onfailure-fail", "always-ok"])
async def test_restart_policies(env, policy, code, phase, restarted):
    syncer, api, rt = env
    p = pod(restart=policy)
    await sync(syncer, api, p)
    rt.die(rt.app("app")[0].id, code)
    st = await sync(syncer, api, p)
    assert st["phase"] == phase
    assert (app_status(st)["restartCount"] == 1) == restarted
    if not restarted:
        term = app_status(st)["state"]["terminated"]
        assert term["exitCode"] == code and term["reason"] == ("Completed" if code == 0 else "Error")
        # Finished: the sandbox is stopped, so the pod is no longer ready to start containers (kubelet's
        # PodSandboxChanged), as `kubectl describe` of a Completed pod shows.
        st = await sync(syncer, api, p)
        conds = {c["type"]: c["status"] for c in st["conditions"]}
        assert conds["PodReadyToStartContainers"] == "False" and conds["Ready"] == "False"


async def test_init_containers_run_first(env):
    syncer, api, rt = env
    p = pod(init=True)
    st = await sync(syncer, api, p)
    assert st["phase"] == "Pending" and rt.app("app") == []
    assert app_status(st)["state"]["waiting"]["reason"] == "PodInitializing"
    assert {c["type"]: c["status"] for c in st["conditions"]}["Initialized"] == "False"
    rt.die(rt.app("setup")[0].id, 0)
    st = await sync(syncer, api, p)
    assert st["phase"] == "Running" and "running" in app_status(st)["state"]
    assert app_status(st, init=True)["state"]["terminated"]["reason"] == "Completed"
    assert {c["type"]: c["status"] for c in st["conditions"]}["Initialized"] == "True"


async def test_missing_image_err_image_pull_then_backoff(env):
    syncer, api, rt = env
    p = pod(image="does-not-exist:1")
    st = await sync(syncer, api, p)
    w = app_status(st)["state"]["waiting"]
    assert w["reason"] == "ErrImagePull" and st["phase"] == "Pending"
    assert ('Failed to pull image "does-not-exist:1": pull access denied, repository does not exist'
            in api.messages("x"))
    st = await sync(syncer, api, p)
    assert app_status(st)["state"]["waiting"] == {"reason": "ImagePullBackOff",
                                                  "message": 'Back-off pulling image "does-not-exist:1"'}
    # The kubelet's pair for a refused pull: Normal BackOff, then Warning Failed "Error: ImagePullBackOff".
    backoff = [(e["type"], e["reason"], e["message"]) for e in api.events][-2:]
    assert backoff == [("Normal", "BackOff", 'Back-off pulling image "does-not-exist:1"'),
                       ("Warning", "Failed", "Error: ImagePullBackOff")]


async def test_never_pull_of_a_missing_image(env):
    """pull policy Never and no image: the image manager's Warning ErrImageNeverPull, then startContainer's
    Warning Failed "Error: ErrImageNeverPull", and the container waits with reason ErrImageNeverPull."""
    syncer, api, rt = env
    p = pod(image="does-not-exist:1")
    p["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    st = await sync(syncer, api, p)
    msg = 'Container image "does-not-exist:1" is not present with pull policy of Never'
    assert app_status(st)["state"]["waiting"] == {"reason": "ErrImageNeverPull", "message": msg}
    assert [(e["type"], e["reason"], e["message"]) for e in api.events] == [
        ("Warning", "ErrImageNeverPull", msg), ("Warning", "Failed", "Error: ErrImageNeverPull")]


async def test_deletion_stops_everything_and_finishes_the_delete(env):
    syncer, api, rt = env
    p = pod()
    await sync(syncer, api, p)
    p["metadata"]["deletionTimestamp"] = _now()
    p["metadata"]["deletionGracePeriodSeconds"] = 1
    syncer.pods[p["metadata"]["uid"]] = p
    assert await syncer.sync_pod(p["metadata"]["uid"]) is True
    assert rt.containers == {}
    assert ("pods", "default", "x") in api.deleted
    assert "Stopping container app" in api.messages("x")
    # Before the final delete the kubelet reports what it stopped: the container terminated (143: the fake
    # runtime's SIGTERM death), not ready, and the pod terminal (Failed: not every container exited 0).
    last = api.status_history[-1]
    assert last["phase"] == "Failed"
    cs = last["containerStatuses"][0]
    assert not cs["ready"] and cs["state"]["terminated"]["exitCode"] == 143
    assert {c["type"]: c["status"] for c in last["conditions"]}["Ready"] == "False"


async def test_orphans_are_removed(env):
    syncer, api, rt = env
    p = pod()
    await sync(syncer, api, p)
    uid = p["metadata"]["uid"]
    del syncer.pods[uid]
    assert await syncer.sync_pod(uid) is True
    assert rt.containers == {} and api.deleted == []


async def test_sandbox_death_recreates_the_pod(env):
    syncer, api, rt = env
    p = pod()
    await sync(syncer, api, p)
    sandbox = next(c for c in rt.containers.values() if c.labels.get("io.minikube-py.sandbox") == "true")
    rt.die(sandbox.id, 137)
    st = await sync(syncer, api, p)
    assert "SandboxChanged" in api.reasons("x")
    assert app_status(st)["restartCount"] == 1 and "running" in app_status(st)["state"]


@pytest.mark.parametrize("exit_code,phase", [(0, "Succeeded"), (137, "Failed")])
def test_a_deleted_pods_stopped_containers_make_it_terminal_under_always(exit_code, phase):
    """getPhase with podIsTerminal: restartPolicy Always no longer means "Running, restarting"."""
    c = ContainerInfo(id="c", name="app", image="i", image_id="x", labels={}, state="exited", exit_code=exit_code)
    apps = [ContainerView(name="app", image="i", current=c)]
    assert compute_phase("Always", [], apps) == "Running"
    assert compute_phase("Always", [], apps, pod_terminated=True) == phase


@pytest.mark.parametrize("policy", ["Always", "Never"])
async def test_a_changed_image_restarts_the_running_container(env, policy):
    """`kubectl set image pod/x app=app:2`: the kubelet kills the running container ("definition changed")
    and starts one from the new image, whatever the restart policy; the restart count goes up."""
    syncer, api, rt = env
    p = pod(restart=policy)
    await sync(syncer, api, p)
    old = rt.app("app")[0]
    p["spec"]["containers"][0]["image"] = "app:2"
    st = await sync(syncer, api, p)
    new = rt.app("app")[0]
    assert new.id != old.id and rt.specs[new.id].image == "app:2" and rt.containers[old.id].state == "exited"
    assert "Container app definition changed, will be restarted" in api.messages("x")
    cs = app_status(st)
    assert cs["restartCount"] == 1 and "running" in cs["state"] and cs["image"] == "app:2"
    writes = len(api.events)
    await sync(syncer, api, p)  # the new instance runs the spec's image: nothing more happens
    assert len(api.events) == writes


async def test_a_new_image_starts_at_once_even_while_the_old_one_is_in_crash_back_off(env):
    """The back-off belongs to the image that crashed (the kubelet keys it on the container spec):
    `kubectl set image` on a CrashLoopBackOff pod runs the fixed image now, not 10-300 s later."""
    syncer, api, rt = env
    p = pod()
    await sync(syncer, api, p)
    rt.die(rt.app("app")[0].id, 1)
    await sync(syncer, api, p)  # first restart: immediate
    rt.die(rt.app("app")[0].id, 1)
    st = await sync(syncer, api, p)
    assert app_status(st)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    p["spec"]["containers"][0]["image"] = "app:2"
    st = await sync(syncer, api, p)
    cs = app_status(st)
    assert "running" in cs["state"] and cs["image"] == "app:2" and cs["restartCount"] == 2
    assert rt.specs[rt.app("app")[0].id].image == "app:2"


async def test_containers_start_one_after_the_other_in_spec_order(env):
    """The kubelet's SyncPod starts containers sequentially: `kubectl describe pod counter` lists app's
    Pulled/Created/Started before db's."""
    syncer, api, rt = env
    p = pod()
    p["spec"]["containers"].append({"name": "db", "image": "app:2", "imagePullPolicy": "IfNotPresent"})
    await sync(syncer, api, p)
    assert [(e["reason"], e["involvedObject"]["fieldPath"]) for e in api.events] == [
        (reason, f"spec.containers{{{name}}}") for name in ("app", "db") for reason in ("Pulled", "Created", "Started")]


@pytest.mark.parametrize("policy,message", [
    ("Always", "Container app failed liveness probe, will be restarted"),
    ("Never", "Container app failed liveness probe"),
])
async def test_liveness_kill_says_will_be_restarted_only_when_it_will(env, policy, message):
    syncer, api, rt = env
    p = pod(restart=policy)
    await sync(syncer, api, p)
    syncer.prober.liveness_failed = lambda uid, name, cid: "liveness"  # type: ignore[method-assign]
    await sync(syncer, api, p)
    assert [m for r, m in zip(api.reasons("x"), api.messages("x")) if r == "Killing"] == [message]


class _CannotRun(FakeRuntime):
    """Docker refusing to start the process (`exec: "/nope": no such file`), as inspect then reports it."""

    def start(self, cid: str) -> None:
        c = self.containers[cid]
        if c.labels.get("io.minikube-py.container") != "app":
            return super().start(cid)  # the sandbox starts
        c.state, c.exit_code, c.cannot_run = "exited", 127, True
        c.error = 'failed to create shim task: exec: "/nope": no such file or directory: unknown'
        c.started_at = c.finished_at = _now()
        raise RuntimeFailure(c.error)


@pytest.mark.parametrize("policy", ["Never", "Always"])
async def test_a_container_that_cannot_run(env, policy):
    """The docker runtime's failed start: RunContainerError at first, then the dead container counts as
    terminated (ContainerCannotRun, 127): the pod fails under Never, is restarted under Always."""
    syncer, api, _ = env
    rt = _CannotRun(IMAGES)
    syncer.runtime = rt
    p = pod(restart=policy)
    st = await sync(syncer, api, p)
    w = app_status(st)["state"]["waiting"]
    cid = rt.app("app")[0].id
    assert w["reason"] == "RunContainerError"
    assert w["message"] == (f'failed to start container "{cid}": Error response from daemon: failed to create shim '
                            'task: exec: "/nope": no such file or directory: unknown')
    st = await sync(syncer, api, p)
    cs = app_status(st)
    if policy == "Never":
        assert st["phase"] == "Failed" and cs["state"]["terminated"]["reason"] == "ContainerCannotRun"
        assert cs["state"]["terminated"]["exitCode"] == 127 and len(rt.app("app")) == 1
    else:
        assert st["phase"] == "Running" and cs["restartCount"] == 1
        assert cs["lastState"]["terminated"]["reason"] == "ContainerCannotRun"


def test_docker_inspect_reports_a_failed_start_as_exited_container_cannot_run():
    from agent.runtime import DockerRuntime

    class Api:
        def inspect_container(self, cid: str) -> dict:
            return {"Id": cid, "Name": "/x", "Image": "sha256:1", "Created": "2026-01-01T00:00:00.5Z",
                    "Config": {"Image": "busybox", "Labels": {}},
                    "State": {"Status": "created", "ExitCode": 127, "Error": "exec failed",
                              "StartedAt": "0001-01-01T00:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"}}

    rt = DockerRuntime.__new__(DockerRuntime)
    rt.api = Api()
    info = rt.inspect("c1")
    assert info is not None and info.state == "exited" and info.cannot_run and info.exit_code == 127
    assert info.started_at == info.finished_at == info.created_at == "2026-01-01T00:00:00Z"
