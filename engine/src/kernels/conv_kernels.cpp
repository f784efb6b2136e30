// The convolutions and pooling that PyTorch/ONNX CNNs use beyond dense "same"/"valid"
// convolution: explicit asymmetric padding, ceil_mode, dilation, groups (depthwise included) and
// average pooling. Same conventions as kernels.cpp: one HWC image, fast paths read a zero-padded
// copy of the input, references read the unpadded input with bounds checks.
#include <algorithm>
#include <cstring>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "kernels/kernels.h"
#include "parallel/thread_pool.h"

namespace gradcam::kernels {

using Batch = xsimd::batch<float>;
namespace {
constexpr int L = int(Batch::size);
}

ConvGeometry conv_geometry_explicit(int ih, int iw, int ic, int oc, int kh, int kw, int sh, int sw, int dh, int dw,
                                    int pad_t, int pad_l, int pad_b, int pad_r, int groups, bool ceil_mode) {
  // Output size along one axis; span is the dilated window's extent.
  auto out_dim = [ceil_mode](int in, int pad_begin, int pad_end, int span, int stride) {
    const int room = in + pad_begin + pad_end - span;
    if (room < 0) return 0;  // not even one whole window
    int n = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
    // ceil_mode may add a window that starts in the trailing padding, which would see no input:
    // PyTorch drops it.
    if (ceil_mode && (n - 1) * stride >= in + pad_begin) --n;
    return n;
  };
  const int span_h = dh * (kh - 1) + 1, span_w = dw * (kw - 1) + 1;
  ConvGeometry g{ih, iw, ic, 0, 0, oc, kh, kw, sh, sw, pad_t, pad_l, 0, 0};
  g.oh = out_dim(ih, pad_t, pad_b, span_h, sh);
  g.ow = out_dim(iw, pad_l, pad_r, span_w, sw);
  g.dh = dh;
  g.dw = dw;
  g.groups = groups;
  g.pad_b = pad_b;
  g.pad_r = pad_r;
  // Every tap of every output (a ceil_mode window may reach past pad_b), and the whole input.
  g.ph = std::max(g.oh > 0 ? (g.oh - 1) * sh + span_h : 0, pad_t + ih);
  g.pw = std::max(g.ow > 0 ? (g.ow - 1) * sw + span_w : 0, pad_l + iw);
  return g;
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution. Every channel is its own 2-D convolution, so with channels contiguous the
// natural vector runs along channels: one kernel vector per tap, multiplied into P neighbouring
// output pixels so each kernel load feeds P multiply-adds.

namespace {

template <int P>
inline void depthwise_tile(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                           Clamp clamp, float* out, int oy, int ox0, int c) {
  const size_t C = size_t(g.ic);
  const Batch b = bias ? Batch::load_unaligned(bias + c) : Batch(0.f);
  Batch acc[P];
  for (int p = 0; p < P; ++p) acc[p] = b;
  const size_t pixel_step = size_t(g.sw) * C;  // between neighbouring outputs' windows
  for (int ky = 0; ky < g.kh; ++ky) {
    const float* row = padded + (size_t(oy * g.sh + ky * g.dh) * g.pw + size_t(ox0) * g.sw) * C + c;
    const float* k = kernel + size_t(ky) * g.kw * C + c;
    for (int kx = 0; kx < g.kw; ++kx, k += C) {
      const Batch kv = Batch::load_unaligned(k);
      const float* in = row + size_t(kx) * g.dw * C;
      for (int p = 0; p < P; ++p) acc[p] = xsimd::fma(Batch::load_unaligned(in + p * pixel_step), kv, acc[p]);
    }
  }
  if (clamp.active()) {
    const Batch lo(clamp.lo), hi(clamp.hi);
    for (int p = 0; p < P; ++p) acc[p] = xsimd::min(xsimd::max(acc[p], lo), hi);
  }
  float* o = out + (size_t(oy) * g.ow + ox0) * C + c;
  for (int p = 0; p < P; ++p) acc[p].store_unaligned(o + p * C);
}

// Channels from c0 on that do not fill a vector, for one output pixel.
inline void depthwise_pixel_scalar(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                                   Clamp clamp, float* out, int oy, int ox, int c0) {
  const size_t C = size_t(g.ic);
  float* o = out + (size_t(oy) * g.ow + ox) * C;
  for (size_t c = size_t(c0); c < C; ++c) {
    float acc = bias ? bias[c] : 0.f;
    for (int ky = 0; ky < g.kh; ++ky)
      for (int kx = 0; kx < g.kw; ++kx)
        acc += padded[(size_t(oy * g.sh + ky * g.dh) * g.pw + size_t(ox * g.sw + kx * g.dw)) * C + c] *
               kernel[(size_t(ky) * g.kw + kx) * C + c];
    o[c] = clamp(acc);
  }
}

template <int P>
inline void depthwise_pixels(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                             Clamp clamp, float* out, int oy, int ox0) {
  const int cv = g.ic - g.ic % L;
  for (int c = 0; c < cv; c += L) depthwise_tile<P>(g, padded, kernel, bias, clamp, out, oy, ox0, c);
  if (cv < g.ic)
    for (int p = 0; p < P; ++p) depthwise_pixel_scalar(g, padded, kernel, bias, clamp, out, oy, ox0 + p, cv);
}

// The (k, o) pairs of one axis that reach padded position i: i = o*s + k*d with 0 <= o < n.
// Written to ks/os (capacity k_count); returns how many.
inline int taps_reaching(int i, int k_count, int s, int d, int n, int* ks, int* os) {
  int count = 0;
  for (int k = 0; k < k_count; ++k) {
    const int t = i - k * d;
    if (t < 0) break;  // t only decreases with k
    if (t % s != 0) continue;
    const int o = t / s;
    if (o < n) {
      ks[count] = k;
      os[count] = o;
      ++count;
    }
  }
  return count;
}

// Kernel extents up to this many taps per axis keep their tap lists on the stack; the backward
// falls back to the scatter form beyond (no CNN in sight uses such kernels depthwise).
constexpr int kMaxGatherTaps = 16;

// gin[c .. c + NB*L) at one padded pixel, from the rows' and columns' tap lists.
template <int NB>
inline void depthwise_gather(const ConvGeometry& g, const float* gout, const float* kernel, float* gi, int c,
                             int nr, const int* kys, const int* oys, int nc, const int* kxs, const int* oxs) {
  const size_t C = size_t(g.ic);
  Batch acc[NB];
  for (int j = 0; j < NB; ++j) acc[j] = Batch(0.f);
  for (int r = 0; r < nr; ++r) {
    const float* go_row = gout + size_t(oys[r]) * g.ow * C + c;
    const float* k_row = kernel + size_t(kys[r]) * g.kw * C + c;
    for (int q = 0; q < nc; ++q) {
      const float* go = go_row + size_t(oxs[q]) * C;
      const float* k = k_row + size_t(kxs[q]) * C;
      for (int j = 0; j < NB; ++j)
        acc[j] = xsimd::fma(Batch::load_unaligned(go + j * L), Batch::load_unaligned(k + j * L), acc[j]);
    }
  }
  for (int j = 0; j < NB; ++j) acc[j].store_unaligned(gi + c + j * L);
}

// P gin pixels of one padded row that share their column taps: pixels px0 + p*sw (same phase
// modulo the stride), where tap q reads gout column ox0s[q] + p. Each kernel vector then feeds P
// multiply-adds, as in the forward.
template <int P>
inline void depthwise_gather_tile(const ConvGeometry& g, const float* gout, const float* kernel, float* gin_padded,
                                  int py, int px0, int nr, const int* kys, const int* oys, int nc, const int* kxs,
                                  const int* ox0s) {
  const size_t C = size_t(g.ic);
  const int cv = g.ic - g.ic % L;
  float* gi = gin_padded + (size_t(py) * g.pw + px0) * C;
  const size_t gi_step = size_t(g.sw) * C;
  for (int c = 0; c < cv; c += L) {
    Batch acc[P];
    for (int p = 0; p < P; ++p) acc[p] = Batch(0.f);
    for (int r = 0; r < nr; ++r) {
      const float* go_row = gout + size_t(oys[r]) * g.ow * C + c;
      const float* k_row = kernel + size_t(kys[r]) * g.kw * C + c;
      for (int q = 0; q < nc; ++q) {
        const Batch kv = Batch::load_unaligned(k_row + size_t(kxs[q]) * C);
        const float* go = go_row + size_t(ox0s[q]) * C;
        for (int p = 0; p < P; ++p) acc[p] = xsimd::fma(Batch::load_unaligned(go + p * C), kv, acc[p]);
      }
    }
    for (int p = 0; p < P; ++p) acc[p].store_unaligned(gi + p * gi_step + c);
  }
  for (int c = cv; c < g.ic; ++c)
    for (int p = 0; p < P; ++p) {
      float acc = 0.f;
      for (int r = 0; r < nr; ++r)
        for (int q = 0; q < nc; ++q)
          acc += gout[(size_t(oys[r]) * g.ow + ox0s[q] + p) * C + c] * kernel[(size_t(kys[r]) * g.kw + kxs[q]) * C + c];
      gi[p * gi_step + c] = acc;
    }
}

// One gin pixel, with its own tap lists (the borders, where neighbours' taps differ).
inline void depthwise_gather_pixel(const ConvGeometry& g, const float* gout, const float* kernel, float* gin_padded,
                                   int py, int px, int nr, const int* kys, const int* oys) {
  const size_t C = size_t(g.ic);
  const int cv = g.ic - g.ic % L;
  int kxs[kMaxGatherTaps], oxs[kMaxGatherTaps];
  const int nc = nr ? taps_reaching(px, g.kw, g.sw, g.dw, g.ow, kxs, oxs) : 0;
  float* gi = gin_padded + (size_t(py) * g.pw + px) * C;
  int c = 0;
  for (; c + 4 * L <= cv; c += 4 * L) depthwise_gather<4>(g, gout, kernel, gi, c, nr, kys, oys, nc, kxs, oxs);
  for (; c < cv; c += L) depthwise_gather<1>(g, gout, kernel, gi, c, nr, kys, oys, nc, kxs, oxs);
  for (; c < g.ic; ++c) {
    float acc = 0.f;
    for (int r = 0; r < nr; ++r)
      for (int q = 0; q < nc; ++q)
        acc += gout[(size_t(oys[r]) * g.ow + oxs[q]) * C + c] * kernel[(size_t(kys[r]) * g.kw + kxs[q]) * C + c];
    gi[c] = acc;
  }
}

}  // namespace

// The threads share output rows here and in the other forwards below: every output is computed
// whole by one of them, as without threads.
void depthwise_conv_forward(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                            float* out, Clamp clamp) {
  const int64_t row_work = int64_t(g.ow) * g.kh * g.kw * g.ic;
  parallel_for(g.oh, grain_for_work(g.oh, row_work), [&](int64_t oy0, int64_t oy1) {
    for (int oy = int(oy0); oy < int(oy1); ++oy) {
      int ox = 0;
      for (; ox + 8 <= g.ow; ox += 8) depthwise_pixels<8>(g, padded, kernel, bias, clamp, out, oy, ox);
      for (; ox + 4 <= g.ow; ox += 4) depthwise_pixels<4>(g, padded, kernel, bias, clamp, out, oy, ox);
      for (; ox < g.ow; ++ox) depthwise_pixels<1>(g, padded, kernel, bias, clamp, out, oy, ox);
    }
  });
}

// The transpose as a gather: each padded input pixel sums gout * kernel over the (output, tap)
// pairs that read it, so every gin vector is written once from registers instead of being
// read-modified-written once per tap.
void depthwise_conv_backward_input(const ConvGeometry& g, const float* gout, const float* kernel, float* gin_padded) {
  const size_t C = size_t(g.ic);
  if (g.kh > kMaxGatherTaps || g.kw > kMaxGatherTaps) {
    std::fill(gin_padded, gin_padded + size_t(g.ph) * g.pw * C, 0.f);
    for (int oy = 0; oy < g.oh; ++oy)
      for (int ox = 0; ox < g.ow; ++ox)
        for (int ky = 0; ky < g.kh; ++ky)
          for (int kx = 0; kx < g.kw; ++kx) {
            const float* go = gout + (size_t(oy) * g.ow + ox) * C;
            const float* k = kernel + (size_t(ky) * g.kw + kx) * C;
            float* gi = gin_padded + (size_t(oy * g.sh + ky * g.dh) * g.pw + size_t(ox * g.sw + kx * g.dw)) * C;
            for (size_t c = 0; c < C; ++c) gi[c] += go[c] * k[c];
          }
    return;
  }
  // Pixel px = r + j*sw (phase r) is reached through column tap kx iff kx*dw - r = m*sw, from
  // output column j - m. Per phase the (kx, m) pairs are fixed, so runs of kTile pixels whose
  // output columns all exist share one tap list.
  // Every gin pixel is written once, so the threads share the padded rows.
  constexpr int kTile = 4;
  const int64_t row_work = int64_t(g.pw) * g.kh * g.kw * g.ic / (int64_t(g.sh) * g.sw);
  parallel_for(g.ph, grain_for_work(g.ph, row_work), [&](int64_t py0, int64_t py1) {
    int kys[kMaxGatherTaps], oys[kMaxGatherTaps], kxs[kMaxGatherTaps], ms[kMaxGatherTaps], ox0s[kMaxGatherTaps];
    for (int py = int(py0); py < int(py1); ++py) {
      const int nr = taps_reaching(py, g.kh, g.sh, g.dh, g.oh, kys, oys);
      for (int r = 0; r < g.sw && r < g.pw; ++r) {
        int nk = 0, m_min = 0, m_max = 0;
        for (int kx = 0; kx < g.kw; ++kx) {
          const int t = kx * g.dw - r;  // > -sw, so a multiple of sw only when >= 0
          if (t % g.sw != 0) continue;
          kxs[nk] = kx;
          ms[nk] = t / g.sw;
          m_min = nk ? std::min(m_min, ms[nk]) : ms[nk];
          m_max = nk ? std::max(m_max, ms[nk]) : ms[nk];
          ++nk;
        }
        const int pixels = (g.pw - r + g.sw - 1) / g.sw;
        for (int j = 0; j < pixels;) {
          if (nr > 0 && nk > 0 && j + kTile <= pixels && j >= m_max && j + kTile - 1 < g.ow + m_min) {
            for (int q = 0; q < nk; ++q) ox0s[q] = j - ms[q];
            depthwise_gather_tile<kTile>(g, gout, kernel, gin_padded, py, r + j * g.sw, nr, kys, oys, nk, kxs, ox0s);
            j += kTile;
          } else {
            depthwise_gather_pixel(g, gout, kernel, gin_padded, py, r + j * g.sw, nr, kys, oys);
            ++j;
          }
        }
      }
    }
  });
}

void depthwise_conv_forward_reference(const ConvGeometry& g, const float* in, const float* kernel, const float* bias,
                                      float* out, Clamp clamp) {
  const int C = g.ic;
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox)
      for (int c = 0; c < C; ++c) {
        double acc = bias ? bias[c] : 0.0;
        for (int ky = 0; ky < g.kh; ++ky)
          for (int kx = 0; kx < g.kw; ++kx) {
            const int iy = oy * g.sh + ky * g.dh - g.pad_t, ix = ox * g.sw + kx * g.dw - g.pad_l;
            if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
            acc += double(in[(size_t(iy) * g.iw + ix) * C + c]) * kernel[(size_t(ky) * g.kw + kx) * C + c];
          }
        out[(size_t(oy) * g.ow + ox) * C + c] = clamp(float(acc));
      }
}

void depthwise_conv_backward_input_reference(const ConvGeometry& g, const float* gout, const float* kernel,
                                             float* gin) {
  const int C = g.ic;
  std::vector<double> acc(size_t(g.ih) * g.iw * C, 0.0);  // sums in double, rounded once
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox)
      for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx) {
          const int iy = oy * g.sh + ky * g.dh - g.pad_t, ix = ox * g.sw + kx * g.dw - g.pad_l;
          if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
          for (int c = 0; c < C; ++c)
            acc[(size_t(iy) * g.iw + ix) * C + c] +=
                double(gout[(size_t(oy) * g.ow + ox) * C + c]) * kernel[(size_t(ky) * g.kw + kx) * C + c];
        }
  std::transform(acc.begin(), acc.end(), gin, [](double v) { return float(v); });
}

