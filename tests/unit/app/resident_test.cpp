// Clean file pages leaving the resident set (app/resident.hpp): which mappings of
// /proc/PID/smaps qualify, and the effect on this very process.
#include "app/resident.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace paniq::app {
namespace {

constexpr const char* kSmaps =
    "55d5c1a00000-55d5c1a2c000 r--p 00000000 08:01 1234                       /usr/bin/socks5d\n"
    "Size:                176 kB\n"
    "Rss:                 176 kB\n"
    "Anonymous:             0 kB\n"
    "AnonHugePages:         0 kB\n"
    "VmFlags: rd mr mw me sd\n"
    "55d5c1a2c000-55d5c1b00000 r-xp 0002c000 08:01 1234                       /usr/bin/socks5d\n"
    "Rss:                 800 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd ex mr mw me sd\n"
    // relocated read-only data: copied on write, must stay
    "55d5c1c00000-55d5c1c08000 r--p 00200000 08:01 1234                       /usr/bin/socks5d\n"
    "Rss:                  32 kB\n"
    "Anonymous:             8 kB\n"
    "VmFlags: rd mr mw me ac sd\n"
    // writable data
    "55d5c1c08000-55d5c1c0a000 rw-p 00208000 08:01 1234                       /usr/bin/socks5d\n"
    "Rss:                   8 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd wr mr mw me ac sd\n"
    // heap: no file
    "55d5c2000000-55d5c2100000 rw-p 00000000 00:00 0                          [heap]\n"
    "Rss:                 164 kB\n"
    "Anonymous:           164 kB\n"
    // a shared mapping, a locked one, a deleted file, nothing resident
    "7f0000000000-7f0000010000 r--s 00000000 08:01 99                         /dev/shm/x\n"
    "Rss:                  64 kB\n"
    "Anonymous:             0 kB\n"
    "7f0000010000-7f0000020000 r-xp 00000000 08:01 98                         /usr/lib/locked.so\n"
    "Rss:                  64 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd ex mr mw me lo sd\n"
    "7f0000020000-7f0000030000 r-xp 00000000 08:01 97                         /usr/lib/old.so (deleted)\n"
    "Rss:                  64 kB\n"
    "Anonymous:             0 kB\n"
    "7f0000030000-7f0000040000 r-xp 00000000 08:01 96                         /usr/lib/cold.so\n"
    "Rss:                   0 kB\n"
    "Anonymous:             0 kB\n"
    "7f0000040000-7f0000050000 r-xp 00000000 08:01 95                         /usr/lib/libc.so.6\n"
    "Rss:                  12 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd ex mr mw me sd\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
    "Rss:                   0 kB\n";

TEST(Resident, OnlyCleanReadOnlyPrivatePagesOfExistingFilesQualify) {
  const auto got = clean_file_mappings(kSmaps);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].begin, 0x55d5c1a00000u);
  EXPECT_EQ(got[0].end, 0x55d5c1a2c000u);
  EXPECT_EQ(got[0].rss_bytes, 176u * 1024);
  EXPECT_EQ(got[1].begin, 0x55d5c1a2c000u);
  EXPECT_EQ(got[1].rss_bytes, 800u * 1024);
  EXPECT_EQ(got[2].begin, 0x7f0000040000u);
  EXPECT_EQ(got[2].rss_bytes, 12u * 1024);
}

// Fed a line at a time, as the daemon reads /proc: the same verdicts, and a header line cut
// short (a path longer than the read buffer) keeps its mapping.
TEST(Resident, TheScannerTakesALineAtATimeAndKeepsACutHeader) {
  SmapsScanner scan;
  std::vector<FileMapping> got;
  auto feed = [&](std::string_view l, bool complete = true) {
    if (auto m = scan.line(l, complete)) got.push_back(*m);
  };
  feed("55d5c1a2c000-55d5c1b00000 r-xp 0002c000 08:01 1234   /usr/bin/socks5d");
  feed("Rss:                 800 kB");
  feed("Anonymous:             0 kB");
  feed("7f0000040000-7f0000050000 r-xp 00000000 08:01 95     /usr/lib/a-very-long-pa", false);
  feed("Rss:                  12 kB");
  feed("Anonymous:             0 kB");
  feed("7f0000050000-7f0000060000 r--p 00000000 08:01 95     /usr/lib/libc.so.6");
  feed("Rss:                  16 kB");
  if (auto m = scan.finish()) got.push_back(*m);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].begin, 0x55d5c1a2c000u);
  EXPECT_EQ(got[1].begin, 0x7f0000050000u);
  EXPECT_EQ(got[1].rss_bytes, 16u * 1024);
}

TEST(Resident, TruncatedOrForeignTextGivesNothingItCannotRead) {
  EXPECT_TRUE(clean_file_mappings("").empty());
  EXPECT_TRUE(clean_file_mappings("garbage\nRss: 12 kB\n").empty());
  // a header with no fields after it: nothing is known to be resident
  EXPECT_TRUE(clean_file_mappings("55d5c1a00000-55d5c1a2c000 r-xp 00000000 08:01 1 /bin/x\n").empty());
  // end below begin
  EXPECT_TRUE(clean_file_mappings("2000-1000 r-xp 00000000 08:01 1 /bin/x\nRss: 4 kB\n").empty());
}

std::size_t rollup_kb(const std::string& field) {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoul(line.substr(field.size() + 1));
  }
  return 0;
}

// On this process: the resident set shrinks, the private (anonymous) part does not, and the
// code still runs (its pages come back on a fault).
TEST(Resident, ReleasingDropsFilePagesAndKeepsPrivateMemory) {
  std::ifstream probe("/proc/self/smaps_rollup");
  if (!probe) GTEST_SKIP() << "no /proc/self/smaps_rollup";
  const std::size_t rss = rollup_kb("Rss"), anon = rollup_kb("Anonymous");
  const std::size_t released = release_clean_file_pages();
  const std::size_t rss_after = rollup_kb("Rss"), anon_after = rollup_kb("Anonymous");
  std::printf("[ resident ] Rss %zu -> %zu kB, Anonymous %zu -> %zu kB, released %zu kB\n", rss, rss_after,
              anon, anon_after, released / 1024);
  EXPECT_GT(released, 256u * 1024) << "a gtest binary maps megabytes of code";
  EXPECT_LT(rss_after + released / 1024 / 2, rss) << "at least half of what was released left the resident set";
  EXPECT_LE(anon_after, anon + 16) << "no private page is dropped, and reading /proc takes next to none";
  // Still works: run code from every corner again.
  EXPECT_EQ(clean_file_mappings(kSmaps).size(), 3u);
  EXPECT_EQ(std::to_string(42), "42");
}

}  // namespace
}  // namespace paniq::app
