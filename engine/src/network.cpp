#include "gradcam/network.h"

#include <algorithm>
#include <cmath>

namespace gradcam {

using kernels::ConvGeometry;

Network::Network(const Model& model) : model_(model) {
  const Architecture& a = model.arch;
  const int n = int(a.layers.size());
  planned_.resize(size_t(n));
  outputs_.resize(size_t(n));
  grads_.resize(size_t(n));
  pool_argmax_.resize(size_t(n));
  input_.assign(size_t(a.height) * a.width * a.channels, 0.f);
  input_grad_.assign(input_.size(), 0.f);
  size_t scratch = 0, grad_scratch = 0;
  for (int i = 0; i < n; ++i) {
    const LayerSpec& l = a.layers[size_t(i)];
    Planned& p = planned_[size_t(i)];
    outputs_[size_t(i)].assign(size_t(l.output.size()), 0.f);
    grads_[size_t(i)].assign(size_t(l.output.size()), 0.f);
    if (l.type == LayerType::conv2d) {
      p.geometry = kernels::conv_geometry(l.input.h, l.input.w, l.input.c, l.output.h, l.output.w, l.output.c,
                                          l.kernel_h, l.kernel_w, l.stride_h, l.stride_w, l.padding == Padding::same);
      p.kernel = model.param(l.name, "kernel").data();
      p.bias = model.param(l.name, "bias").data();
      p.kernel_t.resize(model.param(l.name, "kernel").size());
      kernels::transpose_kernel(p.geometry, p.kernel, p.kernel_t.data());
      scratch = std::max(scratch, size_t(p.geometry.ph) * p.geometry.pw * p.geometry.ic);
      grad_scratch = std::max(grad_scratch, size_t(l.output.size()));
    } else if (l.type == LayerType::max_pool2d) {
      p.geometry = kernels::conv_geometry(l.input.h, l.input.w, l.input.c, l.output.h, l.output.w, l.output.c,
                                          l.pool_h, l.pool_w, l.stride_h, l.stride_w, l.padding == Padding::same);
      pool_argmax_[size_t(i)].assign(size_t(l.output.size()), 0);
    } else if (l.type == LayerType::dense) {
      p.kernel = model.param(l.name, "kernel").data();
      p.bias = model.param(l.name, "bias").data();
      grad_scratch = std::max(grad_scratch, size_t(l.output.size()));
    } else if (l.type == LayerType::batch_norm) {
      const auto& gamma = model.param(l.name, "gamma");
      const auto& beta = model.param(l.name, "beta");
      const auto& mean = model.param(l.name, "moving_mean");
      const auto& var = model.param(l.name, "moving_variance");
      p.bn_scale.resize(gamma.size());
      p.bn_shift.resize(gamma.size());
      for (size_t c = 0; c < gamma.size(); ++c) {
        p.bn_scale[c] = gamma[c] / std::sqrt(var[c] + l.epsilon);
        p.bn_shift[c] = beta[c] - mean[c] * p.bn_scale[c];
      }
    }
  }
  scratch_padded_.assign(scratch, 0.f);
  scratch_grad_.assign(grad_scratch, 0.f);
  logits_.assign(size_t(a.layers.back().output.c), 0.f);
  probs_.assign(logits_.size(), 0.f);
}

void Network::layer_forward(int i, const float* in, float* out) {
  const LayerSpec& l = model_.arch.layers[size_t(i)];
  Planned& p = planned_[size_t(i)];
  const size_t in_size = size_t(l.input.size());
  switch (l.type) {
    case LayerType::conv2d:
      kernels::pad_input(p.geometry, in, scratch_padded_.data());
      kernels::conv2d_forward(p.geometry, scratch_padded_.data(), p.kernel, p.bias, l.activation == Activation::relu,
                              out);
      break;
    case LayerType::max_pool2d: {
      const ConvGeometry& g = p.geometry;
      kernels::max_pool_forward(g.ih, g.iw, g.ic, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.pad_t, g.pad_l, in, out,
                                pool_argmax_[size_t(i)].data());
      break;
    }
    case LayerType::dense:
      // The last layer's softmax is applied separately: out holds the logits.
      kernels::dense_forward(int(in_size), l.output.c, in, p.kernel, p.bias, l.activation == Activation::relu, out);
      break;
    case LayerType::batch_norm: {
      const int c = l.input.c;
      for (size_t k = 0; k < in_size; ++k) out[k] = in[k] * p.bn_scale[k % size_t(c)] + p.bn_shift[k % size_t(c)];
      break;
    }
    case LayerType::dropout:  // identity at inference
    case LayerType::flatten:  // HWC row-major is already Keras's flatten order
      std::copy(in, in + in_size, out);
      break;
  }
}

void Network::forward(const float* input) {
  std::copy(input, input + input_.size(), input_.begin());
  forward_from(0, input_.data());
}

void Network::forward_from(int first, const float* x) {
  const float* in = x;
  for (int i = first; i < layer_count(); ++i) {
    layer_forward(i, in, outputs_[size_t(i)].data());
    in = outputs_[size_t(i)].data();
  }
  std::copy(in, in + logits_.size(), logits_.begin());
  // Softmax with the maximum subtracted, so large logits do not overflow.
  float m = *std::max_element(logits_.begin(), logits_.end());
  double sum = 0;
  for (size_t k = 0; k < logits_.size(); ++k) sum += probs_[k] = std::exp(logits_[k] - m);
  for (float& v : probs_) v = float(v / sum);
}

void Network::layer_backward(int i, const float* gout, float* gin, ReluBackward relu) {
  const LayerSpec& l = model_.arch.layers[size_t(i)];
  Planned& p = planned_[size_t(i)];
  const float* out = outputs_[size_t(i)].data();
  const size_t in_size = size_t(l.input.size()), out_size = size_t(l.output.size());
  // d(pre-activation) = d(output) masked by the ReLU (and, for guided backprop, by the sign of
  // the incoming gradient).
  const float* gpre = gout;
  if ((l.type == LayerType::conv2d || l.type == LayerType::dense) && l.activation == Activation::relu) {
    float* g = scratch_grad_.data();
    if (relu == ReluBackward::guided)
      for (size_t k = 0; k < out_size; ++k) g[k] = out[k] > 0.f && gout[k] > 0.f ? gout[k] : 0.f;
    else
      for (size_t k = 0; k < out_size; ++k) g[k] = out[k] > 0.f ? gout[k] : 0.f;
    gpre = g;
  }
  switch (l.type) {
    case LayerType::conv2d:
      kernels::conv2d_backward_input(p.geometry, gpre, p.kernel_t.data(), scratch_padded_.data());
      kernels::crop_padded(p.geometry, scratch_padded_.data(), gin);
      break;
    case LayerType::max_pool2d:
      kernels::max_pool_backward(int(in_size), int(out_size), gout, pool_argmax_[size_t(i)].data(), gin);
      break;
    case LayerType::dense:
      kernels::dense_backward_input(int(in_size), l.output.c, gpre, p.kernel, gin);
      break;
    case LayerType::batch_norm: {
      const int c = l.input.c;
      for (size_t k = 0; k < in_size; ++k) gin[k] = gout[k] * p.bn_scale[k % size_t(c)];
      break;
    }
    case LayerType::dropout:
    case LayerType::flatten:
      std::copy(gout, gout + in_size, gin);
      break;
  }
}

void Network::backward(const float* dscore_dlogits, int stop, ReluBackward relu) {
  const int last = layer_count() - 1;
  std::copy(dscore_dlogits, dscore_dlogits + logits_.size(), grads_[size_t(last)].begin());
  for (int i = last; i > stop; --i) {
    float* gin = i > 0 ? grads_[size_t(i - 1)].data() : input_grad_.data();
    layer_backward(i, grads_[size_t(i)].data(), gin, relu);
  }
}

}  // namespace gradcam