// ---------------------------------------------------------------------------------------------
// Grouped convolution: per group, a dense convolution from ic/groups input channels to oc/groups
// output channels. The vector runs along a group's output channels (contiguous in the kernel), as
// in conv2d_forward; groups narrower than a vector fall to scalar code, which is enough for the
// rare layers that have them (depthwise proper goes to depthwise_conv_*).

namespace {

template <int P, int NB>
inline void grouped_tile(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                         float* out, int oy, int ox0, int o0, int ci0, int icg) {
  Batch acc[P][NB];
  for (int j = 0; j < NB; ++j) {
    const Batch b = bias ? Batch::load_unaligned(bias + o0 + j * L) : Batch(0.f);
    for (int p = 0; p < P; ++p) acc[p][j] = b;
  }
  for (int ky = 0; ky < g.kh; ++ky) {
    const float* row = padded + size_t(oy * g.sh + ky * g.dh) * g.pw * g.ic + ci0;
    for (int kx = 0; kx < g.kw; ++kx) {
      const float* k = kernel + size_t(ky * g.kw + kx) * icg * g.oc + o0;
      const float* in[P];
      for (int p = 0; p < P; ++p) in[p] = row + size_t((ox0 + p) * g.sw + kx * g.dw) * g.ic;
      for (int ci = 0; ci < icg; ++ci, k += g.oc) {
        Batch kv[NB];
        for (int j = 0; j < NB; ++j) kv[j] = Batch::load_unaligned(k + j * L);
        for (int p = 0; p < P; ++p) {
          const Batch a(in[p][ci]);
          for (int j = 0; j < NB; ++j) acc[p][j] = xsimd::fma(a, kv[j], acc[p][j]);
        }
      }
    }
  }
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < NB; ++j) acc[p][j].store_unaligned(out + (size_t(oy) * g.ow + ox0 + p) * g.oc + o0 + j * L);
}

