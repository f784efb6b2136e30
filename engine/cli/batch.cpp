// gradcam batch: explain every image in a folder tree without losing anything.
//  - Each input has its own output: DIR/<path relative to --input>.png (x.jpg -> x.jpg.png,
//    a/x.jpg -> a/x.jpg.png), so no two inputs can share one; the index records the mapping.
//  - Outputs never land in what is read (--out and --input must not contain each other), never
//    replace a file unless --overwrite, and are written under a temporary name and renamed.
//  - One JSON line per finished image goes to index.jsonl as it happens; --resume skips what it
//    lists (after checking that the options are the same) and finishes the rest. Ctrl-C stops after
//    the current images and says how to resume.
//  - --shard K/N takes every N-th image of the sorted list (so job arrays can split a folder), and
//    merge-index joins the shards' indexes into the index.json a single run would have written.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli.h"

namespace gradcam::cli {

// ordered: the index reads settings first and the images last, as written.
using json = nlohmann::ordered_json;

const CommandOptions kBatchOptions = [] {
  CommandOptions o{{"model", "input", "out", "shard", "jobs"}, {"resume", "overwrite", "quiet"}};
  o.values.insert(o.values.end(), request_keys().begin(), request_keys().end());
  return o;
}();
const CommandOptions kMergeIndexOptions{{"out"}, {"overwrite"}};

namespace {

// Set by Ctrl-C (and by a worker that failed); lock-free, so a signal handler may store to it.
std::atomic<int> g_interrupted{0};
extern "C" void on_interrupt(int) {
  g_interrupted = 1;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}

struct Shard {
  int k = 1, n = 1;  // the k-th (1-based) of n
  bool whole() const { return n == 1; }
  std::string text() const { return std::to_string(k) + "/" + std::to_string(n); }
};

Shard parse_shard(const std::string& t) {
  Shard s;
  char slash = 0, extra = 0;
  std::istringstream in(t);
  if (!(in >> s.k >> slash >> s.n) || slash != '/' || (in >> extra) || s.n < 1 || s.n > 100000 || s.k < 1 || s.k > s.n)
    throw UsageError{"--shard must be K/N with 1 <= K <= N (for example 2/8), got \"" + t + "\""};
  return s;
}

// index.jsonl / index.json for a whole run; index.shard-K-of-N.jsonl / .json for one shard.
std::string index_name(const Shard& s, const char* ext) {
  if (s.whole()) return std::string("index.") + ext;
  return "index.shard-" + std::to_string(s.k) + "-of-" + std::to_string(s.n) + "." + ext;
}

// The output for an input: its relative path with ".png" appended. Appending keeps distinct
// inputs distinct (x.jpg and x.png give x.jpg.png and x.png.png).
std::string overlay_name(const std::string& rel) { return rel + ".png"; }

// What must be the same for two runs' results to belong to one index.
json run_settings(const Args& a, const Engine& engine, const ExplainSettings& s) {
  const Architecture& arch = engine.arch();
  return {{"model", a.get("model")},
          {"layer", layer_name(engine.model(), s.options.layer)},
          {"method", method_name(s.options.method)},
          {"target", s.options.target < 0 ? std::string("auto") : arch.classes[size_t(s.options.target)]},
          {"score", score_name(s.options.score)},
          {"crop", crop_mode_name(s.crop)},
          {"colormap", colormap_name(s.colormap)},
          {"alpha", std::round(double(s.alpha) * 1e6) / 1e6},  // 0.45, not float's 0.449999988
          {"samples", s.options.smoothgrad_samples}};
}

// The finished index: the settings, then one entry per image sorted by file. merge-index writes
// the same bytes from the shards' entries, so a sharded run and a single run agree exactly.
std::string index_json(const json& settings, std::vector<json> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const json& x, const json& y) { return x["file"].get<std::string>() < y["file"].get<std::string>(); });
  json doc = settings;
  doc["images"] = entries;
  return doc.dump(2) + "\n";
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// Names the first setting that differs, for --resume and merge-index.
std::string settings_difference(const json& want, const json& got) {
  for (auto it = want.begin(); it != want.end(); ++it)
    if (!got.contains(it.key()) || got[it.key()] != it.value())
      return it.key() + " was " + (got.contains(it.key()) ? got[it.key()].dump() : "absent") + ", now " + it.value().dump();
  return "";
}

// Image files below `in`, as sorted relative paths with '/' separators.
std::vector<std::string> list_images(const fs::path& in) {
  std::vector<std::string> rels;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(in, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    bool image = ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".gif";
    if (image && it->is_regular_file(ec)) rels.push_back(fs::relative(it->path(), in).generic_string());
  }
  if (ec) throw FileError{in.string() + ": cannot list folder (" + ec.message() + ")"};
  std::sort(rels.begin(), rels.end());
  return rels;
}

// Temporary files that a killed run of this shard left (ours by their suffix and by the name they
// were to get; another shard writing into the same folder keeps its own).
void remove_partial_files(const fs::path& out, const std::set<std::string>& targets) {
  std::error_code ec;
  std::vector<fs::path> stale;
  const std::string suffix = kPartialSuffix;
  for (auto it = fs::recursive_directory_iterator(out, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string rel = fs::relative(it->path(), out, ec).generic_string();
    if (rel.size() <= suffix.size() || rel.compare(rel.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    rel.resize(rel.size() - suffix.size());  // strip ".gradcam-partial", then ".<pid>"
    auto dot = rel.rfind('.');
    if (dot != std::string::npos && targets.count(rel.substr(0, dot))) stale.push_back(it->path());
  }
  for (const fs::path& p : stale) fs::remove(p, ec);
}

// Reads a journal: its settings line and the entries of finished images. A last line cut short by
// a kill is dropped (that image is simply done again).
std::pair<json, std::vector<json>> read_journal(const fs::path& path) {
  std::ifstream f(path);
  if (!f) throw FileError{path.string() + ": cannot open"};
  std::string line;
  json settings;
  std::vector<json> entries;
  bool first = true;
  while (std::getline(f, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      if (f.peek() == EOF) break;  // the torn last line
      throw FileError{path.string() + ": is not a batch journal (a line is not JSON)"};
    }
    if (first) {
      if (!j.contains("batch") || !j["batch"].is_object()) throw FileError{path.string() + ": is not a batch journal (no settings line)"};
      settings = j["batch"];
      first = false;
    } else if (j.contains("file") && j["file"].is_string()) {
      entries.push_back(j);
    }
  }
  if (first) throw FileError{path.string() + ": is empty (not a batch journal)"};
  return {settings, entries};
}

json explain_one(Engine& engine, const ExplainSettings& s, const fs::path& in, const fs::path& out, const std::string& rel,
                 bool overwrite) {
  json entry = {{"file", rel}};
  const fs::path src = in / rel;
  try {
    Image image = load_image(src.string());
    std::vector<float> input = engine.prepare(image, s.crop);
    auto e = engine.explain(input, s.options);
    if (!e) throw FileError{src.string() + ": " + e.error()};
    const Architecture& arch = engine.arch();
    Image over = overlay_on_source(image, e->cam.values.data(), e->cam.height, e->cam.width, arch.height, arch.width,
                                   s.crop, s.colormap, s.alpha);
    const std::string name = overlay_name(rel);
    const fs::path dst = out / name;
    std::error_code ec;
    fs::create_directories(dst.parent_path(), ec);
    write_file_atomic(dst, encode_png(over.rgba.data(), over.width, over.height, 4), overwrite);
    json top = json::array();
    for (const ClassScore& t : top_k(e->probabilities, 3))
      top.push_back({{"index", t.index}, {"name", arch.classes[size_t(t.index)]}, {"probability", t.probability}});
    entry["ok"] = true;
    entry["overlay"] = name;
    entry["top"] = top;
    entry["target"] = {{"index", e->target}, {"name", arch.classes[size_t(e->target)]}};
  } catch (const FileError& err) {
    entry["ok"] = false;
    entry["error"] = err.message;
  }
  return entry;
}

}  // namespace

int cmd_batch(const Args& a) {
  auto engine = load_engine(a);
  const ExplainSettings s = explain_settings(a, engine->model());
  const fs::path in = a.require("input"), out = a.require("out");
  const Shard shard = a.has("shard") ? parse_shard(a.get("shard")) : Shard{};
  const int jobs = int(a.integer("jobs", 1, 1, 256));
#ifdef __EMSCRIPTEN__
  if (jobs > 1) throw UsageError{"--jobs above 1 needs the native build (this WebAssembly build has no threads)"};
#endif
  const bool resume = a.has("resume"), overwrite = a.has("overwrite");
  if (resume && overwrite) throw UsageError{"--resume keeps what is done and --overwrite starts again: give one of them"};

  std::error_code ec;
  if (!fs::is_directory(in, ec)) throw FileError{in.string() + ": not a folder"};
  if (path_within(out, in))
    throw UsageError{"--out " + out.string() + " is inside --input " + in.string() +
                     ": overlays would be written among the images they explain; choose a folder outside it"};
  if (path_within(in, out))
    throw UsageError{"--input " + in.string() + " is inside --out " + out.string() + ": choose an --out folder outside the input"};
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) throw FileError{out.string() + ": exists and is not a folder"};

  std::vector<std::string> all = list_images(in);
  if (all.empty()) throw FileError{in.string() + ": no .jpg, .png, .bmp or .gif files"};
  std::vector<std::string> mine;
  for (size_t i = 0; i < all.size(); ++i)
    if (int(i % size_t(shard.n)) == shard.k - 1) mine.push_back(all[i]);

  json settings = run_settings(a, *engine, s);
  if (!shard.whole()) settings["shard"] = shard.text();
  const fs::path journal = out / index_name(shard, "jsonl"), final_index = out / index_name(shard, "json");

  // What is already done (--resume), after checking that it was done with these settings.
  std::map<std::string, json> done;
  if (fs::exists(journal, ec)) {
    if (!resume && !overwrite)
      throw UsageError{journal.string() + ": a batch was already written here (--resume finishes it, --overwrite starts again)"};
    if (resume) {
      auto [old, entries] = read_journal(journal);
      std::string diff = settings_difference(settings, old);
      if (!diff.empty())
        throw UsageError{"--resume: " + journal.string() + " was written with other settings (" + diff +
                         "); give the same options, or use another --out"};
      for (json& e : entries) {
        // Failed images are tried again (the file may have been fixed); finished ones are kept
        // while their overlay is there.
        const std::string f = e["file"].get<std::string>();
        if (e.value("ok", false) && fs::exists(out / overlay_name(f), ec)) done[f] = std::move(e);
      }
    }
  } else if (resume && !a.has("quiet")) {
    std::fprintf(stderr, "gradcam batch: %s not found: nothing to resume, starting from the first image\n", journal.string().c_str());
  }
  std::vector<std::string> todo;
  for (const std::string& f : mine)
    if (!done.count(f)) todo.push_back(f);

  // Refuse before any work: an existing output would be replaced. (Under --resume, an output whose
  // image is not in the journal is this batch's own, written just before a kill: it is redone.)
  if (!overwrite && !resume) {
    for (const std::string& f : todo)
      if (fs::exists(out / overlay_name(f), ec))
        throw UsageError{(out / overlay_name(f)).string() + ": already exists (pass --overwrite to replace it)"};
    if (fs::exists(final_index, ec))
      throw UsageError{final_index.string() + ": already exists (pass --overwrite to replace it)"};
  }

  fs::create_directories(out, ec);
  if (ec) throw FileError{out.string() + ": cannot create folder (" + ec.message() + ")"};
  {
    std::set<std::string> targets = {index_name(shard, "jsonl"), index_name(shard, "json")};
    for (const std::string& f : mine) targets.insert(overlay_name(f));
    remove_partial_files(out, targets);
  }

  // The journal starts with the settings; resumed entries are kept and new ones appended.
  {
    std::string text = json{{"batch", settings}}.dump() + "\n";
    for (const auto& [f, e] : done) text += e.dump() + "\n";
    write_file_atomic(journal, bytes_of(text), true);
  }
  std::ofstream journal_out(journal, std::ios::app | std::ios::binary);
  if (!journal_out) throw FileError{journal.string() + ": cannot write"};

  std::vector<json> entries;
  for (auto& [f, e] : done) entries.push_back(e);
  const size_t already = entries.size();
  Progress progress{todo.size(), now_ms(), a.has("quiet")};
  std::mutex mu;
  std::atomic<size_t> next{0};
  size_t finished = 0;  // in this run
  long failures = 0;

  g_interrupted = 0;
  auto previous = std::signal(SIGINT, on_interrupt);
  // Tests interrupt a run at an exact point by having it send itself Ctrl-C's signal after N images.
  const char* interrupt_env = std::getenv("GRADCAM_TEST_INTERRUPT_AFTER");
  const size_t interrupt_after = interrupt_env ? size_t(std::strtoull(interrupt_env, nullptr, 10)) : 0;
  auto worker = [&](Engine& eng) {
    for (;;) {
      if (g_interrupted) return;
      size_t i = next++;
      if (i >= todo.size()) return;
      json entry = explain_one(eng, s, in, out, todo[i], overwrite || resume);
      std::lock_guard<std::mutex> lock(mu);
      journal_out << entry.dump() << "\n" << std::flush;
      if (!entry["ok"].get<bool>()) {
        failures++;
        if (!a.has("quiet")) std::fprintf(stderr, "\ngradcam: %s (skipped)\n", entry["error"].get<std::string>().c_str());
      }
      entries.push_back(std::move(entry));
      progress.update(++finished);
      if (finished == interrupt_after) std::raise(SIGINT);
    }
  };
  std::exception_ptr failure;
  if (jobs == 1) {
    try {
      worker(*engine);
    } catch (...) {
      failure = std::current_exception();
    }
  } else {
    // One engine per thread: an Engine owns its activation buffers.
    std::vector<std::unique_ptr<Engine>> engines;
    for (int j = 1; j < jobs; ++j) engines.push_back(std::make_unique<Engine>(engine->model()));
    std::vector<std::thread> threads;
    for (int j = 0; j < jobs; ++j)
      threads.emplace_back([&, j] {
        try {
          worker(j == 0 ? *engine : *engines[size_t(j - 1)]);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!failure) failure = std::current_exception();
          g_interrupted = 1;  // stop the others too
        }
      });
    for (auto& t : threads) t.join();
  }
  std::signal(SIGINT, previous);
  journal_out.close();
  if (failure) std::rethrow_exception(failure);

  if (entries.size() < mine.size()) {
    if (!a.has("quiet")) std::fprintf(stderr, "\n");
    std::fprintf(stderr, "gradcam batch: interrupted after %zu of %zu images; %s lists them. To finish, run the same command with --resume\n",
                 entries.size(), mine.size(), journal.string().c_str());
    return 130;
  }
  if (todo.empty()) progress.update(0);
  write_file_atomic(final_index, bytes_of(index_json(settings, entries)), true);
  std::printf("%zu images (%zu done before), %ld failed; index: %s\n", mine.size(), already, failures,
              final_index.string().c_str());
  return failures ? 1 : 0;
}

int cmd_merge_index(const Args& a) {
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

}  // namespace gradcam::cli
