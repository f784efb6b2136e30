#include "kernels/kernels.h"
#include "parallel/thread_pool.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <xsimd/xsimd.hpp>

namespace gradcam::kernels {

using Batch = xsimd::batch<float>;
constexpr int L = int(Batch::size);

ConvGeometry conv_geometry(int ih, int iw, int ic, int oh, int ow, int oc, int kh, int kw, int sh,
                           int sw, bool same) {
  ConvGeometry g{ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, 0, 0, 0, 0};
  if (same) {
    g.pad_t = std::max((oh - 1) * sh + kh - ih, 0) / 2;
    g.pad_l = std::max((ow - 1) * sw + kw - iw, 0) / 2;
    // TensorFlow's "same" puts the odd pixel of padding at the end.
    g.pad_b = std::max((oh - 1) * sh + kh - ih, 0) - g.pad_t;
    g.pad_r = std::max((ow - 1) * sw + kw - iw, 0) - g.pad_l;
  }
  // Large enough for every tap of every output, and for the whole input.
  g.ph = std::max((oh - 1) * sh + kh, g.pad_t + ih);
  g.pw = std::max((ow - 1) * sw + kw, g.pad_l + iw);
  return g;
}

// Zeroes only what the copy leaves: the rows above and below the input and each row's margins.
// (Zeroing the whole buffer first wrote MobileNetV2's 114x114x96 padded copy, 5 MB, twice.)
void pad_input(const ConvGeometry& g, const float* in, float* padded) {
  const size_t row = size_t(g.pw) * g.ic, left = size_t(g.pad_l) * g.ic, width = size_t(g.iw) * g.ic;
  std::fill(padded, padded + size_t(g.pad_t) * row, 0.f);
  for (int y = 0; y < g.ih; ++y) {
    float* r = padded + size_t(y + g.pad_t) * row;
    std::fill(r, r + left, 0.f);
    std::memcpy(r + left, in + size_t(y) * width, sizeof(float) * width);
    std::fill(r + left + width, r + row, 0.f);
  }
  std::fill(padded + size_t(g.pad_t + g.ih) * row, padded + size_t(g.ph) * row, 0.f);
}

void crop_padded(const ConvGeometry& g, const float* padded, float* out) {
  for (int y = 0; y < g.ih; ++y)
    std::memcpy(out + size_t(y) * g.iw * g.ic, padded + (size_t(y + g.pad_t) * g.pw + g.pad_l) * g.ic,
                sizeof(float) * size_t(g.iw) * g.ic);
}

namespace {

// The packed kernel's blocks of output channels, in order: 2L wide while they fit, then one of L,
// then the remainder (< L), each [kh][kw][ic][width] so a tile reads its kernel contiguously.
inline int block_width(int oc, int oc0) { return oc0 + 2 * L <= oc ? 2 * L : (oc0 + L <= oc ? L : oc - oc0); }

// P output pixels of one row times NB vectors of output channels, accumulated in registers over all
// taps and input channels: each loaded kernel vector feeds P multiply-adds. `panel` is the block's
// packed kernel. B is the vector: Batch, or a half-width one for a remainder block (HalfBatch).
template <int P, int NB, class B = Batch>
inline void conv_tile(const ConvGeometry& g, const float* padded, const float* panel, const float* bias,
                      Clamp clamp, float* out, int oy, int ox0, int oc0) {
  constexpr int BL = int(B::size), W = NB * BL;
  B acc[P][NB];
  for (int j = 0; j < NB; ++j) {
    B b = B::load_unaligned(bias + oc0 + j * BL);
    for (int p = 0; p < P; ++p) acc[p][j] = b;
  }
  const size_t row_stride = size_t(g.pw) * g.ic;
  // Within a kernel row the taps (kx, c) of one output pixel are kw*ic consecutive floats of the
  // padded row, in the packed kernel's order: one loop over them (21 long for a 7x7 stem on RGB,
  // not 3).
  const int row_taps = g.kw * g.ic;
  const float* k = panel;
  for (int ky = 0; ky < g.kh; ++ky) {
    const float* in_row = padded + size_t(oy * g.sh + ky) * row_stride;
    const float* in[P];
    for (int p = 0; p < P; ++p) in[p] = in_row + size_t(ox0 + p) * g.sw * g.ic;
    for (int q = 0; q < row_taps; ++q, k += W) {
      B kv[NB];
      for (int j = 0; j < NB; ++j) kv[j] = B::load_unaligned(k + j * BL);
      for (int p = 0; p < P; ++p) {
        B a(in[p][q]);
        for (int j = 0; j < NB; ++j) acc[p][j] = xsimd::fma(a, kv[j], acc[p][j]);
      }
    }
  }
  if (clamp.active()) {
    const B lo(clamp.lo), hi(clamp.hi);
    for (int p = 0; p < P; ++p)
      for (int j = 0; j < NB; ++j) acc[p][j] = xsimd::min(xsimd::max(acc[p][j], lo), hi);
  }
  for (int p = 0; p < P; ++p) {
    float* o = out + (size_t(oy) * g.ow + ox0 + p) * g.oc + oc0;
    for (int j = 0; j < NB; ++j) acc[p][j].store_unaligned(o + j * BL);
  }
}

// The last block, narrower than a vector, for one output pixel: its w channels accumulate side by
// side, so the block's kernel is read in order, once per pixel (one channel at a time read it
// w times with a stride of w: MobileNetV2's 24-channel projections, whose last 8 channels fall
// here natively with 16 lanes, ran at 2 GFLOP/s). Each output sums its terms in the same order.
inline void conv_pixel_scalar(const ConvGeometry& g, const float* padded, const float* panel, const float* bias,
                              Clamp clamp, float* out, int oy, int ox, int oc0) {
  const int w = g.oc - oc0;
  float acc[L];
  for (int j = 0; j < w; ++j) acc[j] = bias[oc0 + j];
  const float* k = panel;
  for (int ky = 0; ky < g.kh; ++ky) {
    const float* in = padded + (size_t(oy * g.sh + ky) * g.pw + size_t(ox) * g.sw) * g.ic;
    for (int q = 0; q < g.kw * g.ic; ++q, k += w)
      for (int j = 0; j < w; ++j) acc[j] += in[q] * k[j];
  }
  float* o = out + (size_t(oy) * g.ow + ox) * g.oc + oc0;
  for (int j = 0; j < w; ++j) o[j] = clamp(acc[j]);
}

// One block of output channels over output rows oy0..oy1, columns ox0..ox1: the block's kernel
// (taps x ic x width) stays in cache while the input streams past it.
template <int NB, class B = Batch>
void conv_block(const ConvGeometry& g, const float* padded, const float* panel, const float* bias, Clamp clamp,
                float* out, int oc0, int oy0, int oy1, int ox0, int ox1) {
  for (int oy = oy0; oy < oy1; ++oy) {
    int ox = ox0;
    for (; ox + 4 <= ox1; ox += 4) conv_tile<4, NB, B>(g, padded, panel, bias, clamp, out, oy, ox, oc0);
    for (; ox < ox1; ++ox) conv_tile<1, NB, B>(g, padded, panel, bias, clamp, out, oy, ox, oc0);
  }
}

// Half a vector's lanes, where the CPU has such a vector (natively with AVX-512: 8 lanes; not in
// wasm). MobileNetV2's 24-channel projections leave a remainder of 8 channels after one 16-lane
// block; scalar, those 8 took three quarters of its native forward.
using HalfBatch = xsimd::make_sized_batch_t<float, size_t(L / 2)>;

// The remainder block (w < L channels) over output rows oy0..oy1, columns ox0..ox1. (A template,
// so that the half-width branch is not compiled where there is no such vector.)
template <class Half = HalfBatch>
void conv_remainder(const ConvGeometry& g, const float* padded, const float* panel, const float* bias, Clamp clamp,
                    float* out, int oc0, int w, int oy0, int oy1, int ox0, int ox1) {
  if constexpr (!std::is_void_v<Half>) {
    if (w == L / 2) return conv_block<1, Half>(g, padded, panel, bias, clamp, out, oc0, oy0, oy1, ox0, ox1);
  }
  for (int oy = oy0; oy < oy1; ++oy)
    for (int ox = ox0; ox < ox1; ++ox) conv_pixel_scalar(g, padded, panel, bias, clamp, out, oy, ox, oc0);
}

}  // namespace

void pack_conv_kernel(const ConvGeometry& g, const float* kernel, float* packed) {
  const size_t taps_ic = size_t(g.kh) * g.kw * g.ic;
  for (int oc0 = 0, w = 0; oc0 < g.oc; oc0 += w) {
    w = block_width(g.oc, oc0);
    float* panel = packed + taps_ic * size_t(oc0);
    for (size_t r = 0; r < taps_ic; ++r)
      std::memcpy(panel + r * size_t(w), kernel + r * size_t(g.oc) + oc0, sizeof(float) * size_t(w));
  }
}

void conv2d_forward(const ConvGeometry& g, const float* padded, const float* packed, const float* bias,
                    Clamp clamp, float* out, int batch) {
  const size_t taps_ic = size_t(g.kh) * g.kw * g.ic;
  // The output in chunks of about 96 KiB, every block of output channels over one chunk before
  // the next: the chunk stays in cache while its blocks fill it. Blocks outermost over the whole
  // output wrote MobileNetV2's 112x112x96 outputs (4.8 MB) 32 bytes a pixel per pass, from memory.
  const int chunk = std::max(8, 24576 / g.oc);
  const int rows = std::max(1, chunk / std::max(g.ow, 1)), cols = std::min(g.ow, chunk);
  if (g.oh <= 0 || g.ow <= 0) return;
  const int row_tiles = (g.oh + rows - 1) / rows, col_tiles = (g.ow + cols - 1) / cols;
  const int64_t tiles = int64_t(row_tiles) * col_tiles;
  // The chunks are what the threads share. Where there are few (the last layers of a CNN: 7x7
  // pixels, 512 channels) each chunk's output channels are split too, in runs of whole 2L blocks so
  // the blocks (and every output's arithmetic) are those of the unsplit kernel.
  const int pairs = (g.oc + 2 * L - 1) / (2 * L);
  const int splits = int(std::min<int64_t>(pairs, (kMaxChunks + tiles - 1) / tiles));
  const int span = (pairs + splits - 1) / splits * 2 * L;
  const int groups = (g.oc + span - 1) / span;
  const int64_t pieces = tiles * groups;
  const int64_t work = int64_t(g.oh) * g.ow * int64_t(taps_ic) * g.oc * batch / pieces;
  const size_t padded_image = size_t(g.ph) * g.pw * g.ic, out_image = size_t(g.oh) * g.ow * g.oc;
  parallel_for(pieces, grain_for_work(pieces, work), [&](int64_t begin, int64_t end) {
    for (int64_t piece = begin; piece < end; ++piece) {
      const int64_t tile = piece / groups;
      const int oy0 = int(tile / col_tiles) * rows, ox0 = int(tile % col_tiles) * cols;
      const int oy1 = std::min(oy0 + rows, g.oh), ox1 = std::min(ox0 + cols, g.ow);
      const int oc_begin = int(piece % groups) * span, oc_end = std::min(oc_begin + span, g.oc);
      for (int oc0 = oc_begin, w = 0; oc0 < oc_end; oc0 += w) {
        w = block_width(g.oc, oc0);
        const float* panel = packed + taps_ic * size_t(oc0);
        for (int b = 0; b < batch; ++b) {  // the block's kernel, in cache, over every image's chunk
          const float* in = padded + size_t(b) * padded_image;
          float* o = out + size_t(b) * out_image;
          if (w == 2 * L) conv_block<2>(g, in, panel, bias, clamp, o, oc0, oy0, oy1, ox0, ox1);
          else if (w == L) conv_block<1>(g, in, panel, bias, clamp, o, oc0, oy0, oy1, ox0, ox1);
          else conv_remainder(g, in, panel, bias, clamp, o, oc0, w, oy0, oy1, ox0, ox1);
        }
      }
    }
  });
}

void conv2d_forward_reference(const ConvGeometry& g, const float* in, const float* kernel, const float* bias,
                              Clamp clamp, float* out) {
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox)
      for (int oc = 0; oc < g.oc; ++oc) {
        double acc = bias[oc];
        for (int ky = 0; ky < g.kh; ++ky)
          for (int kx = 0; kx < g.kw; ++kx) {
            int iy = oy * g.sh + ky - g.pad_t, ix = ox * g.sw + kx - g.pad_l;
            if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
            for (int c = 0; c < g.ic; ++c)
              acc += double(in[(size_t(iy) * g.iw + ix) * g.ic + c]) *
                     kernel[((size_t(ky) * g.kw + kx) * g.ic + c) * g.oc + oc];
          }
        out[(size_t(oy) * g.ow + ox) * g.oc + oc] = clamp(float(acc));
      }
}