inline void grouped_pixel_scalar(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                                 float* out, int oy, int ox, int o0, int o1, int ci0, int icg) {
  for (int o = o0; o < o1; ++o) {
    float acc = bias ? bias[o] : 0.f;
    for (int ky = 0; ky < g.kh; ++ky)
      for (int kx = 0; kx < g.kw; ++kx) {
        const float* in = padded + (size_t(oy * g.sh + ky * g.dh) * g.pw + size_t(ox * g.sw + kx * g.dw)) * g.ic + ci0;
        const float* k = kernel + size_t(ky * g.kw + kx) * icg * g.oc + o;
        for (int ci = 0; ci < icg; ++ci) acc += in[ci] * k[size_t(ci) * g.oc];
      }
    out[(size_t(oy) * g.ow + ox) * g.oc + o] = acc;
  }
}

template <int P>
inline void grouped_pixels(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                           float* out, int oy, int ox0) {
  const int icg = g.ic / g.groups, ocg = g.oc / g.groups;
  for (int grp = 0; grp < g.groups; ++grp) {
    const int ci0 = grp * icg, o_end = (grp + 1) * ocg;
    int o = grp * ocg;
    for (; o + 2 * L <= o_end; o += 2 * L) grouped_tile<P, 2>(g, padded, kernel, bias, out, oy, ox0, o, ci0, icg);
    for (; o + L <= o_end; o += L) grouped_tile<P, 1>(g, padded, kernel, bias, out, oy, ox0, o, ci0, icg);
    if (o < o_end)
      for (int p = 0; p < P; ++p) grouped_pixel_scalar(g, padded, kernel, bias, out, oy, ox0 + p, o, o_end, ci0, icg);
  }
}

