// gradcam merge-index: the shards' indexes (index.shard-K-of-N.json, from batch --shard K/N) joined
// into the index.json a single run would have written; every shard must be there, once, and all
// made with the same settings.
#include <cstdio>
#include <map>

#include "batch_index.h"
#include "cli.h"

namespace gradcam::cli {

namespace {

int run_merge_index(const Args& a) {
  const fs::path dir = a.require("out");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw FileError{dir.string() + ": not a folder"};
  // Every index.shard-K-of-N.json in the folder; all must share N and cover 1..N once.
  std::map<int, fs::path> shards;
  int n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    int k = 0, m = 0;
    char tail[8] = {};
    const std::string name = it->path().filename().string();
    if (std::sscanf(name.c_str(), "index.shard-%d-of-%d.%5s", &k, &m, tail) != 3 || std::string(tail) != "json") continue;
    if (n && m != n) throw FileError{dir.string() + ": holds shards of " + std::to_string(n) + " and of " + std::to_string(m) + " (one split per folder)"};
    n = m;
    shards[k] = it->path();
  }
  if (!n) throw FileError{dir.string() + ": no index.shard-K-of-N.json files (write them with batch --shard K/N)"};
  for (int k = 1; k <= n; ++k)
    if (!shards.count(k))
      throw FileError{"shard " + std::to_string(k) + "/" + std::to_string(n) + " is missing (" +
                      (dir / index_name(Shard{k, n}, "json")).string() + "): run it, or finish it with --resume"};
  json settings;
  std::vector<json> entries;
  for (const auto& [k, path] : shards) {
    std::vector<uint8_t> bytes = read_file(path.string());
    json doc = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
      throw FileError{path.string() + ": is not a batch index"};
    for (const json& e : doc["images"]) entries.push_back(e);
    doc.erase("images");
    doc.erase("shard");
    if (k == 1) {
      settings = doc;
    } else if (std::string diff = settings_difference(settings, doc); !diff.empty() || doc.size() != settings.size()) {
      throw FileError{path.string() + ": was made with other settings than shard 1 (" + diff + ")"};
    }
  }
  const fs::path target = dir / "index.json";
  write_file_atomic(target, bytes_of(index_json(settings, entries)), a.has("overwrite"));
  std::printf("%zu images from %d shards; index: %s\n", entries.size(), n, target.string().c_str());
  return 0;
}

}  // namespace

Command merge_index_command() {
  return {"merge-index", nullptr, run_merge_index, {{"out"}, {"overwrite"}}, "--out DIR [--overwrite]",
          "join DIR/index.shard-K-of-N.json (from batch --shard) into DIR/index.json"};
}

}  // namespace gradcam::cli
