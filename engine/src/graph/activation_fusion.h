// A Relu or Clip (ReLU6) fused into the convolution that feeds it: the convolution's epilogue
// clamps each output as it stores it, straight into the activation's output, and the activation's
// own pass is skipped. In MobileNetV2 that pass read and wrote tensors of up to 4.8 MB, a tenth of
// the forward, and the convolution's own output need not be written at all.
//
// A pass fuses a pair only where nothing reads the convolution's output once the pass is done:
// the activation is its one consumer, and the pass does not keep it (it is not an explained layer;
// a network that keeps every value fuses nothing). The backward is unchanged: the activation's
// gradient reads its output alone (y > 0 for Relu, lo < y < hi for Clip: the same masks as on its
// input), and a convolution's backward does not read its output.
#pragma once
#include <vector>

#include "gradcam/graph.h"

namespace gradcam {

// Per node: the activation node fused into its epilogue, or -1. `kept`: per value, whether the
// pass keeps it for reading afterwards.
std::vector<int> fuse_activations(const Graph& g, const std::vector<char>& kept);

// The clamp that does the work of a fused activation node, as ForwardArgs carries it.
void set_fused_clamp(const Node& activation, ForwardArgs& args);

}  // namespace gradcam
