// The HDF5 reader behind a process boundary: the frame the child answers in survives the trip
// exactly and refuses every broken form, and natively a file that crashes libhdf5 is one error.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "formats/keras_hdf5_child.h"

using namespace gradcam;

namespace {

KerasFile sample_file() {
  KerasFile f;
  f.model_config = R"({"class_name": "Sequential", "config": {"name": "s"}})";
  f.keras_version = "2.15.0";
  f.tensors.push_back({"conv2d", "conv2d/kernel:0", {1, 1, 2, 3}, {1.f, -0.f, 1e-40f, -2.5f, 3e38f, 0.125f}});
  f.tensors.push_back({"dense", "", {0}, {}});  // an empty weight name and tensor travel too
  f.tensors.push_back({"batch_normalization", "3", {}, {7.f}});  // a scalar
  return f;
}

std::string frame_of(const Result<KerasFile>& r) {
  std::string bytes;
  REQUIRE(write_keras_read_frame(r, [&](const void* data, size_t n) {
    bytes.append(static_cast<const char*>(data), n);
    return true;
  }));
  return bytes;
}

std::optional<Result<KerasFile>> unframe(const std::string& bytes) {
  size_t at = 0;
  return read_keras_read_frame([&](void* data, size_t n) {
    if (n > bytes.size() - at) return false;
    std::memcpy(data, bytes.data() + at, n);
    at += n;
    return true;
  });
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void check_same(const KerasFile& a, const KerasFile& b) {
  CHECK(a.model_config == b.model_config);
  CHECK(a.keras_version == b.keras_version);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    CAPTURE(i);
    CHECK(a.tensors[i].layer == b.tensors[i].layer);
    CHECK(a.tensors[i].weight == b.tensors[i].weight);
    CHECK(a.tensors[i].shape == b.tensors[i].shape);
    CHECK(same_bits(a.tensors[i].values, b.tensors[i].values));
  }
}

}  // namespace

TEST_CASE("the child's frame carries a Keras file or the reader's error back unchanged") {
  auto back = unframe(frame_of(sample_file()));
  REQUIRE(back.has_value());
  REQUIRE(back->ok());
  check_same(**back, sample_file());

  auto error = unframe(frame_of(Result<KerasFile>(make_error("m.h5: layer x is listed in layer_names but has no group"))));
  REQUIRE(error.has_value());
  REQUIRE(!error->ok());
  CHECK(error->error() == "m.h5: layer x is listed in layer_names but has no group");
}

TEST_CASE("a frame cut short, overlong or with a wrong length is refused, never trusted") {
  const std::string whole = frame_of(sample_file());
  // The child died while writing: every prefix is incomplete.
  for (size_t n = 0; n < whole.size(); ++n) {
    CAPTURE(n);
    CHECK(!unframe(whole.substr(0, n)).has_value());
  }
  // One flipped byte in the marks, version or flag.
  for (size_t at : {size_t(0), size_t(4), size_t(8), whole.size() - 1}) {
    std::string bad = whole;
    bad[at] ^= 0x5a;
    CAPTURE(at);
    CHECK(!unframe(bad).has_value());
  }
  // Lengths beyond the reader's limits are refused before anything is allocated: the config's
  // length (at byte 9) set to 2^62, the first tensor's value count one more than its shape holds.
  std::string huge = whole;
  const uint64_t big = uint64_t(1) << 62;
  std::memcpy(huge.data() + 9, &big, sizeof big);
  CHECK(!unframe(huge).has_value());
  const KerasFile f = sample_file();
  const size_t count_at = 9 + 8 + f.model_config.size() + 8 + f.keras_version.size() + 8 + 8 +
                          f.tensors[0].layer.size() + 8 + f.tensors[0].weight.size() + 8 + 4 * 8;
  std::string wrong = whole;
  uint64_t count = 0;
  std::memcpy(&count, wrong.data() + count_at, sizeof count);
  REQUIRE(count == 6);  // the offset above points at the value count
  ++count;
  std::memcpy(wrong.data() + count_at, &count, sizeof count);
  CHECK(!unframe(wrong).has_value());
}

