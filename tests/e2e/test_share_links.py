#!/usr/bin/env python3
"""E2E: pnq:// share links (docs/sharing.md, docs/protocol.md 8), real binaries.

1. `paniq-ctl link` refuses a server profile (it holds obfuscation.server_private_key) with a
   message naming the field and the two ways out (add-user, --client-view).
2. create-profile + add-user -> `paniq-ctl link` (link on the first line, a half-block QR code
   after it, `--png` a valid PNG: signature, IHDR, IEND; decoded with zbarimg when installed,
   as is the --ascii rendering) -> `paniq-ctl import` gives back the client profile JSON
   (semantically equal), from the link, from a file holding it and from stdin. `--client-view`
   of the server profile imports as the server profile without its private key.
3. socks5d started with `-p pnq://...` (and with `-p FILE` holding the link) carries a curl
   download through proxy-server (encryption required, users file), checked by SHA-256.
4. Malformed links (wrong scheme, bad character, truncated, trailing bytes, unsupported
   version, a server private key inside, no server address, over-long, bad #name): both
   `paniq-ctl import` and socks5d exit non-zero with the expected message on stderr.
Exits non-zero when a check fails.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import curl_fetch  # noqa: E402

MIB = 1 << 20


def run(h, *args, stdin=None, timeout=30):
    return subprocess.run([h.prog("paniq-ctl"), *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def png_info(path):
    """(width, height, bit depth, colour type) from a PNG's IHDR, or None when the file is not a
    PNG whose chunks (CRCs included) are intact and end with IEND."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, chunks, ihdr = 8, [], None
    while pos + 12 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) != crc:
            return None
        chunks.append(kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBB", body[:10])
        pos += 12 + n
    if not chunks or chunks[0] != b"IHDR" or chunks[-1] != b"IEND" or b"IDAT" not in chunks:
        return None
    return ihdr


def write_grey_png(path, rows):
    """rows: lists of 0/255 pixel values -> an 8-bit greyscale PNG (for zbarimg)."""
    w, hgt = len(rows[0]), len(rows)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, hgt, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def zbar_decode(path):
    r = subprocess.run(["zbarimg", "--raw", "-q", path], capture_output=True, text=True, timeout=60)
    return r.stdout.strip() if r.returncode == 0 else None


def refusals(h, server_profile):
    r = run(h, "link", server_profile)
    h.check("link SERVER_PROFILE: exit 1, nothing on stdout", r.returncode == 1 and r.stdout == "",
            f"rc={r.returncode} out={r.stdout[:80]!r}")
    h.check("link SERVER_PROFILE: the message names the field and says what to do",
            "obfuscation.server_private_key" in r.stderr and "paniq-ctl add-user" in r.stderr
            and "--client-view" in r.stderr and r.stderr.count("\n") == 1, r.stderr.strip())


def link_and_import(h, server_profile, users_file):
    client_profile = h.path("alice.json")
    r = run(h, "add-user", "alice", "-p", server_profile, "-u", users_file, "-o", client_profile)
    if not h.check("add-user alice", r.returncode == 0, r.stderr.strip()):
        return None
    with open(client_profile) as f:
        client = json.load(f)
    png = h.path("alice.png")
    r = run(h, "link", client_profile, "--png", png)
    lines = r.stdout.split("\n")
    link = lines[0] if lines else ""
    h.check("link CLIENT_PROFILE --png: exit 0, the link on the first line",
            r.returncode == 0 and link.startswith("pnq://") and link.endswith("#" + client["name"]),
            r.stderr.strip() or link[:80])
    qr_lines = [ln for ln in lines[1:] if ln]
    h.check("link: a QR code in half blocks after the link (square: rows = ceil(width / 2))",
            len(qr_lines) > 20 and all("\u2588" in ln or "\u2580" in ln or "\u2584" in ln for ln in qr_lines[:3])
            and len({len(ln) for ln in qr_lines}) == 1 and len(qr_lines) == (len(qr_lines[0]) + 1) // 2,
            f"{len(qr_lines)} lines")
    info = png_info(png) if os.path.exists(png) else None
    h.check("link --png: a valid PNG (signature, IHDR first, chunk CRCs, IEND last), square, 8-bit grey",
            info is not None and info[0] == info[1] and info[0] >= 21 * 8 and info[2:] == (8, 0), str(info))
    h.check("link --png: stderr reports the QR version", "QR version" in r.stderr, r.stderr.strip())
    print(f"link: {len(link)} characters; {r.stderr.strip()}", flush=True)
    if shutil.which("zbarimg"):
        h.check("zbarimg reads the PNG back as the link", zbar_decode(png) == link, zbar_decode(png))
        ra = run(h, "link", client_profile, "--ascii")
        rows = [ln for ln in ra.stdout.split("\n")[1:] if ln]
        # Default rendering draws the light modules ("##" = light).
        pixels = [[255 if ln[2 * x] == "#" else 0 for x in range(len(ln) // 2) for _ in range(4)]
                  for ln in rows for _ in range(4)]
        ascii_png = h.path("alice-ascii.png")
        write_grey_png(ascii_png, pixels)
        h.check("zbarimg reads the --ascii terminal rendering as the link", zbar_decode(ascii_png) == link)
    else:
        print("zbarimg not installed: QR decoding checks skipped", flush=True)

    r = run(h, "import", link)
    try:
        imported = json.loads(r.stdout)
    except ValueError:
        imported = None
    diff = ""
    if imported is not None and imported != client:
        diff = "; ".join(f"{k}: {client.get(k)!r} -> {imported.get(k)!r}" for k in client
                         if client.get(k) != imported.get(k))
    h.check("import LINK: exit 0, the client profile JSON (every field equal)",
            r.returncode == 0 and imported == client, diff[:600] or r.stderr.strip())
    link_file = h.path("alice.link")
    with open(link_file, "w") as f:
        f.write(link + "\n")
    r2 = run(h, "import", link_file)
    h.check("import FILE (holding the link and a newline): the same JSON", r2.returncode == 0 and r2.stdout == r.stdout,
            r2.stderr.strip())
    r3 = run(h, "import", "-", stdin=link + "\n")
    h.check("import - (stdin): the same JSON", r3.returncode == 0 and r3.stdout == r.stdout, r3.stderr.strip())

    rv = run(h, "link", server_profile, "--client-view", "--no-qr")
    with open(server_profile) as f:
        server = json.load(f)
    secret = base64.b64decode(server["obfuscation"]["server_private_key"])
    server["obfuscation"]["server_private_key"] = ""
    ri = run(h, "import", rv.stdout.strip())
    ok = rv.returncode == 0 and ri.returncode == 0 and json.loads(ri.stdout or "null") == server
    h.check("link --client-view SERVER_PROFILE: imports as the server profile without its private key", ok,
            (rv.stderr + ri.stderr).strip())
    payload = rv.stdout.strip()[len("pnq://"):].split("#")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) if rv.returncode == 0 else b""
    h.check("link --client-view: the link's bytes do not contain the server private key",
            len(raw) > 100 and secret not in raw and len(secret) == 32, f"{len(raw)} bytes")
    return link, link_file


def transfer(h, server_profile, users_file, link, link_file):
    web = h.start_nginx({"a.bin": 2 * MIB}, ipv6=False)
    with open(server_profile) as f:
        port = int(json.load(f)["proxy_addr"].rsplit(":", 1)[1])
    h.start_proxy_server(server_profile, f"127.0.0.1:{port}", config={"users_file": users_file})
    for what, arg in (("-p pnq://...", link), ("-p FILE holding the link", link_file)):
        name = "socks5d-link" if arg == link else "socks5d-linkfile"
        client = h.start_socks5d(arg, name=name)
        rc, code, digest, err = curl_fetch(client.port, web.url("a.bin"), max_time=120)
        h.check(f"socks5d {what}: a 2 MiB download through proxy-server, SHA-256 equal",
                rc == 0 and code == 200 and digest == web.sha256["a.bin"], err)
        client.stop()


def malformed(h, link, server_profile):
    payload = link[len("pnq://"):].split("#")[0]
    r = run(h, "profile-cbor", "--input", server_profile, "--base64")
    server_b64url = base64.urlsafe_b64encode(base64.b64decode(r.stdout.strip())).decode().rstrip("=")
    cases = [
        ("wrong scheme", "https://example.com/x", 'wrong scheme "https://": expected pnq://'),
        ("bad character", "pnq://" + payload[:10] + "+" + payload[11:],
         "invalid base64url character '+' at position 17"),
        ("truncated (4n+1 characters)", "pnq://" + payload[:4 * 20 + 1], "cannot be complete"),
        ("truncated CBOR", "pnq://" + payload[:4 * 20], "truncated or invalid profile data: CBOR:"),
        # A payload of whole 3-byte groups takes 4 more characters as 3 extra bytes; otherwise
        # the smallest profile data there is, {0: 1}, plus 3 zero bytes.
        ("trailing bytes", "pnq://" + (payload if len(payload) % 4 == 0 else "oQAB") + "AAAA",
         "3 unexpected bytes after the"),
        ("unsupported version", "pnq://oQAC", "unsupported version 2"),
        ("server private key inside", "pnq://" + server_b64url, "carries obfuscation.server_private_key"),
        ("no server address", "pnq://oQAB", "no proxy_addr and no servers"),
        ("over-long", "pnq://" + "A" * 9000, "more than the 8192 a link may have"),
        ("bad #name", link.split("#")[0] + "#caf%G9", "bad percent-escape \"%G9\""),
    ]
    for what, bad, expect in cases:
        r = run(h, "import", bad)
        h.check(f"import, {what}: exit 1, one line on stderr naming the problem",
                r.returncode == 1 and r.stdout == "" and expect in r.stderr and r.stderr.count("\n") == 1,
                r.stderr.strip()[:300])
        s = subprocess.run([h.prog("socks5d"), "-l", "127.0.0.1:0", "-p", bad], capture_output=True, text=True,
                           timeout=30)
        h.check(f"socks5d -p LINK, {what}: exits non-zero with the message on stderr",
                s.returncode != 0 and expect in s.stderr, (s.stderr.strip() or s.stdout.strip())[:300])


def main():
    with Harness("share_links") as h:
        port = free_port(socket.SOCK_DGRAM)
        server_profile = h.create_profile(port, name="server.json")
        users_file = h.path("users.json")
        refusals(h, server_profile)
        got = link_and_import(h, server_profile, users_file)
        if got:
            link, link_file = got
            transfer(h, server_profile, users_file, link, link_file)
            malformed(h, link, server_profile)
    sys.exit(h.exit_code)


if __name__ == "__main__":
    main()
