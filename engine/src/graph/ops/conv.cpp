// Conv: 2-D convolution with groups (depthwise included), strides, dilations, explicit or automatic
// padding, and an optional fused ReLU (Keras's conv2d activation) or a clamp that the network fuses
// into it (a Relu or Clip after it: graph/activation_fusion.h), applied as each output is stored.
// The kernel is kept as [kh][kw][ic/groups][oc] (Keras's layout; ONNX's [oc][ic/groups][kh][kw] is
// transposed on import).
// Planning picks the kernel: Winograd F(2x2,3x3) for dense 3x3 stride-1 convolutions, the direct
// register-tiled kernel for other dense ones, a channel-vectorised depthwise kernel, and a general
// grouped/dilated one. The kernel's backward form is made when a backward first needs it.
#include <algorithm>
#include <cstring>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

enum Variant { direct = 0, winograd = 1, depthwise = 2, grouped = 3 };

// The padded copy of the input would equal the input: the kernels can read the input itself.
bool unpadded(const kernels::ConvGeometry& g) { return g.ph == g.ih && g.pw == g.iw; }

Status import_conv(const OnnxImport& in, Node& n) {
  const onnx::Tensor* w = in.constant(1);
  if (!w || w->dims.size() != 4 || w->floats.empty())
    return make_error(where(in.node) + "the weight W must be a constant 4-D float tensor");
  const int oc = int(w->dims[0]), icg = int(w->dims[1]), kh = int(w->dims[2]), kw = int(w->dims[3]);
  if (Status s = read_window(in.node, n.attrs, kh, kw); !s) return s;
  if (n.attrs.kh != kh || n.attrs.kw != kw) return make_error(where(in.node) + "kernel_shape does not match W's shape");
  const int64_t groups = attr_int(in.node, "group", 1);
  if (groups < 1 || groups > oc || oc % groups != 0)
    return make_error(where(in.node) + "group must divide the " + std::to_string(oc) + " output channels");
  n.attrs.groups = int(groups);
  n.attrs.out_channels = oc;
  std::vector<float> kernel(w->floats.size());
  for (int o = 0; o < oc; ++o)
    for (int c = 0; c < icg; ++c)
      for (int y = 0; y < kh; ++y)
        for (int x = 0; x < kw; ++x)
          kernel[((size_t(y) * kw + x) * icg + c) * oc + o] = w->floats[((size_t(o) * icg + c) * kh + y) * kw + x];
  std::vector<float> bias(size_t(oc), 0.f);
  if (const onnx::Tensor* b = in.constant(2)) {
    if (b->floats.size() != size_t(oc)) return make_error(where(in.node) + "the bias B must have one value per output channel");
    bias = b->floats;
  } else if (in.node.inputs.size() > 2 && !in.node.inputs[2].empty()) {
    return make_error(where(in.node) + "the bias B must be a constant");
  }
  // Not `= {kernel, bias}`: an initializer list's elements are const, so it would copy the kernel.
  n.weights.clear();
  n.weights.push_back(std::move(kernel));
  n.weights.push_back(std::move(bias));
  return {};
}

// A node built from a layer without bias (Keras use_bias=False) may carry its kernel alone: the bias
// is zeros. Keras layers map here directly: Conv2D (groups g: kernel [kh,kw,ic/g,oc], output
// channels grouped contiguously), DepthwiseConv2D (groups = ic, oc = ic*m: its kernel [kh,kw,ic,m]
// is already this layout, [kh][kw][1][ic*m] with output channel c*m + k reading input channel c, as
// tf.nn.depthwise_conv2d defines output[..., c*m + k]), and SeparableConv2D as that then a 1x1.
Status infer_conv(const Graph& g, Node& n, Value& out) {
  if (Status s = require_rank4(g, n); !s) return s;
  const Shape& in = input_value(g, n).shape;
  OpAttributes& a = n.attrs;
  if (a.out_channels < 1 || a.groups < 1 || a.out_channels % a.groups != 0 || n.weights.empty() || n.weights.size() > 2)
    return make_error(where(n) + "needs a kernel (and a bias) and groups dividing its " + std::to_string(a.out_channels) +
                      " output channels");
  const size_t taps = size_t(a.kh) * a.kw * size_t(a.out_channels);
  const int icg = int(n.weights[0].size() / taps);
  if (icg < 1 || size_t(icg) * taps != n.weights[0].size())
    return make_error(where(n) + "the kernel has " + std::to_string(n.weights[0].size()) + " values, not a multiple of " +
                      std::to_string(a.kh) + "x" + std::to_string(a.kw) + "x" + std::to_string(a.out_channels));
  if (n.weights.size() == 1) n.weights.emplace_back(size_t(a.out_channels), 0.f);
  if (n.weights[1].size() != size_t(a.out_channels))
    return make_error(where(n) + "the bias has " + std::to_string(n.weights[1].size()) + " values, not one per output channel (" +
                      std::to_string(a.out_channels) + ")");
  if (icg * a.groups != in.c)
    return make_error(where(n) + "expects " + std::to_string(icg * a.groups) + " input channels, its input has " +
                      std::to_string(in.c));
  int oh = 0, ow = 0;
  if (Status s = window_output(n, a, in.h, in.w, oh, ow); !s) return s;
  out.shape = {oh, ow, a.out_channels};
  out.rank = 4;
  return {};
}