void transpose_kernel(const ConvGeometry& g, const float* kernel, float* kernel_t) {
  for (int t = 0; t < g.kh * g.kw; ++t)
    for (int c = 0; c < g.ic; ++c)
      for (int o = 0; o < g.oc; ++o)
        kernel_t[(size_t(t) * g.oc + o) * g.ic + c] = kernel[(size_t(t) * g.ic + c) * g.oc + o];
}

// gin[iy][ix][:] += sum_oc gpre[oy][ox][oc] * K^T[ky][kx][oc][:], an axpy over input channels.
// The threads share the rows of gin: a chunk of rows takes, in the same (oy, ox, ky, kx) order as
// one thread would, the taps that land in it, so every gin value sums the same terms in the same order.
void conv2d_backward_input(const ConvGeometry& g, const float* gpre, const float* kernel_t, float* gin_padded) {
  const int icv = g.ic - g.ic % L;
  const size_t row_floats = size_t(g.pw) * g.ic;
  const int64_t row_work = int64_t(g.ow) * g.kh * g.kw * g.oc * g.ic / std::max(g.sh, 1);
  parallel_for(g.ph, grain_for_work(g.ph, row_work), [&](int64_t py0, int64_t py1) {
    std::fill(gin_padded + size_t(py0) * row_floats, gin_padded + size_t(py1) * row_floats, 0.f);
    // The outputs whose windows reach rows [py0, py1): oy*sh + ky in it for some ky < kh.
    const int64_t lowest = py0 - (g.kh - 1);
    const int oy0 = lowest <= 0 ? 0 : int((lowest + g.sh - 1) / g.sh);
    const int oy1 = std::min<int>(g.oh, int((py1 - 1) / g.sh) + 1);
    for (int oy = oy0; oy < oy1; ++oy)
      for (int ox = 0; ox < g.ow; ++ox) {
        const float* go = gpre + (size_t(oy) * g.ow + ox) * g.oc;
        for (int ky = 0; ky < g.kh; ++ky) {
          const int py = oy * g.sh + ky;
          if (py < py0 || py >= py1) continue;
          for (int kx = 0; kx < g.kw; ++kx) {
            float* gi = gin_padded + (size_t(py) * g.pw + size_t(ox * g.sw + kx)) * g.ic;
            const float* k = kernel_t + size_t(ky * g.kw + kx) * g.oc * g.ic;
            for (int c = 0; c < icv; c += L) {
              Batch acc = Batch::load_unaligned(gi + c);
              for (int o = 0; o < g.oc; ++o) acc = xsimd::fma(Batch(go[o]), Batch::load_unaligned(k + size_t(o) * g.ic + c), acc);
              acc.store_unaligned(gi + c);
            }
            for (int c = icv; c < g.ic; ++c) {
              float acc = gi[c];
              for (int o = 0; o < g.oc; ++o) acc += go[o] * k[size_t(o) * g.ic + c];
              gi[c] = acc;
            }
          }
        }
      }
  });
}