#if GRADCAM_HAVE_HDF5
namespace {
std::vector<uint8_t> source_file(const std::string& path) {
  std::ifstream f(std::string(GRADCAM_SOURCE_DIR) + "/" + path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}
}  // namespace

TEST_CASE("natively the child process reads a Keras file exactly as the library does in this process") {
  for (const char* path : {"tests/fuzz/corpus/keras/whole.h5", "tests/fuzz/corpus/keras/keras3.weights.h5"}) {
    CAPTURE(path);
    const std::vector<uint8_t> bytes = source_file(path);
    REQUIRE(!bytes.empty());
    auto isolated = read_keras_hdf5_isolated(bytes.data(), bytes.size(), "m.h5");
    auto direct = read_keras_hdf5(bytes.data(), bytes.size(), "m.h5");
    REQUIRE_MESSAGE(isolated.ok(), isolated.error());
    REQUIRE(direct.ok());
    CHECK(!isolated->tensors.empty());
    check_same(*isolated, *direct);
  }
  // The reader's own errors come back word for word (read here only in the child: in this process
  // libhdf5 leaks on this file, which LeakSanitizer would report in the asan tree).
  const std::vector<uint8_t> regression = source_file("tests/fuzz/regressions/keras/hdf5-corrupt-root-header.h5");
  auto isolated = read_keras_hdf5_isolated(regression.data(), regression.size(), "r.h5");
  REQUIRE(!isolated.ok());
  CHECK(isolated.error() == "r.h5: not a readable HDF5 file (no root group)");
}

TEST_CASE("a file that crashes libhdf5 1.10.8 gives one error and the process goes on") {
  // Found by fuzz_keras: a corrupt variable-length string (model_config) sends H5HG_read out of
  // bounds. In this process the library would take the program down with it.
  const std::vector<uint8_t> bytes = source_file("tests/fuzz/regressions/keras/hdf5-vlen-global-heap-overlap.h5");
  REQUIRE(!bytes.empty());
  auto r = load_keras_hdf5(bytes.data(), bytes.size(), "hdf5-vlen-global-heap-overlap.h5");
  REQUIRE(!r.ok());
#if defined(__SANITIZE_ADDRESS__)
  // The asan tree: ASan's memcpy interceptor stops the child at the library's overlapping copy,
  // before the segmentation fault, and exits with its status 1 (its report goes to stderr).
  const std::string why = "exited with status 1";
#else
  const std::string why = "killed by signal 11";
#endif
  CHECK(r.error() == "hdf5-vlen-global-heap-overlap.h5: the HDF5 library failed on this file (" + why +
                         "): it is damaged or not a Keras file");
  // Nothing of the crash stays behind: the next file loads.
  const std::vector<uint8_t> good = source_file("tests/fuzz/corpus/keras/whole.h5");
  auto again = load_keras_hdf5(good.data(), good.size(), "whole.h5");
  CHECK_MESSAGE(again.ok(), again.error());
}

TEST_CASE("a file that sends libhdf5 into an endless loop ends at the child's CPU limit") {
  // Found by fuzz_keras: H5HG_read never returns on this global heap (libhdf5 1.10.8 and 1.14.5).
  // One second of CPU time instead of the default minute keeps the test short; either is a limit on
  // the child's work, not on wall-clock time, so the machine's load does not change the answer.
  const std::vector<uint8_t> bytes = source_file("tests/fuzz/regressions/keras/hdf5-vlen-global-heap-endless-loop.h5");
  REQUIRE(!bytes.empty());
  auto r = read_keras_hdf5_isolated(bytes.data(), bytes.size(), "loop.h5", 1);
  REQUIRE(!r.ok());
  CHECK(r.error() ==
        "loop.h5: the HDF5 library failed on this file (it ran for 1 s of CPU time without finishing): it is damaged or "
        "not a Keras file");
}
#endif