void plan_conv(const Graph& gr, const Node& n, NodePlan& p, ScratchSizes& s) {
  const Shape& in = input_value(gr, n).shape;
  const Shape& out = gr.value(n.output).shape;
  p.geometry = window_geometry(n, in, out);
  const kernels::ConvGeometry& g = p.geometry;
  const float* kernel = n.weights[0].data();
  s.at_least(s.padded, size_t(g.ph) * g.pw * g.ic);
  s.at_least(s.grad, size_t(out.size()));  // the ReLU-masked gradient
  if (g.groups == g.ic && g.groups == g.oc && g.groups > 1) {
    p.variant = depthwise;
  } else if (g.groups > 1 || g.dh != 1 || g.dw != 1) {
    p.variant = grouped;
  } else if (g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.pad_t <= 2 && g.pad_l <= 2 &&
             g.oh - g.ih + 2 - g.pad_t <= 2 && g.ow - g.iw + 2 - g.pad_l <= 2 && g.ph == g.oh + 2 && g.pw == g.ow + 2) {
    p.variant = winograd;
    p.a.resize(size_t(kernels::kWinogradPositions) * g.ic * g.oc);
    kernels::winograd_transform_kernel(kernel, g.ic, g.oc, p.a.data());
    s.at_least(s.winograd, std::max(kernels::winograd_scratch_floats(g.oh, g.ow, g.ic, g.oc),
                                    kernels::winograd_scratch_floats(g.ih, g.iw, g.oc, g.ic)));
    s.at_least(s.padded, size_t(g.ih + 2) * (g.iw + 2) * g.oc);
  } else {
    p.variant = direct;
    // A 1x1 stride-1 convolution without padding is a per-pixel matrix product: as one long row it
    // runs in full register tiles across the ends of the image's rows.
    if (g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && unpadded(g)) {
      const int pixels = g.ih * g.iw;  // before g (p.geometry) changes
      p.geometry.ih = p.geometry.oh = p.geometry.ph = 1;
      p.geometry.iw = p.geometry.ow = p.geometry.pw = pixels;
    }
    p.a.resize(n.weights[0].size());
    kernels::pack_conv_kernel(p.geometry, kernel, p.a.data());
  }
}

// The kernel in the form the backward reads (p.b), made by the first backward through the node: a
// pass that explains a late layer never runs the early convolutions backward, and the form is as
// large as the kernel (a Winograd one 16/9 of it).
void plan_conv_backward(const Node& n, NodePlan& p) {
  const kernels::ConvGeometry& g = p.geometry;
  const float* kernel = n.weights[0].data();
  if (p.variant == winograd) {
    // d(input) = valid 3x3 convolution of the gradient padded by (2 - pad), with
    // Kb[qy][qx][o][c] = K[2-qy][2-qx][c][o].
    std::vector<float> flipped(size_t(9) * g.ic * g.oc);
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x)
        for (int c = 0; c < g.ic; ++c)
          for (int o = 0; o < g.oc; ++o)
            flipped[((size_t(y) * 3 + x) * g.oc + o) * g.ic + c] = kernel[((size_t(2 - y) * 3 + (2 - x)) * g.ic + c) * g.oc + o];
    p.b.resize(size_t(kernels::kWinogradPositions) * g.ic * g.oc);
    kernels::winograd_transform_kernel(flipped.data(), g.oc, g.ic, p.b.data());
  } else if (p.variant == direct) {
    p.b.resize(n.weights[0].size());
    kernels::transpose_kernel(p.geometry, kernel, p.b.data());
  }
}