void conv2d_backward_input_reference(const ConvGeometry& g, const float* gpre, const float* kernel, float* gin) {
  std::fill(gin, gin + size_t(g.ih) * g.iw * g.ic, 0.f);
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox)
      for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx) {
          int iy = oy * g.sh + ky - g.pad_t, ix = ox * g.sw + kx - g.pad_l;
          if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
          for (int c = 0; c < g.ic; ++c) {
            double acc = 0;
            for (int o = 0; o < g.oc; ++o)
              acc += double(gpre[(size_t(oy) * g.ow + ox) * g.oc + o]) *
                     kernel[((size_t(ky) * g.kw + kx) * g.ic + c) * g.oc + o];
            gin[(size_t(iy) * g.iw + ix) * g.ic + c] += float(acc);
          }
        }
}

// The threads share the outputs, in runs of whole vectors: each output sums the same terms in the
// same order, vector or scalar as without threads.
void dense_forward(int in, int out, const float* x, const float* W, const float* b, bool relu, float* y, int batch) {
  const int ov = out - out % L;
  const int64_t grain = (grain_for_work(out, int64_t(in) * batch) + L - 1) / L * L;
  parallel_for(out, grain, [&](int64_t begin, int64_t end) {
    const int o0 = int(begin), o1 = int(end), v1 = std::min(o1, ov);
    for (int r = 0; r < batch; ++r) std::memcpy(y + size_t(r) * out + o0, b + o0, sizeof(float) * size_t(o1 - o0));
    for (int i = 0; i < in; ++i) {
      const float* w = W + size_t(i) * out;  // in cache for every row of the batch
      for (int r = 0; r < batch; ++r) {
        const float xi = x[size_t(r) * in + i];
        if (xi == 0.f) continue;  // ReLU outputs are often zero
        float* yr = y + size_t(r) * out;
        Batch a(xi);
        int o = o0;
        for (; o < v1; o += L) xsimd::fma(a, Batch::load_unaligned(w + o), Batch::load_unaligned(yr + o)).store_unaligned(yr + o);
        for (; o < o1; ++o) yr[o] += xi * w[o];
      }
    }
    if (relu)
      for (int r = 0; r < batch; ++r)
        for (int o = o0; o < o1; ++o) y[size_t(r) * out + o] = std::max(y[size_t(r) * out + o], 0.f);
  });
}

