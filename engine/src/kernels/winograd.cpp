// Winograd F(2x2, 3x3). With tiles of 2x2 outputs, d the 4x4 input tile and g the 3x3 kernel:
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
// B^T, G and A^T are the matrices of Lavin & Gray (arXiv 1509.09308, Sec. 4.1). The element-wise
// product summed over input channels is, for each of the 36 positions, a GEMM
// (tiles x ic) * (ic x oc), computed with the same register tiles as the direct convolution.
#include <algorithm>
#include <cstring>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "kernels/kernels.h"
#include "parallel/thread_pool.h"

namespace gradcam::kernels {

namespace {

using Batch = xsimd::batch<float>;
constexpr int L = int(Batch::size);

// The transforms are written once for a lane type V: a SIMD batch of channels or one float.
template <class V>
V load(const float* p) {
  if constexpr (std::is_same_v<V, float>) return *p;
  else return V::load_unaligned(p);
}
inline void store(float* p, float v) { *p = v; }
inline void store(float* p, const Batch& v) { v.store_unaligned(p); }
inline float clamped(float v, Clamp c) { return c(v); }
inline Batch clamped(const Batch& v, Clamp c) { return xsimd::min(xsimd::max(v, Batch(c.lo)), Batch(c.hi)); }

// F(2x2, 3x3): B^T d B on a 4x4 tile.
template <class V>
void input_transform(const V d[4][4], V out[4][4]) {
  V t[4][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {
    out[i][0] = t[i][0] - t[i][2];
    out[i][1] = t[i][1] + t[i][2];
    out[i][2] = t[i][2] - t[i][1];
    out[i][3] = t[i][1] - t[i][3];
  }
}

// F(2x2, 3x3): A^T m A, 4x4 -> 2x2.
template <class V>
void output_transform(const V m[4][4], V out[2][2]) {
  V t[2][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = m[0][j] + m[1][j] + m[2][j];
    t[1][j] = m[1][j] - m[2][j] - m[3][j];
  }
  for (int i = 0; i < 2; ++i) {
    out[i][0] = t[i][0] + t[i][1] + t[i][2];
    out[i][1] = t[i][1] - t[i][2] - t[i][3];
  }
}

// V[k][t][c] for channels c..c+lanes of the tiles in rows ty0..ty1 of one image, whose tiles are
// first_tile on of the `tiles` that Vt holds; M outputs a tile side, T = M + 2 inputs.
template <int M, class V>
void transform_tiles(const float* in, int h, int w, int ic, int tw, int c, int ty0, int ty1, float* Vt, size_t tiles,
                     size_t first_tile) {
  constexpr int T = M + 2;
  V d[T][T], out[T][T];
  for (int ty = ty0; ty < ty1; ++ty)
    for (int tx = 0; tx < tw; ++tx) {
      const int y0 = ty * M, x0 = tx * M;
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j) {
          const int y = y0 + i, x = x0 + j;
          d[i][j] = y < h && x < w ? load<V>(in + (size_t(y) * w + x) * ic + c) : V(0.f);
        }
      input_transform(d, out);
      const size_t t = first_tile + size_t(ty) * tw + tx;
      for (int k = 0; k < T * T; ++k) store(Vt + (size_t(k) * tiles + t) * ic + c, out[k / T][k % T]);
    }
}

// B's blocks of columns, in order: 2L wide while they fit, then one of L, then the remainder
// (< L); each block is stored K x width contiguously (packed), so a register tile reads it in order.
inline int block_width(int n, int c0) { return c0 + 2 * L <= n ? 2 * L : (c0 + L <= n ? L : n - c0); }

// C (rows x n) = A (rows x K) * B (K x n), A and C row-major, B packed; R rows and the NB*L
// columns of the block `panel` (K x NB*L) per register tile.
template <int R, int NB>
inline void gemm_tile(const float* A, const float* panel, float* C, int K, int n, int r0, int c0) {
  constexpr int W = NB * L;
  Batch acc[R][NB];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NB; ++j) acc[r][j] = Batch(0.f);
  const float* a[R];
  for (int r = 0; r < R; ++r) a[r] = A + size_t(r0 + r) * K;
  const float* b = panel;
  for (int k = 0; k < K; ++k, b += W) {
    Batch bv[NB];
    for (int j = 0; j < NB; ++j) bv[j] = Batch::load_unaligned(b + j * L);
    for (int r = 0; r < R; ++r) {
      Batch av(a[r][k]);
      for (int j = 0; j < NB; ++j) acc[r][j] = xsimd::fma(av, bv[j], acc[r][j]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NB; ++j) acc[r][j].store_unaligned(C + size_t(r0 + r) * n + c0 + j * L);
}

// One block of columns for every row: the block (K x width, 16 KiB for K = 512 in wasm) stays in
// cache while the rows of A stream past it, so B is read from memory once per GEMM. (Rows
// outermost read all of B once per 4 rows: 16 MiB of transformed kernel per 4 tiles of a
// 7x7x512 layer.)
template <int NB>
void gemm_block(const float* A, const float* panel, float* C, int rows, int K, int n, int c0) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) gemm_tile<4, NB>(A, panel, C, K, n, r, c0);
  for (; r < rows; ++r) gemm_tile<1, NB>(A, panel, C, K, n, r, c0);
}

void gemm(const float* A, const float* B, float* C, int rows, int K, int n) {
  for (int c0 = 0, w = 0; c0 < n; c0 += w) {
    w = block_width(n, c0);
    const float* panel = B + size_t(K) * c0;
    if (w == 2 * L) gemm_block<2>(A, panel, C, rows, K, n, c0);
    else if (w == L) gemm_block<1>(A, panel, C, rows, K, n, c0);
    else
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < w; ++j) {
          float s = 0.f;
          for (int k = 0; k < K; ++k) s += A[size_t(r) * K + k] * panel[size_t(k) * w + j];
          C[size_t(r) * n + c0 + j] = s;
        }
  }
}

