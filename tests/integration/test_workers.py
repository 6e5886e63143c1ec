"""server.max-worker: lux serves from N worker threads in one process."""

import os

from harness import Server, check, eq, get, lux_only

FILES = {"f.txt": "x\n"}


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


@lux_only("lighttpd forks worker processes instead of starting threads")
def test_max_worker_threads():
    with Server("server.max-worker = 1\n", files=FILES) as one:
        for _ in range(5):
            eq(get(one.port, "/f.txt").status, 200, "status with one worker")
        n1 = threads(one.pid)
    with Server("server.max-worker = 2\n", files=FILES) as two:
        for _ in range(20):
            eq(get(two.port, "/f.txt").status, 200, "status with two workers")
        n2 = threads(two.pid)
    check(n2 >= 2, f"{n2} threads with server.max-worker = 2")
    eq(n2 - n1, 1, f"one more thread for one more worker ({n1} vs {n2})")
