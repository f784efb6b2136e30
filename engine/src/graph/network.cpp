#include "gradcam/network.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "graph/activation_fusion.h"

namespace gradcam {

namespace {

// A buffer's size and the steps of a pass during which it holds something still to be read.
struct Lifetime {
  size_t floats = 0;
  int first = 0, last = 0;  // inclusive
};

// Every buffer starts on a 64-byte boundary, as a vector of its own would (malloc gives 16) and
// more: the SIMD kernels read whole cache lines.
constexpr size_t kAlignFloats = 16;
size_t aligned(size_t floats) { return (floats + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

// Offsets into one arena such that buffers whose lifetimes meet never overlap: each buffer, largest
// first, takes the lowest offset where it fits beside those already placed that it meets.
std::vector<size_t> place(const std::vector<Lifetime>& buffers, size_t& total) {
  std::vector<size_t> order(buffers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buffers[a].floats > buffers[b].floats; });
  std::vector<size_t> offset(buffers.size(), 0);
  std::vector<size_t> placed;
  total = 0;
  for (size_t i : order) {
    const Lifetime& b = buffers[i];
    const size_t size = aligned(b.floats);
    std::vector<std::pair<size_t, size_t>> taken;  // [begin, end) of the placed buffers it meets
    for (size_t j : placed)
      if (buffers[j].first <= b.last && b.first <= buffers[j].last) taken.push_back({offset[j], offset[j] + aligned(buffers[j].floats)});
    std::sort(taken.begin(), taken.end());
    size_t at = 0;
    for (const auto& [begin, end] : taken) {
      if (at + size <= begin) break;
      at = std::max(at, end);
    }
    offset[i] = at;
    total = std::max(total, at + size);
    placed.push_back(i);
  }
  return offset;
}

// Softmax with the maximum subtracted, so large logits do not overflow.
void softmax(const float* logits, float* probs, size_t n) {
  const float m = *std::max_element(logits, logits + n);
  double sum = 0;
  for (size_t k = 0; k < n; ++k) sum += probs[k] = std::exp(logits[k] - m);
  for (size_t k = 0; k < n; ++k) probs[k] = float(probs[k] / sum);
}

}  // namespace

Network::Network(const Model& model, NetworkMemory memory)
    : model_(model), graph_(model_graph(model)), plans_by_pass_(memory == NetworkMemory::by_pass) {
  const Graph& g = *graph_;
  const size_t nodes = g.nodes.size();
  plans_.resize(nodes);
  accumulate_slot_.resize(nodes);
  // The last consumer of each value (in topological order) is the first to write its gradient in
  // backward; every other consumer adds to it.
  last_consumer_.assign(g.values.size(), -1);
  for (size_t i = 0; i < nodes; ++i)
    for (int v : g.nodes[i].inputs) last_consumer_[size_t(v)] = int(i);
  ScratchSizes sizes;
  size_t accumulate = 0;
  for (size_t i = 0; i < nodes; ++i) {
    const Node& n = g.nodes[i];
    n.op->plan(g, n, plans_[i], sizes);
    size_t node_accumulate = 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int v = n.inputs[k];
      bool repeated = false;  // the same value at an earlier slot of this node
      for (size_t j = 0; j < k; ++j) repeated = repeated || n.inputs[j] == v;
      const bool add = last_consumer_[size_t(v)] != int(i) || repeated;
      accumulate_slot_[i].push_back(add ? 1 : 0);
      if (add) node_accumulate += size_t(g.values[size_t(v)].shape.size());
    }
    accumulate = std::max(accumulate, node_accumulate);
  }
  accumulate_.assign(accumulate, 0.f);
  scratch_sizes_ = sizes;
  // A node runs a batch whole where its op can and its weights outweigh one image's input and
  // output; below that, the batch's values leaving the cache cost more than the weights' reads.
  batch_.whole.assign(nodes, 0);
  for (size_t i = 0; i < nodes; ++i) {
    const Node& n = g.nodes[i];
    size_t weights = 0, values = size_t(g.values[size_t(n.output)].shape.size());
    for (const auto& w : n.weights) weights += w.size();
    // Only images and [1, n] vectors: the batched kernels know no other layout (a MatMul over the
    // rows of [1, 197, 768] runs image by image).
    bool plain = g.values[size_t(n.output)].layout == Layout::image || g.values[size_t(n.output)].is_vector();
    for (int v : n.inputs) {
      values += size_t(g.values[size_t(v)].shape.size());
      plain = plain && (g.values[size_t(v)].layout == Layout::image || g.values[size_t(v)].is_vector());
    }
    batch_.whole[i] = n.op->batched_forward() && plain && weights > values;
  }
  scratch_.padded.assign(sizes.padded, 0.f);
  scratch_.winograd.assign(sizes.winograd, 0.f);
  scratch_.grad.assign(sizes.grad, 0.f);
  logits_.assign(size_t(g.values[size_t(g.output)].shape.size()), 0.f);
  probs_.assign(logits_.size(), 0.f);
}

// Steps of a pass: the input is written at 0, node i runs forward at i + 1, the logits' gradient is
// seeded at n + 1, node i runs backward at 2n + 1 - i, and what a pass keeps lives to 2n + 2.
Network::ArenaLayout Network::arena_layout(const PassNeeds* needs) const {
  const Graph& g = *graph_;
  const int n = int(g.nodes.size()), end = 2 * n + 2;
  const size_t values = g.values.size();
  auto backward_step = [&](int i) { return 2 * n + 1 - i; };
  const int stop = needs ? std::max(needs->stop, -1) : -1;
  const bool backward = !needs || needs->stop < n;
  std::vector<char> kept(values, needs ? 0 : 1);
  if (needs)
    for (int layer : needs->layers) kept[size_t(g.nodes[size_t(layer)].output)] = 1;
  kept[0] = kept[size_t(g.output)] = 1;  // input() and the logits are always there
  ArenaLayout out;
  // A network that keeps every value fuses nothing; a fused convolution's own output is never written.
  out.fused = needs ? fuse_activations(g, kept) : std::vector<int>(g.nodes.size(), -1);
  std::vector<char> unwritten(values, 0);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (out.fused[i] >= 0) unwritten[size_t(g.nodes[i].output)] = 1;

  std::vector<Lifetime> value(values), grad(values);
  std::vector<char> has_grad(values, 0);
  for (size_t v = 0; v < values; ++v) {
    const int producer = g.values[v].producer;
    const size_t floats = size_t(g.values[v].shape.size());
    value[v] = {unwritten[v] ? 0 : floats, producer + 1, producer + 1};
    grad[v] = {floats, end, 0};
    // The backward of the node that wrote it reads a value (its output) and its output's gradient.
    if (backward && producer > stop) {
      value[v].last = std::max(value[v].last, backward_step(producer));
      grad[v].last = std::max(grad[v].last, backward_step(producer));
      has_grad[v] = 1;
    }
    if (kept[v]) value[v].last = end;
  }
  for (int i = 0; i < n; ++i)  // a fused activation's output is written by its producer, earlier
    if (const int act = out.fused[size_t(i)]; act >= 0) value[size_t(g.nodes[size_t(act)].output)].first = i + 1;
  for (int i = 0; i < n; ++i)
    for (int v : g.nodes[size_t(i)].inputs) {
      Lifetime& l = value[size_t(v)];
      l.last = std::max(l.last, i + 1);
      if (backward && i > stop) {  // node i's backward reads its inputs and writes their gradients
        l.last = std::max(l.last, backward_step(i));
        grad[size_t(v)].first = std::min(grad[size_t(v)].first, backward_step(i));
        grad[size_t(v)].last = std::max(grad[size_t(v)].last, backward_step(i));
        has_grad[size_t(v)] = 1;
      }
    }
  if (backward) {
    grad[size_t(g.output)].first = n + 1;
    has_grad[size_t(g.output)] = 1;
  }
  std::vector<Lifetime> buffers;
  for (size_t v = 0; v < values; ++v) {
    if (has_grad[v]) {
      // Kept: the explained layers' gradients, and the input's when the backward reaches it.
      const bool keep_grad = !needs || (kept[v] && (v != 0 || stop < 0));
      if (!needs) grad[v].first = 0;
      if (keep_grad) grad[v].last = end;
      grad[v].first = std::min(grad[v].first, grad[v].last);
    }
    if (!needs) value[v] = {value[v].floats, 0, end};
    buffers.push_back(value[v]);
    buffers.push_back(has_grad[v] || !needs ? grad[v] : Lifetime{0, 0, 0});
  }
  if (!needs)
    for (size_t v = 0; v < values; ++v) buffers[2 * v + 1] = {grad[v].floats, 0, end};
  const std::vector<size_t> offset = place(buffers, out.floats);
  out.value.resize(values), out.grad.resize(values);
  for (size_t v = 0; v < values; ++v) {
    out.value[v] = offset[2 * v];
    out.grad[v] = buffers[2 * v + 1].floats > 0 ? offset[2 * v + 1] : kNone;
  }
  return out;
}

Status Network::apply(const ArenaLayout& arena) {
  const Graph& g = *graph_;
  if (arena.floats > ModelLimits::kMaxPassBytes / sizeof(float))
    return make_error("this pass would hold " + std::to_string((arena.floats * sizeof(float)) >> 20) +
                      " MiB of activations and gradients, more than the " +
                      std::to_string(ModelLimits::kMaxPassBytes >> 20) + " MiB this platform allows: explain a later layer, " +
                      "use a Grad-CAM-like method (they keep only what they read), or a smaller input size");
  if (arena.floats > arena_floats_) {
    arena_.reset();  // the old arena goes before the new one is taken
    arena_.reset(new float[arena.floats + kAlignFloats]);
    arena_floats_ = arena.floats;
  }
  planned_floats_ = arena.floats;
  float* base = arena_.get();
  base += (kAlignFloats - (reinterpret_cast<uintptr_t>(base) / sizeof(float)) % kAlignFloats) % kAlignFloats;
  fused_ = arena.fused;
  done_by_producer_.assign(g.nodes.size(), 0);
  for (int act : fused_)
    if (act >= 0) done_by_producer_[size_t(act)] = 1;
  values_.assign(g.values.size(), nullptr);
  grads_.assign(g.values.size(), nullptr);
  for (size_t v = 0; v < g.values.size(); ++v) {
    values_[v] = base + arena.value[v];
    if (arena.grad[v] != kNone) grads_[v] = base + arena.grad[v];
  }
  in_.assign(g.nodes.size(), {});
  gin_.assign(g.nodes.size(), {});
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    size_t offset = 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const size_t v = size_t(n.inputs[k]);
      in_[i].push_back(values_[v]);
      if (accumulate_slot_[i][k]) {
        gin_[i].push_back(accumulate_.data() + offset);
        offset += size_t(g.values[v].shape.size());
      } else {
        gin_[i].push_back(grads_[v]);
      }
    }
  }
  return {};
}

