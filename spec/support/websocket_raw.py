"""A WebSocket peer on a raw socket, for frames no library sends (spec/websocket_spec.lua).

    websocket_raw.py client <port> <case>
        Open a websocket to 127.0.0.1:<port>, send the case's frames, and print what comes
        back until the server closes (or 2 s of silence): "status <code>", then one line per
        frame, "frame <fin> <opcode> <payload as hex>", and "eof" if the socket closed.

    websocket_raw.py server <case>
        Accept one websocket on a free port (printed as "port N"), answer the handshake, send
        the case's frames, then print what the client sent, as above.
"""
import base64
import hashlib
import os
import socket
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(op, data=b"", fin=True, rsv=0, mask=True, length=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(data) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + data
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(data))


def close(code, reason=b"", mask=True):
    return frame(8, struct.pack("!H", code) + reason, mask=mask)


# Frames a client sends to our server.
CLIENT = {
    "echo": [frame(1, b"hello"), frame(2, b"\x00\x01")],
    "fragments": [frame(1, b"frag", fin=False), frame(9, b"mid"), frame(0, b"ment", fin=False), frame(0, b"ed")],
    "ping": [frame(9, b"hi"), frame(1, b"after ping")],
    "close": [close(1001, b"going away")],
    "close-empty": [frame(8)],
    "close-reserved-code": [close(1005)],
    "close-invalid-code": [close(999)],
    "close-one-byte": [frame(8, b"\x03")],
    "close-bad-utf8": [close(1000, b"\xff")],
    "rsv": [frame(1, b"x", rsv=4)],
    "continuation": [frame(0, b"x")],
    "interleaved": [frame(1, b"a", fin=False), frame(1, b"b")],
    "big-ping": [frame(9, b"x" * 126)],
    "fragmented-ping": [frame(9, b"x", fin=False)],
    "bad-utf8": [frame(1, b"\xff\xfe")],
    "bad-utf8-split": [frame(1, b"ok \xe2\x82", fin=False), frame(0, b"(")],
    "opcode-3": [frame(3, b"x")],
    "opcode-11": [frame(11, b"x")],
    "unmasked": [frame(1, b"x", mask=False)],
    "too-big": [frame(2, b"y" * 2000)],
    "too-big-fragments": [frame(2, b"y" * 800, fin=False), frame(0, b"y" * 800)],
    "eof": [],
}

# Frames a server sends to our client ("bad-accept" also spoils the handshake).
SERVER = {
    "echo": [frame(1, b"from server", mask=False), frame(9, b"ping?", mask=False)],
    "masked": [frame(1, b"x", mask=True)],
    "rsv": [frame(1, b"x", rsv=2, mask=False)],
    "close": [close(4000, b"server says bye", mask=False)],
    "bad-accept": [],
}


def show(buf, eof):
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        n, i = b1 & 0x7F, 2
        if n == 126:
            n, i = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            n, i = struct.unpack("!Q", buf[2:10])[0], 10
        key = None
        if b1 & 0x80:
            key, i = buf[i:i + 4], i + 4
        if len(buf) < i + n:
            break
        payload = buf[i:i + n]
        if key:
            payload = bytes(c ^ key[j % 4] for j, c in enumerate(payload))
        print("frame", 1 if b0 & 0x80 else 0, b0 & 0x0F, payload.hex() or "-")
        buf = buf[i + n:]
    if eof:
        print("eof")


def collect(s):
    s.settimeout(2)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return data, True
            data += d
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def client(port, case):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head, rest = read_head(s)
    print("status", head.split(" ")[1] if " " in head else "none")
    s.sendall(b"".join(CLIENT[case]))
    if case == "eof":
        s.shutdown(socket.SHUT_WR)
    data, eof = collect(s)
    show(rest + data, eof)


def server(case):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    print("port", ls.getsockname()[1], flush=True)
    ls.settimeout(10)
    s, _ = ls.accept()
    head, rest = read_head(s)
    key = [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.lower().startswith("sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
    if case == "bad-accept":
        accept = base64.b64encode(b"not the right one")
    s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    # in one write, so the peer reads them together
    s.sendall(b"".join(SERVER[case]))
    data, eof = collect(s)
    show(rest + data, eof)
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(int(sys.argv[2]), sys.argv[3])
    else:
        server(sys.argv[2])
