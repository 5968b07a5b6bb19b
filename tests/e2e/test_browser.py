#!/usr/bin/env python3
"""E2E: a real browser through the tunnel. Headless Chromium (Debian's `chromium`) loads a page
from a scratch nginx through socks5d -> proxy-server, once with
`--proxy-server=socks5://127.0.0.1:PORT` and once with `--proxy-server=http://127.0.0.1:PORT`
(the HTTP proxy on the same port as SOCKS5).

The page (served through the tunnel) holds 100 distinct generated PNGs (each one solid colour)
and fetches a 32 MiB random file. Its script waits until every image is decoded, reads each
image's centre pixel back through a canvas, hashes the large body with crypto.subtle.digest
(127.0.0.1 is a secure context) and writes the results as JSON into <pre id=result>. The test
drives Chromium over the DevTools protocol (a stdlib RFC 6455 client below): it navigates,
polls that element with a bounded deadline, then takes a screenshot. Checks per proxy scheme:
* the navigation succeeded and the page finished (no error in the page);
* 100 of 100 images complete with the right size, and each one's pixel has its own colour;
* the SHA-256 the page computed over the download equals the file's (32 MiB, status 200);
* the screenshot is a valid PNG (CRCs, IHDR, IDAT inflates to the size IHDR says) and shows
  every image's colour at that image's place on the page;
* the traffic went through the tunnel: proxy-server's control socket counts new streams and at
  least 32 MiB more transport payload sent towards socks5d;
* Chromium asked the proxy for nothing else: socks5d logged no failed CONNECT or HTTP request
  and proxy-server refused nothing (its egress policy here is loopback only, so a target off the
  machine is refused even outside the namespace; inside it fails for want of a route or name).

Chromium sends nothing off the machine: the whole test re-runs itself in a private network
namespace with only lo (harness.netns_reexec; root only, since nginx cannot drop privileges in
a user namespace), and the flags turn off first-run, sync, component updates and background
networking; the component updater and the account check, which ask Google all the same, are
pointed at a closed local port (SINK). `--proxy-bypass-list=<-loopback>` makes Chromium proxy
127.0.0.1 too (it bypasses loopback by default). Chromium runs in its own session and is stopped
by its process group.

Exits 77 (CTest: skipped), printing the reason, only when Chromium cannot start: no binary, or
it exits before opening its DevTools port. PANIQ_CHROMIUM names another binary.
"""
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import STOP_TIMEOUT, Harness, netns_reexec  # noqa: E402

SKIP = 77
N_IMAGES = 100
IMG_SIZE = 40           # px, square
BIG = 32 << 20          # the download the page hashes
WINDOW = (800, 720)     # the grid (10 x 44 px) and the result fit in it
PAGE_DEADLINE = 45.0    # s for one page run (navigation to result)
DEVTOOLS_START = 30.0   # s for Chromium to open its DevTools port
COLOUR_TOLERANCE = 8    # per channel, screenshot and canvas read-back vs the generated colour
# Where Chromium's own services are sent: the component updater and the Google account check
# (ListAccounts) ask Google even with every "no background networking" flag. Port 9 is on
# Chromium's list of unsafe ports, so it refuses these requests before connecting; the bypass
# entry keeps them off the proxy should that list change.
SINK = "127.0.0.1:9"
# proxy-server's egress policy for this test: loopback only. deny_targets wins over allow_targets,
# so deny the eight blocks around 127.0.0.0/8 and all of IPv6; a request for anything off the
# machine is refused (and counted) even outside the network namespace.
ALLOW = ["127.0.0.0/8"]
DENY = ["0.0.0.0/2", "64.0.0.0/3", "96.0.0.0/4", "112.0.0.0/5", "120.0.0.0/6", "124.0.0.0/7",
        "126.0.0.0/8", "128.0.0.0/1", "[::/0]"]
REFUSED = ("egress_refused_rule", "egress_refused_default_range", "egress_refused_own_address")


class Skip(Exception):
    pass


# ------------------------------------------------------------------------------------------------
# The page: images, HTML


def colour(i):
    """Image i's colour: (r, g) steps of 20 are distinct far beyond COLOUR_TOLERANCE."""
    return (40 + (i % 10) * 20, 40 + (i // 10) * 20, 220 - (i % 7) * 10)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def solid_png(w, h, rgb):
    """An 8-bit RGB PNG of one colour (filter 0 rows)."""
    row = b"\x00" + bytes(rgb) * w
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(row * h, 9)) + png_chunk(b"IEND", b""))


