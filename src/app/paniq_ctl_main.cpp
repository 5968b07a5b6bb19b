// paniq-ctl: keys, profiles and the control socket (PROTOCOL.md 2.3, 2.4, 10, 11).
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/common.hpp"
#include "app/control.hpp"
#include "app/ctl_link.hpp"
#include "app/ctl_speedtest.hpp"
#include "app/ctl_status.hpp"
#include "crypto/crypto.hpp"
#include "profile/generate.hpp"
#include "profile/profile_cbor.hpp"
#include "profile/users.hpp"
#include "profile/validate.hpp"

namespace {

using namespace paniq;
constexpr const char* kProgram = "paniq-ctl";

std::string today_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

int write_output(const std::string& path, std::string_view data) {
  if (path.empty() || path == "-") {
    std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
    std::cout.flush();
    return app::kExitOk;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) return app::fail(kProgram, "cannot write " + path);
  return app::kExitOk;
}

int keygen() {
  crypto::OsRng rng;
  const auto kp = profile::generate_keypair(rng);
  std::cout << "server_private_key=" << kp.private_key << "\nserver_public_key=" << kp.public_key << "\n";
  return app::kExitOk;
}

// Prints h1..h4 as the reference does: `      "h1": "A-B",` lines (to paste into a profile's
// obfuscation object) or, with --json=false, `h1=A-B` lines. Exit 1 when the bounds cannot hold
// four ranges, 2 for --distinct-msb=false (only the distinct-MSB algorithm exists, as in the
// reference, where both flags are always on).
int headergen(const profile::HeaderGenOptions& opt, bool distinct_msb, bool json) {
  if (!distinct_msb) {
    return app::fail(kProgram, "headergen: --distinct-msb=false is not supported: every range gets its own "
                               "most significant byte", app::kExitUsage);
  }
  crypto::OsRng rng;
  auto ranges = profile::generate_headers(rng, opt);
  if (!ranges) {
    return app::fail(kProgram, "headergen: " + ranges.error().message + " (--width " +
                                   std::to_string(opt.width) + ", --min " + std::to_string(opt.min) +
                                   ", --max " + std::to_string(opt.max) + ")");
  }
  for (std::size_t i = 0; i < ranges->size(); ++i) {
    const auto& r = (*ranges)[i];
    const std::string text = std::to_string(r.start) + "-" + std::to_string(r.end);
    if (json) {
      std::cout << "      \"h" << i + 1 << "\": \"" << text << "\",\n";
    } else {
      std::cout << "h" << i + 1 << "=" << text << "\n";
    }
  }
  return app::kExitOk;
}

int create_profile(unsigned mtu, const std::string& name, const std::string& proxy_addr) {
  if (proxy_addr.empty()) {
    std::cerr << "warning: no --proxy-addr given: proxy_addr is empty, socks5d will need --proxy-addr\n";
  }
  crypto::OsRng rng;
  auto p = profile::generate_profile(rng, mtu, name.empty() ? "bf-" + today_utc() : name, proxy_addr);
  if (!p) return app::fail(kProgram, p.error().message);
  std::cout << profile::to_json(*p) << "\n";
  return app::kExitOk;
}

int profile_cbor(bool decode, const std::string& input, const std::string& output, bool base64) {
  auto text = app::read_file_or_stdin(input);
  if (!text) return app::fail(kProgram, text.error().message);
  if (decode) {
    auto p = base64 ? profile::decode_profile_base64(*text)
                    : profile::decode_compact_profile(as_bytes(*text));
    if (!p) return app::fail(kProgram, p.error().message);
    return write_output(output, profile::to_json(*p) + "\n");
  }
  std::vector<std::string> warnings;
  auto p = profile::parse_profile_json_unvalidated(*text, warnings);
  if (!p) return app::fail(kProgram, p.error().message);
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
  std::vector<std::string> notes;
  auto cbor = profile::encode_compact_profile(*p, &notes);
  if (!cbor) return app::fail(kProgram, cbor.error().message);
  for (const auto& n : notes) std::cerr << "note: " << n << "\n";
  if (base64) return write_output(output, crypto::base64_encode(*cbor) + "\n");
  return write_output(output, std::string_view(reinterpret_cast<const char*>(cbor->data()), cbor->size()));
}

// The users file for add-user / revoke-user: missing = empty (add-user creates it).
Result<std::vector<profile::UserEntry>> read_users(const std::string& path, bool may_be_missing) {
  std::ifstream probe(path);
  if (!probe && may_be_missing) return std::vector<profile::UserEntry>{};
  return profile::load_users_file(path);
}

int write_users(const std::string& path, const std::vector<profile::UserEntry>& users) {
  // Write a sibling and rename it over the file, so a reloading server never reads half a file.
  const std::string tmp = path + ".tmp";
  if (const int rc = write_output(tmp, profile::users_to_json(users)); rc != app::kExitOk) return rc;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return app::fail(kProgram, "cannot replace " + path);
  return app::kExitOk;
}

// A new user: a fresh client key pair, its public key appended to the users file, and the
// user's client profile (the server profile's client view with the client key, encryption
// required) printed or written to `output`.
int add_user(const std::string& name, const std::string& profile_path, const std::string& users_path,
             const std::string& output) {
  std::vector<std::string> warnings;
  auto p = profile::load_profile_file(profile_path, warnings);
  if (!p) return app::fail(kProgram, p.error().message);
  if (p->obfuscation.server_public_key.empty()) {
    return app::fail(kProgram, "add-user: " + profile_path + " has no obfuscation.server_public_key");
  }
  auto users = read_users(users_path, true);
  if (!users) return app::fail(kProgram, users.error().message);
  crypto::OsRng rng;
  const auto kp = profile::generate_keypair(rng);
  users->push_back({name, kp.public_key});
  // The same checks the server applies on reload (name syntax, duplicates).
  if (auto ok = profile::parse_users_json(profile::users_to_json(*users)); !ok) {
    return app::fail(kProgram, "add-user: " + ok.error().message);
  }
  profile::Profile client = profile::client_view(*p);
  client.obfuscation.client_private_key = kp.private_key;
  client.obfuscation.encryption = "required";
  if (auto ok = profile::validate_profile(client, warnings); !ok) {
    return app::fail(kProgram, "add-user: the client profile would be invalid: " + ok.error().message);
  }
  if (const int rc = write_users(users_path, *users); rc != app::kExitOk) return rc;
  std::cerr << "added user " << name << " to " << users_path
            << "; reload proxy-server (SIGHUP) to apply\n";
  return write_output(output, profile::to_json(client));
}

int revoke_user(const std::string& name, const std::string& users_path) {
  auto users = read_users(users_path, false);
  if (!users) return app::fail(kProgram, users.error().message);
  const auto before = users->size();
  std::erase_if(*users, [&](const profile::UserEntry& u) { return u.name == name; });
  if (users->size() == before) {
    return app::fail(kProgram, "revoke-user: no user " + name + " in " + users_path);
  }
  if (const int rc = write_users(users_path, *users); rc != app::kExitOk) return rc;
  std::cerr << "removed user " << name << " from " << users_path
            << "; reload proxy-server (SIGHUP) to end their sessions\n";
  return app::kExitOk;
}

int control(const std::string& socket, const char* request, bool pretty) {
  auto r = app::control_request(socket, request);
  if (!r) return app::fail(kProgram, r.error().message);
  const std::string& text = *r;
  if (text == "\"Pong\"") {
    std::cout << "Pong\n";
    return app::kExitOk;
  }
  if (text.find("\"Error\"") != std::string::npos) {
    std::cerr << "Error: " << text << "\n";
    return app::kExitRuntime;
  }
  const auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (pretty && j.is_object() && j.contains("Stats")) {
    std::cout << j["Stats"].dump(2) << "\n";
  } else {
    std::cout << text << "\n";
  }
  return app::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"paniq control tool: keys, profiles, compact profiles, daemon control socket.", kProgram};
  cli.require_subcommand(1);
  cli.set_version_flag("-V,--version", app::kVersionText);

