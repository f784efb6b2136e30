// gradcam init-model: an architecture (default: the seed network) written as a model file with
// deterministic random (untrained) weights, for tests and for a trainer's starting point.
#include <cstdio>

#include "cli.h"

namespace gradcam::cli {

namespace {

int run_init_model(const Args& a) {
  std::string out = a.require("out");
  const auto seed = uint64_t(a.integer("seed", 1, 0, 9007199254740991LL));
  Architecture arch = seed_architecture();
  if (a.has("arch")) {
    std::vector<uint8_t> text = read_file(a.get("arch"));
    auto parsed = parse_architecture(std::string(text.begin(), text.end()));
    if (!parsed) throw FileError{a.get("arch") + ": " + parsed.error()};
    arch = parsed.value();
  }
  write_file_atomic(out, save_model(random_model(arch, seed)), a.has("overwrite"));
  std::printf("wrote %s (untrained, seed %llu)\n", out.c_str(), (unsigned long long)seed);
  return 0;
}

}  // namespace

Command init_model_command() {
  return {"init-model", nullptr, run_init_model, {{"out", "seed", "arch"}, {"overwrite"}},
          "--out F [--seed N] [--arch FILE.json] [--overwrite]",
          "write an architecture (default: the seed network) with deterministic random\n"
          "(untrained) weights"};
}

}  // namespace gradcam::cli
