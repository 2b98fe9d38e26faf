"""The controller manager: one process-wide set of informers, every controller on top of them.

`run_controllers(client, config)` is the entry point the control plane calls once its API server
listens. It is a straight line of phases:

1. build a `SharedInformerFactory` (one list + watch per resource per process, however many controllers
   read that resource; kube-controller-manager does the same);
2. construct every controller: each asks the factory for the informers it needs and registers handlers
   that only compute a key and enqueue it;
3. start all informers and wait until their first lists are in the caches (no controller may judge
   "missing" from a half-filled cache: the garbage collector would delete live objects);
4. run every controller's workers until cancelled; then stop everything.

Controllers are independent: one that raises in a sync only requeues that key; one whose whole loop dies
is logged and the others keep running (a bug in endpoints must not stop rollouts).
"""
from __future__ import annotations

import asyncio
import logging

from minikube_py.client import ApiClient, Controller, Informer
from minikube_py.config import ClusterConfig

log = logging.getLogger(__name__)


class SharedInformerFactory:
    """Informers keyed by plural: `informer("pods")` returns the same Informer to every caller."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._informers: dict[str, Informer] = {}

    def informer(self, plural: str) -> Informer:
        inf = self._informers.get(plural)
        if inf is None:
            inf = self._informers[plural] = Informer(self.client, plural)
        return inf

    async def start(self) -> None:
        """Start every informer asked for so far; return when all have synced."""
        await asyncio.gather(*(inf.start() for inf in self._informers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()), return_exceptions=True)

    @property
    def plurals(self) -> list[str]:
        return list(self._informers)


def build_controllers(client: ApiClient, config: ClusterConfig,
                      factory: SharedInformerFactory) -> list[Controller]:
    """Every controller of the control plane, wired to the shared informers (nothing started yet)."""
    from minikube_py.controllers.deployment.sync import DeploymentController
    from minikube_py.controllers.endpoints import EndpointsController
    from minikube_py.controllers.garbagecollector import GarbageCollector
    from minikube_py.controllers.ingress import IngressController
    from minikube_py.controllers.loadbalancer import LoadBalancerController
    from minikube_py.controllers.nodelifecycle import NodeLifecycleController
    from minikube_py.controllers.replicaset import ReplicaSetController
    from minikube_py.controllers.scheduler import Scheduler
    from minikube_py.controllers.serviceaccount import ServiceAccountController

    return [
        Scheduler(client, factory),
        ReplicaSetController(client, factory),
        DeploymentController(client, factory),
        GarbageCollector(client, factory),
        EndpointsController(client, factory),
        NodeLifecycleController(client, factory, config),
        ServiceAccountController(client, factory),
        LoadBalancerController(client, factory.informer("services"), factory.informer("configmaps")),
        IngressController(client, ingresses=factory.informer("ingresses"), services=factory.informer("services"),
                          endpoints=factory.informer("endpoints"), secrets=factory.informer("secrets"),
                          ingressclasses=factory.informer("ingressclasses"),
                          configmaps=factory.informer("configmaps"), pods=factory.informer("pods")),
    ]


async def _run_one(controller: Controller) -> None:
    try:
        await controller.run(own_informers=False)  # the factory owns the shared informers
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001
        log.exception("controller %s died", controller.name)


async def run_controllers(client: ApiClient, config: ClusterConfig) -> None:
    """Start every controller (and the scheduler); run until cancelled."""
    factory = SharedInformerFactory(client)
    controllers = build_controllers(client, config, factory)
    try:
        await factory.start()
        log.info("controller manager: informers synced (%s)", ", ".join(factory.plurals))
        await asyncio.gather(*(_run_one(c) for c in controllers))
    finally:
        for c in controllers:
            c.queue.shutdown()
        await factory.stop()
