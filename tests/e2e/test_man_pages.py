#!/usr/bin/env python3
"""E2E: the man pages (man/) document every flag and every config key, and render cleanly.

  * flags: every long option in the `--help` of socks5d, proxy-server and paniq-ctl, and of
    each paniq-ctl subcommand (the list comes from `paniq-ctl --help`), appears in the page of
    that program: paniq-socks5d(8), paniq-proxy-server(8), paniq-ctl(1). A subcommand's
    options must sit in that subcommand's own entry of paniq-ctl(1)'s COMMANDS section, and
    every subcommand must have an entry;
  * daemon config keys: every key the config parser reads (src/profile/daemon_config.cpp, the
    single source of truth: each `read_*("key", ...)` in parse_socks5d_config_json /
    parse_proxy_server_config_json and the helpers they call) appears in the CONFIG FILE
    section of that daemon's page;
  * profile keys: every key src/profile/profile_json.cpp reads appears in the matching section
    of paniq-profile(5) (top level, kcp.*, transport_padding.*, obfuscation.*);
  * `groff -man -Tutf8 -ww` renders each page with no warning (skipped with a message when
    groff is not installed).

A failure names the program, subcommand or key missing and the page it is missing from.
The check functions are shared with test_package.py (which runs them on the installed pages).
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO_DIR, Harness  # noqa: E402

MAN_DIR = os.path.join(REPO_DIR, "man")
PAGES = {  # build name -> man page file
    "socks5d": "paniq-socks5d.8",
    "proxy-server": "paniq-proxy-server.8",
    "paniq-ctl": "paniq-ctl.1",
}
PROFILE_PAGE = "paniq-profile.5"
ALL_PAGES = list(PAGES.values()) + [PROFILE_PAGE]

# Options every CLI11 command has; documented once in each page's OPTIONS section.
COMMON_OPTIONS = {"--help"}

OPTION_LINE = re.compile(r"^\s+(?:-[A-Za-z0-9],)?(--[A-Za-z0-9][A-Za-z0-9-]*)")
SECTION_LINE = re.compile(r"^([A-Za-z ]+):\s*$")
SUBCOMMAND_LINE = re.compile(r"^\s{2}([a-z][a-z0-9-]*)\s{2,}\S")


# --------------------------------------------------------------------------------------------
# --help parsing (CLI11's format: "OPTIONS:" / "SUBCOMMANDS:" headings, any case)


def help_text(prog, *args):
    r = subprocess.run([prog, *args, "--help"], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError(f"{os.path.basename(prog)} {' '.join(args)} --help: exit {r.returncode}: "
                           f"{r.stderr.strip()[:200]}")
    return r.stdout


def sections(text):
    """{heading (lower case): [lines]} of a CLI11 help text."""
    out, cur = {}, None
    for line in text.splitlines():
        m = SECTION_LINE.match(line)
        if m:
            cur = m.group(1).strip().lower()
            out.setdefault(cur, [])
        elif cur is not None:
            out[cur].append(line)
    return out


def long_options(text):
    """Every long option in the OPTIONS section(s) of a help text, in order."""
    opts = []
    for head, lines in sections(text).items():
        if "option" not in head:
            continue
        for line in lines:
            m = OPTION_LINE.match(line)
            if m and m.group(1) not in opts:
                opts.append(m.group(1))
    return opts


def subcommands(text):
    subs = []
    for head, lines in sections(text).items():
        if "subcommand" in head:
            subs += [m.group(1) for m in map(SUBCOMMAND_LINE.match, lines) if m]
    return subs


# --------------------------------------------------------------------------------------------
# Man page text


def read_page(path):
    if path.endswith(".gz"):
        import gzip
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def plain(roff):
    """The roff source with font escapes removed and \\- as -, for substring checks."""
    text = re.sub(r"\\f(?:[BIRP]|\[[A-Z]*\])", "", roff)
    return text.replace("\\-", "-").replace("\\e", "\\").replace("\\(em", "-")


def man_sections(roff):
    """{SECTION NAME: roff text of that section} (.SH headings)."""
    out, cur = {}, None
    for line in roff.splitlines():
        if line.startswith(".SH "):
            cur = line[4:].strip().strip('"')
            out[cur] = ""
        elif cur is not None:
            out[cur] += line + "\n"
    return out


def command_entries(roff):
    """paniq-ctl(1): {subcommand: roff text of its entry} from the COMMANDS section, where each
    entry starts with `.B name` (a word without a leading dash) right after a `.TP`."""
    body = man_sections(roff).get("COMMANDS", "")
    out, cur, prev = {}, None, ""
    for line in body.splitlines():
        m = re.match(r"^\.B ([a-z][a-z0-9-]*)\b", line)
        if m and prev == ".TP":
            cur = m.group(1)
            out[cur] = ""
        if cur is not None:
            out[cur] += line + "\n"
        prev = line
    return out


def has_option(text, opt):
    return re.search(re.escape(opt) + r"(?![A-Za-z0-9-])", text) is not None


def has_key(text, key):
    return re.search(r"(?<![A-Za-z0-9_.])" + re.escape(key) + r"(?![A-Za-z0-9_])", text) is not None


# --------------------------------------------------------------------------------------------
# Config keys from the parsers' source


KEY_CALL = re.compile(
    r"\b(?:read_\w+|require|find|object_member)\(\s*(?:r\s*,\s*)?\"([a-z][a-z0-9_]*)\"")
PAIR_KEY = re.compile(r"\{\s*\"([a-z][a-z0-9_]*)\"\s*,\s*&")
FUNC_START = re.compile(r"^[A-Za-z].*?\b([A-Za-z_]\w*)\([^;]*$")


def functions(source):
    """{name: body} of the file's top-level function definitions (a line at column 0 that opens a
    parameter list, up to the next line that is just `}`)."""
    out, name, body = {}, None, []
    for line in source.splitlines():
        if name is None:
            m = FUNC_START.match(line)
            if m and not line.startswith(("namespace", "using", "template", "struct", "class", "#")):
                name, body = m.group(1), [line]
            continue
        body.append(line)
        if line == "}":
            out.setdefault(name, "")
            out[name] += "\n".join(body) + "\n"
            name = None
    return out


def own_keys(body):
    return set(KEY_CALL.findall(body)) | set(PAIR_KEY.findall(body))


def keys_of(funcs, root, stop=()):
    """Keys read by `root` and by the file's functions it calls (not entering `stop`)."""
    seen, todo, keys = set(), [root], set()
    while todo:
        f = todo.pop()
        if f in seen or f not in funcs:
            continue
        seen.add(f)
        keys |= own_keys(funcs[f])
        for callee in re.findall(r"\b([A-Za-z_]\w*)\s*\(", funcs[f]):
            if callee in funcs and callee not in stop and callee != f:
                todo.append(callee)
    return keys


