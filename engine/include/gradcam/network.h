// A network planned once (shapes, buffers, transformed kernels) and then run many times without
// allocating. Backward propagates a gradient from the logits down to any node's output (or the
// input); where a value feeds several nodes (a residual connection), their gradients are summed.
//
// What a pass keeps is planned too. By default every node's output and gradient is kept, so the
// CAMs of all layers come from one forward and one backward pass. A pass that says what it will
// read (plan_pass: the explained layers, the deepest node the backward reaches) keeps only that:
// every other value lives from the node that writes it to the last node that reads it, forward or
// backward, gradients only from the output down to that node, and values never live at the same
// time share memory. The floats are never zero-filled: each is written before it is read.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "gradcam/graph.h"
#include "gradcam/model.h"
#include "gradcam/status.h"

namespace gradcam {

// A value or a gradient held by the network: valid until the next pass or plan_pass. Copies into a
// std::vector where one is needed.
class Floats {
 public:
  Floats(const float* data, size_t size) : data_(data), size_(size) {}
  const float* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const float* begin() const { return data_; }
  const float* end() const { return data_ + size_; }
  float operator[](size_t i) const { return data_[i]; }
  operator std::vector<float>() const { return {begin(), end()}; }
  friend bool operator==(const Floats& a, const std::vector<float>& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

 private:
  const float* data_;
  size_t size_;
};

// What a pass will read once it is done: the outputs and gradients of `layers`, and gradients down
// to node `stop` (-1: the input's gradient too; no_backward: the pass is a forward alone).
struct PassNeeds {
  static constexpr int no_backward = 1 << 30;
  std::vector<int> layers;
  int stop = no_backward;
  bool operator==(const PassNeeds&) const = default;
};

// keep_all: every output and gradient, whatever a pass says it reads (tests, methods that read the
// whole network); by_pass: what plan_pass names (the engine's network).
enum class NetworkMemory { keep_all, by_pass };

class Network {
 public:
  // model must outlive the network. The values' memory is taken on the first pass.
  explicit Network(const Model& model, NetworkMemory memory = NetworkMemory::keep_all);

  const Architecture& arch() const { return model_.arch; }
  // The model it was planned from: a second network for another thread is Network(net.model()).
  const Model& model() const { return model_; }
  // Networks planned from the same model for the per-sample loops' other threads
  // (methods/network_pool.h), kept for the next explanation: planning one costs more than a pass.
  std::vector<std::unique_ptr<Network>>& peers() { return peers_; }
  const Graph& graph() const { return *graph_; }
  // Layers are the graph's nodes, in topological order.
  int layer_count() const { return int(graph_->nodes.size()); }
  int num_classes() const { return int(logits_.size()); }

  // input: height*width*channels floats, HWC, already scaled. Fills outputs, logits, probabilities.
  void forward(const float* input);
  // Runs nodes first..end with x as the first input of node `first` (the earlier outputs keep their
  // values; every value is kept: plan_all). Used by finite-difference checks of intermediate
  // gradients and profiling.
  void forward_from(int first, const float* x);
  // The network from a layer on: node `layer`'s output is replaced by `output` (its shape's size)
  // and only the nodes after it run; values computed before it (a residual branch's input
  // included) keep theirs. A token grid's output is its map (output_shape): the class token keeps
  // its value. Methods that perturb one layer's activations (AblationCAM, ShapleyCAM's
  // finite difference) pay for the rest of the network only. After a forward, passing the layer's
  // own output reproduces that forward. Needs every value kept (plan_all).
  void forward_after(int layer, const float* output);
  // Runs node i alone on the values as they are (after a forward: its inputs are valid). Profiling;
  // needs every value kept (plan_all).
  void run_node(int i);

  // `batch` images through the network in one forward pass (Score-CAM's masked inputs): `inputs`
  // holds them one after another, each as forward() takes it. Every value is laid out [batch, ...],
  // image b's block holding what a single forward would, and an op with
  // OpFlags::batched_forward runs all the images at once (a convolution or a dense layer reads each weight
  // once per batch) where its weights outweigh one image's input and output (the late layers of a
  // CNN: below that, reading the weights costs less than the batch's values leaving the cache);
  // every other node runs its single-image forward on each image. Image b's logits and
  // probabilities are then the same floats as forward(image b) gives. The pass keeps only the
  // input and the logits, in memory of its own: the single-image plan and its values stay as they
  // were. The memory is kept for the next batch of the same size.
  void forward_batch(const float* inputs, int batch);
  Floats batch_logits(int image) const { return {batch_.logits.data() + size_t(image) * logits_.size(), logits_.size()}; }
  Floats batch_probabilities(int image) const { return {batch_.probs.data() + size_t(image) * probs_.size(), probs_.size()}; }
  // The floats a batched forward holds per image (values and scratch): a caller's memory budget
  // divided by it is the largest batch that fits.
  size_t batch_floats_per_image() const;
  // The weights a batched forward reads once per batch (of the nodes that run it whole): what a
  // batch saves reading, B - 1 times.
  size_t batch_weight_floats() const;

