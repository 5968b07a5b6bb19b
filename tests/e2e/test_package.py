#!/usr/bin/env python3
"""E2E: the Debian package and `cmake --install` (packaging/, docs/install.md).

  * `cpack -G DEB` in the build directory (PANIQ_BUILD_DIR, set by CTest) builds one
    paniq_VERSION_ARCH.deb (into a scratch directory);
  * `dpkg-deb -I`: Package paniq, the project's version, this machine's architecture, section
    net, a maintainer, a description, and Depends computed by dpkg-shlibdeps (libc6 and the
    libraries the programs link, e.g. libsodium);
  * `dpkg-deb -c`: exactly the expected files (no tests, benches or tools), owned by root, with
    their modes (0755 programs, 0644 data, 0755 directories);
  * `dpkg -x` into a scratch root: every installed program runs `--help` and `--version`
    (the version is the package's); the units' ExecStart names an installed program; the
    units carry the hardening (DynamicUser, NoNewPrivileges, ProtectSystem=strict, empty
    CapabilityBoundingSet, Restart=on-failure, ...), proxy-server's ExecReload sends SIGHUP,
    socks5d has no ExecReload (it does not handle SIGHUP);
  * the installed man pages are gzip'd, render with groff without warnings and document every
    flag and config key (the checks of test_man_pages.py, run on the installed files);
  * the installed daemons start with the shipped example configs and a control socket that
    `paniq-ctl status -s` reads; on SIGHUP proxy-server reloads and keeps running while socks5d
    ends (why only proxy-server's unit has ExecReload);
  * `systemd-analyze verify` passes on instances of both units (copies whose ExecStart points
    into the scratch root); skipped with a message when systemd-analyze is absent or cannot run;
  * `cmake --install --prefix /opt/paniq` into a DESTDIR writes units whose ExecStart is
    /opt/paniq/bin/...: the unit's program path follows the install prefix.

Exits 77 (skipped) when cpack or dpkg-deb is missing; scripts/install-deps.sh installs them.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO_DIR, Harness  # noqa: E402
import test_man_pages as mp  # noqa: E402

PROGRAMS = {"socks5d": "paniq-socks5d", "proxy-server": "paniq-proxy-server", "paniq-ctl": "paniq-ctl"}
UNITS = ["paniq-proxy-server@.service", "paniq-socks5d@.service"]
UNIT_DIR = "usr/lib/systemd/system"
DOC_DIR = "usr/share/doc/paniq"
MAN_FILES = {"paniq-ctl.1": "man1", "paniq-profile.5": "man5", "paniq-socks5d.8": "man8",
             "paniq-proxy-server.8": "man8"}
EXAMPLES = ["proxy-server.json", "socks5d.json", "profile-authenticated.json", "profile-compat.json",
            "profile-rust-compatible.json", "profile-strict.json"]

# The expected files and their modes; every directory above them must be 0755.
EXPECTED = {f"usr/bin/{p}": "-rwxr-xr-x" for p in PROGRAMS.values()}
EXPECTED.update({f"usr/share/man/{d}/{p}.gz": "-rw-r--r--" for p, d in MAN_FILES.items()})
EXPECTED.update({f"{UNIT_DIR}/{u}": "-rw-r--r--" for u in UNITS})
EXPECTED.update({f"{DOC_DIR}/{f}": "-rw-r--r--" for f in ("README.md", "install.md", "copyright")})
EXPECTED.update({f"{DOC_DIR}/examples/{f}": "-rw-r--r--" for f in EXAMPLES})

# (key, expected value) every unit must carry; None = the key must be present with an empty value.
HARDENING = [("DynamicUser", "yes"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
             ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
             ("CapabilityBoundingSet", None), ("AmbientCapabilities", None),
             ("RestrictNamespaces", "yes"), ("LockPersonality", "yes"),
             ("MemoryDenyWriteExecute", "yes"), ("Restart", "on-failure"),
             ("SystemCallFilter", "@system-service")]


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def short(text, limit=400):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def unit_entries(text):
    """[(key, value)] of a unit file's assignments (comments and section headers left out)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out.append((k.strip(), v.strip()))
    return out


