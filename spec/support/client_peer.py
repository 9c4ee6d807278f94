# Misbehaving HTTP/1.1 servers for the client specs. Prints its port, then serves until killed.
#   client_peer.py drop-second   each connection answers its first request (keep-alive), then
#                                closes when the next request arrives, without answering
#   client_peer.py silent        accepts and reads, never answers
import socket, sys, threading

mode = sys.argv[1]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
print(srv.getsockname()[1], flush=True)
count = [0]


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        b = conn.recv(65536)
        if not b:
            return None
        data += b
    return data


def handle(conn):
    with conn:
        if mode == "silent":
            while conn.recv(65536):
                pass
            return
        if read_request(conn) is None:
            return
        count[0] += 1
        body = b"request %d" % count[0]
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        read_request(conn)


while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
