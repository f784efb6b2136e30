// A convolution's (or a pooling window's) geometry: sizes, strides, padding, dilations, groups.
// Public because a graph node carries one (graph.h); the kernels that use it are internal
// (engine/src/kernels/kernels.h).
#pragma once

namespace gradcam::kernels {

// A convolution's geometry. The input is read from a zero-padded copy (ph x pw x ic), so the
// inner loops need no bounds checks; pad_t/pad_l place the original input inside it.
struct ConvGeometry {
  int ih, iw, ic;        // input
  int oh, ow, oc;        // output
  int kh, kw, sh, sw;    // kernel and strides
  int pad_t, pad_l;      // leading padding
  int ph, pw;            // padded input size
  int dh = 1, dw = 1;    // dilations: tap (ky, kx) reads padded row oy*sh + ky*dh, column ox*sw + kx*dw
  int groups = 1;        // output channel o reads input channels of group o / (oc/groups) only
  // Trailing padding as declared (ONNX pads end / PyTorch's symmetric pad). The kernels read only
  // ph x pw; average pooling with count_include_pad needs these to know where the padding ends.
  int pad_b = 0, pad_r = 0;
};
ConvGeometry conv_geometry(int ih, int iw, int ic, int oh, int ow, int oc, int kh, int kw, int sh,
                           int sw, bool same);
// Explicit ONNX/PyTorch padding (begin/end per axis), dilations and groups. oh/ow follow
// floor((i + pad_begin + pad_end - d*(k-1) - 1)/s) + 1, or ceil(...) with ceil_mode (pooling), where with ceil_mode
// the last window must start inside the input or the left padding (PyTorch's rule). ph/pw: big enough for every
// tap of every output and the whole input (like conv_geometry).
ConvGeometry conv_geometry_explicit(int ih, int iw, int ic, int oc, int kh, int kw, int sh, int sw, int dh, int dw,
                                    int pad_t, int pad_l, int pad_b, int pad_r, int groups, bool ceil_mode = false);

}  // namespace gradcam::kernels
