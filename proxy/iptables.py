"""Thin iptables applier: learn which of our chains exist, load a rendered ruleset, keep the jumps in place.

Why so thin: all decisions live in the pure renderer (`proxy.render`). This module only talks to the
default `iptables`/`iptables-save`/`iptables-restore` binaries (the nft backend; never iptables-legacy —
mixing backends splits the ruleset in two). It runs in the caller's network namespace — the node agent
runs the proxy inside the node's — or, for tests and tools, in a named one via `ip netns exec`.

The jumps from the built-in chains into ours are a data table (`JUMPS`) used both to install and to clean
up, checked with `iptables -C` before `-I` so they are never duplicated. Nothing here touches a rule that is
not ours: on a Vagrant VM the same tables hold Docker's rules.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from proxy.render import FILTER_FIXED_CHAINS, NAT_FIXED_CHAINS, OUR_CHAIN_PREFIXES

log = logging.getLogger(__name__)


class IptablesError(RuntimeError):
    pass


@dataclass(frozen=True)
class Jump:
    """One rule in a built-in chain that sends traffic into one of our chains."""

    table: str
    chain: str
    args: tuple[str, ...]

    @property
    def target(self) -> str:
        return self.args[-1]


_PORTALS = ("-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES")
_HOSTPORTS = ("-m", "comment", "--comment", "kube hostport portals", "-m", "addrtype", "--dst-type", "LOCAL",
              "-j", "KUBE-HOSTPORTS")
_NEW_PORTALS = ("-m", "conntrack", "--ctstate", "NEW") + _PORTALS

# Order matters only within a chain: each is inserted at the top, so the later entry ends up first.
JUMPS: tuple[Jump, ...] = (
    Jump("nat", "PREROUTING", _PORTALS),
    Jump("nat", "OUTPUT", _PORTALS),
    Jump("nat", "PREROUTING", _HOSTPORTS),
    Jump("nat", "OUTPUT", _HOSTPORTS),
    Jump("nat", "POSTROUTING", ("-m", "comment", "--comment", "kubernetes postrouting rules", "-j",
                                "KUBE-POSTROUTING")),
    Jump("filter", "INPUT", _NEW_PORTALS),
    Jump("filter", "OUTPUT", _NEW_PORTALS),
    Jump("filter", "FORWARD", _NEW_PORTALS),
    Jump("filter", "FORWARD", ("-m", "comment", "--comment", "kubernetes forwarding rules", "-j", "KUBE-FORWARD")),
)


def our_chains_in_save(save_text: str, table_fixed: tuple[str, ...]) -> set[str]:
    """Chains declared in `iptables-save -t <table>` output that belong to us."""
    found = set()
    for line in save_text.splitlines():
        if line.startswith(":"):
            name = line[1:].split()[0]
            if name in table_fixed or name.startswith(OUR_CHAIN_PREFIXES):
                found.add(name)
    return found


class IptablesApplier:
    """Apply rendered rules in the current network namespace, or in *netns* (`ip netns exec`)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    async def _run(self, *argv: str, stdin: str | None = None, check: bool = True) -> tuple[int, str]:
        full = (["ip", "netns", "exec", self.netns] if self.netns else []) + list(argv)
        proc = await asyncio.create_subprocess_exec(
            *full, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        if check and proc.returncode != 0:
            raise IptablesError(f"`{' '.join(full)}` failed ({proc.returncode}): {err.decode().strip()}")
        return proc.returncode or 0, out.decode()

    async def existing_chains(self) -> dict[str, set[str]]:
        """Our chains present now, per table ({"nat": {...}, "filter": {...}}); read only to know what
        to delete, never to decide what to write."""
        _, nat = await self._run("iptables-save", "-t", "nat")
        _, flt = await self._run("iptables-save", "-t", "filter")
        return {"nat": our_chains_in_save(nat, NAT_FIXED_CHAINS),
                "filter": our_chains_in_save(flt, FILTER_FIXED_CHAINS)}

    async def restore(self, text: str) -> None:
        """Load rendered tables with ONE `iptables-restore --noflush` (input on stdin); each table's
        `*table … COMMIT` block is atomic."""
        await self._run("iptables-restore", "--noflush", stdin=text)

    async def ensure_jumps(self) -> int:
        """Insert each missing jump of `JUMPS` (check with `-C` first); returns how many were added.
        Run after `restore`, since a jump to a chain that doesn't exist is refused."""
        added = 0
        for j in JUMPS:
            rc, _ = await self._run("iptables", "-w", "-t", j.table, "-C", j.chain, *j.args, check=False)
            if rc != 0:
                await self._run("iptables", "-w", "-t", j.table, "-I", j.chain, *j.args)
                added += 1
        if added:
            log.info("installed %d iptables jump rule(s) into our chains", added)
        return added

    async def cleanup(self) -> None:
        """Remove our jumps (every copy) and then our chains, in both tables; nothing else is touched."""
        for j in JUMPS:
            for _ in range(100):  # bounded: a rule that can't be deleted must not spin us forever
                rc, _ = await self._run("iptables", "-w", "-t", j.table, "-D", j.chain, *j.args, check=False)
                if rc != 0:
                    break
        chains = await self.existing_chains()
        blocks = []
        for table in ("filter", "nat"):
            names = sorted(chains[table])
            if names:
                # Declaring flushes every one first, so the -X lines never hit a chain still referenced.
                blocks += [f"*{table}", *(f":{c} - [0:0]" for c in names), *(f"-X {c}" for c in names), "COMMIT"]
        if blocks:
            await self.restore("\n".join(blocks) + "\n")
