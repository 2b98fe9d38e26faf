"""Kubernetes `Status` errors.

Why exact texts: kubectl and client libraries print the server's message verbatim, and users compare what
they see with what a real cluster prints (`pods "x" not found`, `the object has been modified; please apply
your changes to the latest version and try again`). Handlers raise `ApiError`; one middleware turns it into
a `Status` body with the matching HTTP code.
"""
from __future__ import annotations

from typing import Any

from .resources import Resource


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason, "code": code}
    if not reason:
        del body["reason"]  # metav1.Status's reason is omitempty: an unclassified error carries none
    if details is not None:
        body["details"] = details
    return body


def success_status(details: dict | None = None) -> dict:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        body["details"] = details
    return body


def _qualified(res: Resource) -> str:
    """`pods`, `deployments.apps`: how Kubernetes names a resource in messages."""
    return f"{res.plural}.{res.group}" if res.group else res.plural


def _details(res: Resource, name: str) -> dict:
    d = {"name": name, "kind": res.plural}
    if res.group:
        d["group"] = res.group
    return d


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(res)} "{name}" not found', _details(res, name))


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"})


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(res)} "{name}" already exists', _details(res, name))


def conflict(res: Resource, name: str) -> ApiError:
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {_qualified(res)} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again", _details(res, name))


def conflict_message(res: Resource, name: str, message: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {_qualified(res)} "{name}": {message}',
                    _details(res, name))


def uid_precondition_failed(res: Resource, name: str, want: str, have: str | None) -> ApiError:
    """409 for a write that names another incarnation of the object (deleted and created again under the
    same name): the storage layer's precondition message, as Kubernetes words it for deletes too."""
    return conflict_message(res, name, f"Precondition failed: UID in precondition: {want}, UID in object meta: {have}")


def invalid(res: Resource, name: str, causes: list[dict]) -> ApiError:
    """422 with Kubernetes' aggregated message: `Pod "A" is invalid: metadata.name: Invalid value: ...`."""
    parts = [f"{c.get('field', '')}: {c.get('message', '')}" if c.get("field") else c.get("message", "")
             for c in causes]
    msg = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = {"name": name, "kind": res.kind, "causes": [
        {"reason": c.get("reason", "FieldValueInvalid"), "message": c.get("message", ""), "field": c.get("field", "")}
        for c in causes]}
    if res.group:
        details["group"] = res.group
    kind = f"{res.kind}.{res.group}" if res.group else res.kind
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {msg}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str, res: Resource | None = None, name: str = "") -> ApiError:
    return ApiError(403, "Forbidden", message, _details(res, name) if res else None)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large() -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def unsupported_media(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - '
                    f'accepted media types include: application/json-patch+json, application/merge-patch+json, '
                    f'application/apply-patch+yaml, application/strategic-merge-patch+json (got "{content_type}")')


def unsupported_body(content_type: str) -> ApiError:
    """415 for a create/update body the decoder has no serializer for (the apiserver's NegotiateInputSerializer)."""
    return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                    "media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")


def not_acceptable() -> ApiError:
    return ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json, "
                    "application/yaml, application/vnd.kubernetes.protobuf")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


def service_unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)
