"""A python `websockets` peer for spec/websocket_spec.lua.

    websocket_peer.py server [protocol ...]
        Serve on 127.0.0.1 (a free port, printed as "port N" on stdout) and echo every message
        (text stays text, binary stays binary). Text commands:
          "close <code> <reason>"  close with that code and reason
          "ping <data>"            ping us, wait for the pong, then send "pong <data>"
          "fragments <n> <word>"   send <word> as a text message in <n> fragments
          "protocol"               send the negotiated subprotocol (or "none")
          "header <name>"          send that request header's value (or "none")
        The first connection's end is printed ("closed <code> <reason>") and ends the server.

    websocket_peer.py client <url> [protocol ...]
        Talk to an echo server at <url>, printing one line per check.
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def say(*words):
    print(*words, flush=True)


async def handler(ws):
    try:
        async for msg in ws:
            if isinstance(msg, bytes):
                await ws.send(msg)
                continue
            cmd, _, rest = msg.partition(" ")
            if cmd == "close":
                code, _, reason = rest.partition(" ")
                await ws.close(int(code), reason)
            elif cmd == "ping":
                await (await ws.ping(rest.encode()))
                await ws.send("pong " + rest)
            elif cmd == "fragments":
                n, _, word = rest.partition(" ")
                await ws.send(iter([word] * int(n)))
            elif cmd == "protocol":
                await ws.send(ws.subprotocol or "none")
            elif cmd == "header":
                await ws.send(ws.request.headers.get(rest, "none"))
            else:
                await ws.send(msg)
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    say("closed", ws.close_code, ws.close_reason)
    done.set()


async def server(protocols):
    global done
    done = asyncio.Event()
    async with serve(handler, "127.0.0.1", 0, subprotocols=protocols or None, max_size=None) as s:
        say("port", s.sockets[0].getsockname()[1])
        await asyncio.wait_for(done.wait(), 60)


async def client(url, protocols):
    async with connect(url, subprotocols=protocols or None, max_size=None, proxy=None, open_timeout=5) as ws:
        say("protocol", ws.subprotocol or "none")
        await ws.send("hello")
        say("text", await ws.recv())
        await ws.send(b"\x00\x01\xff")
        say("binary", (await ws.recv()).hex())
        # one message in three fragments: the server must reassemble it
        await ws.send(iter(["frag", "ment", "ed"]))
        say("fragmented", await ws.recv())
        big = bytes(range(256)) * 4096  # 1 MiB
        await ws.send(big)
        say("big", await ws.recv() == big)
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        say("pong", "ok")
        await ws.close(4001, "bye")
        say("closed", ws.close_code, ws.close_reason)


def main():
    mode = sys.argv[1]
    if mode == "server":
        asyncio.run(server(sys.argv[2:]))
    else:
        asyncio.run(client(sys.argv[2], sys.argv[3:]))


if __name__ == "__main__":
    main()
