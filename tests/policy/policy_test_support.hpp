// Helpers shared by the policy tests: the message a parse raises, a temporary directory.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "repy/errors.hpp"
#include "repy/policy.hpp"

namespace policy_test_support {

/// The message of the ResourceParseError that parsing `text` raises ("" if none; any
/// other exception escapes and fails the test).
inline std::string parse_error(std::string_view text) {
  try {
    repy::Policy::parse(text);
  } catch (const repy::ResourceParseError& e) {
    return e.what();
  }
  return "";
}

/// A fresh temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "policy_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  /// Writes `text` to the file `name` in the directory and returns its path.
  std::filesystem::path write(const std::string& name, std::string_view text) const {
    auto file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace policy_test_support
