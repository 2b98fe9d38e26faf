"""The service account controller: every Active namespace has a `default` ServiceAccount (Kubernetes
`pkg/controller/serviceaccount/serviceaccounts_controller.go`).

Why: pods without `serviceAccountName` run as `default`, and tools (`kubectl get sa`, `kubectl create token`,
Helm charts) expect it to exist in every namespace, the four initial ones included.

Keys are namespace names. A namespace added or updated (a resync, or a phase change) and a ServiceAccount
deleted enqueue its namespace; `sync_namespace(name)` reads both caches and creates what is missing. It is
level-triggered and idempotent: an existing account is left alone (its secrets, labels, anything a user
changed), a create that loses a race (409 AlreadyExists) is success, and a namespace that is not Active
(Terminating) gets nothing, nor does the API's "being terminated" refusal count as a failure.
"""
from __future__ import annotations

import logging

from minikube_py.client import ApiClient, ApiError, Controller, Conflict

log = logging.getLogger(__name__)

# DefaultServiceAccountsControllerOptions: the accounts ensured in every namespace.
SERVICE_ACCOUNTS = ("default",)


def service_account(name: str, namespace: str) -> dict:
    """The account the controller creates: only a name, as Kubernetes' (no secrets, no labels)."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}


def missing_accounts(namespace: dict | None, existing: set[str]) -> list[str]:
    """The accounts to create in *namespace* given the names that *existing* has: none for a namespace
    that is gone or not Active (a namespace with no phase yet counts as Active, as the API defaults it)."""
    if namespace is None:
        return []
    phase = (namespace.get("status") or {}).get("phase") or "Active"
    if phase != "Active" or (namespace.get("metadata") or {}).get("deletionTimestamp"):
        return []
    return [n for n in SERVICE_ACCOUNTS if n not in existing]


def _namespace_terminating(err: ApiError) -> bool:
    """The API refused content in a namespace being deleted (Kubernetes: a NamespaceTerminating cause)."""
    causes = (err.body.get("details") or {}).get("causes") or []
    return err.status == 403 and ("being terminated" in err.message
                                  or any(c.get("reason") == "NamespaceTerminating" for c in causes))


class ServiceAccountController(Controller):
    name = "serviceaccount-controller"
    workers = 1

    def __init__(self, client: ApiClient, factory) -> None:
        super().__init__()
        self.client = client
        self.namespaces = factory.informer("namespaces")
        self.accounts = factory.informer("serviceaccounts")
        self.informers = [self.namespaces, self.accounts]
        self.namespaces.add_handlers(on_add=self._on_namespace, on_update=lambda o, n: self._on_namespace(n))
        self.accounts.add_handlers(on_delete=self._on_account_deleted)

    def _on_namespace(self, ns: dict) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _on_account_deleted(self, sa: dict) -> None:
        self.queue.add((sa.get("metadata") or {}).get("namespace") or "default")

    async def sync(self, key: str) -> None:
        await self.sync_namespace(key)

    async def sync_namespace(self, key: str) -> None:
        namespace = self.namespaces.get(key)
        existing = {n for n in SERVICE_ACCOUNTS if self.accounts.get(f"{key}/{n}") is not None}
        failures = []
        for name in missing_accounts(namespace, existing):
            try:
                await self.client.create("serviceaccounts", service_account(name, key), namespace=key)
                log.info("created serviceaccount %s/%s", key, name)
            except Conflict:
                pass  # AlreadyExists: the cache was behind
            except ApiError as e:
                if not _namespace_terminating(e) and e.status != 404:
                    failures.append(e)
        if failures:
            raise failures[0]