  auto* keygen_cmd = cli.add_subcommand("keygen", "print a fresh X25519 key pair (base64)");

  profile::HeaderGenOptions hopt;
  bool distinct_msb = true, json = true;
  auto* headergen_cmd =
      cli.add_subcommand("headergen", "print four random non-overlapping header ranges h1..h4");
  headergen_cmd->add_option("--width", hopt.width, "each range is [start, start + width]; below 2^24")
      ->capture_default_str();
  headergen_cmd->add_option("--min", hopt.min, "lowest value a range may use")->capture_default_str();
  headergen_cmd->add_option("--max", hopt.max, "highest value a range may use")->capture_default_str();
  headergen_cmd->add_flag("--distinct-msb", distinct_msb,
                          "one range per most significant byte (default and only mode; =false is refused)");
  headergen_cmd->add_flag("--json", json, "JSON key/value lines (default; --json=false prints h1=A-B lines)");
  headergen_cmd->footer(
      "Output (the reference's format): four lines `      \"h1\": \"A-B\",` .. h4, sorted by start, "
      "to paste into a profile's obfuscation object; with --json=false `h1=A-B` lines. Each range "
      "lies in its own most-significant-byte bucket and, unlike the reference, inside [min, max]. "
      "Exit 1 when max < min + width, width >= 2^24 or fewer than 4 buckets fit.");

