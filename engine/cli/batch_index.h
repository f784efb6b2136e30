// The batch index, shared by batch (which writes it, whole or one shard at a time) and merge-index
// (which joins the shards' into the one a single run would have written).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gradcam::cli {

// ordered: the index reads settings first and the images last, as written.
using json = nlohmann::ordered_json;

// One shard of a batch run (batch --shard K/N): every N-th image of the sorted list from the K-th.
struct Shard {
  int k = 1, n = 1;  // the k-th (1-based) of n
  bool whole() const { return n == 1; }
  std::string text() const { return std::to_string(k) + "/" + std::to_string(n); }
};

// index.jsonl / index.json for a whole run; index.shard-K-of-N.jsonl / .json for one shard.
std::string index_name(const Shard& s, const char* ext);

// The finished index: the settings, then one entry per image sorted by file. merge-index writes
// the same bytes from the shards' entries, so a sharded run and a single run agree exactly.
std::string index_json(const json& settings, std::vector<json> entries);

// Names the first setting that differs, for --resume and merge-index ("" when none does).
std::string settings_difference(const json& want, const json& got);

// Text as the bytes write_file_atomic takes.
std::vector<uint8_t> bytes_of(const std::string& s);

}  // namespace gradcam::cli
