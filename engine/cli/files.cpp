// Files as the CLI reads and writes them: bounded reads, writes that never leave a partial file and
// never replace a file unless asked, and the path comparisons that keep outputs away from inputs.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

#include "cli.h"
#include "gradcam/contract.h"
#include "gradcam/threads.h"

namespace gradcam::cli {

const char* const kPartialSuffix = ".gradcam-partial";

std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw FileError{path + ": is a directory, not a file"};
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw FileError{path + ": cannot open (" + std::strerror(errno) + ")"};
  std::streamoff n = f.tellg();
  if (n < 0) throw FileError{path + ": cannot read"};
  if (uint64_t(n) > ImageLimits::kMaxFileBytes && uint64_t(n) > ModelLimits::kMaxFileBytes)
    throw FileError{path + ": file is too large (" + std::to_string(n) + " bytes)"};
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  f.seekg(0);
  if (n > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), n)) throw FileError{path + ": cannot read"};
  return bytes;
}

void write_file_atomic(const fs::path& path, const std::vector<uint8_t>& bytes, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec))
    throw UsageError{path.string() + ": already exists (pass --overwrite to replace it)"};
  if (fs::is_directory(path, ec)) throw FileError{path.string() + ": is a folder"};
  // The temporary name is in the same folder, so the rename cannot cross file systems.
  fs::path tmp = path;
  tmp += ".";  // appended piece by piece: GCC 12's -Wrestrict misreads "." + std::string&& at -O3
  tmp += std::to_string(::getpid()) + kPartialSuffix;
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f || !f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size())) || !f.flush()) {
      std::string why = std::strerror(errno);
      fs::remove(tmp, ec);
      throw FileError{path.string() + ": cannot write (" + why + ")"};
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw FileError{path.string() + ": cannot write (" + ec.message() + ")"};
  }
}

namespace {
// The absolute, normalised form of a path whose tail may not exist yet.
fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? fs::absolute(p).lexically_normal() : r;
}
}  // namespace

bool same_path(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return resolved(a) == resolved(b);
}

bool path_within(const fs::path& inner, const fs::path& outer) {
  auto parts = [](const fs::path& p) {
    std::vector<fs::path> v;
    for (const fs::path& e : resolved(p))
      if (!e.empty()) v.push_back(e);  // a trailing separator is an empty element
    return v;
  };
  std::vector<fs::path> i = parts(inner), o = parts(outer);
  return o.size() <= i.size() && std::equal(o.begin(), o.end(), i.begin());
}

}  // namespace gradcam::cli

namespace gradcam::cli {

const std::vector<std::string> kModelOptions = {"model", "mean", "std", "labels", "size", "arch", "threads"};

std::unique_ptr<Engine> load_engine(const Args& a) {
  // The engine's contract reads and checks every option (contract.h); the CLI only reads the labels file.
  LoadOptions o;
  for (const char* key : {"mean", "std", "size", "threads"})
    if (a.has(key)) {
      if (Status s = set_load_option(o, key, a.get(key), "--"); !s) throw UsageError{s.error()};
    }
  // A command runs on every core unless told otherwise; the answers are the same for any count.
  if (!a.has("threads")) o.threads = default_thread_count();
  if (Status s = check_load_options(o, "--"); !s) throw UsageError{s.error()};
  if (a.has("labels")) {
    const std::vector<uint8_t> text = read_file(a.get("labels"));
    o.labels = unwrap_file(parse_labels(std::string(text.begin(), text.end()), a.get("labels")));
  }
  if (a.has("arch")) {
    const std::vector<uint8_t> text = read_file(a.get("arch"));
    o.arch.assign(text.begin(), text.end());
    o.arch_source = a.get("arch");
  }
  if (auto handed = handed_over_keras_model(a.require("model"), o.arch, o.arch_source)) {  // the wasm CLI
    auto e = Engine::from_model(unwrap_file(std::move(*handed)), a.require("model"), o);
    if (!e) throw FileError{e.error()};
    return std::move(e.value());
  }
  auto e = Engine::load_file(a.require("model"), o);
  if (!e) throw FileError{e.error()};
  return std::move(e.value());
}

Image load_image(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  auto img = decode_image(bytes.data(), bytes.size());
  if (!img) throw FileError{path + ": " + img.error()};
  return std::move(img.value());
}

}  // namespace gradcam::cli