inline float dot(const float* a, const float* b, int n) {
  int i = 0;
  float s = 0.f;
  if (n >= L) {
    Batch acc(0.f);
    for (; i + L <= n; i += L) acc = xsimd::fma(Batch::load_unaligned(a + i), Batch::load_unaligned(b + i), acc);
    s = xsimd::reduce_add(acc);
  }
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

void grouped_conv_forward(const ConvGeometry& g, const float* padded, const float* kernel, const float* bias,
                          float* out) {
  const int64_t row_work = int64_t(g.ow) * g.kh * g.kw * (g.ic / g.groups) * g.oc;
  parallel_for(g.oh, grain_for_work(g.oh, row_work), [&](int64_t oy0, int64_t oy1) {
    for (int oy = int(oy0); oy < int(oy1); ++oy) {
      int ox = 0;
      for (; ox + 4 <= g.ow; ox += 4) grouped_pixels<4>(g, padded, kernel, bias, out, oy, ox);
      for (; ox < g.ow; ++ox) grouped_pixels<1>(g, padded, kernel, bias, out, oy, ox);
    }
  });
}

// Scatter: each output pixel's gradient, through each tap, adds to the input channels of every
// group the dot product of the group's output gradient with that input channel's kernel row
// (contiguous in [kh][kw][ic/groups][oc]).
void grouped_conv_backward_input(const ConvGeometry& g, const float* gout, const float* kernel, float* gin_padded) {
  std::fill(gin_padded, gin_padded + size_t(g.ph) * g.pw * g.ic, 0.f);
  const int icg = g.ic / g.groups, ocg = g.oc / g.groups;
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox) {
      const float* go = gout + (size_t(oy) * g.ow + ox) * g.oc;
      for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx) {
          float* gi = gin_padded + (size_t(oy * g.sh + ky * g.dh) * g.pw + size_t(ox * g.sw + kx * g.dw)) * g.ic;
          const float* k = kernel + size_t(ky * g.kw + kx) * icg * g.oc;
          for (int grp = 0; grp < g.groups; ++grp)
            for (int ci = 0; ci < icg; ++ci)
              gi[grp * icg + ci] += dot(go + grp * ocg, k + size_t(ci) * g.oc + grp * ocg, ocg);
        }
    }
}

