#include "tunnel/migration_hint.hpp"

#include <gtest/gtest.h>

namespace paniq::tunnel {
namespace {

ServerConfig config(Encryption e, bool accept) {
  ServerConfig c;
  c.encryption = e;
  c.auth.accept_unauthenticated = accept;
  return c;
}

TEST(MigrationHints, FirstDropWarnsThenOncePerInterval) {
  MigrationHints h(config(Encryption::off, false), 1000);
  ServerStats s;
  EXPECT_FALSE(h.check(s, 0)) << "nothing dropped";
  s.auth[index(AuthReason::mac1_missing)] = 1;
  const auto first = h.check(s, 10);
  ASSERT_TRUE(first);
  EXPECT_NE(first->find("1 handshake without MAC1"), std::string::npos) << *first;
  EXPECT_NE(first->find("paniq-rs"), std::string::npos);
  EXPECT_NE(first->find("\"accept_unauthenticated_clients\": true"), std::string::npos);
  EXPECT_EQ(first->find("obfuscation.encryption"), std::string::npos) << "encryption is off";
  s.auth[index(AuthReason::mac1_missing)] = 5;
  EXPECT_FALSE(h.check(s, 500)) << "within the interval";
  EXPECT_FALSE(h.check(s, 2000)) << "no new drop";
  s.auth[index(AuthReason::mac1_missing)] = 7;
  const auto again = h.check(s, 2001);
  ASSERT_TRUE(again);
  EXPECT_NE(again->find("6 handshakes"), std::string::npos) << "counted since the last warning: " << *again;
}

TEST(MigrationHints, PlainRefusedNamesTheEncryptionSetting) {
  MigrationHints h(config(Encryption::required, false), 1000);
  ServerStats s;
  s.drop_plain_refused = 2;
  const auto w = h.check(s, 0);
  ASSERT_TRUE(w);
  EXPECT_NE(w->find("drop_plain_refused"), std::string::npos);
  EXPECT_NE(w->find("\"preferred\""), std::string::npos);
  EXPECT_NE(w->find("accept_unauthenticated_clients"), std::string::npos);
  // The mac1 hint on a server that requires encryption names both settings.
  MigrationHints h2(config(Encryption::required, false), 1000);
  ServerStats s2;
  s2.auth[index(AuthReason::mac1_missing)] = 1;
  const auto w2 = h2.check(s2, 0);
  ASSERT_TRUE(w2);
  EXPECT_NE(w2->find("obfuscation.encryption to \"preferred\""), std::string::npos) << *w2;
  // With the switch on, the plain hint does not ask for it again.
  MigrationHints h3(config(Encryption::required, true), 1000);
  const auto w3 = h3.check(s, 0);
  ASSERT_TRUE(w3);
  EXPECT_EQ(w3->find("accept_unauthenticated_clients"), std::string::npos) << *w3;
}

}  // namespace
}  // namespace paniq::tunnel
