// What the op descriptors share: reading ONNX attributes, wording errors, and the trivial forms of
// forward/backward (copy) that several ops use.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "gradcam/graph.h"
#include "formats/onnx.h"
#include "kernels/kernels.h"

namespace gradcam::ops {

// "node '/layer1/conv/Conv' (Conv): " — every import and shape error starts so.
std::string where(const Node& n);
std::string where(const onnx::Node& n);

int64_t attr_int(const onnx::Node& n, const char* name, int64_t fallback);
float attr_float(const onnx::Node& n, const char* name, float fallback);
std::string attr_string(const onnx::Node& n, const char* name, const std::string& fallback = "");
// An INTS attribute, or `fallback` when absent.
std::vector<int64_t> attr_ints(const onnx::Node& n, const char* name, std::vector<int64_t> fallback = {});

// Reads kernel_shape/strides/dilations/pads/auto_pad of a 2-D window op into attrs; `kernel`
// (from the weight for Conv) is used when kernel_shape is absent.
Status read_window(const onnx::Node& n, OpAttributes& a, int kernel_h, int kernel_w);
// Output size of a window over `in` (explicit padding, or auto_pad resolved into the pads).
Status window_output(const Node& n, OpAttributes& a, int ih, int iw, int& oh, int& ow);
// The geometry the kernels take, from the attrs after shape inference.
kernels::ConvGeometry window_geometry(const Node& n, const Shape& in, const Shape& out);

Status require_rank4(const Graph& g, const Node& n, int slot = 0);

// Shared forward/backward of ops that pass their input through unchanged.
void copy_forward(const Node& n, NodePlan& p, const ForwardArgs& a);
void copy_backward(const Node& n, NodePlan& p, const BackwardArgs& a);
Status same_shape(const Graph& g, Node& n, Value& out);
void plan_nothing(const Graph& g, const Node& n, NodePlan& p, ScratchSizes& s);

// d(pre-activation) of a ReLU from d(output): gout where the output is positive (guided backprop:
// and where gout is positive too; deconvnet: ReLU(gout) wherever). Writes into `scratch`, returns it.
const float* relu_mask(const float* out, const float* gout, size_t n, ReluBackward rule, float* scratch);

// Node's input value, and its size.
inline const Value& input_value(const Graph& g, const Node& n, int slot = 0) { return g.value(n.inputs[size_t(slot)]); }

}  // namespace gradcam::ops
