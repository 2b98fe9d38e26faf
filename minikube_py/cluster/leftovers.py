"""Find and remove what crashed or interrupted runs left behind, for profiles named with a prefix.

Used by the test suite at session start (test profiles are `mkt-*`) and by
`scripts/cleanup-test-profiles.sh`. Several people (and CI jobs) may run tests on one machine at once, so
a profile is only cleaned when nobody owns it any more:

- a profile with a state dir is cleaned when its `test-owner.pid` names a dead process, or when it has no
  owner file and its state dir is older than `min_age` seconds;
- resources with *no* state dir (an orphan container, namespace, bridge or rule) are removed when they are
  older than `min_age` (containers and namespaces have a creation time) or, for bridges and FORWARD rules,
  when no namespace of that profile exists any more.

Only things that carry our names are touched: namespaces `mkpy-<prefix>…`, bridges whose alias is
`minikube-py:<prefix>…`, iptables rules whose comment is `minikube-py:<prefix>…`, containers labelled
`io.minikube-py.profile=<prefix>…`, and processes recorded in those profiles' pid files (or running inside
those namespaces with `--profile <prefix>…` on their command line).
"""
from __future__ import annotations

import datetime
import os
import shlex
import shutil
import signal
import time
from pathlib import Path

from minikube_py import config as C
from minikube_py.config import ClusterConfig, home_dir
from minikube_py.cluster import layout, network, shell, supervisor

OWNER_FILE = "test-owner.pid"


def claim(profile: str, pid: int | None = None) -> Path:
    """Mark *profile* as owned by *pid* (default: this process) before starting it."""
    d = C.profile_dir(profile)
    d.mkdir(parents=True, exist_ok=True)
    (d / OWNER_FILE).write_text(f"{pid or os.getpid()}\n")
    return d


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _owned(d: Path, min_age: float) -> bool:
    owner = d / OWNER_FILE
    if owner.is_file():
        try:
            return _alive(int(owner.read_text().strip()))
        except ValueError:
            return False
    return time.time() - d.stat().st_mtime < min_age


def _profile_of_netns(name: str) -> str | None:
    return name[len("mkpy-"):].rsplit("-", 1)[0] if name.startswith("mkpy-") else None


def kill_netns_processes(ns: str, prefix: str, exact: bool = False) -> None:
    """SIGKILL processes inside namespace *ns* whose `--profile` argument starts with (or, with *exact*,
    equals) *prefix* — our node processes and their children, never anything else in there."""
    proc = shell.run(["ip", "netns", "pids", ns], check=False)
    for pid_s in proc.stdout.split():
        pid = int(pid_s)
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv]
        if any(a == "--profile" and i + 1 < len(args) and (args[i + 1] == prefix if exact else args[i + 1].startswith(prefix))
               for i, a in enumerate(args)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def clean_profile(profile: str) -> None:
    """Everything of one profile: processes, containers, network (from its saved config), state dir."""
    from minikube_py.cluster.lifecycle import remove_containers
    d = C.profile_dir(profile)
    for name in supervisor.names(d):
        supervisor.stop(d, name, timeout=3)
    remove_containers(profile)
    if (d / "cluster.json").is_file():
        try:
            cfg = ClusterConfig.load(profile)
            nodes = layout.load_nodes(cfg)
            for n in nodes:
                if network.netns_exists(n.netns):
                    kill_netns_processes(n.netns, profile, exact=True)
            network.tear_down(cfg, nodes)
        except (ValueError, OSError, KeyError):
            pass
    shutil.rmtree(d, ignore_errors=True)


def remove_leftovers(prefix: str = "mkt-", min_age: float = 600.0) -> list[str]:
    """Clean unowned profiles and orphans named with *prefix*; return what was removed (for logs)."""
    removed: list[str] = []
    root = home_dir()
    live_profiles: set[str] = set()
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if not (d.is_dir() and d.name.startswith(prefix)):
                continue
            if _owned(d, min_age):
                live_profiles.add(d.name)
                continue
            clean_profile(d.name)
            removed.append(f"profile {d.name}")
    known_netns_prefixes = {ClusterConfig(profile=p).netns_name(0)[:-1] for p in live_profiles}

    # Containers whose profile has no live state dir.
    try:
        import docker
        client = docker.from_env(timeout=30)
        now = datetime.datetime.now(datetime.timezone.utc)
        for c in client.containers.list(all=True, filters={"label": C.LABEL_PROFILE}):
            prof = c.labels.get(C.LABEL_PROFILE, "")
            if not prof.startswith(prefix) or prof in live_profiles:
                continue
            created = datetime.datetime.fromisoformat(c.attrs["Created"][:26].rstrip("Z") + "+00:00")
            if not (root / prof).exists() and (now - created).total_seconds() >= min_age:
                c.remove(force=True)
                removed.append(f"container {c.name}")
    except Exception:  # noqa: BLE001 — no Docker: no containers to clean
        pass

    # Namespaces.
    netns_left: set[str] = set()
    if network.NETNS_DIR.is_dir():
        for ns in sorted(p.name for p in network.NETNS_DIR.iterdir()):
            if not ns.startswith(f"mkpy-{prefix}"):
                continue
            if any(ns.startswith(k) for k in known_netns_prefixes):
                netns_left.add(ns)
                continue
            if time.time() - (network.NETNS_DIR / ns).stat().st_mtime < min_age:
                netns_left.add(ns)
                continue
            kill_netns_processes(ns, prefix)
            shell.ip(["netns", "del", ns], check=False)
            removed.append(f"netns {ns}")

    # Bridges (by alias) and their FORWARD rules (by comment), when the profile is gone.
    def profile_gone(prof: str) -> bool:
        if prof in live_profiles or (root / prof).exists():
            return False
        short = ClusterConfig(profile=prof).netns_name(0)[:-1]
        return not any(ns.startswith(short) for ns in netns_left)

    for link in shell.ip_json(["link", "show", "type", "bridge"]):
        alias = link.get("ifalias", "")
        if alias.startswith(layout.BRIDGE_ALIAS_PREFIX + prefix):
            prof = alias[len(layout.BRIDGE_ALIAS_PREFIX):]
            if profile_gone(prof):
                shell.ip(["link", "del", link["ifname"]], check=False)
                removed.append(f"bridge {link['ifname']}")
    for chain in ("DOCKER-USER", "FORWARD"):
        rules = shell.run(["iptables", "-w", "-S", chain], check=False).stdout.splitlines()
        for rule in rules:
            marker = f'--comment "minikube-py:{prefix}'
            if rule.startswith("-A ") and marker in rule:
                prof = rule.split('--comment "minikube-py:', 1)[1].split('"', 1)[0]
                if profile_gone(prof):
                    shell.run(["iptables", "-w", "-D"] + shlex.split(rule)[1:], check=False)
                    removed.append(f"iptables rule {rule}")
    return removed
