"""Work queue semantics the controllers rely on (client-go's: dirty + processing sets)."""
import asyncio

import pytest

from minikube_py.client.workqueue import Controller, ShutDown, WorkQueue


async def test_burst_of_adds_collapses_into_one_item():
    q = WorkQueue()
    for _ in range(5):
        q.add("default/a")
    q.add("default/b")
    assert len(q) == 2
    assert await q.get() == "default/a"
    assert await q.get() == "default/b"


async def test_key_added_while_processing_is_not_handed_to_a_second_worker():
    q = WorkQueue()
    q.add("k")
    key = await q.get()
    q.add("k")  # an event arrives while a worker holds the key
    assert len(q) == 0, "the key must wait until the worker is done"
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "k"


async def test_add_after_and_rate_limited_backoff_grows_and_forget_resets():
    q = WorkQueue(base_delay=0.01)
    q.add_rate_limited("k")
    q.add_rate_limited("k")
    q.add_rate_limited("k")
    assert q.num_requeues("k") == 3
    assert await asyncio.wait_for(q.get(), 1) == "k"
    q.forget("k")
    assert q.num_requeues("k") == 0


async def test_add_after_earliest_pending_wins_for_the_queue_and_the_pod_workers():
    from agent.workers import PodWorkers

    loop = asyncio.get_running_loop()
    q = WorkQueue()
    q.add_after("k", 0.05)
    q.add_after("k", 10)  # later: ignored, the 0.05 s timer stays
    start = loop.time()
    assert await asyncio.wait_for(q.get(), 1) == "k" and loop.time() - start < 1
    q.done("k")
    q.add_after("k", 10)
    q.add_after("k", 0.05)  # earlier: replaces the 10 s timer
    assert await asyncio.wait_for(q.get(), 1) == "k"
    q.done("k")
    assert len(q) == 0  # and only one add came of the two

    synced: list[float] = []

    async def sync(uid: str) -> bool:
        synced.append(loop.time())
        return False

    workers = PodWorkers(sync)
    try:
        start = loop.time()
        workers.enqueue_after("u", 10)
        workers.enqueue_after("u", 0.05)
        await asyncio.sleep(0.3)
        assert len(synced) == 1 and synced[0] - start < 1
    finally:
        await workers.stop()


async def test_shutdown_releases_waiting_getters():
    q = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(getter, 1)


async def test_controller_requeues_failed_sync_until_it_succeeds():
    attempts: list[str] = []

    class Flaky(Controller):
        name = "flaky"
        workers = 2

        async def sync(self, key: str) -> None:
            attempts.append(key)
            if len(attempts) < 3:
                raise RuntimeError("not yet")

    c = Flaky()
    c.queue.base_delay = 0.01
    task = asyncio.create_task(c.run())
    c.queue.add("ns/x")
    for _ in range(100):
        if len(attempts) >= 3:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert attempts == ["ns/x"] * 3
