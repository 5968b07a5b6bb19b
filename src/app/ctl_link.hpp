// paniq-ctl link / import: pnq:// share links (docs/sharing.md, docs/protocol.md 8).
//
//   paniq-ctl link PROFILE [--client-view] [--no-name] [--png FILE] [--no-qr] [--ascii]
//                          [--invert] [--ec L|M|Q|H]
//   paniq-ctl import LINK|FILE|- [-o FILE]
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace paniq::app {

class LinkCommands {
 public:
  // Adds the `link` and `import` subcommands to `cli` (before it parses).
  explicit LinkCommands(CLI::App& cli);

  // After parsing: -1 when neither subcommand was given, else the exit code of the one that ran.
  int run() const;

 private:
  int link() const;
  int import() const;

  CLI::App* link_cmd_ = nullptr;
  CLI::App* import_cmd_ = nullptr;
  std::string profile_, png_, ec_ = "M", input_, output_;
  bool client_view_ = false, no_name_ = false, no_qr_ = false, ascii_ = false, invert_ = false;
};

}  // namespace paniq::app
