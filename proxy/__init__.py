"""kube-proxy for minikube-py: Services as iptables (or IPVS) rules in each node's network namespace.

- `proxy.state`: `build_proxy_state(services, endpoints, pods, cluster_cidr=, node_ip=) -> ProxyState` (pure)
- `proxy.render`: `render_nat_rules(state, existing_chains=()) -> str`, the whole `*filter` + `*nat`
  ruleset of our chains for one `iptables-restore --noflush` (pure, golden-tested)
- `proxy.iptables`: `IptablesApplier(netns=None)`: `existing_chains()`, `restore(text)`, `ensure_jumps()`,
  `cleanup()`; the `JUMPS` table
- `proxy.ipvs`: `compute_virtual_servers(state)` (pure), `IpvsApplier`, `require_ipvs()`
- `proxy.proxier`: `run_proxy(client, config, node_name, node_ip, *, mode=None)`, the node agent's entry
  point; `make_proxier(...)`, `Proxier`, `prepare_node_network(netns=None)`
"""
