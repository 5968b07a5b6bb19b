// Loads the JSON test vectors copied under tests/vectors/.
#pragma once

#include <fstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"

namespace paniq::test {

inline nlohmann::json load_vectors(const std::string& file) {
  const std::string path = std::string(PANIQ_VECTOR_DIR) + "/" + file;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open vector file " + path);
  return nlohmann::json::parse(in);
}

inline Bytes hex(const std::string& s) {
  auto b = from_hex(s);
  if (!b) throw std::runtime_error("bad hex in vector: " + s);
  return *b;
}

}  // namespace paniq::test
