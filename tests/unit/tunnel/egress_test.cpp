// The egress policy matcher: default ranges (IPv4 and IPv6, both edges of each), rule syntax and
// errors naming the field, ports, IPv4-mapped addresses, deny over allow, own addresses.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "profile/addr.hpp"
#include "tunnel/egress.hpp"

namespace paniq::tunnel {
namespace {

PeerAddr addr(const std::string& text, std::uint16_t port = 80) {
  const auto ip = profile::parse_ip_addr(text);
  if (!ip) throw std::invalid_argument("test address " + text);
  if (!ip->v6) return PeerAddr::v4({ip->ip[0], ip->ip[1], ip->ip[2], ip->ip[3]}, port);
  return PeerAddr::v6(ip->ip, port);
}

EgressPolicy policy(std::vector<std::string> allow, std::vector<std::string> deny = {},
                    std::vector<PeerAddr> own = {}) {
  auto p = EgressPolicy::create(EgressConfig{std::move(allow), std::move(deny), std::move(own)});
  if (!p) throw std::invalid_argument(p.error().message);
  return std::move(p.value());
}

std::string parse_error(const std::string& rule, const std::string& field = "allow_targets[0]") {
  const auto r = parse_egress_rule(rule, field);
  return r ? "(accepted)" : r.error().message;
}

struct RangeCase {
  const char* first;  // first address of the range
  const char* last;   // last address of the range
  const char* below;  // the address just before it (allowed), or nullptr
  const char* above;  // the address just after it (allowed), or nullptr
  const char* name;
};

// Every default range with both edges and, where they are ordinary addresses, both neighbours.
const RangeCase kRanges[] = {
    {"0.0.0.0", "0.255.255.255", nullptr, "1.0.0.0", "unspecified (0.0.0.0/8)"},
    {"127.0.0.0", "127.255.255.255", "126.255.255.255", "128.0.0.0", "loopback"},
    {"169.254.0.0", "169.254.255.255", "169.253.255.255", "169.255.0.0", "link-local"},
    {"10.0.0.0", "10.255.255.255", "9.255.255.255", "11.0.0.0", "private (RFC 1918)"},
    {"172.16.0.0", "172.31.255.255", "172.15.255.255", "172.32.0.0", "private (RFC 1918)"},
    {"192.168.0.0", "192.168.255.255", "192.167.255.255", "192.169.0.0", "private (RFC 1918)"},
    {"100.64.0.0", "100.127.255.255", "100.63.255.255", "100.128.0.0", "CGNAT (RFC 6598)"},
    {"224.0.0.0", "239.255.255.255", "223.255.255.255", "240.0.0.0", "multicast"},
    {"255.255.255.255", "255.255.255.255", "255.255.255.254", nullptr, "broadcast"},
    {"::", "::", nullptr, "::2", "unspecified"},
    {"::1", "::1", nullptr, "::2", "loopback"},
    {"fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     nullptr, "link-local"},
    {"fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nullptr, nullptr, "site-local (deprecated)"},
    {"fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "fe00::", "unique local (ULA)"},
    {"ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nullptr, nullptr, "multicast"},
};

TEST(Egress, EveryDefaultRangeIsDeniedAtBothEdgesAndItsNeighboursAreNot) {
  const EgressPolicy p;
  for (const RangeCase& c : kRanges) {
    for (const char* in : {c.first, c.last}) {
      const auto d = p.decide(addr(in));
      EXPECT_EQ(d.verdict, EgressVerdict::denied_default_range) << in;
      EXPECT_EQ(d.reason, c.name) << in;
      EXPECT_EQ(d.describe(), std::string(c.name) + " (default policy)");
    }
    for (const char* out : {c.below, c.above}) {
      if (out) {
        EXPECT_TRUE(p.decide(addr(out)).allowed()) << out << " next to " << c.name;
      }
    }
  }
  // The cloud metadata address, and the documented examples.
  EXPECT_EQ(p.decide(addr("169.254.169.254")).reason, "link-local");
  EXPECT_EQ(p.decide(addr("127.0.0.1", 22)).describe(), "loopback (default policy)");
  EXPECT_EQ(default_denied_ranges().size(), std::size(kRanges));
}

TEST(Egress, PublicAddressesAreAllowed) {
  const EgressPolicy p;
  for (const char* a : {"1.1.1.1", "8.8.8.8", "93.184.216.34", "198.51.100.1", "192.0.2.1",
                        "2001:db8::1", "2606:4700::1111", "2000::", "::2", "64:ff9b::a00:1"}) {
    const auto d = p.decide(addr(a));
    EXPECT_TRUE(d.allowed()) << a;
    EXPECT_TRUE(d.reason.empty()) << a;
  }
}

TEST(Egress, Ipv4MappedAddressesAreJudgedAsIpv4) {
  const EgressPolicy p;
  EXPECT_EQ(p.decide(addr("::ffff:127.0.0.1")).reason, "loopback");
  EXPECT_EQ(p.decide(addr("::ffff:10.1.2.3")).reason, "private (RFC 1918)");
  EXPECT_EQ(p.decide(addr("::ffff:169.254.169.254")).reason, "link-local");
  EXPECT_TRUE(p.decide(addr("::ffff:8.8.8.8")).allowed());
  const PeerAddr u = unmap(addr("::ffff:1.2.3.4", 99));
  EXPECT_EQ(u, addr("1.2.3.4", 99));
  EXPECT_EQ(unmap(addr("::1.2.3.4")), addr("::1.2.3.4")) << "IPv4-compatible is not mapped";
  // An allow rule written either way opens the mapped and the plain form.
  const auto q = policy({"127.0.0.1:8080", "[::ffff:10.0.0.0/104]:53"});
  EXPECT_TRUE(q.decide(addr("::ffff:127.0.0.1", 8080)).allowed());
  EXPECT_TRUE(q.decide(addr("10.9.9.9", 53)).allowed());
  EXPECT_TRUE(q.decide(addr("::ffff:10.9.9.9", 53)).allowed());
  EXPECT_FALSE(q.decide(addr("10.9.9.9", 54)).allowed());
  // Deny rules too.
  const auto r = policy({}, {"8.8.8.8"});
  EXPECT_EQ(r.decide(addr("::ffff:8.8.8.8")).verdict, EgressVerdict::denied_rule);
}

TEST(Egress, AllowRuleOpensExactlyWhatItNames) {
  const auto p = policy({"127.0.0.1:8000-8002", "[::1]:443", "10.1.0.0/16", "[fd00::/8]:53"});
  EXPECT_TRUE(p.decide(addr("127.0.0.1", 8000)).allowed());
  EXPECT_TRUE(p.decide(addr("127.0.0.1", 8002)).allowed());
  EXPECT_EQ(p.decide(addr("127.0.0.1", 8002)).reason, "allow_targets[0] \"127.0.0.1:8000-8002\"");
  EXPECT_EQ(p.decide(addr("127.0.0.1", 7999)).verdict, EgressVerdict::denied_default_range);
  EXPECT_EQ(p.decide(addr("127.0.0.1", 8003)).verdict, EgressVerdict::denied_default_range);
  EXPECT_EQ(p.decide(addr("127.0.0.2", 8000)).verdict, EgressVerdict::denied_default_range);
  EXPECT_TRUE(p.decide(addr("::1", 443)).allowed());
  EXPECT_FALSE(p.decide(addr("::1", 444)).allowed());
  EXPECT_TRUE(p.decide(addr("10.1.0.0", 1)).allowed());
  EXPECT_TRUE(p.decide(addr("10.1.255.255", 65535)).allowed());
  EXPECT_FALSE(p.decide(addr("10.0.255.255")).allowed());
  EXPECT_FALSE(p.decide(addr("10.2.0.0")).allowed());
  EXPECT_TRUE(p.decide(addr("fdab::1", 53)).allowed());
  EXPECT_FALSE(p.decide(addr("fdab::1", 54)).allowed());
  EXPECT_FALSE(p.decide(addr("fc00::1", 53)).allowed()) << "fd00::/8 does not cover fc00::/8";
  // The usual test opt-in.
  const auto t = policy({"127.0.0.0/8", "[::1]/128"});
  EXPECT_TRUE(t.decide(addr("127.0.0.1", 1)).allowed());
  EXPECT_TRUE(t.decide(addr("127.255.255.255", 65535)).allowed());
  EXPECT_TRUE(t.decide(addr("::1", 9)).allowed());
  EXPECT_FALSE(t.decide(addr("10.0.0.1")).allowed());
  EXPECT_FALSE(t.decide(addr("::")).allowed());
}

TEST(Egress, DenyWinsOverAllowAndOverTheDefault) {
  const auto p = policy({"127.0.0.0/8", "0.0.0.0/0"}, {"127.0.0.1:22", "203.0.113.0/24", "[2001:db8::/32]:25"});
  const auto d = p.decide(addr("127.0.0.1", 22));
  EXPECT_EQ(d.verdict, EgressVerdict::denied_rule);
  EXPECT_EQ(d.reason, "deny_targets[0] \"127.0.0.1:22\"");
  EXPECT_EQ(d.describe(), "deny_targets[0] \"127.0.0.1:22\"");
  EXPECT_TRUE(p.decide(addr("127.0.0.1", 23)).allowed());
  EXPECT_EQ(p.decide(addr("203.0.113.9")).verdict, EgressVerdict::denied_rule);
  EXPECT_TRUE(p.decide(addr("10.0.0.1")).allowed()) << "0.0.0.0/0 opens every IPv4 range";
  EXPECT_EQ(p.decide(addr("2001:db8::5", 25)).verdict, EgressVerdict::denied_rule);
  EXPECT_TRUE(p.decide(addr("2001:db8::5", 26)).allowed());
  EXPECT_EQ(p.decide(addr("::1")).verdict, EgressVerdict::denied_default_range)
      << "IPv4 rules never open IPv6";
  // A deny rule for a public address (outside every default range).
  const auto q = policy({}, {"8.8.8.8:53"});
  EXPECT_EQ(q.decide(addr("8.8.8.8", 53)).verdict, EgressVerdict::denied_rule);
  EXPECT_TRUE(q.decide(addr("8.8.8.8", 443)).allowed());
}

TEST(Egress, OwnAddressesAreDeniedOnEveryPortUnlessAllowed) {
  const std::vector<PeerAddr> own = {addr("203.0.113.7", 0), addr("2001:db8::7", 0),
                                     addr("::ffff:198.51.100.7", 0), addr("127.0.0.1", 0)};
  const auto p = policy({}, {}, own);
  for (const std::uint16_t port : {std::uint16_t{1}, std::uint16_t{22}, std::uint16_t{65535}}) {
    const auto d = p.decide(addr("203.0.113.7", port));
    EXPECT_EQ(d.verdict, EgressVerdict::denied_own_address);
    EXPECT_EQ(d.describe(), "own interface address (default policy)");
  }
  EXPECT_EQ(p.decide(addr("2001:db8::7")).verdict, EgressVerdict::denied_own_address);
  EXPECT_EQ(p.decide(addr("198.51.100.7")).verdict, EgressVerdict::denied_own_address)
      << "own addresses are unmapped";
  EXPECT_EQ(p.decide(addr("::ffff:203.0.113.7")).verdict, EgressVerdict::denied_own_address);
  EXPECT_TRUE(p.decide(addr("203.0.113.8")).allowed());
  EXPECT_EQ(p.decide(addr("127.0.0.1")).verdict, EgressVerdict::denied_default_range)
      << "the default range names the reason first";
  EXPECT_EQ(p.own_addresses().size(), 4u);
  const auto q = policy({"203.0.113.7:443"}, {}, own);
  EXPECT_TRUE(q.decide(addr("203.0.113.7", 443)).allowed());
  EXPECT_EQ(q.decide(addr("203.0.113.7", 80)).verdict, EgressVerdict::denied_own_address);
  const auto r = policy({"203.0.113.0/24"}, {"203.0.113.7"}, own);
  EXPECT_EQ(r.decide(addr("203.0.113.7")).verdict, EgressVerdict::denied_rule);
}

TEST(Egress, RuleSyntax) {
  struct Ok {
    const char* text;
    const char* net;
    std::uint16_t lo, hi;
  };
  const Ok cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8", 0, 65535},
      {"10.0.0.1", "10.0.0.1/32", 0, 65535},
      {"10.0.0.0/8:22", "10.0.0.0/8", 22, 22},
      {"10.0.0.0/8:1000-2000", "10.0.0.0/8", 1000, 2000},
      {"1.2.3.4:0-65535", "1.2.3.4/32", 0, 65535},
      {"0.0.0.0/0", "0.0.0.0/0", 0, 65535},
      {"fc00::/7", "fc00::/7", 0, 65535},
      {"::1", "::1/128", 0, 65535},
      {"::/0", "::/0", 0, 65535},
      {"[fc00::/7]:443", "fc00::/7", 443, 443},
      {"[fc00::]/7:443-444", "fc00::/7", 443, 444},
      {"[::1]/128", "::1/128", 0, 65535},
      {"[::1]", "::1/128", 0, 65535},
      {"[::1]:8080", "::1/128", 8080, 8080},
      {"[FE80::]/10", "fe80::/10", 0, 65535},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8", 0, 65535},
      {"[::ffff:127.0.0.1]:22", "127.0.0.1/32", 22, 22},
      {"::ffff:0:0/96", "0.0.0.0/0", 0, 65535},
      {"::/80", "::/80", 0, 65535},  // wider than the mapped block: an IPv6 rule
  };
  for (const Ok& c : cases) {
    const auto r = parse_egress_rule(c.text, "allow_targets[0]");
    ASSERT_TRUE(r) << c.text << ": " << r.error().message;
    EXPECT_EQ(r->net.to_string(), c.net) << c.text;
    EXPECT_EQ(r->port_min, c.lo) << c.text;
    EXPECT_EQ(r->port_max, c.hi) << c.text;
    EXPECT_EQ(r->label, std::string("allow_targets[0] \"") + c.text + "\"");
  }
  // A block wider than ::ffff:0:0/96 stays IPv6 and never matches (unmapped) IPv4 targets.
  EXPECT_EQ(parse_egress_rule("::/80", "f")->net.family, PeerAddr::Family::v6);
  const auto p = policy({"::/80"});
  EXPECT_FALSE(p.decide(addr("::ffff:127.0.0.1")).allowed());
  EXPECT_TRUE(p.decide(addr("::1")).allowed());
}

TEST(Egress, ParseErrorsNameTheFieldAndTheValue) {
  EXPECT_EQ(parse_error("10.0.0.0/33", "allow_targets[2]"),
            "allow_targets[2]: \"10.0.0.0/33\": prefix length above 32");
  EXPECT_EQ(parse_error("fc00::/129", "deny_targets[0]"),
            "deny_targets[0]: \"fc00::/129\": prefix length above 128");
  EXPECT_EQ(parse_error("[fc00::/129]:1"), "allow_targets[0]: \"[fc00::/129]:1\": prefix length above 128");
  EXPECT_EQ(parse_error(""), "allow_targets[0]: \"\": empty rule");
  EXPECT_EQ(parse_error("10.0.0.1/8"),
            "allow_targets[0]: \"10.0.0.1/8\": host bits set (the network is 10.0.0.0/8)");
  EXPECT_EQ(parse_error("fc00::1/7"), "allow_targets[0]: \"fc00::1/7\": host bits set (the network is fc00::/7)");
  EXPECT_EQ(parse_error("10.0.0.0/8:9-3"), "allow_targets[0]: \"10.0.0.0/8:9-3\": port range start above end");
  EXPECT_EQ(parse_error("fc00::/7:443"),
            "allow_targets[0]: \"fc00::/7:443\": an IPv6 rule with a port needs brackets, e.g. "
            "\"[fc00::/7]:443\"");
  EXPECT_EQ(parse_error("[10.0.0.0/8]:1"), "allow_targets[0]: \"[10.0.0.0/8]:1\": an IPv4 address in brackets");
  EXPECT_EQ(parse_error("a\"b"),
            "allow_targets[0]: \"a\\\"b\": not an IP address (expected CIDR, CIDR:PORT or CIDR:PORT-PORT)");
  const char* bad_address[] = {"localhost", "localhost:80", "10.0.0", "10.0.0.256", "010.0.0.1",
                               " 10.0.0.1", "10.0.0.1 ", "/8", "[::1", "fe80::1%1", "[fe80::1%1]:1"};
  for (const char* b : bad_address) {
    EXPECT_NE(parse_error(b).find("allow_targets[0]: \""), std::string::npos) << b;
    EXPECT_NE(parse_error(b), "(accepted)") << b;
  }
  const std::pair<const char*, const char*> other[] = {
      {"10.0.0.0/", "missing prefix length after '/'"},
      {"10.0.0.0/x", "bad prefix length"},
      {"10.0.0.0/-1", "bad prefix length"},
      {"10.0.0.0/0008", "bad prefix length"},
      {"10.0.0.0/8:", "bad port (expected PORT or PORT-PORT, 0-65535)"},
      {"10.0.0.0/8:65536", "bad port (expected PORT or PORT-PORT, 0-65535)"},
      {"10.0.0.0/8:1-", "bad port (expected PORT or PORT-PORT, 0-65535)"},
      {"10.0.0.0/8:+1", "bad port (expected PORT or PORT-PORT, 0-65535)"},
      {"10.0.0.0/8:1-2-3", "bad port (expected PORT or PORT-PORT, 0-65535)"},
      {"[::1]:", "bad port (expected PORT or PORT-PORT, 0-65535)"},
      {"[::1]x", "unexpected text after ']' (expected :PORT or /PREFIX)"},
      {"[::1/128]/128", "two prefix lengths"},
      {"[::1", "missing ']'"},
  };
  for (const auto& [text, reason] : other) {
    EXPECT_EQ(parse_error(text), std::string("allow_targets[0]: \"") + text + "\": " + reason);
  }
}

TEST(Egress, CreateReportsTheFirstBadRuleWithItsIndex) {
  auto r = EgressPolicy::create(EgressConfig{{"127.0.0.0/8", "[::1]/128", "10.0.0.0/33"}, {}, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "allow_targets[2]: \"10.0.0.0/33\": prefix length above 32");
  r = EgressPolicy::create(EgressConfig{{"127.0.0.0/8"}, {"10.0.0.0/8", "bogus"}, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "deny_targets[1]: \"bogus\": not an IP address (expected CIDR, CIDR:PORT or CIDR:PORT-PORT)");
  r = EgressPolicy::create(EgressConfig{{"127.0.0.0/8"}, {"10.0.0.0/8"}, {}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->allow_rules().size(), 1u);
  EXPECT_EQ(r->deny_rules().size(), 1u);
}

TEST(Egress, CidrEdgesAtOddPrefixLengths) {
  const auto p = policy({"100.96.0.0/11", "[2001:db8:8000::/33]:1"});
  EXPECT_TRUE(p.decide(addr("100.96.0.0")).allowed());
  EXPECT_TRUE(p.decide(addr("100.127.255.255")).allowed());
  EXPECT_EQ(p.decide(addr("100.95.255.255")).reason, "CGNAT (RFC 6598)") << "just below the rule";
  EXPECT_TRUE(p.decide(addr("2001:db8:8000::", 1)).allowed());
  EXPECT_TRUE(p.decide(addr("2001:db8:ffff:ffff::", 1)).allowed());
  Cidr c = parse_egress_rule("[2001:db8:8000::/33]:1", "f")->net;
  EXPECT_TRUE(c.contains(addr("2001:db8:8000::1")));
  EXPECT_FALSE(c.contains(addr("2001:db8:7fff:ffff::")));
  EXPECT_FALSE(c.contains(addr("2001:db9::")));
  EXPECT_FALSE(c.contains(addr("10.0.0.1"))) << "other family";
  const Cidr all4 = parse_egress_rule("0.0.0.0/0", "f")->net;
  EXPECT_TRUE(all4.contains(addr("255.255.255.255")));
  EXPECT_FALSE(all4.contains(addr("::")));
}

}  // namespace
}  // namespace paniq::tunnel
