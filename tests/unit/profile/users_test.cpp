// The proxy-server users file (profile/users.hpp).
#include "profile/users.hpp"

#include <gtest/gtest.h>

namespace paniq::profile {
namespace {

constexpr const char* kKeyA = "r1kQZJ0nV5cn1bXe3LwDq4oG1hH0aZ0o9wqfYh5iUVs=";
constexpr const char* kKeyB = "Mx8iD8a5BqN3GQvHcq9jv7m2d0o7KpZ1uXQ1Hk4bW2A=";

std::string file(const std::string& entries) { return R"({"users": [)" + entries + "]}"; }
std::string entry(const std::string& name, const std::string& key) {
  return R"({"name": ")" + name + R"(", "public_key": ")" + key + R"("})";
}

TEST(Users, ParsesAndRoundTrips) {
  auto u = parse_users_json(file(entry("alice", kKeyA) + "," + entry("bob.b@x-1", kKeyB)));
  ASSERT_TRUE(u) << u.error().message;
  ASSERT_EQ(u->size(), 2u);
  EXPECT_EQ((*u)[1].name, "bob.b@x-1");
  auto again = parse_users_json(users_to_json(*u));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *u);
  auto empty = parse_users_json(R"({"users": []})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(Users, ErrorsNameTheEntryAndField) {
  struct Case {
    std::string text, want;
  };
  for (const Case& c : std::vector<Case>{
           {"{}", "users: missing"},
           {R"({"users": 5})", "users: 5: must be an array"},
           {file("3"), "users[0]: 3: must be an object"},
           {file(R"({"name": "a"})"), "users[0].public_key: missing"},
           {file(R"({"name": 1, "public_key": "x"})"), "users[0].name: 1: must be a string"},
           {file(entry("a b", kKeyA)), "users[0].name: \"a b\": must be 1-64 characters"},
           {file(entry("", kKeyA)), "users[0].name: \"\": must be"},
           {file(entry("a", "abc")), "users[0].public_key: \"abc\": not a base64 X25519"},
           {file(entry("a", kKeyA) + "," + entry("a", kKeyB)), "users[1].name: \"a\": used twice"},
           {file(entry("a", kKeyA) + "," + entry("b", kKeyA)), "users[1].public_key:"},
           {file(R"({"name": "a", "public_key": ")" + std::string(kKeyA) + R"(", "x": 1})"),
            "users[0].x: 1: unknown field"},
           {"{", "line"},
       }) {
    auto u = parse_users_json(c.text);
    ASSERT_FALSE(u) << c.text;
    EXPECT_NE(u.error().message.find(c.want), std::string::npos)
        << c.text << " -> " << u.error().message;
  }
}

// The optional per-user stream cap: read, written back, checked; entries without it stay valid.
TEST(Users, OptionalMaxStreams) {
  const std::string with = R"({"name": "fam", "public_key": ")" + std::string(kKeyA) +
                           R"(", "max_streams": 40})";
  auto u = parse_users_json(file(with + "," + entry("bob", kKeyB)));
  ASSERT_TRUE(u) << u.error().message;
  ASSERT_EQ(u->size(), 2u);
  EXPECT_EQ((*u)[0].max_streams, std::optional<std::uint64_t>(40));
  EXPECT_FALSE((*u)[1].max_streams);
  const std::string text = users_to_json(*u);
  EXPECT_NE(text.find("\"max_streams\": 40"), std::string::npos) << text;
  EXPECT_EQ(text.find("max_streams", text.find("bob")), std::string::npos) << text;
  auto again = parse_users_json(text);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *u);
  const UserEntry plain{"carol", kKeyB};
  EXPECT_FALSE(plain.max_streams);
  for (const char* bad : {"0", "-1", "1.5", "\"9\"", "4294967296", "null"}) {
    auto b = parse_users_json(file(R"({"name": "a", "public_key": ")" + std::string(kKeyA) +
                                   R"(", "max_streams": )" + bad + "}"));
    ASSERT_FALSE(b) << bad;
    EXPECT_NE(b.error().message.find("users[0].max_streams: "), std::string::npos) << b.error().message;
    EXPECT_NE(b.error().message.find("must be an integer 1..4294967295"), std::string::npos)
        << b.error().message;
  }
}

TEST(Users, MissingFileNamesThePath) {
  auto u = load_users_file("/nonexistent/users.json");
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message.find("/nonexistent/users.json"), std::string::npos);
}

}  // namespace
}  // namespace paniq::profile