// A batch (a.batch images one after another) goes through the Winograd and direct kernels at once,
// so their kernels are read once per batch; the depthwise and grouped ones, whose kernels are
// small, run image by image.
void forward_conv(const Node& n, NodePlan& p, const ForwardArgs& a) {
  const kernels::ConvGeometry& g = p.geometry;
  const float* kernel = n.weights[0].data();
  const float* bias = n.weights[1].data();
  const size_t in_size = size_t(g.ih) * g.iw * g.ic, padded_size = size_t(g.ph) * g.pw * g.ic;
  const size_t out_size = size_t(g.oh) * g.ow * g.oc;
  const float* padded = a.in[0];
  if (!unpadded(g)) {
    for (int b = 0; b < a.batch; ++b) kernels::pad_input(g, a.in[0] + b * in_size, a.scratch.padded.data() + b * padded_size);
    padded = a.scratch.padded.data();
  }
  const kernels::Clamp clamp = n.attrs.relu ? kernels::Clamp::relu() : kernels::Clamp{a.clamp_lo, a.clamp_hi};
  switch (p.variant) {
    case winograd:
      kernels::winograd_conv3x3(padded, g.oh, g.ow, g.ic, g.oc, p.a.data(), bias, clamp, a.out,
                                a.scratch.winograd.data(), a.batch);
      return;
    case direct:
      kernels::conv2d_forward(g, padded, p.a.data(), bias, clamp, a.out, a.batch);
      return;
    case depthwise:
      for (int b = 0; b < a.batch; ++b)
        kernels::depthwise_conv_forward(g, padded + b * padded_size, kernel, bias, a.out + b * out_size, clamp);
      return;
    case grouped:
      for (int b = 0; b < a.batch; ++b)
        kernels::grouped_conv_forward(g, padded + b * padded_size, kernel, bias, a.out + b * out_size);
      break;
  }
  if (clamp.active())
    for (size_t k = 0; k < out_size * size_t(a.batch); ++k) a.out[k] = clamp(a.out[k]);
}

// Reads its output only for its own ReLU: a clamp fused into it belongs to the activation node,
// whose backward runs before this one.
void backward_conv(const Node& n, NodePlan& p, const BackwardArgs& a) {
  const kernels::ConvGeometry& g = p.geometry;
  if (p.b.empty()) plan_conv_backward(n, p);
  const float* gpre = a.gout;
  if (n.attrs.relu) gpre = relu_mask(a.out, a.gout, size_t(g.oh) * g.ow * g.oc, a.relu, a.scratch.grad.data());
  float* padded = a.scratch.padded.data();
  switch (p.variant) {
    case winograd: {
      const int gh = g.ih + 2, gw = g.iw + 2, top = 2 - g.pad_t, left = 2 - g.pad_l;
      std::fill(padded, padded + size_t(gh) * gw * g.oc, 0.f);
      for (int y = 0; y < g.oh; ++y)
        std::copy(gpre + size_t(y) * g.ow * g.oc, gpre + size_t(y + 1) * g.ow * g.oc,
                  padded + (size_t(y + top) * gw + left) * g.oc);
      kernels::winograd_conv3x3(padded, g.ih, g.iw, g.oc, g.ic, p.b.data(), nullptr, kernels::Clamp{}, a.gin[0],
                                a.scratch.winograd.data());
      return;
    }
    case direct:
      kernels::conv2d_backward_input(g, gpre, p.b.data(), padded);
      break;
    case depthwise:
      kernels::depthwise_conv_backward_input(g, gpre, n.weights[0].data(), padded);
      break;
    case grouped:
      kernels::grouped_conv_backward_input(g, gpre, n.weights[0].data(), padded);
      break;
  }
  kernels::crop_padded(g, padded, a.gin[0]);
}

}  // namespace

const OpDescriptor conv_op = {"Conv", import_conv, infer_conv, plan_conv, forward_conv, backward_conv, OpFlags::batched_forward};

}  // namespace gradcam::ops