void grouped_conv_forward_reference(const ConvGeometry& g, const float* in, const float* kernel, const float* bias,
                                    float* out) {
  const int icg = g.ic / g.groups, ocg = g.oc / g.groups;
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox)
      for (int o = 0; o < g.oc; ++o) {
        const int ci0 = (o / ocg) * icg;
        double acc = bias ? bias[o] : 0.0;
        for (int ky = 0; ky < g.kh; ++ky)
          for (int kx = 0; kx < g.kw; ++kx) {
            const int iy = oy * g.sh + ky * g.dh - g.pad_t, ix = ox * g.sw + kx * g.dw - g.pad_l;
            if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
            for (int ci = 0; ci < icg; ++ci)
              acc += double(in[(size_t(iy) * g.iw + ix) * g.ic + ci0 + ci]) *
                     kernel[((size_t(ky) * g.kw + kx) * icg + ci) * g.oc + o];
          }
        out[(size_t(oy) * g.ow + ox) * g.oc + o] = float(acc);
      }
}

void grouped_conv_backward_input_reference(const ConvGeometry& g, const float* gout, const float* kernel,
                                           float* gin) {
  const int icg = g.ic / g.groups, ocg = g.oc / g.groups;
  std::vector<double> acc(size_t(g.ih) * g.iw * g.ic, 0.0);  // sums in double, rounded once
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox)
      for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx) {
          const int iy = oy * g.sh + ky * g.dh - g.pad_t, ix = ox * g.sw + kx * g.dw - g.pad_l;
          if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
          for (int o = 0; o < g.oc; ++o) {
            const int ci0 = (o / ocg) * icg;
            const double go = gout[(size_t(oy) * g.ow + ox) * g.oc + o];
            for (int ci = 0; ci < icg; ++ci)
              acc[(size_t(iy) * g.iw + ix) * g.ic + ci0 + ci] += go * kernel[((size_t(ky) * g.kw + kx) * icg + ci) * g.oc + o];
          }
        }
  std::transform(acc.begin(), acc.end(), gin, [](double v) { return float(v); });
}