Status Network::plan_pass(const PassNeeds& needs) {
  if (!plans_by_pass_) return plan_all();
  if (!values_.empty() && !planned_all_ && needs == planned_) return {};
  if (Status s = apply(arena_layout(&needs)); !s) return s;
  planned_ = needs;
  planned_all_ = false;
  return {};
}

Status Network::plan_all() {
  if (planned_all_ && !values_.empty()) return {};
  if (Status s = apply(arena_layout(nullptr)); !s) return s;
  planned_all_ = true;
  return {};
}

size_t Network::floats_for(const PassNeeds& needs) const { return arena_layout(plans_by_pass_ ? &needs : nullptr).floats; }

void Network::run_node(int i) {
  lay_out();
  if (done_by_producer_[size_t(i)]) return;
  const Node& n = graph_->nodes[size_t(i)];
  ForwardArgs args{*graph_, in_[size_t(i)].data(), values_[size_t(n.output)], scratch_};
  if (const int act = fused_[size_t(i)]; act >= 0) {
    const Node& activation = graph_->nodes[size_t(act)];
    args.out = values_[size_t(activation.output)];
    set_fused_clamp(activation, args);
  }
  n.op->forward(n, plans_[size_t(i)], args);
}

void Network::forward(const float* input) { forward_from(0, input); }

