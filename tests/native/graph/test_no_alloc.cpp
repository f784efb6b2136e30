// A planned network runs forward and backward without allocating: this file replaces the global
// operator new for the test binary to count allocations (and the bytes alive, for the loaders'
// memory tests).
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <malloc.h>
#include <new>

#include "gradcam/methods.h"
#include "gradcam/network.h"
#include "gradcam/threads.h"
#include "../test_helpers.h"

namespace {
std::atomic<long> g_allocations{0};
std::atomic<std::size_t> g_largest{0};
// Bytes alive from operator new, as malloc counts them (malloc_usable_size, so that a delete without
// a size takes off what its new added), and their high-water mark.
std::atomic<std::size_t> g_live{0}, g_peak_live{0};
void note_size(std::size_t n) {
  std::size_t seen = g_largest.load(std::memory_order_relaxed);
  while (n > seen && !g_largest.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
}
void* note_alive(void* p) {
  if (!p) return p;
  const std::size_t live = g_live.fetch_add(malloc_usable_size(p), std::memory_order_relaxed) + malloc_usable_size(p);
  std::size_t peak = g_peak_live.load(std::memory_order_relaxed);
  while (live > peak && !g_peak_live.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  return p;
}
void free_alive(void* p) {
  if (p) g_live.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}
// Allocations during three warm passes of each kind: a forward, the backward from the output `d`
// down to the input, and a guided backward to the node `to_node` (after one forward and one
// backward to warm up: a convolution makes its kernel's backward form on the first backward).
long allocations_in_passes(gradcam::Network& net, const std::vector<float>& input, const std::vector<float>& d, int to_node) {
  net.forward(input.data());
  net.backward(d.data(), -1);
  const long before = g_allocations.load();
  for (int i = 0; i < 3; ++i) {
    net.forward(input.data());
    net.backward(d.data(), -1);
    net.backward(d.data(), to_node, gradcam::ReluBackward::guided);
  }
  return g_allocations.load() - before;
}
}  // namespace

// For the readers' limit tests: a size read from a file must be refused before it is allocated.
void gradcam::testing::reset_largest_allocation() { g_largest.store(0); }
std::size_t gradcam::testing::largest_allocation() { return g_largest.load(); }
// For the loaders' memory tests: the most bytes from operator new alive at once since the reset.
void gradcam::testing::reset_peak_live_bytes() { g_peak_live.store(g_live.load()); }
std::size_t gradcam::testing::peak_live_bytes_since_reset() { return g_peak_live.load(); }
std::size_t gradcam::testing::live_bytes() { return g_live.load(); }

// g++ 12 inlines these deletes where the tests' own objects die and, seeing free() on memory from a
// new-expression, warns -Wmismatched-new-delete (asan tree); every new here is malloc, so it is not.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  note_size(n);
  if (void* p = std::malloc(n ? n : 1)) return note_alive(p);
  throw std::bad_alloc();
}
// Every form that pairs with these deletes goes through malloc too: std::stable_sort's buffer comes
// from the nothrow form, and a library's own nothrow new paired with this free() is a mismatch
// that AddressSanitizer reports.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  note_size(n);
  return note_alive(std::malloc(n ? n : 1));
}
void operator delete(void* p) noexcept { free_alive(p); }
void operator delete(void* p, std::size_t) noexcept { free_alive(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { free_alive(p); }

TEST_CASE("forward and backward allocate nothing once the network is planned") {
  using namespace gradcam;
  Model model = random_model(seed_architecture(), 61);
  Network net(model);
  auto input = testing::random_vector(32 * 32 * 3, 62);
  std::vector<float> d(10, 0.f);
  d[3] = 1.f;
  CHECK(allocations_in_passes(net, input, d, 0) == 0);
  // The counter itself works: an allocation is seen.
  const long before = g_allocations.load();
  auto* probe = new std::vector<float>(16);
  CHECK(g_allocations.load() - before >= 2);
  delete probe;
}

TEST_CASE("with three threads the warm passes allocate nothing either (the pool's workers start in the first)") {
  using namespace gradcam;
  Model model = random_model(seed_architecture(), 63);
  Network net(model);
  auto input = testing::random_vector(32 * 32 * 3, 64);
  std::vector<float> d(10, 0.f);
  d[1] = 1.f;
  set_thread_count(3);
  const long allocations = allocations_in_passes(net, input, d, 0);
  set_thread_count(1);
  CHECK(allocations == 0);
}

TEST_CASE("a network that keeps only what a pass reads allocates nothing once that pass is planned") {
  using namespace gradcam;
  Model model = random_model(seed_architecture(), 63);
  Network net(model, NetworkMemory::by_pass);
  const int layer = net.graph().default_layer;
  const PassNeeds needs{{layer}, layer};
  REQUIRE(net.plan_pass(needs));
  auto input = testing::random_vector(32 * 32 * 3, 64);
  std::vector<float> d(10, 0.f);
  d[3] = 1.f;
  net.forward(input.data());
  net.backward(d.data(), layer);
  const long before = g_allocations.load();
  bool planned = true;
  for (int i = 0; i < 3; ++i) {
    planned = planned && bool(net.plan_pass(needs));  // the same plan again: nothing to do
    net.forward(input.data());
    net.backward(d.data(), layer);
  }
  CHECK(g_allocations.load() - before == 0);
  CHECK(planned);
}

TEST_CASE("a planned graph (residual sum, concat, depthwise conv, average pooling) allocates nothing in forward and backward") {
  using namespace gradcam;
  testing::GraphBuilder b(12, 10, 3);
  auto conv = [&](int x, int oc, int k, int groups, uint64_t seed) { return b.conv(x, oc, k, 1, groups, true, seed); };
  const int stem = conv(0, 8, 3, 1, 70);                            // dense 3x3 (Winograd)
  const int depthwise = conv(conv(stem, 8, 1, 1, 72), 8, 3, 8, 74);  // 1x1 then depthwise 3x3
  const int sum = b.add("Add", {depthwise, stem});                   // stem read twice: gradients summed
  const int joined = b.add("Concat", {sum, stem, depthwise});
  OpAttributes pool;
  pool.kh = pool.kw = 3, pool.sh = pool.sw = 2, pool.pad_t = pool.pad_l = pool.pad_b = pool.pad_r = 1;
  pool.ceil_mode = pool.count_include_pad = true;
  const int pooled = b.add("AveragePool", {joined}, pool);
  OpAttributes dense;
  dense.out_channels = 5;
  const int features = b.add("GlobalAveragePool", {pooled});
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  const int flat = b.add("Flatten", {features}, flatten);
  const int logits = b.add("Gemm", {flat}, dense, {testing::random_vector(24 * 5, 76, -0.5f, 0.5f), testing::random_vector(5, 77)});
  const Model model = b.model(logits);
  Network net(model);
  auto input = testing::random_vector(12 * 10 * 3, 78);
  std::vector<float> d(5, 0.f);
  d[2] = 1.f;
  CHECK(allocations_in_passes(net, input, d, 1) == 0);
}

TEST_CASE("a planned graph of the ops Keras layers add (squeeze-and-excitation, merges, reshapes) allocates nothing") {
  using namespace gradcam;
  testing::GraphBuilder b(8, 6, 3);
  auto conv1x1 = [&](int x, int oc, uint64_t seed) {
    OpAttributes a;
    a.out_channels = oc;
    return b.add("Conv", {x}, a, {testing::random_vector(size_t(b.value(x).shape.c) * size_t(oc), seed, -0.5f, 0.5f)});  // no bias
  };
  OpAttributes relu, gelu, two_d, gate_shape, flatten, keras;
  relu.alpha = 0.1f, relu.lo = 0.f, relu.hi = 6.f;
  gelu.approximate_tanh = true;
  two_d.keep_dims = false;
  gate_shape.reshape_h = gate_shape.reshape_w = 1, gate_shape.reshape_c = 6;
  flatten.reshape_c = -1;
  keras.broadcast_channels_last = true;
  const int x = b.add("Swish", {conv1x1(0, 6, 80)});
  const int gate = b.add("KerasReshape", {b.add("Sigmoid", {b.add("GlobalAveragePool", {x}, two_d)})}, gate_shape);
  const int excited = b.add("Mul", {x, gate});
  const int activated = b.add("PRelu", {b.add("KerasReLU", {b.add("Gelu", {b.add("Tanh", {excited})}, gelu)}, relu)}, {},
                              {testing::random_vector(6, 81)});
  const int merged = b.add("Sum", {b.add("Max", {activated, x, excited}), b.add("Mean", {x, activated}), b.add("Sub", {x, gate})});
  const int channel_mix = b.add("SoftmaxChannels", {b.add("Elu", {merged})});
  const int pooled = b.add("GlobalMaxPool", {channel_mix}, two_d);
  const int with_vector = b.add("Add", {channel_mix, pooled}, keras);
  OpAttributes dense;
  dense.out_channels = 4;
  const int logits = b.add("Gemm", {b.add("KerasReshape", {with_vector}, flatten)}, dense, {testing::random_vector(8 * 6 * 6 * 4, 82, -0.5f, 0.5f)});
  const Model model = b.model(logits);
  Network net(model);
  auto input = testing::random_vector(8 * 6 * 3, 83);
  std::vector<float> d(4, 0.f);
  d[1] = 1.f;
  CHECK(allocations_in_passes(net, input, d, 1) == 0);
}

// (MatMul's products are this small, so Eigen keeps its blocks on the stack; a ViT-sized GEMM may
// allocate them, beyond EIGEN_STACK_ALLOCATION_LIMIT.)
TEST_CASE("a planned graph of the any-rank ops (broadcasts, reductions, Softmax, LayerNorm, MatMul, Einsum, Where) allocates nothing") {
  using namespace gradcam;
  testing::GraphBuilder b(6, 6, 3);
  auto constant_of = [](std::vector<int64_t> dims) {
    OpAttributes a;
    a.constant_rank = int(dims.size());
    a.constant_dims = std::move(dims);
    return a;
  };
  auto axes = [](std::vector<int64_t> reduce_axes, bool keep_dims) {
    OpAttributes a;
    a.reduce_axes = std::move(reduce_axes);
    a.keep_dims = keep_dims;
    return a;
  };
  // rows [1,3,6,6] from the image, its channel mean subtracted from the image (an image again)
  const int rows = b.add("ReduceSum", {b.add("Mul", {0}, constant_of({1, 1, 1, 1, 1}), {{1.5f}})}, axes({0}, false));
  const int centred = b.add("Sub", {0, b.add("ReduceMean", {rows}, axes({1}, true))});
  OpAttributes square;
  square.alpha = 2.f;
  const int spread = b.add("Sqrt", {b.add("Add", {b.add("Pow", {rows}, square)}, constant_of({1}), {{1.f}})});
  const int scaled = b.add("Div", {b.add("Erf", {centred}), spread});
  OpAttributes last;
  last.axis = -1, last.alpha = 1e-5f;
  const int mixed = b.add("Mul", {rows}, constant_of({6}), {testing::random_vector(6, 89)});  // rows still
  const int normed = b.add("LayerNormalization", {b.add("Softmax", {mixed}, last)}, last,
                           {testing::random_vector(6, 90), testing::random_vector(6, 91)});
  OpAttributes linear;
  linear.out_channels = 6;
  const int projected = b.add("MatMul", {normed}, linear, {testing::random_vector(36, 92, -0.5f, 0.5f), std::vector<float>(6, 0.f)});
  OpAttributes pair, mask;
  pair.equation = "abcd,abed->abce";
  mask.condition_dims = {6};
  const int attended = b.add("Where", {b.add("Einsum", {b.add("MatMul", {projected, normed}), normed}, pair)}, mask,
                             {{1.f, 0.f, 1.f, 1.f, 0.f, 1.f}, {-1.f}});
  OpAttributes dense;
  dense.out_channels = 4;
  const int pooled = b.add("Add", {b.add("ReduceMean", {attended}, axes({2, 3}, false)), b.add("ReduceMean", {scaled}, axes({2, 3}, false))});
  const int logits = b.add("Gemm", {pooled}, dense,
                           {testing::random_vector(3 * 4, 93, -0.5f, 0.5f), testing::random_vector(4, 94)});
  const Model model = b.model(logits);
  Network net(model);
  auto input = testing::random_vector(6 * 6 * 3, 95);
  std::vector<float> d(4, 0.f);
  d[1] = 1.f;
  CHECK(allocations_in_passes(net, input, d, 1) == 0);
}
