"""Pod start-up on a real cluster vs the same image with plain `docker run`, side by side in one run.

    python bench/bench_pod_start.py [--pods 10] [--replicas 10] [--readiness-probe] [--kubectl]

Starts its own 1-node cluster (profile `mkt-bench`, state under /tmp/minikube-py-tests so the test
suite's leftover cleanup finds it if this script is killed) and always deletes it at the end, with every
container it made itself (by label), also on failure or Ctrl-C.

1. Single pod, `--pods` times, alternating with the docker baseline so both see the same load:
   - pod:    from the create (`ApiClient.create`, or `kubectl apply` with `--kubectl`) of one echo Pod to
             its Ready condition True (seen on a watch started beforehand), and to the app answering
             (`docker exec <its container> curl -s localhost:3000`, polled from the create on);
   - docker: `docker run -d` of minikube-py/echo:v1 until `docker run` returns ("running") and until
             `docker exec … curl -s localhost:3000` answers.
   The ratio pod/docker is what the control plane, scheduler, sandbox + pod network, agent and status
   reporting add. Without `--readiness-probe` Ready means "container running" (no probe, as in
   Kubernetes); with it, an httpGet probe every second has to pass first.
2. A 10-replica Deployment: create → all replicas Ready; `kubectl set image` to echo:v2 → rollout complete
   (observedGeneration, updated = available = replicas, no old pods left). Baseline: 10 `docker run -d`
   at once until all answer, and a "rollout" that starts 10 v2 containers, waits until they answer and
   removes the 10 v1 containers.

Traffic stays inside containers (`docker exec … localhost`) and on the cluster's own bridge (the API
server on its gateway address). Nothing is asserted: timings on a shared 2-core box vary.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Like the test suite (tests/conftest.py): a separate state root whose `mkt-*` leftovers get cleaned, a
# kubeconfig that is not the user's, and a cluster DNS that forwards nowhere.
HOME = Path(os.environ.get("MINIKUBE_PY_TEST_HOME", "/tmp/minikube-py-tests"))
os.environ["MINIKUBE_PY_HOME"] = str(HOME)
os.environ["KUBECONFIG"] = str(HOME / "kubeconfig-bench")
os.environ["MINIKUBE_PY_DNS_UPSTREAMS"] = "none"
os.environ.pop("MINIKUBE_PY_PROFILE", None)

from minikube_py import config as C  # noqa: E402

PROFILE = "mkt-bench"
NS = "default"
V1, V2 = C.IMAGES["echo-v1"], C.IMAGES["echo-v2"]
# Baseline containers carry the profile label (so `delete -p mkt-bench` and the suite's leftover cleanup
# remove them too) but no node label, so the cluster's agent never mistakes them for its own.
BENCH_LABEL = f"{C.LABEL_PREFIX}.bench=docker-run"
STEP_TIMEOUT = 120.0  # bound on every wait


# --- small process helpers -------------------------------------------------------------------------------
def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minikube_py.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


async def run(*argv: str, stdin: str | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(stdin.encode() if stdin is not None else None)
    return proc.returncode or 0, out.decode()


async def until(what: str, check: Callable[[], Any], interval: float = 0.0) -> Any:
    """Await `check()` (a coroutine function) until it returns something truthy; bounded."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {STEP_TIMEOUT:.0f}s waiting for {what}")
        if interval:
            await asyncio.sleep(interval)


async def container_answers(container: str) -> bool:
    rc, _ = await run("docker", "exec", container, "curl", "-s", "-o", "/dev/null", "--max-time", "2",
                      "localhost:3000")
    return rc == 0


async def wait_answers(container: str) -> None:
    await until(f"{container} to answer on :3000", lambda: container_answers(container))


async def pod_container(name: str) -> str:
    rc, out = await run("docker", "ps", "-q", "--filter", f"label={C.LABEL_PROFILE}={PROFILE}",
                        "--filter", f"label={C.LABEL_POD}={name}", "--filter", f"label={C.LABEL_CONTAINER}=echo")
    return out.split()[0] if rc == 0 and out.split() else ""


