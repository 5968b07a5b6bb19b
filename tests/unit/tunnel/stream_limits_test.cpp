// UserStreamLimits: per-user stream cap (acquire/release, cap, overrides, session end).
#include "tunnel/stream_limits.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace paniq::tunnel {
namespace {

// The outcome of `n` acquire() calls for `user`, in order.
std::vector<bool> acquire_n(UserStreamLimits& l, const std::string& user, int n) {
  std::vector<bool> got;
  for (int i = 0; i < n; ++i) got.push_back(l.acquire(user));
  return got;
}

TEST(UserStreamLimits, AcquireUpToTheCapThenRefuse) {
  UserStreamLimits l(3);
  EXPECT_EQ(acquire_n(l, "alice", 5), (std::vector<bool>{true, true, true, false, false}));
  EXPECT_EQ(l.counts("alice").active, 3u);
  EXPECT_EQ(l.counts("alice").refused, 2u);
  EXPECT_EQ(l.refused_total(), 2u);
}

TEST(UserStreamLimits, UsersAreCountedApart) {
  UserStreamLimits l(2);
  EXPECT_EQ(acquire_n(l, "alice", 3), (std::vector<bool>{true, true, false}));
  // Another user is served while alice is at her cap.
  EXPECT_EQ(acquire_n(l, "bob", 3), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(l.counts("alice").refused, 1u);
  EXPECT_EQ(l.counts("bob").refused, 1u);
  EXPECT_EQ(l.refused_total(), 2u);
  EXPECT_EQ(l.users().size(), 2u);
}

TEST(UserStreamLimits, ReleaseFreesASlot) {
  UserStreamLimits l(2);
  ASSERT_EQ(acquire_n(l, "alice", 3), (std::vector<bool>{true, true, false}));
  l.release("alice");
  EXPECT_EQ(l.counts("alice").active, 1u);
  EXPECT_EQ(acquire_n(l, "alice", 2), (std::vector<bool>{true, false}));
  EXPECT_EQ(l.counts("alice").refused, 2u);
}

// A session that ends releases every stream it held (each stream's handler releases its own
// slot as it returns); the user's other sessions keep theirs and the freed slots are usable.
TEST(UserStreamLimits, SessionEndReleasesItsStreams) {
  UserStreamLimits l(5);
  std::vector<std::string> phone, laptop;  // the slots each session of alice holds
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(l.acquire("alice"));
    phone.push_back("alice");
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(l.acquire("alice"));
    laptop.push_back("alice");
  }
  EXPECT_FALSE(l.acquire("alice"));  // 5 across both sessions
  for (const auto& u : phone) l.release(u);  // the phone's session ended
  phone.clear();
  EXPECT_EQ(l.counts("alice").active, 2u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.acquire("alice"));
  EXPECT_FALSE(l.acquire("alice"));
  for (int i = 0; i < 5; ++i) l.release("alice");
  EXPECT_EQ(l.counts("alice").active, 0u);
}

TEST(UserStreamLimits, ReleaseWithoutAcquireIsIgnored) {
  UserStreamLimits l(1);
  l.release("alice");
  l.release("nobody");
  EXPECT_EQ(l.counts("alice").active, 0u);
  EXPECT_TRUE(l.acquire("alice"));
  l.release("alice");
  l.release("alice");
  EXPECT_EQ(l.counts("alice").active, 0u);
  EXPECT_TRUE(l.acquire("alice"));
  EXPECT_FALSE(l.acquire("alice"));
}

TEST(UserStreamLimits, NoUserIsNotLimited) {
  UserStreamLimits l(1);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(l.acquire(""));
  l.release("");
  EXPECT_EQ(l.refused_total(), 0u);
  EXPECT_TRUE(l.users().empty());
}

TEST(UserStreamLimits, PerUserOverride) {
  UserStreamLimits l(2);
  l.set_overrides({{"family", 4}, {"guest", 1}});
  EXPECT_EQ(l.cap("family"), 4u);
  EXPECT_EQ(l.cap("guest"), 1u);
  EXPECT_EQ(l.cap("alice"), 2u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(l.acquire("family"));
  EXPECT_FALSE(l.acquire("family"));
  EXPECT_TRUE(l.acquire("guest"));
  EXPECT_FALSE(l.acquire("guest"));
  EXPECT_TRUE(l.acquire("alice"));
  EXPECT_TRUE(l.acquire("alice"));
  EXPECT_FALSE(l.acquire("alice"));
}

// A reload that lowers a cap keeps the streams held and refuses new ones until the user is
// under the new cap; removing the override restores the default.
TEST(UserStreamLimits, OverridesReplacedOnReload) {
  UserStreamLimits l(2);
  l.set_overrides({{"alice", 4}});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(l.acquire("alice"));
  l.set_overrides({{"alice", 3}});
  EXPECT_FALSE(l.acquire("alice"));
  EXPECT_EQ(l.counts("alice").active, 4u);
  l.release("alice");
  EXPECT_FALSE(l.acquire("alice"));  // 3 held, cap 3
  l.set_overrides({});
  EXPECT_EQ(l.cap("alice"), 2u);
  l.release("alice");
  EXPECT_FALSE(l.acquire("alice"));  // 2 held, default cap 2
  l.release("alice");
  EXPECT_TRUE(l.acquire("alice"));
}

TEST(UserStreamLimits, ZeroCapsAreTakenAsOne) {
  UserStreamLimits l(0);
  EXPECT_EQ(l.default_cap(), 1u);
  l.set_overrides({{"alice", 0}});
  EXPECT_EQ(l.cap("alice"), 1u);
  EXPECT_TRUE(l.acquire("alice"));
  EXPECT_FALSE(l.acquire("alice"));
}

TEST(UserStreamLimits, DefaultIsAQuarterOfTheServerAtLeast256) {
  EXPECT_EQ(default_streams_per_user(128), 256u);
  EXPECT_EQ(default_streams_per_user(1024), 256u);
  EXPECT_EQ(default_streams_per_user(1027), 256u);
  EXPECT_EQ(default_streams_per_user(4096), 1024u);
  EXPECT_EQ(default_streams_per_user(1'048'476), 262'119u);
}

}  // namespace
}  // namespace paniq::tunnel