  unsigned mtu = 1420;
  std::string name, proxy_addr;
  auto* create = cli.add_subcommand("create-profile", "print a fresh server profile (JSON)");
  create->add_option("--mtu", mtu, "max packet size (>= 1280)")->capture_default_str();
  create->add_option("--profile-name", name, "profile name (default bf-YYYY-MM-DD)");
  create->add_option("--proxy-addr", proxy_addr, "proxy address clients use (IP:port)");

  bool decode = false, base64 = false;
  std::string input, output;
  auto* cbor = cli.add_subcommand("profile-cbor", "profile JSON -> compact CBOR, or back with --decode");
  cbor->add_flag("--decode", decode, "CBOR -> JSON");
  cbor->add_option("--input", input, "input file (default stdin)");
  cbor->add_option("--output", output, "output file (default stdout)");
  cbor->add_flag("--base64", base64, "base64 (standard, padded) instead of raw CBOR");

  std::string user_name, server_profile, users_file, user_output;
  auto* add_user_cmd = cli.add_subcommand(
      "add-user", "add a user (client key) to a users file and print their client profile");
  add_user_cmd->add_option("name", user_name, "user name (A-Z a-z 0-9 . _ @ -, at most 64)")->required();
  add_user_cmd->add_option("-p,--profile", server_profile, "the server profile")->required();
  add_user_cmd->add_option("-u,--users", users_file, "users file (created when missing)")->required();
  add_user_cmd->add_option("-o,--output", user_output, "write the client profile here (default stdout)");
  auto* revoke_cmd = cli.add_subcommand("revoke-user", "remove a user from a users file");
  revoke_cmd->add_option("name", user_name, "user name")->required();
  revoke_cmd->add_option("-u,--users", users_file, "users file")->required();

  std::string socket;
  auto* ping = cli.add_subcommand("ping", "ping a daemon's control socket");
  ping->add_option("-s,--socket", socket, "control socket path")->required();
  auto* stats = cli.add_subcommand("stats", "print a daemon's counters (JSON)");
  stats->add_option("-s,--socket", socket, "control socket path")->required();

  app::LinkCommands link_cmds(cli);  // link, import
  app::SpeedtestCommand speedtest_cmd(cli);
  app::StatusCommand status_cmd(cli);

  if (const int rc = app::parse_command_line(cli, argc, argv); rc >= 0) return rc;
  try {
    if (const int rc = link_cmds.run(); rc >= 0) return rc;
    if (const int rc = speedtest_cmd.run(); rc >= 0) return rc;
    if (const int rc = status_cmd.run(); rc >= 0) return rc;
    if (keygen_cmd->parsed()) return keygen();
    if (headergen_cmd->parsed()) return headergen(hopt, distinct_msb, json);
    if (create->parsed()) return create_profile(mtu, name, proxy_addr);
    if (cbor->parsed()) return profile_cbor(decode, input, output, base64);
    if (add_user_cmd->parsed()) return add_user(user_name, server_profile, users_file, user_output);
    if (revoke_cmd->parsed()) return revoke_user(user_name, users_file);
    if (ping->parsed()) return control(socket, "\"Ping\"", false);
    if (stats->parsed()) return control(socket, "\"GetStats\"", true);
  } catch (const std::exception& e) {
    return app::fail(kProgram, e.what());
  }
  return app::kExitUsage;
}
