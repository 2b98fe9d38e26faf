"""The guide's Service chapter on a real cluster: ClusterIP + DNS, NodePort, load balancing, affinity,
hairpin, readiness, the DNS server's answers, and the proxy's rules in the node namespace.

Every assertion is an outcome a user can see: a curl answer, a resolved address, a rule in iptables-save.
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter

import pytest

from tests.e2e.helpers import curl, guide, jsonpath, pod_exec, rollout, wait_until

pytestmark = pytest.mark.e2e

def first_pod(cluster, selector: str) -> str:
    return wait_until(lambda: jsonpath(cluster, "pods", "-l", selector, "--field-selector=status.phase=Running",
                                       "-o", "jsonpath={.items[0].metadata.name}"),
                      what=f"a running pod for {selector}")


@pytest.fixture
def counter_app(cluster):
    """The guide's flagship example: redis Deployment + Service, counter Deployment, NodePort 31000."""
    cluster.apply(guide("counter-redis-svc.yml"))
    cluster.apply(guide("counter-app.yml"))
    cluster.apply(guide("counter-nodeport.yml"))
    try:
        rollout(cluster, "redis")
        rollout(cluster, "counter")
        yield cluster
    finally:
        for name in ("counter-nodeport.yml", "counter-app.yml", "counter-redis-svc.yml"):
            cluster.kubectl("delete", "-f", str(guide(name)), "--ignore-not-found", "--wait=false")


def test_counter_finds_redis_by_name_and_counts_through_clusterip_and_nodeport(counter_app):
    cluster = counter_app
    redis_ip = jsonpath(cluster, "svc", "redis", "-o", "jsonpath={.spec.clusterIP}")
    pod = first_pod(cluster, "app=counter,tier=app")
    resolve = "import socket,sys; print(socket.gethostbyname(sys.argv[1]))"
    for name in ("redis", "redis.default.svc.cluster.local"):
        assert pod_exec(cluster, pod, "python3", "-c", resolve, name).strip() == redis_ip

    first = int(wait_until(lambda: pod_exec(cluster, pod, "curl", "-s", "localhost:3000").strip(),
                           what="the counter to answer"))
    # The pod IP answers from the host (routed into the node, then onto cni0).
    pod_ip = jsonpath(cluster, "pod", pod, "-o", "jsonpath={.status.podIP}")
    first = int(curl(f"http://{pod_ip}:3000/").strip())
    second = int(pod_exec(cluster, pod, "curl", "-s", "localhost:3000").strip())
    assert second == first + 1

    # The counter Service's ClusterIP answers from another pod (the redis pod has curl too).
    np_ip = jsonpath(cluster, "svc", "counter-np", "-o", "jsonpath={.spec.clusterIP}")
    redis_pod = first_pod(cluster, "app=counter,tier=db")
    third = int(wait_until(lambda: pod_exec(cluster, redis_pod, "curl", "-s", "-m", "3",
                                            f"http://{np_ip}:3000/").strip(), what="ClusterIP from a pod"))
    assert third > second

    # NodePort from the host, and `minikube-py service --url` prints exactly that URL.
    url = f"http://{cluster.node_ip(0)}:31000/"
    n1 = int(wait_until(lambda: curl(url).strip(), what="NodePort 31000 from the host"))
    n2 = int(curl(url).strip())
    assert n2 == n1 + 1
    from tests.conftest import run_cli
    out = run_cli("service", "counter-np", "--url", "-p", cluster.profile, check=True).stdout.split()
    assert out == [url.rstrip("/")]
    svc = json.loads(jsonpath(cluster, "svc", "counter-np", "-o", "json"))
    assert svc["spec"]["ports"][0]["nodePort"] == 31000
    table = cluster.kubectl("get", "svc", "counter-np", check=True).stdout
    assert re.search(r"counter-np\s+NodePort\s+\S+\s+<none>\s+3000:31000/TCP", table), table


ECHO3 = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo3}
spec:
  replicas: 3
  selector: {matchLabels: {app: echo3}}
  template:
    metadata: {labels: {app: echo3}}
    spec:
      containers:
        - name: echo
          image: ghcr.io/subicura/echo:v1
          readinessProbe:
            exec: {command: ["sh", "-c", "test ! -e /tmp/unready"]}
            periodSeconds: 1
            failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: echo3}
spec:
  type: NodePort
  selector: {app: echo3}
  ports: [{port: 80, targetPort: 3000}]
