// Compute kernels on one image in HWC layout. Each kernel has a plain scalar reference
// (`*_reference`) that the tests compare the fast (xsimd) version against.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "gradcam/conv_geometry.h"

namespace gradcam::kernels {

// The activation a convolution applies to each output as it stores it: min(max(y, lo), hi). ReLU is
// [0, +inf), ReLU6 [0, 6]; the default changes nothing. A Relu or Clip fused into the convolution
// that feeds it (graph/activation_fusion.h) then costs no pass of its own over the output.
struct Clamp {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  static Clamp relu(bool on = true) { return on ? Clamp{0.f, std::numeric_limits<float>::infinity()} : Clamp{}; }
  bool active() const { return lo > -std::numeric_limits<float>::infinity() || hi < std::numeric_limits<float>::infinity(); }
  float operator()(float v) const { return std::min(std::max(v, lo), hi); }
};

// Copies in (ih x iw x ic) into padded (ph x pw x ic), borders zero.
void pad_input(const ConvGeometry& g, const float* in, float* padded);

// The kernel (Keras [kh][kw][ic][oc]) rearranged for conv2d_forward: blocks of output channels,
// each [kh][kw][ic][block width] contiguous. Same size as the kernel; computed once per model.
void pack_conv_kernel(const ConvGeometry& g, const float* kernel, float* packed);
// out = clamp(conv(padded, kernel) + bias), the kernel packed by pack_conv_kernel. One block of
// output channels at a time over the whole output, so the block's kernel stays in cache. With a
// batch, padded and out hold that many images one after another (ph x pw x ic, oh x ow x oc), and
// each block of the kernel fills its part of every image's output before the next block: the
// kernel is read once per batch, and every output is computed as for one image.
void conv2d_forward(const ConvGeometry& g, const float* padded, const float* packed,
                    const float* bias, Clamp clamp, float* out, int batch = 1);
void conv2d_forward_reference(const ConvGeometry& g, const float* in, const float* kernel,
                              const float* bias, Clamp clamp, float* out);

// d(input) of a convolution from d(pre-activation output) `gpre`. gin_padded (ph x pw x ic) is
// overwritten; the caller crops it. kernel_t is the kernel transposed to [kh][kw][oc][ic].
void conv2d_backward_input(const ConvGeometry& g, const float* gpre, const float* kernel_t,
                           float* gin_padded);
void conv2d_backward_input_reference(const ConvGeometry& g, const float* gpre, const float* kernel,
                                     float* gin);
void transpose_kernel(const ConvGeometry& g, const float* kernel, float* kernel_t);
void crop_padded(const ConvGeometry& g, const float* padded, float* out);

// Depthwise convolution: groups == ic == oc (g.ic channels, g.oc must equal it), one kh x kw filter
// per channel, kernel [kh][kw][c]; any stride and dilation. Vectorised over channels, which are
// contiguous in HWC. bias may be null; clamp is applied as each output is stored.
void depthwise_conv_forward(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                            float* out, Clamp clamp = {});
// gin_padded (ph x pw x c) is overwritten; the caller crops it with crop_padded.
void depthwise_conv_backward_input(const ConvGeometry& g, const float* gout, const float* kernel, float* gin_padded);
// References read/write the unpadded input (ih x iw x c) with bounds checks.
void depthwise_conv_forward_reference(const ConvGeometry& g, const float* in, const float* kernel, const float* bias,
                                      float* out, Clamp clamp = {});
void depthwise_conv_backward_input_reference(const ConvGeometry& g, const float* gout, const float* kernel,
                                             float* gin);

// Grouped and/or dilated convolution, any g.groups dividing ic and oc (a depthwise multiplier > 1
// included). kernel is [kh][kw][ic/groups][oc]: output channel o belongs to group
// o / (oc/groups) and reads input channels group*(ic/groups) ... + ic/groups - 1. bias may be
// null; no activation. Backward: gin_padded (ph x pw x ic) is overwritten; crop it with crop_padded.
void grouped_conv_forward(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                          float* out);
void grouped_conv_backward_input(const ConvGeometry& g, const float* gout, const float* kernel, float* gin_padded);
void grouped_conv_forward_reference(const ConvGeometry& g, const float* in, const float* kernel, const float* bias,
                                    float* out);
void grouped_conv_backward_input_reference(const ConvGeometry& g, const float* gout, const float* kernel,
                                           float* gin);

// Average pooling (ONNX AveragePool, PyTorch avg_pool2d) over the unpadded input in (ih x iw x c,
// c = g.ic), windows kh x kw with strides, dilations and pads from g. count_include_pad: divide by
// the window positions inside the input plus its declared padding (pad_t..pad_b; the ceil_mode
// overhang past it does not count, as PyTorch), else by those inside the input. Backward: gin (ih x iw
// x c) is overwritten.
void avg_pool_forward(const ConvGeometry& g, bool count_include_pad, const float* in, float* out);
void avg_pool_backward(const ConvGeometry& g, bool count_include_pad, const float* gout, float* gin);
void avg_pool_forward_reference(const ConvGeometry& g, bool count_include_pad, const float* in, float* out);
void avg_pool_backward_reference(const ConvGeometry& g, bool count_include_pad, const float* gout, float* gin);

// y = act(x W + b), W is Keras [in][out]; for `batch` rows of x and y at once, each row of W read
// once for all of them, every y computed as for one row.
void dense_forward(int in, int out, const float* x, const float* W, const float* b, bool relu,
                   float* y, int batch = 1);
// gx = W gy
void dense_backward_input(int in, int out, const float* gy, const float* W, float* gx);

// Max pooling, geometry as a convolution's (kh x kw window). Forward takes the maximum over
// channel vectors; backward routes each output's gradient to the first input in its window that
// equals the output (the first maximum, as TensorFlow), so forward keeps no argmax. Windows are
// clipped to the input, so padding (explicit or a ceil_mode overhang) acts as -inf, as in PyTorch.
// Dilation is not supported: g.dh and g.dw must be 1.
void max_pool_forward(const ConvGeometry& g, const float* in, float* out);
void max_pool_backward(const ConvGeometry& g, const float* in, const float* out, const float* gout, float* gin);
// Reference: argmax records the flat input index of each output's first maximum.
void max_pool_forward_reference(int ih, int iw, int c, int oh, int ow, int ph, int pw, int sh, int sw,
                                int pad_t, int pad_l, const float* in, float* out, int32_t* argmax);
void max_pool_backward_reference(int in_size, int out_size, const float* gout, const int32_t* argmax,
                                 float* gin);

}  // namespace gradcam::kernels

