#include "op_support.h"

#include <cstring>

namespace gradcam::ops {

std::string where(const Node& n) { return "node '" + n.name + "' (" + n.op_type + "): "; }
std::string where(const onnx::Node& n) {
  return "node '" + onnx::printable(n.name) + "' (" + onnx::printable(n.op_type) + "): ";
}

int64_t attr_int(const onnx::Node& n, const char* name, int64_t fallback) {
  const onnx::Attribute* a = n.attribute(name);
  return a && a->kind == onnx::Attribute::Kind::i ? a->i : fallback;
}

float attr_float(const onnx::Node& n, const char* name, float fallback) {
  const onnx::Attribute* a = n.attribute(name);
  return a && a->kind == onnx::Attribute::Kind::f ? a->f : fallback;
}

std::string attr_string(const onnx::Node& n, const char* name, const std::string& fallback) {
  const onnx::Attribute* a = n.attribute(name);
  return a && a->kind == onnx::Attribute::Kind::s ? a->s : fallback;
}

std::vector<int64_t> attr_ints(const onnx::Node& n, const char* name, std::vector<int64_t> fallback) {
  const onnx::Attribute* a = n.attribute(name);
  return a && a->kind == onnx::Attribute::Kind::ints ? a->ints : fallback;
}

namespace {
bool small_positive(int64_t v) { return v >= 1 && v <= 4096; }
}  // namespace

Status read_window(const onnx::Node& n, OpAttributes& a, int kernel_h, int kernel_w) {
  const auto k = attr_ints(n, "kernel_shape", {kernel_h, kernel_w});
  const auto s = attr_ints(n, "strides", {1, 1});
  const auto d = attr_ints(n, "dilations", {1, 1});
  const auto p = attr_ints(n, "pads", {0, 0, 0, 0});
  if (k.size() != 2 || s.size() != 2 || d.size() != 2 || p.size() != 4)
    return make_error(where(n) + "only 2-D windows are supported (kernel_shape, strides, dilations of 2 values, pads of 4)");
  for (int64_t v : {k[0], k[1], s[0], s[1], d[0], d[1]})
    if (!small_positive(v)) return make_error(where(n) + "kernel, strides and dilations must be 1..4096");
  for (int64_t v : p)
    if (v < 0 || v > 4096) return make_error(where(n) + "pads must be 0..4096");
  a.kh = int(k[0]), a.kw = int(k[1]), a.sh = int(s[0]), a.sw = int(s[1]), a.dh = int(d[0]), a.dw = int(d[1]);
  // ONNX pads are [x1_begin, x2_begin, x1_end, x2_end]: top, left, bottom, right.
  a.pad_t = int(p[0]), a.pad_l = int(p[1]), a.pad_b = int(p[2]), a.pad_r = int(p[3]);
  a.auto_pad = attr_string(n, "auto_pad", "NOTSET");
  if (a.auto_pad != "NOTSET" && a.auto_pad != "SAME_UPPER" && a.auto_pad != "SAME_LOWER" && a.auto_pad != "VALID")
    return make_error(where(n) + "unknown auto_pad \"" + a.auto_pad + "\"");
  return {};
}

Status window_output(const Node& n, OpAttributes& a, int ih, int iw, int& oh, int& ow) {
  const int ekh = a.dh * (a.kh - 1) + 1, ekw = a.dw * (a.kw - 1) + 1;  // dilated extent
  if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") {
    oh = (ih + a.sh - 1) / a.sh, ow = (iw + a.sw - 1) / a.sw;
    const int ph = std::max((oh - 1) * a.sh + ekh - ih, 0), pw = std::max((ow - 1) * a.sw + ekw - iw, 0);
    const bool upper = a.auto_pad == "SAME_UPPER";  // the extra pixel goes at the end
    a.pad_t = upper ? ph / 2 : ph - ph / 2, a.pad_b = ph - a.pad_t;
    a.pad_l = upper ? pw / 2 : pw - pw / 2, a.pad_r = pw - a.pad_l;
  } else {
    if (a.auto_pad == "VALID") a.pad_t = a.pad_l = a.pad_b = a.pad_r = 0;
    const int span_h = ih + a.pad_t + a.pad_b - ekh, span_w = iw + a.pad_l + a.pad_r - ekw;
    if (span_h < 0 || span_w < 0)
      return make_error(where(n) + "the window (" + std::to_string(ekh) + "x" + std::to_string(ekw) +
                        ") is larger than its padded input (" + std::to_string(ih + a.pad_t + a.pad_b) + "x" +
                        std::to_string(iw + a.pad_l + a.pad_r) + ")");
    oh = span_h / a.sh + 1, ow = span_w / a.sw + 1;
    if (a.ceil_mode) {
      oh = (span_h + a.sh - 1) / a.sh + 1, ow = (span_w + a.sw - 1) / a.sw + 1;
      // The last window must start inside the input or its leading padding (PyTorch's rule).
      if ((oh - 1) * a.sh >= ih + a.pad_t) --oh;
      if ((ow - 1) * a.sw >= iw + a.pad_l) --ow;
    }
  }
  if (oh < 1 || ow < 1) return make_error(where(n) + "the output would be empty");
  return {};
}

