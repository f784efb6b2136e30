// One name per value of an enum, in the enum's order: what --help, `info` and every front end
// list, and what a parser accepts. A table is a std::array sized by the enum's last enumerator,
// `count`, and its static_assert(every_row_named(...)) fails to compile when a value has no row
// (an array given fewer names than its size leaves the rest null).
#pragma once
#include <array>
#include <cctype>
#include <cstddef>
#include <string>

#include "gradcam/status.h"

namespace gradcam {

template <class E>
using NameTable = std::array<const char*, size_t(E::count)>;

template <size_t N>
constexpr bool every_row_named(const std::array<const char*, N>& names) {
  for (const char* n : names)
    if (n == nullptr || n[0] == '\0') return false;
  return true;
}

// "a, b, c": the names as messages and usage texts list them, each after `prefix` ("--" for the
// CLI's options).
template <class Names>
std::string names_text(const Names& names, const char* separator = ", ", const std::string& prefix = "") {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : separator) + prefix + std::string(n);
  return out;
}

// The names of a table whose rows have a `name`, one per enum value, in order.
template <class E, class Row>
constexpr NameTable<E> names_of(const std::array<Row, size_t(E::count)>& rows) {
  NameTable<E> names{};
  for (size_t i = 0; i < names.size(); ++i) names[i] = rows[i].name;
  return names;
}

// Every value of the enum, in its order: the lists a front end shows and its keys cycle through.
template <class E>
constexpr std::array<E, size_t(E::count)> all_values() {
  std::array<E, size_t(E::count)> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = E(i);
  return out;
}

// The value whose name is `text`, ignoring case; -1 when none is.
template <size_t N>
int find_name(const std::array<const char*, N>& names, const std::string& text) {
  std::string lower = text;
  for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  for (size_t i = 0; i < N; ++i)
    if (lower == names[i]) return int(i);
  return -1;
}

}  // namespace gradcam