void Network::forward_from(int first, const float* x) {
  lay_out();
  const Graph& g = *graph_;
  const size_t v = size_t(g.nodes[size_t(first)].inputs[0]);
  if (x != values_[v]) std::copy(x, x + g.values[v].shape.size(), values_[v]);
  run_from(first);
}

void Network::forward_after(int layer, const float* output) {
  lay_out();
  const size_t v = size_t(graph_->nodes[size_t(layer)].output);
  const Value& value = graph_->values[v];
  float* map = value.map.is_map() ? values_[v] + value.map.offset : values_[v];
  if (output != map) std::copy(output, output + (value.map.is_map() ? value.map.grid.size() : value.shape.size()), map);
  run_from(layer + 1);
}

void Network::run_from(int first) {
  const Graph& g = *graph_;
  for (int i = first; i < layer_count(); ++i) run_node(i);
  const float* out = values_[size_t(g.output)];
  std::copy(out, out + logits_.size(), logits_.begin());
  softmax(logits_.data(), probs_.data(), logits_.size());
}

// A batched pass is a forward alone that keeps the input and the logits: the single pass's layout
// for those needs, every buffer `batch` times as large (offsets too, so buffers that never met
// still do not), and scratch for `batch` images.
size_t Network::batch_floats_per_image() const {
  const PassNeeds forward_only;
  return arena_layout(&forward_only).floats + scratch_sizes_.padded + scratch_sizes_.winograd;
}

size_t Network::batch_weight_floats() const {
  size_t floats = 0;
  for (size_t i = 0; i < graph_->nodes.size(); ++i)
    if (batch_.whole[i])
      for (const auto& w : graph_->nodes[i].weights) floats += w.size();
  return floats;
}

