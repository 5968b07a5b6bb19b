#!/usr/bin/env python3
"""E2E: limits for real use (issue 12 item 1). With the default configs and a profile from
`paniq-ctl create-profile`, 1000 concurrent CONNECTs through socks5d are all served: each gets
SOCKS reply 00, reaches the target, and carries a byte each way (SHA-256 over all of them).
Both daemons log the max_connections they derived from the open-files limit. An explicit
`max_connections` still caps: with 3, the fourth connection is closed and counted on the
control socket (`refused_max_connections`). Exits non-zero when a check fails.
"""
import hashlib
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import atyp_ipv4, recv_exact, socks_open  # noqa: E402
from test_encryption import wait_for  # noqa: E402

N = 1000


class EchoSink:
    """A local TCP target (one thread, selectors): accepts connections, holds them and echoes
    what arrives. With close_on_eof it also closes a connection when its client side ends, so
    the proxy's relay and its stream end too (test_stream_limits.py frees slots that way);
    without it the connection stays half-open, as a server that never closes would keep it."""

    def __init__(self, close_on_eof=False):
        import selectors
        self.close_on_eof = close_on_eof
        self.sel = selectors.DefaultSelector()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.sel.register(self.sock, selectors.EVENT_READ, None)
        self.accepted = 0
        self.open = set()
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        import selectors
        while not self.stop:
            for key, _ in self.sel.select(timeout=0.1):
                if key.data is None:
                    try:
                        c, _ = self.sock.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    self.accepted += 1
                    self.open.add(c)
                    self.sel.register(c, selectors.EVENT_READ, "c")
                    continue
                c = key.fileobj
                try:
                    d = c.recv(4096)
                except OSError:
                    d = b""
                if d:
                    c.sendall(d)
                else:
                    self.sel.unregister(c)
                    if self.close_on_eof:
                        self.open.discard(c)
                        c.close()

    def close(self):
        self.stop = True
        self.t.join(2)
        for c in list(self.open):
            c.close()
        self.sock.close()


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with Harness("limits") as h:
        sink = EchoSink()
        server, client = h.start_tunnel()  # default configs (the harness only opts in to loopback)
        h.check("both daemons derive max_connections from the open-files limit",
                "max_connections" in client.read_log() and "open-files limit" in server.read_log(), "")
        held, bad = [], 0
        digest_sent, digest_got = hashlib.sha256(), hashlib.sha256()
        for i in range(N):
            try:
                s, reply = socks_open(client.port, 1, atyp_ipv4("127.0.0.1"), sink.port, timeout=20)
            except OSError:
                bad += 1
                continue
            if reply[1] != 0:
                bad += 1
                s.close()
                continue
            held.append(s)
        ok = wait_for(lambda: sink.accepted >= N, 20)
        h.check(f"{N} concurrent CONNECTs through the default config: all served", not bad and ok
                and len(held) == N, f"{len(held)} held, {bad} refused, target accepted {sink.accepted}")
        for i, s in enumerate(held):
            b = bytes([i % 251])
            digest_sent.update(b)
            s.sendall(b)
        for s in held:
            s.settimeout(20)
            digest_got.update(recv_exact(s, 1))
        h.check(f"every one of the {N} streams carries a byte each way (SHA-256)",
                digest_sent.hexdigest() == digest_got.hexdigest(), "")
        for s in held:
            s.close()
        sink.close()
        for p in (client, server):
            p.stop()

        # An explicit max_connections still caps, and refusals are counted.
        sock = h.path("ctl-limits.sock")
        port = free_port(socket.SOCK_DGRAM)
        profile = h.create_profile(port, name="profile-capped.json")
        server = h.start_proxy_server(profile, f"127.0.0.1:{port}", name="proxy-server-capped")
        client = h.start_socks5d(profile, config={"max_connections": 3, "control_socket": sock},
                                 name="socks5d-capped")
        sink = EchoSink()
        three = [socks_open(client.port, 1, atyp_ipv4("127.0.0.1"), sink.port)[0] for _ in range(3)]
        wait_for(lambda: sink.accepted >= 3, 10)
        extra = socket.create_connection(("127.0.0.1", client.port), timeout=5)
        closed = False
        try:
            extra.sendall(b"\x05\x01\x00")
            closed = extra.recv(2) == b""
        except OSError:
            closed = True
        st = h.ctl_stats(sock)
        h.check("an explicit max_connections of 3 closes the fourth connection and counts it",
                closed and st.get("refused_max_connections", 0) >= 1,
                f"closed={closed} refused_max_connections={st.get('refused_max_connections')}")
        for s in three + [extra]:
            s.close()
        sink.close()
        for p in (client, server):
            p.stop()
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