def project_version():
    with open(os.path.join(REPO_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(\s*\w+\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1) if m else None


def check_info(h, deb):
    r = run(["dpkg-deb", "-f", deb])
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", r.stdout, re.M))
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    h.check("dpkg-deb -f Package: paniq", fields.get("Package") == "paniq", fields.get("Package"))
    h.check("Version is project()'s", fields.get("Version") == project_version(),
            f"{fields.get('Version')} vs {project_version()}")
    h.check(f"Architecture: {arch}", fields.get("Architecture") == arch, fields.get("Architecture"))
    h.check("Section: net", fields.get("Section") == "net", fields.get("Section"))
    h.check("Maintainer set", "<" in fields.get("Maintainer", ""), fields.get("Maintainer"))
    h.check("Description set", len(fields.get("Description", "")) > 20, fields.get("Description"))
    deps = fields.get("Depends", "")
    h.check("Depends computed by dpkg-shlibdeps (libc6, libsodium)",
            re.search(r"\blibc6 \(>=", deps) and "libsodium" in deps, deps)
    info = run(["dpkg-deb", "-I", deb])
    h.check("dpkg-deb -I reads the package", info.returncode == 0 and "Package: paniq" in info.stdout,
            short(info.stderr))


def check_contents(h, deb):
    r = run(["dpkg-deb", "-c", deb])
    h.check("dpkg-deb -c lists the package", r.returncode == 0, short(r.stderr))
    files, dirs, owners = {}, {}, set()
    for line in r.stdout.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        mode, owner, path = parts[0], parts[1], parts[5].split(" -> ")[0]
        path = path[2:] if path.startswith("./") else path
        owners.add(owner)
        if mode.startswith("d"):
            dirs[path.rstrip("/")] = mode
        else:
            files[path] = mode
    extra = sorted(set(files) - set(EXPECTED))
    missing = sorted(set(EXPECTED) - set(files))
    h.check(f"every expected file is in the package ({len(EXPECTED)})", not missing, f"missing: {missing}")
    h.check("nothing else is in the package (no tests, benches, tools)", not extra, f"extra: {extra}")
    bad = {p: m for p, m in files.items() if p in EXPECTED and m != EXPECTED[p]}
    h.check("file modes (0755 programs, 0644 data)", not bad, f"wrong: {bad}")
    bad_dirs = {d: m for d, m in dirs.items() if d and m != "drwxr-xr-x"}
    h.check("directory modes 0755", not bad_dirs, f"wrong: {bad_dirs}")
    h.check("owned by root/root", owners == {"root/root"}, f"owners: {owners}")


def check_programs(h, root, version):
    for build_name, installed in PROGRAMS.items():
        exe = os.path.join(root, "usr", "bin", installed)
        r = run([exe, "--help"], timeout=20)
        h.check(f"{installed} --help from the scratch root", r.returncode == 0 and "--help" in r.stdout,
                short(r.stderr or r.stdout))
        r = run([exe, "--version"], timeout=20)
        h.check(f"{installed} --version names {version}", r.returncode == 0 and version in r.stdout,
                short(r.stdout + r.stderr))


def check_units(h, root):
    for unit in UNITS:
        path = os.path.join(root, UNIT_DIR, unit)
        if not os.path.exists(path):
            h.check(f"{unit} installed", False)
            continue
        with open(path, encoding="utf-8") as f:
            entries = unit_entries(f.read())
        values = {}
        for k, v in entries:
            values.setdefault(k, []).append(v)
        daemon = "paniq-proxy-server" if "proxy-server" in unit else "paniq-socks5d"
        exec_start = values.get("ExecStart", [""])[0].split()
        h.check(f"{unit}: ExecStart runs /usr/bin/{daemon}",
                exec_start[:1] == [f"/usr/bin/{daemon}"]
                and os.access(os.path.join(root, exec_start[0].lstrip("/")), os.X_OK), exec_start)
        h.check(f"{unit}: instance config /etc/paniq/%i.json and profile /etc/paniq/%i.profile.json",
                "/etc/paniq/%i.json" in exec_start and "/etc/paniq/%i.profile.json" in exec_start,
                exec_start)
        sock = [a for a in exec_start if a.endswith("control.sock")]
        runtime = values.get("RuntimeDirectory", [""])[0]
        h.check(f"{unit}: control socket in RuntimeDirectory {runtime}",
                runtime and sock and sock[0].startswith(f"/run/{runtime}/"), f"{sock} {runtime}")
        wrong = []
        for key, want in HARDENING:
            got = values.get(key)
            if got is None or (want is None and got[0] != "") or (want is not None and want not in got):
                wrong.append(f"{key}={got}")
        h.check(f"{unit}: hardening directives", not wrong, f"wrong or missing: {wrong}")
        families = " ".join(values.get("RestrictAddressFamilies", [])).split()
        h.check(f"{unit}: RestrictAddressFamilies AF_INET AF_INET6 AF_UNIX",
                {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families), families)
        nofile = values.get("LimitNOFILE", ["0"])[0]
        h.check(f"{unit}: LimitNOFILE high", nofile.isdigit() and int(nofile) >= 65536, nofile)
        env = " ".join(values.get("Environment", [])).split()
        h.check(f"{unit}: glibc's per-thread cache of freed blocks is off (memory after bursts)",
                "GLIBC_TUNABLES=glibc.malloc.tcache_count=0" in env, env)
        reload = values.get("ExecReload", [])
        if daemon == "paniq-proxy-server":
            h.check(f"{unit}: ExecReload sends SIGHUP", reload and "-HUP" in reload[0], reload)
        else:
            h.check(f"{unit}: no ExecReload (socks5d does not handle SIGHUP)", not reload, reload)


def check_daemons(h, root):
    """The installed programs start with the shipped example configs (as a unit instance would,
    with a control socket), answer `paniq-ctl status`, and react to SIGHUP as the units expect:
    proxy-server reloads and keeps running, socks5d ends (hence no ExecReload in its unit)."""
    import signal
    import time
    bindir = os.path.join(root, "usr", "bin")
    ex = os.path.join(root, DOC_DIR, "examples")
    for daemon, reloads in (("paniq-proxy-server", True), ("paniq-socks5d", False)):
        config = os.path.join(ex, "proxy-server.json" if reloads else "socks5d.json")
        sock = h.path(f"{daemon}.sock")
        p = h.start(daemon, [os.path.join(bindir, daemon), "--config", config, "--profile",
                             os.path.join(ex, "profile-strict.json"), "--listen", "127.0.0.1:0",
                             "--control-socket", sock], ready=r"listening on")
        log = p.read_log()
        h.check(f"{daemon} starts with examples/{os.path.basename(config)} and no warning",
                not re.search(r" (warning|warn|error|critical) ", log), short(log[-300:]))
        r = run([os.path.join(bindir, "paniq-ctl"), "status", "-s", sock], timeout=20)
        h.check(f"paniq-ctl status -s answers for {daemon}", r.returncode == 0, short(r.stderr))
        mark = p.log_mark()
        os.kill(p.pid, signal.SIGHUP)
        if reloads:
            p.wait_log(r"SIGHUP:", start=mark)
            h.check(f"{daemon}: SIGHUP reloads and it keeps running", p.alive())
            h.check(f"{daemon}: SIGTERM stops it with exit 0", p.stop() == 0)
        else:
            deadline = time.monotonic() + 5
            while p.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            h.check(f"{daemon}: SIGHUP ends it (its unit has no ExecReload)", not p.alive())
            p.stop()


def check_systemd_verify(h, scratch, root):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("SKIP systemd-analyze verify: systemd-analyze is not installed", flush=True)
        return
    vdir = os.path.join(scratch, "verify")
    os.makedirs(vdir, exist_ok=True)
    paths = []
    for unit in UNITS:
        with open(os.path.join(root, UNIT_DIR, unit), encoding="utf-8") as f:
            text = f.read()
        # ExecStart must name an existing program: point it into the scratch root.
        text = text.replace("ExecStart=/usr/bin/", f"ExecStart={root}/usr/bin/")
        inst = os.path.join(vdir, unit.replace("@.service", "@e2e.service"))
        with open(inst, "w", encoding="utf-8") as f:
            f.write(text)
        paths.append(inst)
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice")
    r = run([analyze, "verify", "--man=no", *paths], timeout=60, env=env)
    out = (r.stdout + r.stderr).strip()
    # A problem with a unit always names it; a failure that names neither unit is the tool being
    # unable to run here (no manager, no permission, systemd not PID 1).
    if r.returncode != 0 and "paniq" not in out:
        print(f"SKIP systemd-analyze verify: cannot run here (systemd is not PID 1 / no permission): "
              f"{short(out, 200)}", flush=True)
        return
    h.check("systemd-analyze verify passes on both units", r.returncode == 0 and not out, short(out))


def check_cmake_install(h, build, scratch):
    dest = os.path.join(scratch, "destdir")
    env = dict(os.environ, DESTDIR=dest)
    r = run(["cmake", "--install", build, "--prefix", "/opt/paniq"], timeout=120, env=env)
    h.check("cmake --install --prefix /opt/paniq into a DESTDIR", r.returncode == 0, short(r.stderr))
    unit = os.path.join(dest, "opt", "paniq", "lib", "systemd", "system", "paniq-proxy-server@.service")
    text = open(unit, encoding="utf-8").read() if os.path.exists(unit) else ""
    h.check("the installed unit's ExecStart follows the prefix (/opt/paniq/bin/paniq-proxy-server)",
            "ExecStart=/opt/paniq/bin/paniq-proxy-server " in text, unit)
    h.check("cmake --install installs the renamed programs",
            all(os.access(os.path.join(dest, "opt", "paniq", "bin", p), os.X_OK) for p in PROGRAMS.values()))


def main():
    cpack, dpkg_deb = shutil.which("cpack"), shutil.which("dpkg-deb")
    if not cpack or not dpkg_deb:
        print("SKIP: needs cpack (cmake) and dpkg-deb (dpkg); run scripts/install-deps.sh", flush=True)
        sys.exit(77)
    build = os.path.abspath(os.environ.get("PANIQ_BUILD_DIR") or os.path.join(REPO_DIR, "build"))
    if not os.path.exists(os.path.join(build, "CPackConfig.cmake")):
        print(f"FAIL: {build}/CPackConfig.cmake not found (set PANIQ_BUILD_DIR)", flush=True)
        sys.exit(1)
    with Harness("package") as h:
        out = h.path("cpack")
        r = run([cpack, "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"), "-B", out],
                timeout=300, cwd=build)
        debs = glob.glob(os.path.join(out, "*.deb"))
        ok = h.check("cpack -G DEB builds one .deb", r.returncode == 0 and len(debs) == 1,
                     short(r.stdout[-300:] + r.stderr))
        if ok:
            deb = debs[0]
            version = project_version()
            arch = run(["dpkg", "--print-architecture"]).stdout.strip()
            h.check("the file is paniq_VERSION_ARCH.deb",
                    os.path.basename(deb) == f"paniq_{version}_{arch}.deb", os.path.basename(deb))
            check_info(h, deb)
            check_contents(h, deb)
            root = h.path("root")
            r = run(["dpkg-deb", "-x", deb, root])
            h.check("dpkg -x into a scratch root", r.returncode == 0, short(r.stderr))
            check_programs(h, root, version)
            check_units(h, root)
            man_paths = {p: os.path.join(root, "usr", "share", "man", d, p + ".gz")
                         for p, d in MAN_FILES.items()}
            if all(os.path.exists(p) for p in man_paths.values()):
                pages = {p: mp.read_page(path) for p, path in man_paths.items()}
                with open(os.path.join(mp.MAN_DIR, "paniq-ctl.1"), encoding="utf-8") as f:
                    h.check("installed paniq-ctl.1.gz is man/paniq-ctl.1", pages["paniq-ctl.1"] == f.read())
                mp.check_render(h, list(man_paths.values()))
                bins = {b: os.path.join(root, "usr", "bin", p) for b, p in PROGRAMS.items()}
                mp.check_flags(h, bins, pages)
                mp.check_config_keys(h, pages)
            check_daemons(h, root)
            check_systemd_verify(h, h.dir, root)
        check_cmake_install(h, build, h.dir)
    sys.exit(h.exit_code)


if __name__ == "__main__":
    main()
