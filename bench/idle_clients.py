#!/usr/bin/env python3
"""Idle keep-alive connections against a server, and what they cost it in memory.

    idle_clients.py PORT SERVER_PID [N]

Reads the server's VmRSS, opens N (default 5000) HTTP/1.1 connections to 127.0.0.1:PORT, each
sending one GET and reading its whole response, keeps them all open, waits a moment, reads VmRSS
and the server's open descriptors again, then closes everything. Prints one line:
    opened=N failed=F rss_before_kb=A rss_after_kb=B fds_before=C fds_after=D kb_per_conn=K
fds_after - fds_before tells how many connections the server still held when measured (a server
with a short idle timeout would have dropped them).
"""
import asyncio
import os
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
BODY = b"Hello, world!\n"
CONNECT_AT_ONCE = 200  # stay well under the listen backlog
RESPONSE_TIMEOUT = 10.0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def open_one(port, gate, held):
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), RESPONSE_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.write(REQUEST)
        buf = b""
        try:
            # Chunked or not, the response is complete once its body has arrived (plus the
            # chunked terminator, when chunked).
            while True:
                data = await asyncio.wait_for(reader.read(4096), RESPONSE_TIMEOUT)
                if not data:
                    writer.close()
                    return False
                buf += data
                if BODY in buf and (b"chunked" not in buf.lower() or buf.endswith(b"0\r\n\r\n")):
                    break
        except (OSError, asyncio.TimeoutError):
            writer.close()
            return False
        held.append(writer)
        return True


async def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    before, fds_before = rss_kb(pid), fds(pid)
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    held = []
    results = await asyncio.gather(*(open_one(port, gate, held) for _ in range(n)))
    await asyncio.sleep(1.0)  # let the server settle (lazy allocations, deferred frees)
    after, fds_after = rss_kb(pid), fds(pid)
    opened = sum(results)
    per = (after - before) / opened if opened else float("nan")
    print(f"opened={opened} failed={n - opened} rss_before_kb={before} rss_after_kb={after} "
          f"fds_before={fds_before} fds_after={fds_after} kb_per_conn={per:.1f}", flush=True)
    for w in held:
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
