"""PATCH under contention: a patch applies to whatever is current, so racing writers are retried by the
server (like the apiserver's GuaranteedUpdate); only a patch naming a resourceVersion gets a 409."""
import asyncio

import pytest

from minikube_py.client import ApiClient, Conflict


async def test_concurrent_patches_all_land_and_a_stale_precondition_still_conflicts(cp):
    client = ApiClient(cp.url, token=cp.pki.admin_token, ca_file=cp.pki.ca_cert)
    try:
        cm = await client.create("configmaps", {"metadata": {"name": "race"}, "data": {}}, namespace="default")
        kinds = ["merge", "strategic"]
        await asyncio.gather(*(client.patch("configmaps", "race", {"data": {f"k{i}": str(i)}},
                                            namespace="default", patch_type=kinds[i % 2]) for i in range(20)))
        final = await client.get("configmaps", "race", namespace="default")
        assert final["data"] == {f"k{i}": str(i) for i in range(20)}
        stale = {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]}, "data": {"x": "1"}}
        with pytest.raises(Conflict):
            await client.patch("configmaps", "race", stale, namespace="default")
    finally:
        await client.close()
