#include "app/resident.hpp"

#include <sys/mman.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace paniq::app {
namespace {

// "Name:   123 kB" -> 123 * 1024; -1 when the line is not `name`.
std::int64_t kb_field(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line.substr(0, name.size()) != name || line[name.size()] != ':') {
    return -1;
  }
  std::string_view rest = line.substr(name.size() + 1);
  const auto first = rest.find_first_not_of(' ');
  if (first == std::string_view::npos) return -1;
  rest.remove_prefix(first);
  std::uint64_t kb = 0;
  const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kb);
  if (ec != std::errc{} || ptr == rest.data()) return -1;
  return static_cast<std::int64_t>(kb * 1024);
}

}  // namespace

std::optional<FileMapping> SmapsScanner::line(std::string_view text, bool complete) {
  if (text.empty()) return std::nullopt;
  // A field line starts with a capitalised name; a header with the hex start address.
  if (text[0] >= 'A' && text[0] <= 'Z') {
    if (!have_) return std::nullopt;
    if (const std::int64_t rss = kb_field(text, "Rss"); rss >= 0) {
      cur_.rss_bytes = static_cast<std::size_t>(rss);
    } else if (kb_field(text, "Anonymous") > 0) {
      anonymous_ = true;
    } else if (text.substr(0, 8) == "VmFlags:") {
      locked_ = text.find(" lo") != std::string_view::npos;
    }
    return std::nullopt;
  }
  std::optional<FileMapping> done = finish();
  // "begin-end perms offset dev inode [path]"
  const auto dash = text.find('-');
  const auto sp = text.find(' ');
  if (dash == std::string_view::npos || sp == std::string_view::npos || dash > sp) return done;
  std::uintptr_t b = 0, e = 0;
  if (std::from_chars(text.data(), text.data() + dash, b, 16).ec != std::errc{}) return done;
  if (std::from_chars(text.data() + dash + 1, text.data() + sp, e, 16).ec != std::errc{}) return done;
  const std::string_view perms = text.substr(sp + 1, 4);
  if (e <= b || perms.size() != 4) return done;
  have_ = true;
  cur_ = FileMapping{b, e, 0};
  anonymous_ = locked_ = false;
  const auto path = text.find(" /", sp);
  const bool file = path != std::string_view::npos && text.find("(deleted)", path) == std::string_view::npos;
  eligible_ = complete && file && perms[0] == 'r' && perms[1] != 'w' && perms[3] == 'p';
  return done;
}

std::optional<FileMapping> SmapsScanner::finish() {
  const bool ok = have_ && eligible_ && !anonymous_ && !locked_ && cur_.rss_bytes > 0;
  have_ = false;
  if (!ok) return std::nullopt;
  return cur_;
}

std::vector<FileMapping> clean_file_mappings(std::string_view smaps) {
  std::vector<FileMapping> out;
  SmapsScanner scan;
  while (!smaps.empty()) {
    const auto nl = smaps.find('\n');
    if (auto m = scan.line(smaps.substr(0, nl))) out.push_back(*m);
    smaps.remove_prefix(nl == std::string_view::npos ? smaps.size() : nl + 1);
  }
  if (auto m = scan.finish()) out.push_back(*m);
  return out;
}

std::size_t release_clean_file_pages() {
  std::FILE* f = std::fopen("/proc/self/smaps", "re");
  if (f == nullptr) return 0;
  std::size_t released = 0;
  auto drop = [&](const std::optional<FileMapping>& m) {
    if (m && ::madvise(reinterpret_cast<void*>(m->begin), m->end - m->begin, MADV_DONTNEED) == 0) {
      released += m->rss_bytes;
    }
  };
  SmapsScanner scan;
  char buf[4096];
  bool at_line_start = true;
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    const std::size_t n = std::strlen(buf);
    const bool complete = n > 0 && buf[n - 1] == '\n';
    // The rest of a line longer than the buffer (a long path) is skipped; its header was
    // passed as incomplete, which keeps that mapping.
    if (at_line_start) drop(scan.line(std::string_view(buf, complete ? n - 1 : n), complete));
    at_line_start = complete;
  }
  drop(scan.finish());
  std::fclose(f);
  return released;
}

}  // namespace paniq::app