def daemon_config_keys():
    with open(os.path.join(REPO_DIR, "src", "profile", "daemon_config.cpp"), encoding="utf-8") as f:
        funcs = functions(f.read())
    return {
        "socks5d": keys_of(funcs, "parse_socks5d_config_json"),
        "proxy-server": keys_of(funcs, "parse_proxy_server_config_json"),
    }


PROFILE_SECTIONS = {  # reader function -> section of paniq-profile(5)
    "read_profile": "TOP-LEVEL KEYS",
    "read_kcp": "KCP KEYS (kcp.*)",
    "read_padding": "PADDING KEYS (transport_padding.*)",
    "read_obfuscation": "OBFUSCATION KEYS (obfuscation.*)",
}


def profile_keys():
    with open(os.path.join(REPO_DIR, "src", "profile", "profile_json.cpp"), encoding="utf-8") as f:
        funcs = functions(f.read())
    roots = set(PROFILE_SECTIONS)
    return {sec: keys_of(funcs, fn, stop=roots) for fn, sec in PROFILE_SECTIONS.items()}


# --------------------------------------------------------------------------------------------
# The checks (also used by test_package.py)


def check_flags(h, bins, pages):
    """bins: {build name: executable path}; pages: {page file name: roff text}."""
    for name, page in PAGES.items():
        roff = pages[page]
        text = plain(roff)
        top = help_text(bins[name])
        opts = long_options(top)
        h.check(f"{name} --help lists options", "--help" in opts, f"parsed: {opts}")
        missing = [o for o in opts if not has_option(text, o)]
        h.check(f"{page} documents every {name} option ({len(opts)})", not missing,
                f"missing from {page}: {' '.join(missing)}")
        if name != "paniq-ctl":
            continue
        subs = subcommands(top)
        entries = command_entries(roff)
        h.check("paniq-ctl --help lists subcommands", len(subs) >= 8, f"parsed: {subs}")
        no_entry = [s for s in subs if s not in entries]
        h.check(f"{page} has an entry for every subcommand ({len(subs)})", not no_entry,
                f"no entry in {page} COMMANDS: {' '.join(no_entry)}")
        for sub in subs:
            sopts = [o for o in long_options(help_text(bins[name], sub)) if o not in COMMON_OPTIONS]
            entry = plain(entries.get(sub, ""))
            missing = [o for o in sopts if not has_option(entry, o)]
            h.check(f"{page} documents paniq-ctl {sub}'s options ({len(sopts)})", not missing,
                    f"missing from the `{sub}` entry of {page}: {' '.join(missing)}")


def check_config_keys(h, pages):
    for name, keys in daemon_config_keys().items():
        page = PAGES[name]
        h.check(f"{name} config keys found in daemon_config.cpp",
                {"listen_addr", "log_level", "max_connections"} <= keys, f"found: {sorted(keys)}")
        body = plain(man_sections(pages[page]).get("CONFIG FILE", ""))
        missing = sorted(k for k in keys if not has_key(body, k))
        h.check(f"{page} CONFIG FILE documents every {name} key ({len(keys)})", not missing,
                f"missing from {page} CONFIG FILE: {' '.join(missing)}")
    secs = man_sections(pages[PROFILE_PAGE])
    for sec, keys in profile_keys().items():
        h.check(f"profile keys found for {sec}", len(keys) >= 5, f"found: {sorted(keys)}")
        body = plain(secs.get(sec, ""))
        missing = sorted(k for k in keys if not has_key(body, k))
        h.check(f"{PROFILE_PAGE} {sec} documents every key ({len(keys)})", not missing,
                f"missing from {PROFILE_PAGE} {sec}: {' '.join(missing)}")


def check_render(h, paths):
    groff = shutil.which("groff")
    if not groff:
        print("SKIP rendering: groff is not installed (apt-get install groff-base)", flush=True)
        return
    for path in paths:
        src = read_page(path)
        r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z"], input=src, capture_output=True,
                           text=True, timeout=30)
        h.check(f"groff renders {os.path.basename(path)} without warnings",
                r.returncode == 0 and not r.stderr.strip(), r.stderr.strip()[:400])


def main():
    with Harness("man_pages") as h:
        bins = {name: h.prog(name) for name in PAGES}
        pages = {p: read_page(os.path.join(MAN_DIR, p)) for p in ALL_PAGES}
        check_flags(h, bins, pages)
        check_config_keys(h, pages)
        check_render(h, [os.path.join(MAN_DIR, p) for p in ALL_PAGES])
    sys.exit(h.exit_code)


if __name__ == "__main__":
    main()
