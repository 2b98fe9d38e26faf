"""The offline images, run for real in the local Docker engine.

Calls `bootstrap_images()` first: idempotent, so this is slow (about 2 minutes, debootstrap) only on a
machine that has never built the images, and a no-op afterwards. Containers, networks and volumes made
here carry `io.minikube-py.profile=mkt-images` and are removed before and after every test, also on
failure. The bootstrap images themselves are left in the engine: the rest of the suite needs them.
"""
from __future__ import annotations

import tarfile
import time
from pathlib import Path
from typing import Callable, Iterator

import docker
import pytest
from click.testing import CliRunner
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.models.containers import Container

from minikube_py import config
from minikube_py.images.bootstrap import BootstrapResult, bootstrap_images, is_ours
from minikube_py.images.cli import image as image_cli
from minikube_py.images.docker_client import docker_client

pytestmark = pytest.mark.integration

PROFILE = "mkt-images"
LABELS = {config.LABEL_PROFILE: PROFILE}
NAME = "mkt-images"


def sweep(client: docker.DockerClient) -> None:
    """Remove every container, network and volume this module may have left behind."""
    flt = {"label": f"{config.LABEL_PROFILE}={PROFILE}"}
    for c in client.containers.list(all=True, filters=flt):
        try:
            c.remove(force=True)
        except NotFound:
            pass
    for n in client.networks.list(filters=flt):
        try:
            n.remove()
        except NotFound:
            pass
    for v in client.volumes.list(filters=flt):
        try:
            v.remove(force=True)
        except NotFound:
            pass


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    try:
        c = docker_client()
    except DockerException as e:
        pytest.skip(f"no Docker engine reachable: {e}")
    sweep(c)
    try:
        yield c
    finally:
        sweep(c)
        c.close()


@pytest.fixture(scope="module")
def bootstrapped(client: docker.DockerClient) -> BootstrapResult:
    return bootstrap_images(client=client)


@pytest.fixture
def engine(client: docker.DockerClient, bootstrapped: BootstrapResult) -> Iterator[docker.DockerClient]:
    """The client, with a sweep after each test so one failure leaves nothing for the next."""
    try:
        yield client
    finally:
        sweep(client)


@pytest.fixture
def net(engine: docker.DockerClient) -> str:
    """A user-defined bridge network (container names resolve through Docker's embedded DNS)."""
    engine.networks.create(f"{NAME}-net", driver="bridge", labels=LABELS)
    return f"{NAME}-net"


def run(engine: docker.DockerClient, key: str, name: str, **kw) -> Container:
    return engine.containers.run(config.IMAGES[key], name=f"{NAME}-{name}", detach=True, labels=LABELS, **kw)


def sh(c: Container, cmd: str) -> tuple[int, str]:
    code, out = c.exec_run(["sh", "-c", cmd])
    return code, out.decode(errors="replace")