// One image's outputs from its tiles (first_tile on of the `tiles` Mt holds), rows ty0..ty1.
template <int M, class V>
void untransform_tiles(const float* Mt, int oh, int ow, int oc, int tw, int c, int ty0, int ty1, size_t tiles,
                       size_t first_tile, const float* bias, Clamp clamp, float* out) {
  constexpr int T = M + 2;
  V m[T][T], y[M][M];
  const V b = bias ? load<V>(bias + c) : V(0.f);
  const bool clamps = clamp.active();
  for (int ty = ty0; ty < ty1; ++ty)
    for (int tx = 0; tx < tw; ++tx) {
      const size_t t = first_tile + size_t(ty) * tw + tx;
      for (int k = 0; k < T * T; ++k) m[k / T][k % T] = load<V>(Mt + (size_t(k) * tiles + t) * oc + c);
      output_transform(m, y);
      for (int i = 0; i < M && ty * M + i < oh; ++i)
        for (int j = 0; j < M && tx * M + j < ow; ++j) {
          V v = y[i][j] + b;
          if (clamps) v = clamped(v, clamp);
          store(out + (size_t(ty * M + i) * ow + tx * M + j) * oc + c, v);
        }
    }
}

}  // namespace

void winograd_transform_kernel(const float* kernel, int ic, int oc, float* U) {
  constexpr int T = kWinogradTile + 2;
  std::vector<float> plain(size_t(T * T) * ic * oc);  // [position][ic][oc], packed for gemm below
  static const float G[T][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
  for (int c = 0; c < ic; ++c)
    for (int o = 0; o < oc; ++o) {
      float g[3][3], t[T][3];
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x) g[y][x] = kernel[((size_t(y) * 3 + x) * ic + c) * oc + o];
      for (int i = 0; i < T; ++i)
        for (int x = 0; x < 3; ++x) t[i][x] = G[i][0] * g[0][x] + G[i][1] * g[1][x] + G[i][2] * g[2][x];
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j)
          plain[(size_t(i * T + j) * ic + c) * oc + o] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
    }
  for (int k = 0; k < T * T; ++k)
    for (int o0 = 0, w = 0; o0 < oc; o0 += w) {
      w = block_width(oc, o0);
      float* panel = U + size_t(k) * ic * oc + size_t(ic) * o0;
      for (int c = 0; c < ic; ++c)
        std::memcpy(panel + size_t(c) * w, plain.data() + (size_t(k) * ic + c) * oc + o0, sizeof(float) * size_t(w));
    }
}

