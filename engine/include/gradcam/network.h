// A network planned once (shapes, buffers, transformed kernels) and then run many times without
// allocating. Forward keeps every node's output; backward propagates a gradient from the logits down
// to any node's output (or the input), keeping every intermediate gradient, so the CAMs of all
// layers come from one forward and one backward pass. Where a value feeds several nodes (a residual
// connection), their gradients are summed.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "gradcam/graph.h"
#include "gradcam/model.h"

namespace gradcam {

class Network {
 public:
  explicit Network(const Model& model);  // model must outlive the network

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
  // values). Used by finite-difference checks of intermediate gradients and profiling.
  void forward_from(int first, const float* x);
  // The network from a layer on: node `layer`'s output is replaced by `output` (its shape's size)
  // and only the nodes after it run; values computed before it (a residual branch's input
  // included) keep theirs. Methods that perturb one layer's activations (AblationCAM, ShapleyCAM's
  // finite difference) pay for the rest of the network only. After a forward, passing the layer's
  // own output reproduces that forward.
  void forward_after(int layer, const float* output);
  // Runs node i alone on the values as they are (after a forward: its inputs are valid). Profiling.
  void run_node(int i);

  // Seeds d(score)/d(logits) and propagates back to the output of node `stop` (-1: the input).
  // After it, output_grad(i) is valid for every i >= stop and input_grad() when stop == -1.
  void backward(const float* dscore_dlogits, int stop, ReluBackward relu = ReluBackward::standard);

  const std::vector<float>& output(int node) const { return values_[size_t(graph_->nodes[size_t(node)].output)]; }
  const std::vector<float>& output_grad(int node) const { return grads_[size_t(graph_->nodes[size_t(node)].output)]; }
  const Shape& output_shape(int node) const { return graph_->output_of(node).shape; }
  const std::vector<float>& input() const { return values_[0]; }
  const std::vector<float>& input_grad() const { return grads_[0]; }
  const std::vector<float>& logits() const { return logits_; }
  const std::vector<float>& probabilities() const { return probs_; }

 private:
  // Runs nodes first..end and reads the logits and probabilities off the output.
  void run_from(int first);

  const Model& model_;
  std::shared_ptr<const Graph> graph_;
  std::vector<std::unique_ptr<Network>> peers_;
  std::vector<NodePlan> plans_;
  std::vector<std::vector<float>> values_, grads_;  // per value; [0] is the input
  std::vector<float> logits_, probs_;
  Scratch scratch_;
  std::vector<float> accumulate_;  // gradients to be added into an input's (shared by the node's slots)
  // Per node, its inputs' pointers (forward) and their gradients' destinations (backward), planned.
  std::vector<std::vector<const float*>> in_;
  std::vector<std::vector<float*>> gin_;
  // Per node and input: add the gradient into the input's (another consumer wrote it first).
  std::vector<std::vector<char>> accumulate_slot_;
};

}  // namespace gradcam
