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

#include "batch_index.h"
#include "cli.h"
#include "gradcam/dataset.h"

namespace gradcam::cli {

namespace {

// Set by Ctrl-C (and by a worker that failed); lock-free, so a signal handler may store to it.
std::atomic<int> g_interrupted{0};
extern "C" void on_interrupt(int) {
  g_interrupted = 1;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}

Shard parse_shard(const std::string& t) {
  Shard s;
  char slash = 0, extra = 0;
  std::istringstream in(t);
  if (!(in >> s.k >> slash >> s.n) || slash != '/' || (in >> extra) || s.n < 1 || s.n > 100000 || s.k < 1 || s.k > s.n)
    throw UsageError{"--shard must be K/N with 1 <= K <= N (for example 2/8), got \"" + t + "\""};
  return s;
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
          {"samples", s.options.smoothgrad_samples},
          {"steps", s.options.ig_steps},
          {"baseline", s.options.baseline ? baseline_name(*s.options.baseline) : "default"},
          {"window", s.options.occlusion_window},
          {"stride", s.options.occlusion_stride},
          {"eigen_smooth", s.options.eigen_smooth},
          {"aug_smooth", s.options.aug_smooth}};
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

int run_batch(const Args& a) {
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

  std::vector<std::string> all = unwrap_file(files_below(in.string(), is_image_file_name));
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

}  // namespace

Command batch_command() {
  CommandOptions options{{"model", "input", "out", "shard", "jobs"}, {"resume", "overwrite", "quiet"}};
  add_request_options(options);
  return {"batch", nullptr, run_batch, options,
          "--model F --input DIR --out DIR [explain options] [--jobs N] [--shard K/N]\n"
          "[--resume | --overwrite] [--quiet]",
          "explain every image below DIR: DIR/<relative path>.png overlays (a/x.jpg ->\n"
          "a/x.jpg.png), DIR/index.jsonl as it goes and DIR/index.json at the end; exits 1\n"
          "when an image could not be explained (the index says which and why), 130 on Ctrl-C"};
}

}  // namespace gradcam::cli
