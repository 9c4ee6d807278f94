# An HTTP/2 (h2c, prior knowledge) client for the server-push spec, built on the `h2` module.
#   h2_push_client.py PORT PATH
# GETs PATH and reads until that stream and every stream pushed to it ended. Prints
# "promise <path>" per PUSH_PROMISE, then "<path> <status> <body>" per stream, sorted.
import socket, sys, time
import h2.config, h2.connection, h2.events

port, path = int(sys.argv[1]), sys.argv[2]
sock = socket.create_connection(("127.0.0.1", port))
sock.settimeout(5)
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sid = conn.get_next_available_stream_id()
conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "http"),
                        (":authority", "127.0.0.1:%d" % port)], end_stream=True)
sock.sendall(conn.data_to_send())
paths, status, body, ended, lines = {sid: path}, {}, {}, set(), []
deadline = time.monotonic() + 5
while not set(paths) <= ended and time.monotonic() < deadline:
    data = sock.recv(65536)
    if not data:
        break
    for ev in conn.receive_data(data):
        if isinstance(ev, h2.events.PushedStreamReceived):
            p = dict(ev.headers)[b":path"].decode()
            paths[ev.pushed_stream_id] = p
            lines.append("promise %s" % p)
        elif isinstance(ev, h2.events.ResponseReceived):
            status[ev.stream_id] = dict(ev.headers)[b":status"].decode()
        elif isinstance(ev, h2.events.DataReceived):
            body[ev.stream_id] = body.get(ev.stream_id, b"") + ev.data
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
            ended.add(ev.stream_id)
    sock.sendall(conn.data_to_send())
for s in sorted(paths):
    lines.append("%s %s %s" % (paths[s], status.get(s, "none"), body.get(s, b"").decode()))
print("\n".join(sorted(lines)))
conn.close_connection()
sock.sendall(conn.data_to_send())
sock.close()
