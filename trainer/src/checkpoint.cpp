#include "checkpoint.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace trainer {

using gradcam::make_error;

namespace {
constexpr char kMagic[8] = {'G', 'C', 'T', 'R', 'A', 'I', 'N', '1'};
}

gradcam::Status save_checkpoint(const std::string& path, const nlohmann::json& info, const TrainState& state) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return make_error(tmp + ": cannot write");
    const std::string text = info.dump();
    uint64_t n = text.size();
    f.write(kMagic, 8);
    f.write(reinterpret_cast<const char*>(&n), 8);
    f.write(text.data(), std::streamsize(n));
    for (const auto* v : {&state.params, &state.m, &state.v})
      f.write(reinterpret_cast<const char*>(v->data()), std::streamsize(v->size() * sizeof(float)));
    if (!f) return make_error(tmp + ": write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error(path + ": " + ec.message());
  return {};
}

gradcam::Status load_checkpoint(const std::string& path, int64_t num_params, nlohmann::json& info,
                                TrainState& state) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(path + ": no checkpoint to resume from");
  char magic[8];
  uint64_t n = 0;
  f.read(magic, 8);
  f.read(reinterpret_cast<char*>(&n), 8);
  if (!f || std::memcmp(magic, kMagic, 8) != 0) return make_error(path + ": not a trainer checkpoint");
  if (n > (64u << 20)) return make_error(path + ": corrupt checkpoint header");
  std::string text(n, '\0');
  f.read(text.data(), std::streamsize(n));
  info = nlohmann::json::parse(text, nullptr, false);
  if (!f || info.is_discarded()) return make_error(path + ": corrupt checkpoint header");
  for (auto* v : {&state.params, &state.m, &state.v}) {
    v->assign(size_t(num_params), 0.f);
    f.read(reinterpret_cast<char*>(v->data()), std::streamsize(v->size() * sizeof(float)));
  }
  if (!f) return make_error(path + ": truncated checkpoint (the architecture may differ from this run's)");
  if (f.peek() != EOF) return make_error(path + ": checkpoint is larger than this architecture's state");
  return {};
}

}  // namespace trainer