size_t winograd_scratch_floats(int oh, int ow, int ic, int oc) {
  constexpr int M = kWinogradTile, T = M + 2;
  const size_t tiles = size_t((oh + M - 1) / M) * size_t((ow + M - 1) / M);
  return T * T * tiles * size_t(ic) + T * T * tiles * size_t(oc);
}

void winograd_conv3x3(const float* in, int oh, int ow, int ic, int oc, const float* U, const float* bias, Clamp clamp,
                      float* out, float* scratch, int batch) {
  constexpr int M = kWinogradTile, T = M + 2;
  const int th = (oh + M - 1) / M, tw = (ow + M - 1) / M;
  const size_t image_tiles = size_t(th) * tw, tiles = image_tiles * size_t(batch);
  const int h = oh + 2, w = ow + 2;
  const size_t in_image = size_t(h) * w * ic, out_image = size_t(oh) * ow * oc;
  float* Vt = scratch;                              // T*T x tiles x ic
  float* Mt = scratch + size_t(T * T) * tiles * ic;  // T*T x tiles x oc
  // The threads share rows of tiles (of all the images, one after another) in the transforms and
  // positions in the GEMMs: each writes its own part of Vt, Mt and out, and every value is
  // computed as without threads and without a batch.
  const int64_t rows = int64_t(th) * batch;
  const int64_t transform_work = int64_t(tw) * T * T * std::max(ic, oc);
  // fn(image, ty0, ty1) over the rows [r0, r1) of the batch, image by image.
  auto by_image = [th](int64_t r0, int64_t r1, auto&& fn) {
    for (int64_t b = r0 / th; b * th < r1; ++b)
      fn(int(b), int(std::max<int64_t>(r0 - b * th, 0)), int(std::min<int64_t>(r1 - b * th, th)));
  };
  parallel_for(rows, grain_for_work(rows, transform_work), [&](int64_t r0, int64_t r1) {
    by_image(r0, r1, [&](int b, int ty0, int ty1) {
      const float* image = in + size_t(b) * in_image;
      const size_t first = size_t(b) * image_tiles;
      int c = 0;
      for (; c + L <= ic; c += L) transform_tiles<M, Batch>(image, h, w, ic, tw, c, ty0, ty1, Vt, tiles, first);
      for (; c < ic; ++c) transform_tiles<M, float>(image, h, w, ic, tw, c, ty0, ty1, Vt, tiles, first);
    });
  });
  parallel_for(T * T, grain_for_work(T * T, int64_t(tiles) * ic * oc), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k)
      gemm(Vt + size_t(k) * tiles * ic, U + size_t(k) * ic * oc, Mt + size_t(k) * tiles * oc, int(tiles), ic, oc);
  });
  parallel_for(rows, grain_for_work(rows, transform_work), [&](int64_t r0, int64_t r1) {
    by_image(r0, r1, [&](int b, int ty0, int ty1) {
      float* image = out + size_t(b) * out_image;
      const size_t first = size_t(b) * image_tiles;
      int c = 0;
      for (; c + L <= oc; c += L)
        untransform_tiles<M, Batch>(Mt, oh, ow, oc, tw, c, ty0, ty1, tiles, first, bias, clamp, image);
      for (; c < oc; ++c) untransform_tiles<M, float>(Mt, oh, ow, oc, tw, c, ty0, ty1, tiles, first, bias, clamp, image);
    });
  });
}

}  // namespace gradcam::kernels
