"""images/dockerfile.py: which images a Dockerfile needs from the local engine."""
from minikube_py.images.dockerfile import base_images


def test_simple_and_multi_stage():
    text = """
# a comment
FROM minikube-py/debian:bookworm AS build
RUN make
FROM --platform=linux/amd64 build AS again
FROM scratch
COPY --from=build /x /x
FROM minikube-py/busybox:1
"""
    assert base_images(text) == ["minikube-py/debian:bookworm", "minikube-py/busybox:1"]


def test_args_before_from_with_defaults_and_overrides():
    text = 'ARG BASE=minikube-py/debian\nARG TAG\nFROM ${BASE}:${TAG:-bookworm}\nARG LATE=x\nFROM $BASE:${LATE}\n'
    assert base_images(text) == ["minikube-py/debian:bookworm", "minikube-py/debian:"]
    assert base_images(text, {"TAG": "trixie"}) == ["minikube-py/debian:trixie", "minikube-py/debian:"]


def test_line_continuations():
    assert base_images("FROM \\\n  minikube-py/nginx:1 \\\n  AS web\n") == ["minikube-py/nginx:1"]