PAGE_SCRIPT = """
const TOL = %(tol)d;
async function run() {
  const imgs = [...document.querySelectorAll('img.t')];
  await Promise.allSettled(imgs.map(im => im.decode()));
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = %(size)d;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  let loaded = 0, ok = 0;
  const bad = [], srcs = new Set();
  for (const im of imgs) {
    if (!(im.complete && im.naturalWidth === %(size)d && im.naturalHeight === %(size)d)) {
      bad.push(im.id + ':not loaded');
      continue;
    }
    loaded++;
    srcs.add(im.currentSrc);
    ctx.clearRect(0, 0, %(size)d, %(size)d);
    ctx.drawImage(im, 0, 0);
    const px = ctx.getImageData(%(half)d, %(half)d, 1, 1).data;
    const want = im.dataset.rgb.split(',').map(Number);
    if ([0, 1, 2].every(k => Math.abs(px[k] - want[k]) <= TOL)) ok++;
    else bad.push(im.id + ':pixel ' + [px[0], px[1], px[2]].join(','));
  }
  const r = await fetch('big.bin', {cache: 'no-store'});
  const body = await r.arrayBuffer();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body));
  const sha = [...digest].map(b => b.toString(16).padStart(2, '0')).join('');
  const rects = imgs.map(im => {
    const b = im.getBoundingClientRect();
    return [im.id, Math.round(b.left + b.width / 2), Math.round(b.top + b.height / 2)];
  });
  return {images: imgs.length, loaded, pixel_ok: ok, distinct_src: srcs.size,
          bad: bad.slice(0, 10), big_status: r.status, big_len: body.byteLength,
          big_sha256: sha, secure: window.isSecureContext, rects,
          view: [window.innerWidth, window.innerHeight]};
}
run().then(res => { document.getElementById('result').textContent = JSON.stringify(res); },
           err => { document.getElementById('result').textContent =
                      JSON.stringify({error: String(err)}); });
"""