def wait_for(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop_timed(c: Container, timeout: int = 5) -> float:
    t0 = time.monotonic()
    c.stop(timeout=timeout)
    return time.monotonic() - t0


# --- bootstrap --------------------------------------------------------------------------------------
def test_every_image_exists_with_our_label(engine: docker.DockerClient, bootstrapped: BootstrapResult) -> None:
    assert {r.key for r in bootstrapped.images} == set(config.IMAGES)
    for ref in config.IMAGES.values():
        assert is_ours(engine.images.get(ref).labels), ref


def test_second_bootstrap_builds_nothing_and_is_fast(engine: docker.DockerClient) -> None:
    again = bootstrap_images(client=engine)
    assert [r.action for r in again.images] == ["unchanged"] * len(config.IMAGES)
    assert again.debootstrap_seconds is None
    assert again.seconds < 10


def test_alias_upstream_tags_local_stand_ins(engine: docker.DockerClient) -> None:
    result = bootstrap_images(client=engine, alias_upstream=True)
    by_key = {r.key: r for r in result.images}
    for key, aliases in config.UPSTREAM_ALIASES.items():
        for alias in aliases:
            if alias in by_key[key].skipped_aliases:  # a real upstream image was pulled here: kept
                assert not is_ours(engine.images.get(alias).labels)
                continue
            assert alias in by_key[key].aliases
            assert engine.images.get(alias).id == engine.images.get(config.IMAGES[key]).id, alias
    assert all(r.action == "unchanged" for r in result.images)


# --- the images, running ----------------------------------------------------------------------------
def test_redis_answers_ping_from_another_container(engine: docker.DockerClient, net: str) -> None:
    server = run(engine, "redis", "redis", network=net)
    cli = run(engine, "redis", "cli", network=net, command=["sleep", "infinity"])
    wait_for(lambda: sh(cli, f"redis-cli -h {NAME}-redis ping")[1].strip() == "PONG",
             what="redis PONG over the user network")
    # Protected mode is off and it binds all addresses: a raw RESP PING from busybox nc works too.
    box = run(engine, "busybox", "box", network=net, command=["sleep", "infinity"])
    code, out = sh(box, f"printf 'PING\\r\\n' | nc -w 2 {NAME}-redis 6379")
    assert "+PONG" in out, out
    assert stop_timed(server) < 2.0, "redis must stop promptly on SIGTERM"
    assert server.wait(timeout=5)["StatusCode"] == 0


def test_counter_increments_against_redis(engine: docker.DockerClient, net: str) -> None:
    run(engine, "redis", "redis", network=net)
    app = run(engine, "counter", "counter", network=net,
              environment={"REDIS_HOST": f"{NAME}-redis", "REDIS_PORT": "6379"})
    wait_for(lambda: sh(app, "curl -sf localhost:3000/healthz")[0] == 0, what="counter up")
    wait_for(lambda: sh(app, f"redis-cli -h {NAME}-redis ping")[1].strip() == "PONG", what="redis up")
    # `curl` and `sh` inside the image, as in `kubectl exec -it counter -c app -- sh`.
    assert sh(app, "curl -s localhost:3000")[1] == "1\n"
    assert sh(app, "curl -s localhost:3000/")[1] == "2\n"
    # And over the network, from another container.
    box = run(engine, "busybox", "box", network=net, command=["sleep", "infinity"])
    assert sh(box, f"wget -qO- http://{NAME}-counter:3000/")[1] == "3\n"
    assert stop_timed(app) < 2.0, "counter must stop promptly on SIGTERM"


def test_counter_reports_redis_errors_as_500(engine: docker.DockerClient, net: str) -> None:
    app = run(engine, "counter", "counter", network=net, environment={"REDIS_HOST": "127.0.0.1"})
    wait_for(lambda: sh(app, "curl -sf localhost:3000/healthz")[0] == 0, what="counter up")
    code, out = sh(app, "curl -s -w ' %{http_code}' localhost:3000/")
    assert out.endswith(" 500") and "redis error" in out, out


@pytest.mark.parametrize("key, version", [("echo-v1", "v1"), ("echo-v2", "v2")])
def test_echo_answers_with_its_version(engine: docker.DockerClient, net: str, key: str, version: str) -> None:
    app = run(engine, key, key, network=net, hostname=f"{key}-pod")
    wait_for(lambda: sh(app, "curl -sf localhost:3000/ >/dev/null")[0] == 0, what=f"{key} up")
    code, out = sh(app, "curl -s localhost:3000/")
    assert out.splitlines()[0] == f"echo {version} from {key}-pod"
    code, out = sh(app, "curl -s -w '%{http_code}' localhost:3000/not/exist")
    assert out.endswith("200") and "GET /not/exist" in out
    # The guide's failing probes use port 8080, which nothing serves.
    assert sh(app, "curl -s -o /dev/null localhost:8080/not/exist")[0] != 0
    box = run(engine, "busybox", "box", network=net, command=["sleep", "infinity"])
    code, out = sh(box, f"head -c 2000000 /dev/zero | curl -s --data-binary @- http://{NAME}-{key}:3000/up")
    assert f"echo {version} from {key}-pod" in out and "body: 2000000 bytes" in out, out
    assert stop_timed(app) < 2.0, "echo must stop promptly on SIGTERM"


def test_busybox_runs_the_guides_sidecar_example(engine: docker.DockerClient) -> None:
    vol = engine.volumes.create(f"{NAME}-varlog", labels=LABELS)
    mounts = {vol.name: {"bind": "/var/log", "mode": "rw"}}
    # empty-dir.yml: `args` replace CMD; the image's entrypoint (tini) stays.
    app = run(engine, "busybox", "app", volumes=mounts, command=[
        "/bin/sh", "-c",
        'while true; do echo "$(date)\\n" >> /var/log/example.log; sleep 1; done'])
    sidecar = run(engine, "busybox", "sidecar", volumes=mounts,
                  command=["/bin/sh", "-c", "tail -f /var/log/example.log"])
    year = time.strftime("%Y", time.gmtime())
    wait_for(lambda: sidecar.logs().decode().count(year) >= 2, timeout=20, what="sidecar tailing the log")
    # busybox ash, as in the guide's output: echo keeps "\n" literally (dash would print a blank line).
    assert [line.endswith("\\n") for line in sidecar.logs().decode().splitlines() if year in line][:2] == [True, True]
    for tool in ("date", "tail", "sleep", "nc"):
        assert sh(app, f"command -v {tool}")[0] == 0, tool
        assert sh(app, f"readlink -f $(command -v {tool})")[1].strip() == "/usr/bin/busybox", tool
    # A shell loop under tini stops on SIGTERM (a shell as PID 1 would ignore it for 10 s).
    assert stop_timed(app) < 2.0
    assert stop_timed(sidecar) < 2.0


def test_busybox_wget_fetches_and_honours_a_timeout(engine: docker.DockerClient) -> None:
    """`wget -T SEC -qO- URL`, as typed to poke a Service by hand: fetches, and gives up after SEC.

    Debian's busybox wget alone dies of SIGSEGV (exit 139) on any `-T`; the image's wrapper fixes that.
    """
    box = run(engine, "busybox", "box", command=["sleep", "infinity"])
    sh(box, "mkdir -p /tmp/www && echo hello-from-httpd > /tmp/www/index.html "
            "&& busybox httpd -p 127.0.0.1:8080 -h /tmp/www")
    for flags in ("-T 3 -qO-", "-T3 -qO-", "-qT3 -O-", "--timeout=3 -qO-", "-qO-"):
        code, out = sh(box, f"wget {flags} http://127.0.0.1:8080/index.html")
        assert (code, out.strip()) == (0, "hello-from-httpd"), (flags, code, out)
    # A listener that accepts and never answers: wget gives up after -T seconds with busybox's words.
    sh(box, "(nc -ll -p 9000 -e sleep 30 &) ; sleep 0.3")
    t0 = time.monotonic()
    code, out = sh(box, "wget -T 1 -qO- http://127.0.0.1:9000/")
    assert code == 1 and "download timed out" in out and "Terminated" not in out, (code, out)
    assert time.monotonic() - t0 < 5
    # Started with `&` by a script (SIGINT ignored there), it still gives up.
    t0 = time.monotonic()
    code, out = sh(box, "wget -T 1 -qO- http://127.0.0.1:9000/ & wait $!")
    assert code == 1 and "download timed out" in out, (code, out)
    assert time.monotonic() - t0 < 5
    code, out = sh(box, "wget -T 1 -qO- http://127.0.0.1:1/")
    assert code == 1 and "Connection refused" in out, (code, out)


def test_nginx_serves_its_default_page_and_logs_to_stdout(engine: docker.DockerClient) -> None:
    web = run(engine, "nginx", "nginx")
    wait_for(lambda: sh(web, "curl -sf localhost:80/ >/dev/null")[0] == 0, what="nginx up")
    assert "Welcome to nginx" in sh(web, "curl -s localhost:80/")[1]
    wait_for(lambda: b"GET / HTTP/1.1" in web.logs(), what="access log on stdout")
    assert stop_timed(web) < 2.0


def test_pause_reaps_zombies_and_exits_on_sigterm_within_a_second(engine: docker.DockerClient) -> None:
    pause = run(engine, "pause", "pause", network_mode="none")
    wait_for(lambda: engine.containers.get(pause.id).status == "running", what="pause running")
    assert "tini" in sh(pause, "tr '\\0' ' ' < /proc/1/cmdline")[1]
    # Orphan a child: it is re-parented to PID 1, which must reap it when it exits.
    sh(pause, "sleep 0.2 & exit 0")
    time.sleep(1.0)
    code, states = sh(pause, "for f in /proc/[0-9]*/stat; do cut -d' ' -f3 \"$f\" 2>/dev/null; done")
    assert "Z" not in states.split(), f"zombies left: {states!r}"
    elapsed = stop_timed(pause, timeout=5)
    assert elapsed < 1.0, f"pause took {elapsed:.2f}s to stop"
    assert pause.wait(timeout=5)["StatusCode"] == 0


# --- image build|ls|load|rm ---------------------------------------------------------------------------
def test_image_cli_build_ls_load_rm(engine: docker.DockerClient, tmp_path: Path) -> None:
    tag = "minikube-py/mkt-images-cli:1"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {config.IMAGES['base']}\nCOPY hello.txt /hello.txt\n")
    (ctx / "hello.txt").write_text("hello\n")
    runner = CliRunner()
    try:
        res = runner.invoke(image_cli, ["build", "-t", tag, str(ctx)])
        assert res.exit_code == 0, res.output
        assert f"Successfully tagged {tag}" in res.output
        res = runner.invoke(image_cli, ["ls"])
        assert res.exit_code == 0 and tag in res.output.splitlines()
        archive = tmp_path / "img.tar"
        with open(archive, "wb") as f:
            for chunk in engine.images.get(tag).save(named=True):
                f.write(chunk)
        assert tarfile.is_tarfile(archive)
        res = runner.invoke(image_cli, ["rm", tag])
        assert res.exit_code == 0, res.output
        with pytest.raises(ImageNotFound):
            engine.images.get(tag)
        res = runner.invoke(image_cli, ["load", str(archive)])
        assert res.exit_code == 0 and f"Loaded image: {tag}" in res.output, res.output
        res = runner.invoke(image_cli, ["ls", "--format", "table"])
        assert res.exit_code == 0 and "mkt-images-cli" in res.output
        res = runner.invoke(image_cli, ["rm", "minikube-py/mkt-images-does-not-exist:0"])
        assert res.exit_code == 1
    finally:
        try:
            engine.images.remove(tag, force=True)
        except ImageNotFound:
            pass


def test_image_build_names_a_missing_dockerfile_or_base_without_asking_a_registry(
        engine: docker.DockerClient, tmp_path: Path) -> None:
    """minikube's GUEST_IMAGE_BUILD (exit 80), and a missing base named before the engine is asked to
    build (it would try to pull it: a registry lookup through the host's resolver)."""
    from tests.conftest import run_cli

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    res = run_cli("image", "build", "-t", "minikube-py/mkt-nobuild:1", str(ctx))
    assert res.returncode == 80, res.stdout + res.stderr
    assert "Exiting due to GUEST_IMAGE_BUILD: Failed to build image: Cannot locate specified Dockerfile" in res.stderr
    (ctx / "Dockerfile").write_text("ARG TAG=0\nFROM minikube-py/mkt-no-such-base:${TAG}\n")
    res = run_cli("image", "build", "-t", "minikube-py/mkt-nobuild:1", str(ctx))
    assert res.returncode == 80, res.stdout + res.stderr
    assert "base image 'minikube-py/mkt-no-such-base:0' is not in the local engine" in res.stderr
    with pytest.raises(ImageNotFound):
        engine.images.get("minikube-py/mkt-nobuild:1")
