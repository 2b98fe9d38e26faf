"""The one way every component talks to the API: `ApiClient`, `Informer`, `WorkQueue`, `Controller`."""
from minikube_py.client.client import ApiClient, ApiError, Conflict, Gone, NotFound, wait_for
from minikube_py.client.events import EventRecorder, now_rfc3339
from minikube_py.client.informer import Informer, object_key, split_key
from minikube_py.client.workqueue import Controller, ShutDown, WorkQueue

__all__ = ["ApiClient", "ApiError", "Conflict", "Gone", "NotFound", "wait_for", "EventRecorder",
           "now_rfc3339", "Informer", "object_key", "split_key", "Controller", "ShutDown", "WorkQueue"]