// ---------------------------------------------------------------------------------------------
// Average pooling.

namespace {

// One axis of output o's window: the taps [k0, k1) whose positions fall inside the input (the
// window can be dilated, so they are counted, not subtracted), and how many positions the divisor
// counts.
struct PoolSpan {
  int k0, k1;   // taps inside the input: start + k*d in [0, in) for k0 <= k < k1
  int divisor;  // count_include_pad: positions in [-pad_begin, in + pad_end); else k1 - k0
};
inline PoolSpan pool_span(int o, int in, int k_count, int s, int d, int pad_begin, int pad_end,
                          bool count_include_pad) {
  const int start = o * s - pad_begin;
  PoolSpan sp{k_count, k_count, 0};
  int padded_taps = 0;
  for (int k = 0; k < k_count; ++k) {
    const int i = start + k * d;
    if (i < in + pad_end) ++padded_taps;  // i >= -pad_begin always
    if (i >= 0 && i < in) {
      sp.k0 = std::min(sp.k0, k);
      sp.k1 = k + 1;
    }
  }
  if (sp.k0 == k_count) sp.k0 = sp.k1 = 0;
  sp.divisor = count_include_pad ? padded_taps : sp.k1 - sp.k0;
  return sp;
}

}  // namespace

void avg_pool_forward(const ConvGeometry& g, bool count_include_pad, const float* in, float* out) {
  const size_t C = size_t(g.ic);
  const int cv = g.ic - g.ic % L;
  const int64_t row_work = int64_t(g.ow) * g.kh * g.kw * g.ic;
  parallel_for(g.oh, grain_for_work(g.oh, row_work), [&](int64_t oy0, int64_t oy1) {
    for (int oy = int(oy0); oy < int(oy1); ++oy) {
      const PoolSpan ry = pool_span(oy, g.ih, g.kh, g.sh, g.dh, g.pad_t, g.pad_b, count_include_pad);
      for (int ox = 0; ox < g.ow; ++ox) {
        const PoolSpan rx = pool_span(ox, g.iw, g.kw, g.sw, g.dw, g.pad_l, g.pad_r, count_include_pad);
        const int divisor = ry.divisor * rx.divisor;
        // A window wholly in the padding (only possible with pads past the kernel size) averages nothing.
        const float scale = divisor > 0 ? 1.f / float(divisor) : 0.f;
        float* o = out + (size_t(oy) * g.ow + ox) * C;
        const int y0 = oy * g.sh - g.pad_t, x0 = ox * g.sw - g.pad_l;
        int c = 0;
        for (; c < cv; c += L) {
          Batch acc(0.f);
          for (int ky = ry.k0; ky < ry.k1; ++ky)
            for (int kx = rx.k0; kx < rx.k1; ++kx)
              acc += Batch::load_unaligned(in + (size_t(y0 + ky * g.dh) * g.iw + size_t(x0 + kx * g.dw)) * C + c);
          (acc * Batch(scale)).store_unaligned(o + c);
        }
        for (; c < g.ic; ++c) {
          float acc = 0.f;
          for (int ky = ry.k0; ky < ry.k1; ++ky)
            for (int kx = rx.k0; kx < rx.k1; ++kx) acc += in[(size_t(y0 + ky * g.dh) * g.iw + size_t(x0 + kx * g.dw)) * C + c];
          o[c] = acc * scale;
        }
      }
    }
  });
}