# --- watching --------------------------------------------------------------------------------------------
class Watch:
    """One watch stream kept open (resumed from the last resourceVersion if the server ends it), with the
    latest (type, object) per name and waiters for a predicate on it."""

    def __init__(self, client, plural: str, label_selector: str) -> None:  # noqa: ANN001
        self.client, self.plural, self.selector = client, plural, label_selector
        self.latest: dict[str, tuple[str, dict]] = {}
        self.changed = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        rv = (await self.client.list(self.plural, NS, label_selector=self.selector))["metadata"]["resourceVersion"]
        self.task = asyncio.create_task(self._run(rv))

    async def _run(self, rv: str) -> None:
        while True:
            async for event_type, obj in self.client.watch(self.plural, NS, resource_version=rv,
                                                           label_selector=self.selector):
                rv = obj["metadata"].get("resourceVersion") or rv
                if event_type == "BOOKMARK":
                    continue
                self.latest[obj["metadata"]["name"]] = (event_type, obj)
                self.changed.set()

    async def wait(self, name: str, predicate: Callable[[str, dict], bool]) -> float:
        """perf_counter() when *name* first satisfies *predicate* (as seen on the stream)."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            if name in self.latest and predicate(*self.latest[name]):
                return time.perf_counter()
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0 or (self.task is not None and self.task.done()):
                raise TimeoutError(f"{self.plural}/{name}: condition not reached "
                                   f"(last: {json.dumps((self.latest.get(name) or ('', {}))[1].get('status'))[:400]})")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


def pod_ready(event_type: str, obj: dict) -> bool:
    return event_type != "DELETED" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or [])


def deleted(event_type: str, obj: dict) -> bool:
    return event_type == "DELETED"


def deployment_ready(replicas: int) -> Callable[[str, dict], bool]:
    def check(event_type: str, obj: dict) -> bool:
        st = obj.get("status") or {}
        return (st.get("observedGeneration", 0) >= obj["metadata"].get("generation", 1)
                and st.get("readyReplicas", 0) == replicas)
    return check


def rollout_complete(replicas: int, generation: int) -> Callable[[str, dict], bool]:
    """`kubectl rollout status` done: the new template (*generation*, from the update's answer — the watch
    may still show the object from before it) observed, every replica updated and available, and no old
    replica left."""
    def check(event_type: str, obj: dict) -> bool:
        st = obj.get("status") or {}
        return (st.get("observedGeneration", 0) >= generation
                and st.get("updatedReplicas", 0) == replicas and st.get("replicas", 0) == replicas
                and st.get("availableReplicas", 0) == replicas)
    return check


# --- objects ---------------------------------------------------------------------------------------------
def echo_container(image: str, probe: bool) -> dict:
    c: dict[str, Any] = {"name": "echo", "image": image, "ports": [{"containerPort": 3000}]}
    if probe:
        c["readinessProbe"] = {"httpGet": {"path": "/", "port": 3000}, "periodSeconds": 1}
    return c


def echo_pod(name: str, probe: bool) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": {"bench": "pod-start"}},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [echo_container(V1, probe)]}}


def echo_deployment(name: str, replicas: int, probe: bool) -> dict:
    labels = {"app": name, "bench": "deployment"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"terminationGracePeriodSeconds": 0,
                                           "containers": [echo_container(V1, probe)]}}}}


# --- the measurements ------------------------------------------------------------------------------------
async def kubectl(*args: str, stdin: str | None = None) -> str:
    from minikube_py.kubectl import kubectl_path
    rc, out = await run(str(kubectl_path()), "--context", PROFILE, *args, stdin=stdin)
    if rc != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} exited {rc}: {out}")
    return out


async def one_pod(client, pods: Watch, name: str, probe: bool, use_kubectl: bool) -> tuple[float, float]:  # noqa: ANN001
    """Seconds from the create to Ready, and to the app answering inside its container."""
    obj = echo_pod(name, probe)

    async def answers() -> float:
        container = await until(f"pod {name}'s container", lambda: pod_container(name), interval=0.05)
        await wait_answers(container)
        return time.perf_counter()

    t0 = time.perf_counter()
    if use_kubectl:
        await kubectl("apply", "-f", "-", stdin=json.dumps(obj))
    else:
        await client.create("pods", obj)
    answered = asyncio.create_task(answers())
    try:
        ready = await pods.wait(name, pod_ready)
        answer = await answered
    finally:
        answered.cancel()
        await client.delete("pods", name, NS, grace_period_seconds=0)
    await pods.wait(name, deleted)
    await until(f"pod {name}'s containers to go", lambda: _no_pod_container(name), interval=0.1)
    return ready - t0, answer - t0


async def _no_pod_container(name: str) -> bool:
    rc, out = await run("docker", "ps", "-aq", "--filter", f"label={C.LABEL_PROFILE}={PROFILE}",
                        "--filter", f"label={C.LABEL_POD}={name}")
    return rc == 0 and not out.split()


async def docker_start(name: str, image: str = V1) -> tuple[str, float]:
    rc, out = await run("docker", "run", "-d", "--name", name, "--label", f"{C.LABEL_PROFILE}={PROFILE}",
                        "--label", BENCH_LABEL, image)
    if rc != 0:
        raise RuntimeError(f"docker run {image} failed: {out}")
    return out.strip().splitlines()[-1], time.perf_counter()


async def one_docker(name: str) -> tuple[float, float]:
    """Seconds until `docker run -d` returned, and until the app answers."""
    t0 = time.perf_counter()
    cid, started = await docker_start(name)
    try:
        await wait_answers(cid)
        return started - t0, time.perf_counter() - t0
    finally:
        await run("docker", "rm", "-f", cid)


async def deployment(client, replicas: int, probe: bool) -> tuple[float, float]:  # noqa: ANN001
    name = "bench-echo"
    deps = Watch(client, "deployments", "bench=deployment")
    await deps.start()
    try:
        t0 = time.perf_counter()
        await client.create("deployments", echo_deployment(name, replicas, probe))
        ready = await deps.wait(name, deployment_ready(replicas)) - t0
        t1 = time.perf_counter()
        updated = json.loads(await kubectl("set", "image", f"deployment/{name}", f"echo={V2}", "-o", "json"))
        rolled = await deps.wait(name, rollout_complete(replicas, updated["metadata"]["generation"])) - t1
    finally:
        await client.delete("deployments", name, NS, propagation_policy="Foreground")
        await deps.wait(name, deleted)
        await deps.stop()
    await until("the deployment's containers to go", _no_deployment_containers, interval=0.2)
    return ready, rolled


async def _no_deployment_containers() -> bool:
    rc, out = await run("docker", "ps", "-aq", "--filter", f"label={C.LABEL_PROFILE}={PROFILE}",
                        "--filter", f"label={C.LABEL_NAMESPACE}={NS}")
    return rc == 0 and not out.split()


async def docker_fleet(replicas: int) -> tuple[float, float]:
    """10 containers at once until all answer; then v2 × 10 until they answer, and v1 × 10 removed."""
    t0 = time.perf_counter()
    v1 = [cid for cid, _ in await asyncio.gather(*(docker_start(f"mkt-bench-fleet-v1-{i}") for i in range(replicas)))]
    await asyncio.gather(*(wait_answers(c) for c in v1))
    ready = time.perf_counter() - t0
    t1 = time.perf_counter()
    v2 = [cid for cid, _ in await asyncio.gather(*(docker_start(f"mkt-bench-fleet-v2-{i}", V2)
                                                   for i in range(replicas)))]
    await asyncio.gather(*(wait_answers(c) for c in v2))
    await run("docker", "rm", "-f", *v1)
    rolled = time.perf_counter() - t1
    await run("docker", "rm", "-f", *v2)
    return ready, rolled


def remove_baseline_containers() -> None:
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={BENCH_LABEL}"], capture_output=True,
                         text=True, timeout=60).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)


async def bench(args: argparse.Namespace) -> None:
    from minikube_py.client import ApiClient
    client = ApiClient.for_profile(PROFILE)
    pods = Watch(client, "pods", "bench=pod-start")
    await pods.start()
    samples: dict[str, list[float]] = {"pod ready": [], "pod answers": [], "docker running": [],
                                       "docker answers": []}
    try:
        # One unmeasured round of each, so neither side pays first-use costs (page cache, kubectl cache).
        await one_pod(client, pods, "bench-warmup", args.readiness_probe, args.kubectl)
        await one_docker("mkt-bench-warmup")
        for i in range(args.pods):
            ready, answer = await one_pod(client, pods, f"bench-echo-{i}", args.readiness_probe, args.kubectl)
            running, d_answer = await one_docker(f"mkt-bench-echo-{i}")
            samples["pod ready"].append(ready)
            samples["pod answers"].append(answer)
            samples["docker running"].append(running)
            samples["docker answers"].append(d_answer)
            print(f"  round {i + 1}/{args.pods}: pod ready {ready:.2f}s answers {answer:.2f}s | "
                  f"docker running {running:.2f}s answers {d_answer:.2f}s", flush=True)
        fleet = []
        for _ in range(args.deployment_rounds):
            d_ready, d_rolled = await deployment(client, args.replicas, args.readiness_probe)
            f_ready, f_rolled = await docker_fleet(args.replicas)
            fleet.append((d_ready, d_rolled, f_ready, f_rolled))
    finally:
        await pods.stop()
        await client.close()

    def stats(values: list[float]) -> tuple[float, float]:
        s = sorted(values)
        return statistics.median(s), s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]

    print(f"\ncpus={os.cpu_count()} pods={args.pods} create={'kubectl apply' if args.kubectl else 'ApiClient'} "
          f"readiness probe={'httpGet every 1s' if args.readiness_probe else 'none'}")
    print(f"{'single echo pod':<26} {'median s':>9} {'p90 s':>9}")
    for label, values in samples.items():
        med, p90 = stats(values)
        print(f"{label:<26} {med:9.2f} {p90:9.2f}")
    r_med = statistics.median(samples["pod ready"]) / statistics.median(samples["docker answers"])
    a_med = statistics.median(samples["pod answers"]) / statistics.median(samples["docker answers"])
    print(f"{'ratio pod ready / docker answers':<34} {r_med:5.1f}x (medians)")
    print(f"{'ratio pod answers / docker answers':<34} {a_med:5.1f}x (medians)")
    print(f"\n{args.replicas} replicas{'':<15} {'cluster s':>9} {'docker s':>9} {'ratio':>7}")
    for d_ready, d_rolled, f_ready, f_rolled in fleet:
        print(f"{'all Ready / all answer':<26} {d_ready:9.2f} {f_ready:9.2f} {d_ready / f_ready:6.1f}x")
        print(f"{'rollout v1 → v2':<26} {d_rolled:9.2f} {f_rolled:9.2f} {d_rolled / f_rolled:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=10, help="single-pod rounds (each also runs the baseline)")
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--deployment-rounds", type=int, default=1)
    parser.add_argument("--readiness-probe", action="store_true", help="give the echo pods an httpGet probe")
    parser.add_argument("--kubectl", action="store_true", help="create single pods with `kubectl apply`")
    args = parser.parse_args()
    # `kill PID` (SIGTERM) must still run the cleanup in `finally`, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.pods > 100 or args.replicas > 30 or args.deployment_rounds > 5:
        sys.exit("bounded on purpose: at most 100 pods, 30 replicas, 5 deployment rounds")
    if os.geteuid() != 0:
        sys.exit("needs root (a cluster: namespaces, bridge, iptables)")
    from minikube_py.cluster.lifecycle import images_present
    if not images_present([C.IMAGES["pause"], V1, V2]):
        sys.exit("images missing: run `minikube-py image bootstrap` first")

    from minikube_py.cluster.leftovers import claim
    try:
        cli("delete", "-p", PROFILE, timeout=300)  # a leftover of an interrupted run
        claim(PROFILE)  # a parallel test session's leftover cleanup leaves it alone while we run
        t0 = time.perf_counter()
        proc = cli("start", "-p", PROFILE, "--no-image-bootstrap", timeout=600)
        if proc.returncode != 0:
            sys.exit(f"start -p {PROFILE} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        print(f"cluster {PROFILE} started in {time.perf_counter() - t0:.1f}s", flush=True)
        asyncio.run(bench(args))
    finally:
        remove_baseline_containers()
        t0 = time.perf_counter()
        proc = cli("delete", "-p", PROFILE, timeout=300)
        if proc.returncode != 0:
            print(f"delete -p {PROFILE} failed: {proc.stdout}\n{proc.stderr}", file=sys.stderr)
        else:
            print(f"cluster {PROFILE} deleted in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
