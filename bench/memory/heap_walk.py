#!/usr/bin/env python3
"""Where a daemon's [heap] stays resident: walks glibc's main-arena chunks in /proc/PID/mem and
prints the in-use chunks by size and the memory of the pages they touch. When that page total
is close to the heap's Rss while the in-use bytes are far below it, the heap is fragmented:
free memory sits on pages that some long-lived chunk keeps, and malloc_trim cannot give it
back (bench_memory.py's "after close" residue: README "Memory").

Reads another process's memory: same user, and ptrace allowed (kernel.yama.ptrace_scope 0 or
a debugger-capable shell). glibc x86-64 chunk layout only; other threads' arenas are not walked
(the daemons run one thread).

With --dump SIZE, also prints the first 64 bytes of every in-use chunk of that size (as glibc
counts it, header included), to tell what a chunk is from its contents.

usage: bench/memory/heap_walk.py PID [--top 15] [--dump SIZE]
"""
import argparse
import collections
import struct
import sys

PAGE = 4096


def read_heap(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            if line.rstrip().endswith("[heap]"):
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                with open(f"/proc/{pid}/mem", "rb") as mem:
                    mem.seek(start)
                    return mem.read(end - start)
    raise RuntimeError(f"process {pid} has no [heap] mapping")


def walk(data):
    """[(offset, size, in_use)] for every chunk; a chunk is in use when the next chunk's
    PREV_INUSE bit is set (tcache and fastbin chunks count as in use, as glibc sees them)."""
    chunks = []
    off = 0
    while off + 16 <= len(data):
        size = struct.unpack_from("<Q", data, off + 8)[0] & ~7
        if size == 0 or off + size > len(data):
            break
        chunks.append([off, size, False])
        off += size
    for i in range(len(chunks) - 1):
        nxt = struct.unpack_from("<Q", data, chunks[i + 1][0] + 8)[0]
        chunks[i][2] = bool(nxt & 1)
    return chunks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pid", type=int)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--dump", type=int, help="print the start of every in-use chunk of this size")
    args = ap.parse_args()
    data = read_heap(args.pid)
    chunks = walk(data)
    by_size = collections.Counter()
    pages = set()
    used = 0
    for off, size, in_use in chunks:
        if not in_use:
            continue
        by_size[size] += 1
        used += size
        pages.update(range(off // PAGE, (off + size - 1) // PAGE + 1))
    heap_kb = (chunks[-1][0] + chunks[-1][1]) // 1024 if chunks else 0
    print(f"heap {heap_kb} KB in {len(chunks)} chunks; in use {sum(by_size.values())} chunks, "
          f"{used // 1024} KB; pages holding them {len(pages) * PAGE // 1024} KB")
    print("  most chunks:")
    for size, n in by_size.most_common(args.top):
        print(f"  {size:>7} B x {n:>6} = {size * n // 1024:>6} KB")
    print("  most bytes:")
    for size, n in sorted(by_size.items(), key=lambda kv: -kv[0] * kv[1])[:args.top]:
        print(f"  {size:>7} B x {n:>6} = {size * n // 1024:>6} KB")
    if args.dump:
        for off, size, in_use in chunks:
            if in_use and size == args.dump:
                words = struct.unpack_from("<8Q", data, off + 16)
                print(f"  chunk at +{off:#x}: " + " ".join(f"{w:016x}" for w in words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
