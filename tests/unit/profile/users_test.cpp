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

TEST(Users, MissingFileNamesThePath) {
  auto u = load_users_file("/nonexistent/users.json");
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message.find("/nonexistent/users.json"), std::string::npos);
}

}  // namespace
}  // namespace paniq::profile
