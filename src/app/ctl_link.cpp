#include "app/ctl_link.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "app/common.hpp"
#include "app/qr_code.hpp"
#include "profile/link.hpp"
#include "profile/profile.hpp"
#include "profile/validate.hpp"

namespace paniq::app {
namespace {

constexpr const char* kProgram = "paniq-ctl";

}  // namespace

LinkCommands::LinkCommands(CLI::App& cli) {
  link_cmd_ = cli.add_subcommand("link", "print a client profile as a pnq:// link and a QR code");
  link_cmd_->add_option("profile", profile_, "client profile JSON (- for stdin)")->required();
  link_cmd_->add_flag("--client-view", client_view_,
                      "strip obfuscation.server_private_key from a server profile first (every holder of "
                      "the link shares one identity; paniq-ctl add-user gives each user their own)");
  link_cmd_->add_flag("--no-name", no_name_, "leave out the #name part");
  link_cmd_->add_option("--png", png_, "also write the QR code as a PNG image to this file");
  link_cmd_->add_flag("--no-qr", no_qr_, "print only the link");
  link_cmd_->add_flag("--ascii", ascii_, "draw the QR code with '#' instead of block characters");
  link_cmd_->add_flag("--invert", invert_, "draw dark modules (for terminals with a light background)");
  link_cmd_->add_option("--ec", ec_, "QR error correction: L, M (default), Q or H")->capture_default_str();
  link_cmd_->footer(
      "Refuses a profile holding obfuscation.server_private_key: a link must never carry it. "
      "The link goes to stdout as the first line, the QR code after it (drawn for a dark "
      "terminal background; --invert for a light one); notes on what the link does not carry go "
      "to stderr. See docs/sharing.md.");

  import_cmd_ = cli.add_subcommand("import", "decode a pnq:// link and print its profile (JSON)");
  import_cmd_->add_option("link", input_, "the pnq:// link, or a file holding one (- for stdin)")->required();
  import_cmd_->add_option("-o,--output", output_, "write the profile here (default stdout)");
  import_cmd_->footer(
      "The profile is checked as socks5d would check it; a malformed link gives one line on "
      "stderr saying what is wrong, and exit 1.");
}

int LinkCommands::run() const {
  if (link_cmd_->parsed()) return link();
  if (import_cmd_->parsed()) return import();
  return -1;
}

int LinkCommands::link() const {
  QrLevel level = QrLevel::M;
  if (!parse_qr_level(ec_, level)) {
    return fail(kProgram, "link: --ec \"" + ec_ + "\": must be L, M, Q or H", kExitUsage);
  }
  auto text = read_file_or_stdin(profile_);
  if (!text) return fail(kProgram, "link: " + text.error().message);
  std::vector<std::string> warnings;
  auto p = profile::parse_profile_json(*text, warnings);
  if (!p) return fail(kProgram, "link: " + profile_ + ": " + p.error().message);
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
  if (!p->obfuscation.server_private_key.empty()) {
    if (!client_view_) {
      return fail(kProgram,
                  "link: " + profile_ + " has obfuscation.server_private_key (a server profile): a link must "
                  "never carry it. Give each user their own client profile (paniq-ctl add-user NAME -p " +
                      profile_ + " -u USERS_FILE -o user.json, then paniq-ctl link user.json), or pass "
                      "--client-view to strip the key");
    }
    *p = profile::client_view(*p);
    if (auto ok = profile::validate_profile(*p, warnings); !ok) {
      return fail(kProgram, "link: the client view would be invalid: " + ok.error().message);
    }
  }
  if (p->proxy_addr.empty() && p->servers.empty()) {
    return fail(kProgram,
                "link: " + profile_ + " has no proxy_addr and no servers: a client could not connect");
  }
  std::vector<std::string> notes;
  auto link = profile::encode_link(*p, !no_name_, &notes);
  if (!link) return fail(kProgram, "link: " + link.error().message);
  for (const auto& n : notes) std::cerr << "note: " << n << "\n";
  std::cout << *link << "\n";
  if (!no_qr_ || !png_.empty()) {
    auto qr = make_qr(*link, level);
    if (!qr) return fail(kProgram, "link: " + qr.error().message);
    if (!no_qr_) std::cout << render_terminal(*qr, {ascii_, invert_});
    if (!png_.empty()) {
      if (auto w = write_qr_png(*qr, png_); !w) return fail(kProgram, "link: " + w.error().message);
      std::cerr << "wrote " << png_ << " (QR version " << qr->version << ", " << qr->width << "x" << qr->width
                << " modules, " << link->size() << " characters)\n";
    }
  }
  std::cout.flush();
  return kExitOk;
}

int LinkCommands::import() const {
  std::string link = input_, source;
  const bool url = profile::looks_like_link(input_) ||
                   (profile::has_url_scheme(input_) && !std::ifstream(input_).good());
  if (!url) {
    auto text = read_file_or_stdin(input_);
    if (!text) return fail(kProgram, "import: " + text.error().message);
    link = std::move(*text);
    source = (input_ == "-" ? std::string("stdin") : input_) + ": ";
  }
  std::vector<std::string> warnings;
  auto p = profile::decode_link(link, warnings);
  if (!p) return fail(kProgram, "import: " + source + p.error().message);
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
  const std::string json = profile::to_json(*p);
  if (output_.empty() || output_ == "-") {
    std::cout << json;
    std::cout.flush();
    return kExitOk;
  }
  std::ofstream out(output_, std::ios::binary);
  out << json;
  if (!out) return fail(kProgram, "import: cannot write " + output_);
  return kExitOk;
}

}  // namespace paniq::app