namespace gradcam::kernels {

// Winograd F(m x m, 3x3) (Lavin & Gray, arXiv 1509.09308): a 3x3 stride-1 convolution computed on
// (m+2)x(m+2) input tiles as (m+2)^2 independent GEMMs in the transformed domain. F(2x2,3x3)
// needs 16 multiplies per 4 outputs instead of 36; F(4x4,3x3) 36 per 16 instead of 144, but its
// larger transform constants round differently at each position of a tile, so equal neighbours in
// a flat image region come out a few ulps apart and max pooling's gradient moves to another pixel
// (the TF.js cross-check saw it). F(2x2)'s constants (0, +-1, +-1/2) keep them equal.
//
// kWinogradTile is m of F(m x m, 3x3); the transforms in winograd.cpp are those of m = 2.
constexpr int kWinogradTile = 2;
constexpr int kWinogradPositions = (kWinogradTile + 2) * (kWinogradTile + 2);
// U = G g G^T for every (ic, oc): kWinogradPositions x ic x oc floats, computed once when the
// model is planned; each position's ic x oc matrix is stored in blocks of output channels
// (ic x block width each), the order winograd_conv3x3's GEMMs read it in.
void winograd_transform_kernel(const float* kernel, int ic, int oc, float* U);
// Floats of scratch that winograd_conv3x3 needs for an output of oh x ow.
size_t winograd_scratch_floats(int oh, int ow, int ic, int oc);
// out (oh x ow x oc) = clamp(valid 3x3 convolution of in + bias), where in is (oh+2) x (ow+2) x ic
// (already padded). bias may be null. With a batch, in and out hold that many images one after
// another and scratch is `batch` times winograd_scratch_floats: the tiles of all of them go through
// one GEMM per position, which reads the transformed kernel once, and every output is computed as
// for one image.
void winograd_conv3x3(const float* in, int oh, int ow, int ic, int oc, const float* U, const float* bias,
                      Clamp clamp, float* out, float* scratch, int batch = 1);

}  // namespace gradcam::kernels