---
apiVersion: v1
kind: Service
metadata: {name: echo3-sticky}
spec:
  selector: {app: echo3}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 3000}]
"""


@pytest.fixture
def echo3(cluster):
    cluster.apply(ECHO3)
    try:
        rollout(cluster, "echo3")
        wait_until(lambda: len(jsonpath(cluster, "endpoints", "echo3",
                                        "-o", "jsonpath={.subsets[*].addresses[*].ip}").split()) == 3,
                   what="3 ready endpoints")
        yield cluster
    finally:
        cluster.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=ECHO3)


def hosts_seen(cluster, url: str, n: int) -> Counter:
    """Ask `url` n times from node 0's namespace; count the answering pods (echo names its hostname)."""
    script = f"for i in $(seq {n}); do curl -s -m 2 {url}; echo; done"
    out = cluster.node_exec(0, "sh", "-c", script, timeout=120).stdout
    return Counter(m.group(1) for m in re.finditer(r"from (\S+)", out))


def test_load_balancing_affinity_auto_nodeport_and_hairpin(echo3):
    cluster = echo3
    ip = jsonpath(cluster, "svc", "echo3", "-o", "jsonpath={.spec.clusterIP}")
    spread = hosts_seen(cluster, f"http://{ip}/", 60)
    assert len(spread) == 3 and sum(spread.values()) == 60, spread

    sticky = jsonpath(cluster, "svc", "echo3-sticky", "-o", "jsonpath={.spec.clusterIP}")
    assert len(hosts_seen(cluster, f"http://{sticky}/", 20)) == 1

    node_port = int(jsonpath(cluster, "svc", "echo3", "-o", "jsonpath={.spec.ports[0].nodePort}"))
    assert 30000 <= node_port <= 32767
    assert "echo v1" in wait_until(lambda: curl(f"http://{cluster.node_ip(0)}:{node_port}/"), what="auto NodePort")

    # Hairpin: a pod reaches itself through its own Service (a one-pod service so the answer must be itself).
    pod = first_pod(cluster, "app=echo3")
    cluster.apply(f"""
apiVersion: v1
kind: Service
metadata: {{name: echo3-self}}
spec:
  selector: {{app: echo3, statefulset.kubernetes.io/pod-name: {pod}}}
  ports: [{{port: 80, targetPort: 3000}}]
""")
    try:
        cluster.kubectl("label", "pod", pod, f"statefulset.kubernetes.io/pod-name={pod}", check=True)
        self_ip = jsonpath(cluster, "svc", "echo3-self", "-o", "jsonpath={.spec.clusterIP}")
        answer = wait_until(lambda: pod_exec(cluster, pod, "curl", "-s", "-m", "3", f"http://{self_ip}/"),
                            what="hairpin answer")
        assert f"from {pod}" in answer
    finally:
        cluster.kubectl("delete", "svc", "echo3-self", "--ignore-not-found")


def test_unready_pod_leaves_the_endpoints_and_gets_no_traffic_then_returns(echo3):
    cluster = echo3
    pod = first_pod(cluster, "app=echo3")
    pod_ip = jsonpath(cluster, "pod", pod, "-o", "jsonpath={.status.podIP}")
    ip = jsonpath(cluster, "svc", "echo3", "-o", "jsonpath={.spec.clusterIP}")
    pod_exec(cluster, pod, "touch", "/tmp/unready")
    wait_until(lambda: pod_ip in jsonpath(cluster, "endpoints", "echo3",
                                          "-o", "jsonpath={.subsets[*].notReadyAddresses[*].ip}"),
               what="the pod to move to notReadyAddresses")
    time.sleep(1)  # the proxy syncs within a second of the endpoints change
    spread = hosts_seen(cluster, f"http://{ip}/", 30)
    assert pod not in spread and sum(spread.values()) == 30, spread
    assert jsonpath(cluster, "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].restartCount}") == "0"

    pod_exec(cluster, pod, "rm", "-f", "/tmp/unready")
    wait_until(lambda: pod_ip in jsonpath(cluster, "endpoints", "echo3",
                                          "-o", "jsonpath={.subsets[*].addresses[*].ip}"),
               what="the pod to be ready again")
    wait_until(lambda: pod in hosts_seen(cluster, f"http://{ip}/", 30), what="traffic to return")