  // The passes from here on keep what `needs` names (and the input and the logits), until the next
  // plan. A backward must stop at or above needs.stop. Cheap when the plan does not change; the
  // memory grows to the largest plan used. A keep_all network ignores it.
  // Errors when the pass would hold more than this platform can (ModelLimits::kMaxPassBytes).
  Status plan_pass(const PassNeeds& needs);
  // Every output and gradient kept (as when built).
  Status plan_all();
  bool planned() const { return !values_.empty(); }
  // The floats the current plan holds for values and gradients together.
  size_t planned_floats() const { return planned_floats_; }
  // The floats a pass with these needs would hold (plan_pass's memory), without planning it.
  size_t floats_for(const PassNeeds& needs) const;
  // The Relu or Clip node whose work node's epilogue does in the current plan (-1: none): a pass
  // that keeps neither the convolution's output nor every value fuses the activation after it
  // (engine/src/graph/activation_fusion.h). Its output is then never written.
  int fused_activation(int node) const { return fused_.empty() ? -1 : fused_[size_t(node)]; }

  // Seeds d(score)/d(logits) and propagates back to the output of node `stop` (-1: the input).
  // After it, output_grad(i) is valid for every i >= stop that the plan keeps, and input_grad() when
  // stop == -1.
  void backward(const float* dscore_dlogits, int stop, ReluBackward relu = ReluBackward::standard);

  // Valid for the nodes the plan keeps (every node, unless plan_pass said otherwise). A node whose
  // output is a map (Value::map: an image, or a token grid) gives that h x w x c map, which is
  // output_shape; any other, its whole value (a [1, n] vector: 1 x 1 x n).
  Floats output(int node) const { return map_of(graph_->nodes[size_t(node)].output, values_); }
  Floats output_grad(int node) const { return map_of(graph_->nodes[size_t(node)].output, grads_); }
  const Shape& output_shape(int node) const {
    const Value& v = graph_->output_of(node);
    return v.map.is_map() ? v.map.grid : v.shape;
  }
  Floats input() const { return value(0); }
  Floats input_grad() const { return grad(0); }
  const std::vector<float>& logits() const { return logits_; }
  const std::vector<float>& probabilities() const { return probs_; }

 private:
  // Runs nodes first..end and reads the logits and probabilities off the output.
  void run_from(int first);
  // Where each value and gradient lives for these needs (nullopt needs: every one kept), as offsets
  // into one arena, and the arena's size.
  // (Not gradcam::Layout, which says how one value's floats are ordered: this is where the pass's
  // values sit in memory.)
  struct ArenaLayout {
    std::vector<size_t> value, grad;  // per value id; kNone: not held
    size_t floats = 0;
    std::vector<int> fused;  // per node: the activation fused into it, or -1
  };
  static constexpr size_t kNone = size_t(-1);
  ArenaLayout arena_layout(const PassNeeds* needs) const;
  Status apply(const ArenaLayout& arena);
  void lay_out() {  // before a pass: every value kept unless a plan says otherwise
    if (values_.empty()) (void)plan_all();  // within the limit: a forward needs no more than explain checked
  }
  Floats value(int v) const { return {values_[size_t(v)], size_t(graph_->values[size_t(v)].shape.size())}; }
  Floats map_of(int v, const std::vector<float*>& held) const {
    const Value& value = graph_->values[size_t(v)];
    if (!value.map.is_map()) return {held[size_t(v)], size_t(value.shape.size())};
    return {held[size_t(v)] + value.map.offset, size_t(value.map.grid.size())};
  }
  Floats grad(int v) const { return {grads_[size_t(v)], size_t(graph_->values[size_t(v)].shape.size())}; }

  const Model& model_;
  std::shared_ptr<const Graph> graph_;
  std::vector<std::unique_ptr<Network>> peers_;
  std::vector<NodePlan> plans_;
  std::unique_ptr<float[]> arena_;  // every value and gradient; uninitialised
  size_t arena_floats_ = 0, planned_floats_ = 0;
  bool plans_by_pass_ = false;
  bool planned_all_ = false;
  PassNeeds planned_;                     // the current plan, when not planned_all_
  std::vector<float*> values_, grads_;  // per value, into arena_ (nullptr: not held); [0] is the input
  std::vector<int> fused_;                // per node: the activation its epilogue computes, or -1
  std::vector<char> done_by_producer_;    // per node: a fused activation, skipped in the forward
  std::vector<float> logits_, probs_;
  Scratch scratch_;
  std::vector<float> accumulate_;  // gradients to be added into an input's (shared by the node's slots)
  // Per node, its inputs' pointers (forward) and their gradients' destinations (backward), planned.
  std::vector<std::vector<const float*>> in_;
  std::vector<std::vector<float*>> gin_;
  std::vector<int> last_consumer_;  // per value, in topological order (-1: none)
  // Per node and input: add the gradient into the input's (another consumer wrote it first).
  std::vector<std::vector<char>> accumulate_slot_;
  ScratchSizes scratch_sizes_;  // one image's
  // The batched forward's own memory and pointers, planned for `batch` images.
  struct BatchPass {
    int batch = 0;
    std::unique_ptr<float[]> arena;
    std::vector<float*> values;                   // per value: image 0's block, the others after it
    std::vector<std::vector<const float*>> in;    // per node, its inputs
    std::vector<const float*> image_in;           // one image's inputs, for an op run per image
    std::vector<char> whole;                      // per node: the batch at once (else image by image)
    std::vector<int> fused;                       // per node: the activation fused into it, as the single pass's plan
    std::vector<char> done_by_producer;           // per node: a fused activation, run by its producer
    Scratch scratch;
    std::vector<float> logits, probs;             // batch x classes
  };
  BatchPass batch_;
  void plan_batch(int batch);
};

}  // namespace gradcam
