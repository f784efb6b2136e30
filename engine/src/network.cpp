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
  input_.assign(size_t(a.height) * a.width * a.channels, 0.f);
  input_grad_.assign(input_.size(), 0.f);
  size_t scratch = 0, grad_scratch = 0, winograd_scratch = 0;
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
      const kernels::ConvGeometry& g = p.geometry;
      p.winograd = g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph == g.oh + 2 && g.pw == g.ow + 2;
      if (p.winograd) {
        p.winograd_forward.resize(size_t(kernels::kWinogradPositions) * g.ic * g.oc);
        kernels::winograd_transform_kernel(p.kernel, g.ic, g.oc, p.winograd_forward.data());
        // d(input) = valid 3x3 convolution of the gradient padded by (2 - pad), with
        // Kb[qy][qx][o][c] = K[2-qy][2-qx][c][o].
        std::vector<float> flipped(size_t(9) * g.ic * g.oc);
        for (int y = 0; y < 3; ++y)
          for (int x = 0; x < 3; ++x)
            for (int c = 0; c < g.ic; ++c)
              for (int o = 0; o < g.oc; ++o)
                flipped[((size_t(y) * 3 + x) * g.oc + o) * g.ic + c] = p.kernel[((size_t(2 - y) * 3 + (2 - x)) * g.ic + c) * g.oc + o];
        p.winograd_backward.resize(size_t(kernels::kWinogradPositions) * g.ic * g.oc);
        kernels::winograd_transform_kernel(flipped.data(), g.oc, g.ic, p.winograd_backward.data());
        winograd_scratch = std::max({winograd_scratch, kernels::winograd_scratch_floats(g.oh, g.ow, g.ic, g.oc),
                                     kernels::winograd_scratch_floats(g.ih, g.iw, g.oc, g.ic)});
        scratch = std::max(scratch, size_t(g.ih + 2) * (g.iw + 2) * g.oc);
      } else {
        p.kernel_t.resize(model.param(l.name, "kernel").size());
        kernels::transpose_kernel(p.geometry, p.kernel, p.kernel_t.data());
      }
      scratch = std::max(scratch, size_t(p.geometry.ph) * p.geometry.pw * p.geometry.ic);
      grad_scratch = std::max(grad_scratch, size_t(l.output.size()));
    } else if (l.type == LayerType::max_pool2d) {
      p.geometry = kernels::conv_geometry(l.input.h, l.input.w, l.input.c, l.output.h, l.output.w, l.output.c,
                                          l.pool_h, l.pool_w, l.stride_h, l.stride_w, l.padding == Padding::same);
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
  scratch_winograd_.assign(winograd_scratch, 0.f);
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
      if (p.winograd)
        kernels::winograd_conv3x3(scratch_padded_.data(), l.output.h, l.output.w, l.input.c, l.output.c,
                                  p.winograd_forward.data(), p.bias, l.activation == Activation::relu, out,
                                  scratch_winograd_.data());
      else
        kernels::conv2d_forward(p.geometry, scratch_padded_.data(), p.kernel, p.bias,
                                l.activation == Activation::relu, out);
      break;
    case LayerType::max_pool2d: {
      const ConvGeometry& g = p.geometry;
      kernels::max_pool_forward(g, in, out);
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
    case LayerType::conv2d: {
      const kernels::ConvGeometry& g = p.geometry;
      if (p.winograd) {
        const int gh = g.ih + 2, gw = g.iw + 2, top = 2 - g.pad_t, left = 2 - g.pad_l;
        float* padded = scratch_padded_.data();
        std::fill(padded, padded + size_t(gh) * gw * g.oc, 0.f);
        for (int y = 0; y < g.oh; ++y)
          std::copy(gpre + size_t(y) * g.ow * g.oc, gpre + size_t(y + 1) * g.ow * g.oc,
                    padded + (size_t(y + top) * gw + left) * g.oc);
        kernels::winograd_conv3x3(padded, g.ih, g.iw, g.oc, g.ic, p.winograd_backward.data(), nullptr, false, gin,
                                  scratch_winograd_.data());
      } else {
        kernels::conv2d_backward_input(g, gpre, p.kernel_t.data(), scratch_padded_.data());
        kernels::crop_padded(g, scratch_padded_.data(), gin);
      }
      break;
    }
    case LayerType::max_pool2d:
      kernels::max_pool_backward(p.geometry, i > 0 ? outputs_[size_t(i - 1)].data() : input_.data(), out, gout, gin);
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