def write_page(root):
    """index.html and img/NNN.png under `root`; returns {image id: colour}."""
    os.makedirs(os.path.join(root, "img"), exist_ok=True)
    os.chmod(os.path.join(root, "img"), 0o755)
    colours = {}
    tags = []
    for i in range(N_IMAGES):
        rgb = colour(i)
        path = os.path.join(root, "img", f"{i:03d}.png")
        with open(path, "wb") as f:
            f.write(solid_png(IMG_SIZE, IMG_SIZE, rgb))
        os.chmod(path, 0o644)
        colours[f"i{i:03d}"] = rgb
        tags.append(f'<img class="t" id="i{i:03d}" src="img/{i:03d}.png" width="{IMG_SIZE}" '
                    f'height="{IMG_SIZE}" data-rgb="{rgb[0]},{rgb[1]},{rgb[2]}">')
    script = PAGE_SCRIPT % {"tol": COLOUR_TOLERANCE, "size": IMG_SIZE, "half": IMG_SIZE // 2}
    html = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>paniq browser test</title>
<style>
body {{ margin: 8px; background: #fff; font: 12px sans-serif; }}
#grid {{ display: grid; grid-template-columns: repeat(10, {IMG_SIZE + 4}px); }}
#grid img {{ margin: 2px; display: block; }}
#result {{ white-space: pre-wrap; word-break: break-all; max-height: 200px; overflow: hidden; }}
</style></head>
<body>
<div id="grid">
{chr(10).join(tags)}
</div>
<pre id="result"></pre>
<script>{script}</script>
</body></html>
"""
    path = os.path.join(root, "index.html")
    with open(path, "w") as f:
        f.write(html)
    os.chmod(path, 0o644)
    return colours


# ------------------------------------------------------------------------------------------------
# PNG reading (the screenshot)


def read_png(data):
    """Parses an 8-bit RGB(A) non-interlaced PNG, checking the signature and every chunk's CRC.
    Returns (width, height, bytes per pixel, rows): rows[y] is row y unfiltered. Raises ValueError
    naming what is wrong."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"not a PNG: starts {data[:8].hex()}")
    pos, ihdr, idat, seen_end = 8, None, [], False
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError(f"truncated chunk header at byte {pos}")
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = data[pos + 8 + n:pos + 12 + n]
        if len(body) != n or len(crc) != 4:
            raise ValueError(f"chunk {kind!r} at byte {pos} truncated")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            raise ValueError(f"chunk {kind!r} at byte {pos}: CRC mismatch")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            seen_end = True
            break
        pos += 12 + n
    if ihdr is None or not idat or not seen_end:
        raise ValueError(f"missing chunks: IHDR={ihdr is not None} IDAT={len(idat)} IEND={seen_end}")
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace != 0 or w == 0 or h == 0:
        raise ValueError(f"unsupported IHDR {ihdr}")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    if len(raw) != h * (stride + 1):
        raise ValueError(f"IDAT inflates to {len(raw)} bytes, IHDR {w}x{h}x{bpp} needs {h * (stride + 1)}")
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for x in range(bpp, stride):
                cur[x] = (cur[x] + cur[x - bpp]) & 0xFF
        elif ftype == 2:
            cur = bytearray((a + b) & 0xFF for a, b in zip(cur, prev))
        elif ftype == 3:
            for x in range(stride):
                left = cur[x - bpp] if x >= bpp else 0
                cur[x] = (cur[x] + ((left + prev[x]) >> 1)) & 0xFF
        elif ftype == 4:
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[x] = (cur[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif ftype != 0:
            raise ValueError(f"row {y}: filter type {ftype}")
        rows.append(cur)
        prev = cur
    return w, h, bpp, rows


# ------------------------------------------------------------------------------------------------
# DevTools protocol over a minimal RFC 6455 client (text frames, client-masked)


class WebSocket:
    def __init__(self, host, port, path, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"websocket handshake: connection closed after {head!r}")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        lines = head.decode(errors="replace").split("\r\n")
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                             .encode()).digest()).decode()
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        if not lines[0].startswith("HTTP/1.1 101") or headers.get("sec-websocket-accept") != want:
            raise ConnectionError(f"websocket handshake refused: {lines[0]!r}")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("websocket closed by the peer")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self._send_frame(0x1, text.encode())

    def recv_message(self):
        """One whole message (fragments joined); answers pings. Raises on close or timeout."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the peer")
            if opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self):
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class DevTools:
    """One page target: call(method, params) -> result, bounded by the socket timeout."""

    def __init__(self, port, ws_path):
        self.ws = WebSocket("127.0.0.1", port, ws_path)
        self.next_id = 0

    def call(self, method, params=None, timeout=20.0):
        self.next_id += 1
        mid = self.next_id
        self.ws.send_text(json.dumps({"id": mid, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"DevTools {method}: no answer within {timeout} s")
            self.ws.sock.settimeout(left)
            msg = json.loads(self.ws.recv_message())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"DevTools {method}: {msg['error']}")
                return msg.get("result", {})

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate {expr!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self):
        self.ws.close()


def devtools_get(port, path):
    """GET on Chromium's DevTools HTTP endpoint (directly: no proxy from the environment)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return json.loads(r.read())
    finally:
        c.close()


# ------------------------------------------------------------------------------------------------
# Chromium


def find_chromium():
    env = os.environ.get("PANIQ_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    # Debian's /usr/bin/chromium is a shell wrapper adding extension flags; use the binary.
    if os.access("/usr/lib/chromium/chromium", os.X_OK):
        return "/usr/lib/chromium/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def chromium_argv(binary, headless, profile_dir, proxy):
    argv = [binary, f"--headless={headless}", "--disable-gpu", f"--user-data-dir={profile_dir}",
            "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            f"--proxy-server={proxy}", f"--proxy-bypass-list=<-loopback>;{SINK}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1",
            "--hide-scrollbars", "--mute-audio", "--disable-dev-shm-usage",
            # Nothing on its own initiative: no first run, sync, updates, pings, reports.
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--metrics-recording-only",
            "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
            "--disable-client-side-phishing-detection", "--disable-breakpad", "--no-pings",
            "--password-store=basic", "--use-mock-keychain",
            f"--component-updater=url-source=http://{SINK}/", f"--gaia-url=http://{SINK}/",
            f"--google-apis-url=http://{SINK}/",
            "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
            "CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying",
            "about:blank"]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")
    return argv


def stop_group(proc):
    """SIGTERM to Chromium's process group, SIGKILL after a bound; then the harness bookkeeping."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; helpers of the group may linger a moment
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break
    return proc.stop()


def start_chromium(h, binary, label, proxy):
    """Starts Chromium, waits for its DevTools port; returns (process, port, page ws path).
    Raises Skip when it exits before opening the port (both headless modes tried)."""
    reasons = []
    for headless in ("new", "old"):
        profile_dir = h.path(f"chromium-{label}-{headless}")
        os.makedirs(profile_dir)
        name = f"chromium-{label}-{headless}"
        p = h.start(name, chromium_argv(binary, headless, profile_dir, proxy), new_session=True)
        port_file = os.path.join(profile_dir, "DevToolsActivePort")
        deadline = time.monotonic() + DEVTOOLS_START
        while not os.path.exists(port_file) and p.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not p.alive():
            stop_group(p)
            reasons.append(f"--headless={headless} exited with {p.returncode}: "
                           f"{p.read_log().strip()[-600:]}")
            continue
        if not os.path.exists(port_file):
            stop_group(p)
            raise RuntimeError(f"{name} did not open its DevTools port within {DEVTOOLS_START} s:\n"
                               f"{p.read_log()[-2000:]}")
        port = None
        while port is None and time.monotonic() < deadline:  # the file may be half-written
            with open(port_file) as f:
                first = f.readline().strip()
            port = int(first) if first.isdigit() else None
            if port is None:
                time.sleep(0.05)
        if port is None:
            stop_group(p)
            raise RuntimeError(f"{name}: unreadable {port_file}")
        pages = [t for t in devtools_get(port, "/json/list") if t.get("type") == "page"]
        if not pages:
            stop_group(p)
            raise RuntimeError(f"{name}: no page target in /json/list")
        ws = pages[0]["webSocketDebuggerUrl"]
        return p, port, ws[ws.index("/devtools/"):]
    raise Skip("Chromium cannot start: " + " | ".join(reasons))


# ------------------------------------------------------------------------------------------------
# One run: a proxy scheme


def browse(h, binary, label, proxy, url, web, colours, server_sock, client):
    before = h.ctl_stats(server_sock)
    mark = client.log_mark()
    p, port, ws_path = start_chromium(h, binary, label, proxy)
    shot = h.path(f"screenshot-{label}.png")
    try:
        dt = DevTools(port, ws_path)
        try:
            nav = dt.call("Page.navigate", {"url": url})
            if not h.check(f"{label}: navigation to {url} via {proxy}", not nav.get("errorText"),
                           nav.get("errorText", "")):
                return
            deadline = time.monotonic() + PAGE_DEADLINE
            text, why = "", "the result element is still empty"
            while time.monotonic() < deadline:
                st = dt.evaluate("(() => { const e = document.getElementById('result');"
                                 " const n = performance.getEntriesByType('navigation')[0];"
                                 " return {state: document.readyState, has: !!e,"
                                 " text: e ? e.textContent : '', status: n ? n.responseStatus : 0,"
                                 " body: document.body ? document.body.innerText.slice(0, 300) : ''};"
                                 " })()")
                text = st["text"]
                if text:
                    break
                if st["state"] == "complete" and not st["has"]:  # not our page (a proxy error)
                    why = f"another page arrived: HTTP {st['status']}: {st['body']!r}"
                    break
                time.sleep(0.2)
            if not h.check(f"{label}: the page finished within {PAGE_DEADLINE:.0f} s", text,
                           "" if text else why):
                return
            res = json.loads(text)
            if not h.check(f"{label}: the page's script ran without error", "error" not in res,
                           res.get("error", "")):
                return
            h.check(f"{label}: {N_IMAGES} of {N_IMAGES} images loaded ({IMG_SIZE} px, distinct URLs)",
                    res["images"] == N_IMAGES and res["loaded"] == N_IMAGES and
                    res["distinct_src"] == N_IMAGES, f"loaded={res['loaded']} bad={res['bad']}")
            h.check(f"{label}: each image's pixel has its own colour (canvas read-back)",
                    res["pixel_ok"] == N_IMAGES, f"ok={res['pixel_ok']} bad={res['bad']}")
            h.check(f"{label}: 32 MiB download, SHA-256 computed by the page matches",
                    res["big_status"] == 200 and res["big_len"] == BIG and
                    res["big_sha256"] == web.sha256["big.bin"],
                    f"status={res['big_status']} len={res['big_len']} sha={res['big_sha256'][:16]}")
            h.check(f"{label}: secure context (crypto.subtle)", res["secure"] is True)
            # The DOM as Chromium holds it, not as the page reported it.
            dom = dt.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth === "
                              f"{IMG_SIZE}).length")
            h.check(f"{label}: DOM query: {N_IMAGES} complete images", dom == N_IMAGES, f"{dom}")

            png = base64.b64decode(dt.call("Page.captureScreenshot", {"format": "png"})["data"])
            with open(shot, "wb") as f:
                f.write(png)
            check_screenshot(h, label, png, tuple(res["view"]), res["rects"], colours)
        finally:
            dt.close()
    finally:
        stop_group(p)
    after = h.ctl_stats(server_sock)
    streams = after["streams_accepted"] - before["streams_accepted"]
    sent = after["transport_payload_out_bytes"] - before["transport_payload_out_bytes"]
    h.check(f"{label}: the traffic went through the tunnel (proxy-server control socket)",
            streams >= 1 and sent >= BIG,
            f"new streams {streams}, transport payload sent {sent} bytes")
    # Anything else Chromium asked for fails: no route (namespace), no name, or refused by the
    # loopback-only egress policy; socks5d logs each failure, proxy-server counts refusals.
    stray = [ln for ln in client.read_log()[mark:].splitlines()
             if re.search(r"\b(CONNECT|HTTP)\b.*\bfailed\b", ln)]
    refused = {k: after[k] - before[k] for k in REFUSED if after[k] != before[k]}
    h.check(f"{label}: Chromium asked the proxy for nothing else (socks5d: no failed request; "
            "proxy-server: no egress refusal)", not stray and not refused,
            "" if not stray and not refused else f"{'; '.join(stray[:5])} {refused}")


def check_screenshot(h, label, png, view, rects, colours):
    try:
        w, ht, bpp, rows = read_png(png)
    except (ValueError, zlib.error) as e:
        h.check(f"{label}: screenshot is a valid PNG", False, str(e))
        return
    h.check(f"{label}: screenshot is a valid PNG ({w}x{ht}, {len(png)} bytes)",
            (w, ht) == view, f"the page's viewport is {view[0]}x{view[1]}")
    wrong = []
    for iid, cx, cy in rects:
        want = colours[iid]
        if not (0 <= cx < w and 0 <= cy < ht):
            wrong.append(f"{iid} off screen at {cx},{cy}")
            continue
        got = tuple(rows[cy][cx * bpp:cx * bpp + 3])
        if any(abs(a - b) > COLOUR_TOLERANCE for a, b in zip(got, want)):
            wrong.append(f"{iid} at {cx},{cy}: {got} not {want}")
    h.check(f"{label}: the screenshot shows all {len(colours)} images in their colours",
            len(rects) == len(colours) and not wrong, f"{wrong[:5]}")


def main():
    binary = find_chromium()
    if binary is None:
        print("SKIP test_browser: Chromium not found (apt-get install chromium, or set "
              "PANIQ_CHROMIUM)", flush=True)
        return SKIP
    if os.geteuid() == 0:
        if not netns_reexec():  # returns only when already inside or without namespaces
            print("note: no private network namespace; Chromium runs in the host's", flush=True)
    else:
        print("note: not root: no private network namespace (nginx needs root in one)", flush=True)
    if os.environ.get("PANIQ_E2E_NETNS") == "1":
        print("network namespace: lo only; nothing can leave the machine", flush=True)

    with Harness("browser") as h:
        web = h.start_nginx({"big.bin": BIG}, ipv6=False)
        colours = write_page(web.root)
        server_sock = h.path("proxy-server.sock")
        _server, client = h.start_tunnel(server_config={
            "control_socket": server_sock, "allow_targets": ALLOW, "deny_targets": DENY})
        url = web.url("index.html")
        try:
            for label, scheme in (("socks5", "socks5"), ("http-proxy", "http")):
                browse(h, binary, label, f"{scheme}://127.0.0.1:{client.port}", url, web,
                       colours, server_sock, client)
        except Skip as e:
            print(f"SKIP test_browser: {e}", flush=True)
            return SKIP
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