DNS_OBJECTS = """
apiVersion: v1
kind: Service
metadata: {name: dns-named}
spec:
  selector: {app: nobody}
  ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: dns-headless}
spec:
  clusterIP: None
  selector: {app: dns-headless}
  ports: [{name: http, port: 3000}]
---
apiVersion: v1
kind: Pod
metadata: {name: dns-headless-pod, labels: {app: dns-headless}}
spec:
  containers: [{name: echo, image: ghcr.io/subicura/echo:v1}]
---
apiVersion: v1
kind: Service
metadata: {name: dns-external}
spec:
  type: ExternalName
  externalName: redis.default.svc.cluster.local
"""


def test_dns_answers_a_srv_ptr_headless_externalname_nxdomain_over_udp_and_tcp(cluster):
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.reversename

    cluster.apply(DNS_OBJECTS)
    try:
        server = cluster.config.gateway_ip
        named_ip = jsonpath(cluster, "svc", "dns-named", "-o", "jsonpath={.spec.clusterIP}")
        pod_ip = wait_until(lambda: jsonpath(cluster, "pod", "dns-headless-pod", "-o", "jsonpath={.status.podIP}"),
                            what="headless pod IP")
        wait_until(lambda: jsonpath(cluster, "endpoints", "dns-headless",
                                    "-o", "jsonpath={.subsets[*].addresses[*].ip}") == pod_ip,
                   timeout=90, what="headless endpoint ready")

        def ask(name: str, rdtype: str, tcp: bool = False):
            q = dns.message.make_query(name, rdtype)
            return (dns.query.tcp if tcp else dns.query.udp)(q, server, timeout=3)

        def addresses(resp) -> list[str]:
            return sorted(r.to_text() for rrset in resp.answer for r in rrset
                          if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.CNAME, dns.rdatatype.SRV,
                                              dns.rdatatype.PTR))

        for tcp in (False, True):
            assert addresses(ask("dns-named.default.svc.cluster.local", "A", tcp)) == [named_ip]
        srv = addresses(ask("_http._tcp.dns-named.default.svc.cluster.local", "SRV"))
        assert srv and srv[0].endswith("8080 dns-named.default.svc.cluster.local.")
        ptr = addresses(ask(dns.reversename.from_address(named_ip).to_text(), "PTR"))
        assert ptr == ["dns-named.default.svc.cluster.local."]
        assert wait_until(lambda: addresses(ask("dns-headless.default.svc.cluster.local", "A")) == [pod_ip],
                          what="headless A = pod IP")
        ext = ask("dns-external.default.svc.cluster.local", "A")
        assert "redis.default.svc.cluster.local." in addresses(ext)
        nx = ask("nope.default.svc.cluster.local", "A", tcp=True)
        assert nx.rcode() == dns.rcode.NXDOMAIN

        # From a pod, through the kube-dns ClusterIP (the proxy DNATs 10.96.0.10:53 to this server).
        resolve = "import socket,sys; print(socket.gethostbyname(sys.argv[1]))"
        assert pod_exec(cluster, "dns-headless-pod", "python3", "-c", resolve, "dns-named").strip() == named_ip
    finally:
        cluster.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=DNS_OBJECTS)


def test_proxy_rules_follow_service_deletion_and_repair_a_flushed_table(cluster):
    cluster.apply("""
apiVersion: v1
kind: Service
metadata: {name: rules-probe}
spec:
  selector: {app: rules-probe}
  ports: [{port: 1234}]
""")
    comment = "default/rules-probe"

    def rules() -> str:
        return cluster.node_exec(0, "iptables-save").stdout

    wait_until(lambda: comment in rules(), what="rules for the new service")
    cluster.kubectl("delete", "svc", "rules-probe", check=True)
    wait_until(lambda: comment not in rules(), what="rules gone after delete")

    # A user (or another tool) flushes the nat table in the node: the proxy's next sync repairs it.
    kube_dns = "kube-system/kube-dns"
    assert kube_dns in rules()
    flush = cluster.node_exec(0, "iptables", "-t", "nat", "-F")
    assert flush.returncode == 0, flush.stderr
    assert kube_dns not in cluster.node_exec(0, "iptables-save", "-t", "nat").stdout
    wait_until(lambda: kube_dns in cluster.node_exec(0, "iptables-save", "-t", "nat").stdout, timeout=20,
               what="the proxy to repair the flushed nat table")
    jumps = [l for l in cluster.node_exec(0, "iptables-save", "-t", "nat").stdout.splitlines()
             if l.startswith("-A PREROUTING") and "KUBE-SERVICES" in l]
    assert len(jumps) == 1, jumps
