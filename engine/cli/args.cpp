// The CLI's one option parser. Every command declares what it takes; anything else is a usage error
// that names the option and lists the valid ones, and numbers are whole numbers in range or an error
// (never atoi's silent 0).
#include "cli.h"
#include "gradcam/contract.h"

namespace gradcam::cli {

namespace {
std::string valid_list(const CommandOptions& spec) {
  std::string s;
  for (const auto* group : {&spec.values, &spec.flags})
    for (const std::string& o : *group) s += (s.empty() ? "--" : ", --") + o;
  return s;
}
bool contains(const std::vector<std::string>& v, const std::string& k) {
  for (const std::string& x : v)
    if (x == k) return true;
  return false;
}
}  // namespace

Args parse_args(const std::string& command, const CommandOptions& spec, int argc, char** argv, int first) {
  Args a;
  a.command = command;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--help" || s == "-h") {
      a.flags.insert("help");
      continue;
    }
    if (s.rfind("--", 0) != 0) throw UsageError{"unexpected argument \"" + s + "\""};
    std::string key = s.substr(2), value;
    auto eq = key.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    }
    bool takes_value = contains(spec.values, key), is_flag = contains(spec.flags, key);
    if (!takes_value && !is_flag)
      throw UsageError{"unknown option --" + key + " for " + command + " (valid: " + valid_list(spec) + ")"};
    if (a.has(key)) throw UsageError{"--" + key + " is given twice"};
    if (is_flag) {
      if (inline_value) throw UsageError{"--" + key + " takes no value"};
      a.flags.insert(key);
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) throw UsageError{"--" + key + " needs a value"};
      value = argv[++i];
    }
    a.values[key] = value;
  }
  return a;
}

std::string Args::get(const std::string& k, const std::string& fallback) const {
  auto it = values.find(k);
  return it == values.end() ? fallback : it->second;
}

std::string Args::require(const std::string& k) const {
  auto it = values.find(k);
  if (it == values.end()) throw UsageError{"missing --" + k};
  return it->second;
}

long long Args::integer(const std::string& k, long long fallback, long long lo, long long hi) const {
  auto it = values.find(k);
  if (it == values.end()) return fallback;
  return unwrap_usage(read_integer("--" + k, it->second, lo, hi));
}

}  // namespace gradcam::cli
