// What the CLI's commands share: their option parser, the two kinds of error (a usage error exits 2,
// a file that cannot be used exits 1), file I/O that never leaves a partial file, the explain
// settings, the progress bar and the shape of a command.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gradcam/engine.h"
#include "gradcam/keras.h"
#include "gradcam/request.h"

namespace gradcam::cli {

namespace fs = std::filesystem;

struct UsageError {
  std::string message;
};
struct FileError {
  std::string message;
};

// The options one command takes: those with a value and the flags. Anything else is a usage error
// that names the option and lists the valid ones, so a typo never falls back to a default.
struct CommandOptions {
  std::vector<std::string> values;
  std::vector<std::string> flags;
};

struct Args {
  std::string command;
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  bool has(const std::string& k) const { return values.count(k) || flags.count(k); }
  std::string get(const std::string& k, const std::string& fallback = "") const;
  std::string require(const std::string& k) const;
  // A whole decimal integer in [lo, hi], or a usage error naming the option.
  long long integer(const std::string& k, long long fallback, long long lo, long long hi) const;
};

Args parse_args(const std::string& command, const CommandOptions& spec, int argc, char** argv, int first);

template <class T>
T unwrap_usage(Result<T> r) {
  if (!r) throw UsageError{r.error()};
  return std::move(r.value());
}

std::vector<uint8_t> read_file(const std::string& path);
// Writes to a temporary name beside `path` and renames it into place, so an interrupted run leaves
// either the old state or the whole new file. Refuses to replace an existing file unless `overwrite`.
void write_file_atomic(const fs::path& path, const std::vector<uint8_t>& bytes, bool overwrite);
// The suffix of those temporary names (a run that was killed may leave one behind).
extern const char* const kPartialSuffix;
// True when a and b name the same file or folder (after resolving links, "..", and so on).
bool same_path(const fs::path& a, const fs::path& b);
// True when `inner` is `outer` or lies somewhere below it.
bool path_within(const fs::path& inner, const fs::path& outer);

template <class T>
T unwrap_file(Result<T> r) {
  if (!r) throw FileError{r.error()};
  return std::move(r.value());
}

// What every command that reads a model takes: --model, and what the file may not say (ONNX):
// --mean R,G,B --std R,G,B (torchvision's normalisation), --labels FILE (a class name per line),
// --size N (a dynamic input size), --threads N (default: the machine's cores).
// --arch FILE: a Keras weights file's architecture (the architecture JSON or a Keras config).
extern const std::vector<std::string> kModelOptions;
// The wasm CLI's Keras --model, read in JS before main() (keras_handover.cpp); nullopt when nothing
// was handed over for `path` (always, natively). `arch`: --arch's text (or empty), named `arch_source`.
std::optional<Result<Model>> handed_over_keras_model(const std::string& path, const std::string& arch,
                                                     const std::string& arch_source);
std::unique_ptr<Engine> load_engine(const Args& a);
Image load_image(const std::string& path);
double now_ms();

// The explain options (--layer, --method, ...: the engine's request keys), parsed by the engine's
// one request parser.
using ExplainSettings = ExplainRequest;
ExplainSettings explain_settings(const Args& a, const Model& model);
// The request keys as a command's options: switches (request_key_is_switch) as flags, the rest as values.
void add_request_options(CommandOptions& options);

// A progress bar on stderr, redrawn in place.
struct Progress {
  size_t total;
  double start;
  bool quiet;
  void update(size_t done, const std::string& extra = "") const;
};

// A command: one file (info.cpp, accuracy.cpp, ...) that says what it takes and what it does, and
// runs it. main.cpp dispatches on the name through the table of them and writes the usage text
// from their synopses and help.
struct Command {
  const char* name;
  const char* alias;  // another name it answers to (nullptr: none)
  int (*run)(const Args&);
  CommandOptions options;  // commands with --model also take kModelOptions (added by the table)
  std::string synopsis;    // the options, as the usage text shows them (lines after the first indented)
  const char* help;        // what it does, one line or a few
};

Command info_command();
Command explain_command();
Command accuracy_command();
Command evaluate_command();
Command batch_command();
Command merge_index_command();
Command import_keras_command();
Command init_model_command();
Command bench_command();

}  // namespace gradcam::cli
