// Resident memory a quiet daemon gives back besides freed heap (app/common.hpp's trim loop).
//
// Most of an idle daemon's resident set is not its own memory but pages of files: the code and
// read-only data of the binary and of the ~15 shared libraries it maps. The kernel maps them in
// 16-page runs around each page touched, so start-up alone (command line, profile, key
// derivation, logging set-up) leaves megabytes of code resident that an idle daemon never runs
// again. Dropping those mappings' pages from the resident set (madvise MADV_DONTNEED) costs
// nothing: they are clean copies of the file, they stay in the page cache (shared with every
// other process that maps the same library), and a page the daemon touches again comes back on
// a minor fault. Only clean pages go: a mapping that is writable, or holds a single page that
// was copied on write (relocated data), is left alone, so no byte of the process's own state
// can be lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace paniq::app {

struct FileMapping {
  std::uintptr_t begin = 0, end = 0;  // [begin, end)
  std::size_t rss_bytes = 0;          // resident when /proc was read
};

// Reads /proc/PID/smaps a line at a time (the text of a daemon's smaps is ~100 kB: held whole it
// would itself take heap pages) and reports, as each mapping's fields end, the mappings that
// hold only clean pages of a file: backed by a file that still exists (a path, not
// "(deleted)"), not writable, not locked, no Anonymous (copied-on-write) pages, something
// resident. Text it does not recognise is skipped; a header line cut short (`complete` false)
// makes its mapping ineligible.
class SmapsScanner {
 public:
  // One line without its newline. Returns the mapping that the line closed, if it qualifies.
  std::optional<FileMapping> line(std::string_view text, bool complete = true);
  // End of input: the last mapping, if it qualifies.
  std::optional<FileMapping> finish();

 private:
  FileMapping cur_;
  bool have_ = false, eligible_ = false, anonymous_ = false, locked_ = false;
};

// All qualifying mappings of a whole smaps text.
std::vector<FileMapping> clean_file_mappings(std::string_view smaps);

// Drops the pages of this process's clean file mappings from its resident set. Returns the bytes
// that were resident in them (0 when /proc/self/smaps cannot be read).
std::size_t release_clean_file_pages();

}  // namespace paniq::app
