#!/usr/bin/env python3
"""HTTP/2 peer for spec/request_spec.lua (python-h2 over asyncio).

    request_h2_server.py [CERT KEY]

Without CERT/KEY: h2c with prior knowledge; with them: TLS, ALPN "h2". Prints its port, then
serves on 127.0.0.1 until killed or for 60 s at most. Every answer is a text line:
"<method> <path> conn=<connection number> stream=<stream id> body=<request body bytes>",
after a delay of ?delay=SECONDS.
"""
import asyncio, ssl, sys, urllib.parse

import h2.config, h2.connection, h2.events

connections = 0


async def serve(reader, writer):
    global connections
    connections += 1
    number = connections
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    requests = {}

    async def answer(stream_id, headers, body):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers[":path"]).query))
        await asyncio.sleep(float(query.get("delay", "0")))
        text = "%s %s conn=%d stream=%d body=%d" % (headers[":method"], headers[":path"], number, stream_id, len(body))
        conn.send_headers(stream_id, [(":status", "200"), ("content-length", str(len(text)))])
        conn.send_data(stream_id, text.encode(), end_stream=True)
        writer.write(conn.data_to_send())

    while True:
        data = await reader.read(65536)
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = {k.decode(): v.decode() for k, v in event.headers}
                requests[event.stream_id] = (headers, [])
            elif isinstance(event, h2.events.DataReceived):
                requests[event.stream_id][1].append(event.data)
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers, parts = requests.pop(event.stream_id)
                asyncio.ensure_future(answer(event.stream_id, headers, b"".join(parts)))
        writer.write(conn.data_to_send())
        await writer.drain()
    writer.close()


async def main():
    context = None
    if len(sys.argv) > 2:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        context.set_alpn_protocols(["h2"])
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(60)


asyncio.run(main())
