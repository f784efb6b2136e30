// The batch index's names and its one writer (batch_index.h).
#include "batch_index.h"

#include <algorithm>

namespace gradcam::cli {

std::string index_name(const Shard& s, const char* ext) {
  if (s.whole()) return std::string("index.") + ext;
  return "index.shard-" + std::to_string(s.k) + "-of-" + std::to_string(s.n) + "." + ext;
}

std::string index_json(const json& settings, std::vector<json> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const json& x, const json& y) { return x["file"].get<std::string>() < y["file"].get<std::string>(); });
  json doc = settings;
  doc["images"] = entries;
  return doc.dump(2) + "\n";
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

std::string settings_difference(const json& want, const json& got) {
  for (auto it = want.begin(); it != want.end(); ++it)
    if (!got.contains(it.key()) || got[it.key()] != it.value())
      return it.key() + " was " + (got.contains(it.key()) ? got[it.key()].dump() : "absent") + ", now " + it.value().dump();
  return "";
}

}  // namespace gradcam::cli
