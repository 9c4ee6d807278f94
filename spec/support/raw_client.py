# A raw TCP client for the server specs: runs a list of operations in order and writes what
# it received to stdout, and "eof <seconds>" or "open <seconds>" (time since connecting) to stderr.
#   raw_client.py PORT OP...   OPs: send:FILE  sleep:SECS  shut (half-close)
#                                   read:SECS (until EOF, at most SECS)
#                                   hold:SECS (read whatever comes for SECS, EOF or not)
import socket, sys, time

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
start = time.monotonic()
got, eof = [], False


def read_for(secs, stop_at_eof):
    global eof
    end = time.monotonic() + secs
    while not eof:
        left = end - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return
        except ConnectionResetError:
            b = b""
        if not b:
            eof = True
            sys.stderr.write("eof %.3f\n" % (time.monotonic() - start))
        got.append(b)
        if eof and not stop_at_eof:
            return


for op in sys.argv[2:]:
    name, _, val = op.partition(":")
    if name == "send":
        with open(val, "rb") as f:
            try:
                sock.sendall(f.read())
            except (BrokenPipeError, ConnectionResetError):
                pass
    elif name == "sleep":
        time.sleep(float(val))
    elif name == "shut":
        sock.shutdown(socket.SHUT_WR)
    elif name == "read":
        read_for(float(val), True)
    elif name == "hold":
        read_for(float(val), False)
if not eof:
    sys.stderr.write("open %.3f\n" % (time.monotonic() - start))
sys.stdout.buffer.write(b"".join(got))