void avg_pool_backward(const ConvGeometry& g, bool count_include_pad, const float* gout, float* gin) {
  const size_t C = size_t(g.ic);
  const int cv = g.ic - g.ic % L;
  std::fill(gin, gin + size_t(g.ih) * g.iw * C, 0.f);
  for (int oy = 0; oy < g.oh; ++oy) {
    const PoolSpan ry = pool_span(oy, g.ih, g.kh, g.sh, g.dh, g.pad_t, g.pad_b, count_include_pad);
    for (int ox = 0; ox < g.ow; ++ox) {
      const PoolSpan rx = pool_span(ox, g.iw, g.kw, g.sw, g.dw, g.pad_l, g.pad_r, count_include_pad);
      const int divisor = ry.divisor * rx.divisor;
      if (divisor == 0) continue;
      const float scale = 1.f / float(divisor);
      const float* go = gout + (size_t(oy) * g.ow + ox) * C;
      const int y0 = oy * g.sh - g.pad_t, x0 = ox * g.sw - g.pad_l;
      for (int ky = ry.k0; ky < ry.k1; ++ky)
        for (int kx = rx.k0; kx < rx.k1; ++kx) {
          float* gi = gin + (size_t(y0 + ky * g.dh) * g.iw + size_t(x0 + kx * g.dw)) * C;
          int c = 0;
          for (; c < cv; c += L)
            xsimd::fma(Batch::load_unaligned(go + c), Batch(scale), Batch::load_unaligned(gi + c)).store_unaligned(gi + c);
          for (; c < g.ic; ++c) gi[c] += go[c] * scale;
        }
    }
  }
}