kernels::ConvGeometry window_geometry(const Node& n, const Shape& in, const Shape& out) {
  const OpAttributes& a = n.attrs;
  kernels::ConvGeometry g{};
  g.ih = in.h, g.iw = in.w, g.ic = in.c, g.oh = out.h, g.ow = out.w, g.oc = out.c;
  g.kh = a.kh, g.kw = a.kw, g.sh = a.sh, g.sw = a.sw, g.pad_t = a.pad_t, g.pad_l = a.pad_l;
  g.dh = a.dh, g.dw = a.dw, g.groups = a.groups, g.pad_b = a.pad_b, g.pad_r = a.pad_r;
  const int ekh = a.dh * (a.kh - 1) + 1, ekw = a.dw * (a.kw - 1) + 1;
  g.ph = std::max((out.h - 1) * a.sh + ekh, a.pad_t + in.h);
  g.pw = std::max((out.w - 1) * a.sw + ekw, a.pad_l + in.w);
  return g;
}

Status require_rank4(const Graph& g, const Node& n, int slot) {
  if (input_value(g, n, slot).rank != 4)
    return make_error(where(n) + "needs a 4-D input, got the 2-D '" + input_value(g, n, slot).name + "'");
  return {};
}

void copy_forward(const Node& n, NodePlan&, const ForwardArgs& a) {
  // The output has the input's size by construction (same_shape or a reshape of it).
  std::memcpy(a.out, a.in[0], sizeof(float) * size_t(a.graph.value(n.output).shape.size()));
}

void copy_backward(const Node& n, NodePlan&, const BackwardArgs& a) {
  std::memcpy(a.gin[0], a.gout, sizeof(float) * size_t(a.graph.value(n.output).shape.size()));
}

Status same_shape(const Graph& g, Node& n, Value& out) {
  const Value& in = input_value(g, n);
  out.shape = in.shape;
  out.rank = in.rank;
  out.layout = in.layout;
  out.dims = in.dims;
  return {};
}

const float* relu_mask(const float* out, const float* gout, size_t n, ReluBackward rule, float* g) {
  if (rule == ReluBackward::deconvnet)
    for (size_t k = 0; k < n; ++k) g[k] = gout[k] > 0.f ? gout[k] : 0.f;
  else if (rule == ReluBackward::guided)
    for (size_t k = 0; k < n; ++k) g[k] = out[k] > 0.f && gout[k] > 0.f ? gout[k] : 0.f;
  else
    for (size_t k = 0; k < n; ++k) g[k] = out[k] > 0.f ? gout[k] : 0.f;
  return g;
}

void plan_nothing(const Graph&, const Node&, NodePlan&, ScratchSizes&) {}

}  // namespace gradcam::ops
