# An HTTP/2 (h2c, prior knowledge) client for the server specs, built on the `h2` module.
#   h2_client.py PORT N [trailers]      (N = 0: open the connection only, see below)
# Opens N streams at once: POST /<i> with headers only; waits until the response headers of
# all N arrived (so every handler must be running at the same time), then sends each body
# ("body-<i>", plus a trailer "x-req-trailer: <i>" when asked) and collects the responses.
# Prints one line per stream, "<i> <status> <body>", then "trailer <i> <name> <value>" lines.
import socket, sys, time
import h2.config, h2.connection, h2.events, h2.exceptions

port, n = int(sys.argv[1]), int(sys.argv[2])
send_trailers = "trailers" in sys.argv[3:]
sock = socket.create_connection(("127.0.0.1", port))
sock.settimeout(5)
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
if n == 0:
    # No streams: stay idle and print when the server ends the connection (GOAWAY, or closing
    # it); like any client, close on GOAWAY.
    start = time.monotonic()
    sock.sendall(conn.data_to_send())
    how = "closed"
    while how == "closed":
        try:
            data = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            data = b""
        if not data:
            break
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            events = [h2.events.ConnectionTerminated()]  # frames after a GOAWAY (a PING)
        if any(isinstance(ev, h2.events.ConnectionTerminated) for ev in events):
            how = "goaway"
        else:
            sock.sendall(conn.data_to_send())
    print("%s %.3f" % (how, time.monotonic() - start))
    sys.exit(0)
ids = {}
for i in range(n):
    sid = conn.get_next_available_stream_id()
    ids[sid] = i
    conn.send_headers(sid, [(":method", "POST"), (":path", "/%d" % i), (":scheme", "http"),
                            (":authority", "127.0.0.1:%d" % port)])
sock.sendall(conn.data_to_send())

status, body, trailers, ended = {}, {}, [], set()
deadline = time.monotonic() + 10
bodies_sent = False
while len(ended) < n and time.monotonic() < deadline:
    if not bodies_sent and len(status) == n:
        for sid, i in ids.items():
            if send_trailers:
                conn.send_data(sid, b"body-%d" % i)
                conn.send_headers(sid, [("x-req-trailer", str(i))], end_stream=True)
            else:
                conn.send_data(sid, b"body-%d" % i, end_stream=True)
        bodies_sent = True
        sock.sendall(conn.data_to_send())
    data = sock.recv(65536)
    if not data:
        break
    for ev in conn.receive_data(data):
        if isinstance(ev, h2.events.ResponseReceived):
            status[ev.stream_id] = dict(ev.headers)[b":status"].decode()
        elif isinstance(ev, h2.events.TrailersReceived):
            for k, v in ev.headers:
                trailers.append("trailer %d %s %s" % (ids[ev.stream_id], k.decode(), v.decode()))
        elif isinstance(ev, h2.events.DataReceived):
            body[ev.stream_id] = body.get(ev.stream_id, b"") + ev.data
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            ended.add(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            ended.add(ev.stream_id)
            status[ev.stream_id] = "reset"
    sock.sendall(conn.data_to_send())
for sid in sorted(ids):
    print("%d %s %s" % (ids[sid], status.get(sid, "none"), body.get(sid, b"").decode()))
for t in sorted(trailers):
    print(t)
conn.close_connection()
sock.sendall(conn.data_to_send())
sock.close()