void dense_backward_input(int in, int out, const float* gy, const float* W, float* gx) {
  const int ov = out - out % L;
  parallel_for(in, grain_for_work(in, out), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* w = W + size_t(i) * out;
      Batch acc(0.f);
      int o = 0;
      for (; o < ov; o += L) acc = xsimd::fma(Batch::load_unaligned(w + o), Batch::load_unaligned(gy + o), acc);
      float s = xsimd::reduce_add(acc);
      for (; o < out; ++o) s += w[o] * gy[o];
      gx[i] = s;
    }
  });
}

void max_pool_forward(const ConvGeometry& g, const float* in, float* out) {
  const int cv = g.ic - g.ic % L;
  const int64_t row_work = int64_t(g.ow) * g.kh * g.kw * g.ic;
  parallel_for(g.oh, grain_for_work(g.oh, row_work), [&](int64_t oy_begin, int64_t oy_end) {
    for (int oy = int(oy_begin); oy < int(oy_end); ++oy) {
      const int y0 = std::max(oy * g.sh - g.pad_t, 0), y1 = std::min(oy * g.sh - g.pad_t + g.kh, g.ih);
      for (int ox = 0; ox < g.ow; ++ox) {
        const int x0 = std::max(ox * g.sw - g.pad_l, 0), x1 = std::min(ox * g.sw - g.pad_l + g.kw, g.iw);
        float* o = out + (size_t(oy) * g.ow + ox) * g.ic;
        if (y0 >= y1 || x0 >= x1) {  // a window wholly in the padding (pads past the kernel size): as PyTorch, -inf
          std::fill(o, o + g.ic, -std::numeric_limits<float>::infinity());
          continue;
        }
        const float* first = in + (size_t(y0) * g.iw + x0) * g.ic;
        int c = 0;
        for (; c < cv; c += L) {
          Batch m = Batch::load_unaligned(first + c);
          for (int y = y0; y < y1; ++y)
            for (int x = x0; x < x1; ++x) m = xsimd::max(m, Batch::load_unaligned(in + (size_t(y) * g.iw + x) * g.ic + c));
          m.store_unaligned(o + c);
        }
        for (; c < g.ic; ++c) {
          float m = first[c];
          for (int y = y0; y < y1; ++y)
            for (int x = x0; x < x1; ++x) m = std::max(m, in[(size_t(y) * g.iw + x) * g.ic + c]);
          o[c] = m;
        }
      }
    }
  });
}

