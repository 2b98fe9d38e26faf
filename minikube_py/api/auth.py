"""Bearer-token authentication.

Two tokens exist (pki.py): `admin` (the user's kubeconfig, the control plane's own controllers) and `node`
(the node agents and proxies). Both may do everything: this is a learner's one-laptop cluster without RBAC,
and splitting permissions would add a policy engine for no safety gain on a machine the user owns. The
split still pays off: the node token can be rotated without touching the user's kubeconfig.

Anonymous callers may GET only the health endpoints and /version, like a real apiserver's defaults.
"""
from __future__ import annotations

import hmac
from typing import Iterable

ANONYMOUS_PATHS = frozenset({"/healthz", "/readyz", "/livez", "/version"})


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, str]) -> None:
        """`tokens` maps a user name (`admin`, `node`) to its token."""
        self._tokens = [(user, tok.encode()) for user, tok in tokens.items() if tok]

    def user_for(self, authorization: str | None) -> str | None:
        """The user whose token the `Authorization` header carries, or None. Constant-time comparisons,
        and every token is compared, so timing says nothing about which one (nearly) matched."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = token.strip().encode()
        found = None
        for user, tok in self._tokens:
            if hmac.compare_digest(given, tok):
                found = user
        return found


def anonymous_allowed(method: str, path: str, extra: Iterable[str] = ()) -> bool:
    return method in ("GET", "HEAD") and (path in ANONYMOUS_PATHS or path in extra)