void Network::plan_batch(int batch) {
  if (batch_.batch == batch) return;
  const Graph& g = *graph_;
  const PassNeeds forward_only;
  const ArenaLayout arena = arena_layout(&forward_only);
  const size_t images = size_t(batch);
  // The memory only grows: batches of 3 and 4 in turn (Score-CAM's sizes differ by one) lay out
  // the smaller in the larger's arena instead of taking and touching fresh pages each time.
  if (batch_.logits.size() < logits_.size() * images) {
    batch_.arena.reset();  // the old arena goes before the new one is taken
    batch_.arena.reset(new float[arena.floats * images + kAlignFloats]);
    batch_.scratch.padded.assign(scratch_sizes_.padded * images, 0.f);
    batch_.scratch.winograd.assign(scratch_sizes_.winograd * images, 0.f);
    batch_.logits.assign(logits_.size() * images, 0.f);
    batch_.probs.assign(logits_.size() * images, 0.f);
  }
  float* base = batch_.arena.get();
  base += (kAlignFloats - (reinterpret_cast<uintptr_t>(base) / sizeof(float)) % kAlignFloats) % kAlignFloats;
  batch_.values.assign(g.values.size(), nullptr);
  for (size_t v = 0; v < g.values.size(); ++v) batch_.values[v] = base + arena.value[v] * images;
  batch_.in.assign(g.nodes.size(), {});
  size_t most_inputs = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int v : g.nodes[i].inputs) batch_.in[i].push_back(batch_.values[size_t(v)]);
    most_inputs = std::max(most_inputs, g.nodes[i].inputs.size());
  }
  batch_.image_in.assign(most_inputs, nullptr);
  // The forward-only layout fuses activations into their convolutions (activation_fusion.h), and
  // gives a fused convolution's own output no memory: the batch runs them fused as well.
  batch_.fused = arena.fused;
  batch_.done_by_producer.assign(g.nodes.size(), 0);
  for (int act : batch_.fused)
    if (act >= 0) batch_.done_by_producer[size_t(act)] = 1;
  batch_.batch = batch;
}

void Network::forward_batch(const float* inputs, int batch) {
  plan_batch(batch);
  const Graph& g = *graph_;
  auto floats = [&](int v) { return size_t(g.values[size_t(v)].shape.size()); };
  std::copy(inputs, inputs + floats(0) * size_t(batch), batch_.values[0]);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (batch_.done_by_producer[i]) continue;
    const Node& n = g.nodes[i];
    const int act = batch_.fused[i];
    const int written = act >= 0 ? g.nodes[size_t(act)].output : n.output;  // same size: a Relu or Clip
    float* out = batch_.values[size_t(written)];
    auto fuse = [&](ForwardArgs& args) {
      if (act >= 0) set_fused_clamp(g.nodes[size_t(act)], args);
    };
    if (batch_.whole[i]) {
      ForwardArgs args{g, batch_.in[i].data(), out, batch_.scratch, batch};
      fuse(args);
      n.op->forward(n, plans_[i], args);
      continue;
    }
    // The default: the op's single-image forward on each image's block in turn.
    for (int b = 0; b < batch; ++b) {
      for (size_t k = 0; k < n.inputs.size(); ++k) batch_.image_in[k] = batch_.in[i][k] + size_t(b) * floats(n.inputs[k]);
      ForwardArgs args{g, batch_.image_in.data(), out + size_t(b) * floats(written), batch_.scratch};
      fuse(args);
      n.op->forward(n, plans_[i], args);
    }
  }
  const float* out = batch_.values[size_t(g.output)];
  const size_t classes = logits_.size();
  std::copy(out, out + classes * size_t(batch), batch_.logits.begin());
  for (int b = 0; b < batch; ++b)
    softmax(batch_.logits.data() + size_t(b) * classes, batch_.probs.data() + size_t(b) * classes, classes);
}

void Network::backward(const float* dscore_dlogits, int stop, ReluBackward relu) {
  lay_out();
  const Graph& g = *graph_;
  if (!planned_all_ && stop < planned_.stop) {
    // A bug in the caller, not a user's mistake: the plan has no gradients below planned_.stop.
    std::fprintf(stderr, "Network::backward to node %d, but the pass was planned to stop at %d\n", stop, planned_.stop);
    std::abort();
  }
  std::copy(dscore_dlogits, dscore_dlogits + logits_.size(), grads_[size_t(g.output)]);
  for (int i = layer_count() - 1; i > stop; --i) {
    const Node& n = g.nodes[size_t(i)];
    const size_t o = size_t(n.output);
    n.op->backward(n, plans_[size_t(i)],
                   BackwardArgs{g, in_[size_t(i)].data(), values_[o], grads_[o], gin_[size_t(i)].data(), scratch_, relu});
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (!accumulate_slot_[size_t(i)][k]) continue;
      const size_t v = size_t(n.inputs[k]);
      float* dst = grads_[v];
      const float* src = gin_[size_t(i)][k];
      const size_t size = size_t(g.values[v].shape.size());
      for (size_t e = 0; e < size; ++e) dst[e] += src[e];
    }
  }
}

}  // namespace gradcam
