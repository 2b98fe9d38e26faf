"""Kubelet-style probes: a manager, one worker per (pod uid, container, probe type), one runner per kind."""
from agent.prober.manager import ProbeManager, ProbeResult

__all__ = ["ProbeManager", "ProbeResult"]