namespace {
// Straight from the definition, per position, for the references.
inline int avg_pool_divisor_reference(const ConvGeometry& g, bool count_include_pad, int oy, int ox) {
  int n = 0;
  for (int ky = 0; ky < g.kh; ++ky)
    for (int kx = 0; kx < g.kw; ++kx) {
      const int iy = oy * g.sh + ky * g.dh - g.pad_t, ix = ox * g.sw + kx * g.dw - g.pad_l;
      const bool inside = iy >= 0 && iy < g.ih && ix >= 0 && ix < g.iw;
      const bool in_padding = iy >= -g.pad_t && iy < g.ih + g.pad_b && ix >= -g.pad_l && ix < g.iw + g.pad_r;
      n += count_include_pad ? in_padding : inside;
    }
  return n;
}
}  // namespace

void avg_pool_forward_reference(const ConvGeometry& g, bool count_include_pad, const float* in, float* out) {
  const int C = g.ic;
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox) {
      const int n = avg_pool_divisor_reference(g, count_include_pad, oy, ox);
      for (int c = 0; c < C; ++c) {
        double acc = 0;
        for (int ky = 0; ky < g.kh; ++ky)
          for (int kx = 0; kx < g.kw; ++kx) {
            const int iy = oy * g.sh + ky * g.dh - g.pad_t, ix = ox * g.sw + kx * g.dw - g.pad_l;
            if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
            acc += in[(size_t(iy) * g.iw + ix) * C + c];
          }
        out[(size_t(oy) * g.ow + ox) * C + c] = n > 0 ? float(acc / n) : 0.f;
      }
    }
}

void avg_pool_backward_reference(const ConvGeometry& g, bool count_include_pad, const float* gout, float* gin) {
  const int C = g.ic;
  std::vector<double> acc(size_t(g.ih) * g.iw * C, 0.0);  // sums in double, rounded once
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox) {
      const int n = avg_pool_divisor_reference(g, count_include_pad, oy, ox);
      if (n == 0) continue;
      for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx) {
          const int iy = oy * g.sh + ky * g.dh - g.pad_t, ix = ox * g.sw + kx * g.dw - g.pad_l;
          if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
          for (int c = 0; c < C; ++c)
            acc[(size_t(iy) * g.iw + ix) * C + c] += double(gout[(size_t(oy) * g.ow + ox) * C + c]) / n;
        }
    }
  std::transform(acc.begin(), acc.end(), gin, [](double v) { return float(v); });
}

}  // namespace gradcam::kernels
