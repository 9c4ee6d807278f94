# A scripted SOCKS5 server for the socks specs: it records what each client sends and answers
# as told, wrong answers included. It prints its port on the first line of stdout, then serves
# every connection in its own thread until it is killed.
#   socks_fake.py LOG [bind=HOST] [delay=SECS] [method=A] [auth=A] [reply=A]
# LOG gets one line per message received: "greeting HEX", "auth HEX", "request HEX" (hex of
# the bytes as sent). Each A is what to answer to that message: hex bytes, "close" (close the
# connection), hex bytes then "+close" (a short answer) or "hang" (never answer). Defaults:
# method=0500 auth=0100 reply=05000001000000000000. After the reply, the connection echoes
# what it receives. `delay` holds back the reply to the request.
import socket, sys, threading, time

log_path = sys.argv[1]
opts = dict(a.split("=", 1) for a in sys.argv[2:])
bind = opts.get("bind", "127.0.0.1")
lock = threading.Lock()


def record(kind, data):
    with lock, open(log_path, "a") as f:
        f.write("%s %s\n" % (kind, data.hex()))


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        b = conn.recv(n - len(data))
        if not b:
            raise EOFError
        data += b
    return data


def answer(conn, name, default):
    action = opts.get(name, default)
    if action == "hang":
        time.sleep(3600)
    data = bytes.fromhex(action.replace("close", "").replace("+", ""))
    conn.sendall(data)
    if action.endswith("close"):
        raise EOFError
    return data


def serve(conn):
    try:
        head = recv_exact(conn, 2)
        record("greeting", head + recv_exact(conn, head[1]))
        if answer(conn, "method", "0500")[1:2] == b"\x02":
            head = recv_exact(conn, 2)
            user = recv_exact(conn, head[1])
            plen = recv_exact(conn, 1)
            record("auth", head + user + plen + recv_exact(conn, plen[0]))
            answer(conn, "auth", "0100")
        head = recv_exact(conn, 4)
        atyp = head[3]
        if atyp == 1:
            rest = recv_exact(conn, 6)
        elif atyp == 4:
            rest = recv_exact(conn, 18)
        else:
            n = recv_exact(conn, 1)
            rest = n + recv_exact(conn, n[0] + 2)
        record("request", head + rest)
        time.sleep(float(opts.get("delay", 0)))
        answer(conn, "reply", "05000001000000000000")
        while True:
            b = conn.recv(65536)
            if not b:
                break
            conn.sendall(b)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


family = socket.AF_INET6 if ":" in bind else socket.AF_INET
server = socket.socket(family, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((bind, 0))
server.listen(16)
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
