"""`start --proxy-mode ipvs` on a kernel without IP_VS fails fast, saying why, and makes nothing."""
import os

import pytest

from tests.conftest import run_cli


@pytest.mark.skipif(os.path.exists("/proc/net/ip_vs"),
                    reason="this kernel has IP_VS: the fail-fast path for a missing module can't be exercised")
def test_ipvs_mode_without_the_module_fails_before_making_anything(test_home):
    proc = run_cli("start", "-p", "mkt-ipvs", "--proxy-mode", "ipvs", timeout=60)
    assert proc.returncode == 14, proc.stdout + proc.stderr
    assert "ip_vs kernel module" in proc.stderr and "--proxy-mode iptables" in proc.stderr
    assert not (test_home / "mkt-ipvs").exists()