void max_pool_backward(const ConvGeometry& g, const float* in, const float* out, const float* gout, float* gin) {
  std::fill(gin, gin + size_t(g.ih) * g.iw * g.ic, 0.f);
  for (int oy = 0; oy < g.oh; ++oy) {
    const int y0 = std::max(oy * g.sh - g.pad_t, 0), y1 = std::min(oy * g.sh - g.pad_t + g.kh, g.ih);
    for (int ox = 0; ox < g.ow; ++ox) {
      const int x0 = std::max(ox * g.sw - g.pad_l, 0), x1 = std::min(ox * g.sw - g.pad_l + g.kw, g.iw);
      const size_t o = (size_t(oy) * g.ow + ox) * g.ic;
      for (int c = 0; c < g.ic; ++c) {
        if (gout[o + c] == 0.f) continue;
        const float m = out[o + c];
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x) {
            const size_t i = (size_t(y) * g.iw + x) * g.ic + c;
            if (in[i] == m) {  // the first maximum, as TensorFlow
              gin[i] += gout[o + c];
              goto next;
            }
          }
      next:;
      }
    }
  }
}

void max_pool_forward_reference(int ih, int iw, int c, int oh, int ow, int ph, int pw, int sh, int sw, int pad_t,
                                int pad_l, const float* in, float* out, int32_t* argmax) {
  for (int oy = 0; oy < oh; ++oy)
    for (int ox = 0; ox < ow; ++ox)
      for (int ch = 0; ch < c; ++ch) {
        float best = -std::numeric_limits<float>::infinity();
        int32_t best_i = -1;
        for (int ky = 0; ky < ph; ++ky) {
          int iy = oy * sh + ky - pad_t;
          if (iy < 0 || iy >= ih) continue;
          for (int kx = 0; kx < pw; ++kx) {
            int ix = ox * sw + kx - pad_l;
            if (ix < 0 || ix >= iw) continue;
            int32_t idx = int32_t((iy * iw + ix) * c + ch);
            if (best_i < 0 || in[idx] > best) {  // first maximum wins, as TF
              best = in[idx];
              best_i = idx;
            }
          }
        }
        size_t o = (size_t(oy) * ow + ox) * c + ch;
        out[o] = best;
        argmax[o] = best_i;
      }
}

void max_pool_backward_reference(int in_size, int out_size, const float* gout, const int32_t* argmax, float* gin) {
  std::fill(gin, gin + in_size, 0.f);
  for (int o = 0; o < out_size; ++o) gin[argmax[o]] += gout[o];
}

}  // namespace gradcam::kernels
