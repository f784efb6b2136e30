// Every op descriptor's backward pass against central finite differences of an independent
// double-precision forward pass written from the ONNX definitions (channels-first semantics read
// through the engine's channels-last storage), on small graphs built directly with the weights in
// each op's own layout. Every row of op_table() must have cases here: a new op cannot be added
// without one.
//
// The score is a random linear combination of the logits, so every logit's gradient matters. A
// central difference is exact up to O(eps^2) only where the function is smooth on [x - eps, x + eps]:
// the reference records every discrete choice it makes (the side of each ReLU-like kink, each
// max-pool window's argmax) and a coordinate whose perturbation changes one is not compared.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <tuple>

#include "gradcam/graph.h"
#include "gradcam/network.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {

// ---- the reference: straight from the definitions, in double ----

bool nd_math_reference(const Graph& g, const Node& n, const std::vector<std::vector<double>>& values, std::vector<double>& y);

struct Reference {
  std::vector<std::vector<double>> values;  // per value id
  std::vector<int> branches;                // every discrete choice the forward made
};

// ---- the layout ops' reference: ONNX's logical (row-major) order, whatever the storage ----

std::vector<int64_t> logical_dims(const Value& v) {
  if (v.layout == Layout::image) return {1, v.shape.c, v.shape.h, v.shape.w};
  return v.dims;
}

// An image is stored channels-last (h, w, c); its logical order is (c, h, w). Rows are stored in
// logical order.
std::vector<double> to_logical(const Value& v, const std::vector<double>& x) {
  if (v.layout != Layout::image) return x;
  const Shape& s = v.shape;
  std::vector<double> y(x.size());
  for (int yy = 0; yy < s.h; ++yy)
    for (int xx = 0; xx < s.w; ++xx)
      for (int c = 0; c < s.c; ++c) y[(size_t(c) * s.h + yy) * s.w + xx] = x[(size_t(yy) * s.w + xx) * s.c + c];
  return y;
}

std::vector<double> from_logical(const Value& v, const std::vector<double>& y) {
  if (v.layout != Layout::image) return y;
  const Shape& s = v.shape;
  std::vector<double> x(y.size());
  for (int yy = 0; yy < s.h; ++yy)
    for (int xx = 0; xx < s.w; ++xx)
      for (int c = 0; c < s.c; ++c) x[(size_t(yy) * s.w + xx) * s.c + c] = y[(size_t(c) * s.h + yy) * s.w + xx];
  return x;
}

std::vector<int64_t> unravel(size_t i, const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx(dims.size());
  for (size_t k = dims.size(); k-- > 0;) {
    idx[k] = int64_t(i % size_t(dims[k]));
    i /= size_t(dims[k]);
  }
  return idx;
}

size_t ravel(const std::vector<int64_t>& idx, const std::vector<int64_t>& dims) {
  size_t i = 0;
  for (size_t k = 0; k < dims.size(); ++k) i = i * size_t(dims[k]) + size_t(idx[k]);
  return i;
}

int64_t axis_of(int64_t a, size_t rank) { return a < 0 ? a + int64_t(rank) : a; }

// Output element at logical index `o` of a layout op reads input element `i` (or, for Concat,
// `part`'s); false: the op is not one of these.
bool layout_reference(const Node& n, const Graph& g, const std::vector<std::vector<double>>& values, std::vector<double>& y) {
  const std::string& t = n.op_type;
  const OpAttributes& a = n.attrs;
  const Value& in = g.value(n.inputs[0]);
  const Value& out = g.value(n.output);
  const std::vector<int64_t> id = logical_dims(in), od = logical_dims(out);
  const std::vector<double> x = to_logical(in, values[size_t(n.inputs[0])]);
  std::vector<double> z(size_t(out.shape.size()));
  if (t == "ToImage" || t == "Squeeze" || t == "Unsqueeze" || (t == "Reshape" && in.layout == Layout::rows)) {
    z = x;  // the dims change, the logical order does not
  } else if (t == "Transpose") {
    for (size_t j = 0; j < z.size(); ++j) {
      const auto o = unravel(j, od);
      std::vector<int64_t> i(id.size());
      for (size_t k = 0; k < od.size(); ++k) i[size_t(a.perm.empty() ? od.size() - 1 - k : axis_of(a.perm[k], id.size()))] = o[k];
      z[j] = x[ravel(i, id)];
    }
  } else if (t == "Slice") {
    std::vector<int64_t> first(id.size(), 0), step(id.size(), 1);
    for (size_t k = 0; k < a.slice_axes.size(); ++k) {
      const size_t ax = size_t(axis_of(a.slice_axes[k], id.size()));
      int64_t s0 = a.slice_starts[k];
      if (s0 < 0) s0 += id[ax];
      first[ax] = a.slice_steps[k] > 0 ? std::clamp<int64_t>(s0, 0, id[ax]) : std::clamp<int64_t>(s0, 0, id[ax] - 1);
      step[ax] = a.slice_steps[k];
    }
    for (size_t j = 0; j < z.size(); ++j) {
      auto o = unravel(j, od);
      for (size_t k = 0; k < o.size(); ++k) o[k] = first[k] + o[k] * step[k];
      z[j] = x[ravel(o, id)];
    }
  } else if (t == "Gather") {
    const size_t ax = size_t(axis_of(a.axis, id.size()));
    for (size_t j = 0; j < z.size(); ++j) {
      auto o = unravel(j, od);
      if (a.gather_scalar) o.insert(o.begin() + ptrdiff_t(ax), 0), o[ax] = a.gather_indices[0];
      else o[ax] = a.gather_indices[size_t(o[ax])];
      if (o[ax] < 0) o[ax] += id[ax];
      z[j] = x[ravel(o, id)];
    }
  } else if (t == "Pad" && !a.pads.empty()) {  // ONNX's pads, on any axes (an image's H and W, or a rows value's)
    const size_t rank = id.size();
    for (size_t j = 0; j < z.size(); ++j) {
      auto o = unravel(j, od);
      bool inside = true;
      for (size_t k = 0; k < rank; ++k) {
        o[k] -= a.pads[k];
        inside = inside && o[k] >= 0 && o[k] < id[k];
      }
      z[j] = inside ? x[ravel(o, id)] : double(a.pad_value);
    }
  } else if (t == "Expand") {
    for (size_t j = 0; j < z.size(); ++j) {
      const auto o = unravel(j, od);
      std::vector<int64_t> i(id.size());
      for (size_t k = 0; k < id.size(); ++k) i[k] = id[k] == 1 ? 0 : o[k + od.size() - id.size()];
      z[j] = x[ravel(i, id)];
    }
  } else if (t == "Concat" && (!n.weights.empty() || std::any_of(n.inputs.begin(), n.inputs.end(), [&](int v) {
                                 return g.value(v).layout != out.layout || !(out.layout == Layout::image || out.is_vector());
                               }))) {
    const size_t ax = size_t(axis_of(a.axis, od.size()));
    // Each operand's logical floats and its extent on the axis.
    std::vector<std::vector<double>> parts;
    std::vector<int64_t> extents;
    const size_t count = a.concat_parts.empty() ? n.inputs.size() : a.concat_parts.size();
    for (size_t k = 0; k < count; ++k) {
      const int64_t code = a.concat_parts.empty() ? int64_t(k) : a.concat_parts[k];
      if (code >= 0) {
        const Value& v = g.value(n.inputs[size_t(code)]);
        parts.push_back(to_logical(v, values[size_t(n.inputs[size_t(code)])]));
        extents.push_back(logical_dims(v)[ax]);
      } else {
        const std::vector<float>& w = n.weights[size_t(-1 - code)];
        parts.emplace_back(w.begin(), w.end());
        extents.push_back(int64_t(w.size()) * od[ax] / int64_t(z.size()));
      }
    }
    for (size_t j = 0; j < z.size(); ++j) {
      auto o = unravel(j, od);
      size_t k = 0;
      while (o[ax] >= extents[k]) o[ax] -= extents[k++];
      std::vector<int64_t> pd = od;
      pd[ax] = extents[k];
      z[j] = parts[k][ravel(o, pd)];
    }
  } else {
    return false;
  }
  y = from_logical(out, z);
  return true;
}

// Evaluates the graph on `input`; when `replaced` >= 0, that value is taken from `replacement`
// instead of computed (the derivative with respect to it then covers all of its consumers).
Reference reference_forward(const Graph& g, const std::vector<double>& input, int replaced = -1,
                            const std::vector<double>* replacement = nullptr) {
  Reference r;
  r.values.resize(g.values.size());
  r.values[0] = replaced == 0 ? *replacement : input;
  auto branch = [&](int b) { r.branches.push_back(b); };
  for (const Node& n : g.nodes) {
    const Shape& os = g.value(n.output).shape;
    std::vector<double>& y = r.values[size_t(n.output)];
    y.assign(size_t(os.size()), 0.0);
    const std::vector<double>& x = r.values[size_t(n.inputs[0])];
    const Shape& is = g.value(n.inputs[0]).shape;
    const OpAttributes& a = n.attrs;
    const std::string& t = n.op_type;
    auto at = [](const Shape& s, int yy, int xx, int c) { return (size_t(yy) * s.w + xx) * s.c + c; };
    if (layout_reference(n, g, r.values, y)) {
    } else if (nd_math_reference(g, n, r.values, y)) {
      // the any-rank arithmetic ops (nd_math_cases.h)
    } else if (t == "Conv") {
      const int icg = is.c / a.groups, ocg = os.c / a.groups;
      const std::vector<float>& K = n.weights[0];
      for (int oy = 0; oy < os.h; ++oy)
        for (int ox = 0; ox < os.w; ++ox)
          for (int o = 0; o < os.c; ++o) {
            const int group = o / ocg;
            double acc = n.weights[1][size_t(o)];
            for (int ky = 0; ky < a.kh; ++ky)
              for (int kx = 0; kx < a.kw; ++kx) {
                const int iy = oy * a.sh + ky * a.dh - a.pad_t, ix = ox * a.sw + kx * a.dw - a.pad_l;
                if (iy < 0 || ix < 0 || iy >= is.h || ix >= is.w) continue;
                for (int c = 0; c < icg; ++c)
                  acc += x[at(is, iy, ix, group * icg + c)] * K[((size_t(ky) * a.kw + kx) * icg + c) * os.c + size_t(o)];
              }
            if (a.relu) branch(acc > 0), acc = std::max(acc, 0.0);
            y[at(os, oy, ox, o)] = acc;
          }
    } else if (t == "Gemm" || t == "MatMul") {
      const size_t units = size_t(a.out_channels);
      for (size_t o = 0; o < units; ++o) {
        double acc = n.weights[1][o];
        for (size_t i = 0; i < x.size(); ++i) acc += x[i] * n.weights[0][i * units + o];
        if (a.relu) branch(acc > 0), acc = std::max(acc, 0.0);
        y[o] = acc;
      }
    } else if (t == "MaxPool" || t == "AveragePool") {
      // Padding is -inf for the max and excluded from the average's sum; with count_include_pad the
      // divisor counts the window's positions inside the padded input (PyTorch's rule, which the
      // ceil_mode windows that run past the end padding make visible).
      for (int oy = 0; oy < os.h; ++oy)
        for (int ox = 0; ox < os.w; ++ox)
          for (int c = 0; c < os.c; ++c) {
            double best = -std::numeric_limits<double>::infinity(), sum = 0;
            int argmax = -1, inside = 0, padded = 0;
            for (int ky = 0; ky < a.kh; ++ky)
              for (int kx = 0; kx < a.kw; ++kx) {
                const int iy = oy * a.sh + ky - a.pad_t, ix = ox * a.sw + kx - a.pad_l;
                if (iy >= -a.pad_t && iy < is.h + a.pad_b && ix >= -a.pad_l && ix < is.w + a.pad_r) ++padded;
                if (iy < 0 || ix < 0 || iy >= is.h || ix >= is.w) continue;
                const double v = x[at(is, iy, ix, c)];
                ++inside, sum += v;
                if (v > best) best = v, argmax = iy * is.w + ix;
              }
            if (t == "MaxPool") {
              branch(argmax);
              y[at(os, oy, ox, c)] = best;
            } else {
              y[at(os, oy, ox, c)] = sum / (a.count_include_pad ? padded : inside);
            }
          }
    } else if (t == "GlobalMaxPool") {
      for (int c = 0; c < is.c; ++c) {
        int argmax = 0;
        for (int i = 1; i < is.h * is.w; ++i)
          if (x[size_t(i) * is.c + c] > x[size_t(argmax) * is.c + c]) argmax = i;
        branch(argmax);
        y[size_t(c)] = x[size_t(argmax) * is.c + c];
      }
    } else if (t == "SoftmaxChannels") {
      for (int i = 0; i < is.h * is.w; ++i) {
        double sum = 0;
        for (int c = 0; c < is.c; ++c) sum += std::exp(x[size_t(i) * is.c + c]);
        for (int c = 0; c < is.c; ++c) y[size_t(i) * is.c + c] = std::exp(x[size_t(i) * is.c + c]) / sum;
      }
    } else if (t == "KerasReshape") {
      y = x;  // channels-last in and out: the same order
    } else if (t == "PRelu") {
      const std::vector<float>& slope = n.weights[0];
      for (size_t k = 0; k < y.size(); ++k) {
        double s;
        if (a.slope_c > 0) {  // Keras shared_axes: [h or 1, w or 1, c or 1]
          const int c = int(k % size_t(is.c)), xx = int(k / size_t(is.c)) % is.w, yy = int(k / size_t(is.c)) / is.w;
          s = slope[size_t(((a.slope_h > 1 ? yy : 0) * a.slope_w + (a.slope_w > 1 ? xx : 0)) * a.slope_c + (a.slope_c > 1 ? c : 0))];
        } else {  // ONNX: one slope, one per channel, or one per element
          s = slope.size() == 1 ? slope[0] : (slope.size() == size_t(is.c) ? slope[k % size_t(is.c)] : slope[k]);
        }
        branch(x[k] > 0), y[k] = x[k] > 0 ? x[k] : s * x[k];
      }
    } else if (t == "GlobalAveragePool" || t == "ReduceMean") {
      for (int i = 0; i < is.h * is.w; ++i)
        for (int c = 0; c < is.c; ++c) y[size_t(c)] += x[size_t(i) * is.c + c] / (is.h * is.w);
    } else if (t == "BatchNormalization") {
      for (size_t k = 0; k < y.size(); ++k) y[k] = x[k] * n.weights[0][k % size_t(os.c)] + n.weights[1][k % size_t(os.c)];
    } else if (t == "Add" || t == "Mul" || t == "Sub") {
      // ONNX broadcasting of the forms supported: the same shape, [1,C,1,1] or a scalar.
      auto operand = [&](const std::vector<double>& v, size_t k) {
        return v.size() == y.size() ? v[k] : (v.size() == 1 ? v[0] : v[k % size_t(os.c)]);
      };
      const std::vector<double> constant(n.weights.empty() ? std::vector<double>{}
                                                           : std::vector<double>(n.weights[0].begin(), n.weights[0].end()));
      const std::vector<double>& other = n.inputs.size() > 1 ? r.values[size_t(n.inputs[1])] : constant;
      const bool swap = n.inputs.size() == 1 && a.constant_first;  // c - x
      for (size_t k = 0; k < y.size(); ++k) {
        double u = operand(x, k), v = operand(other, k);
        if (swap) std::swap(u, v);
        y[k] = t == "Add" ? u + v : (t == "Sub" ? u - v : u * v);
      }
    } else if (t == "Max" || t == "Mean" || t == "Sum") {
      auto operand = [&](const std::vector<double>& v, size_t k) {
        return v.size() == y.size() ? v[k] : (v.size() == 1 ? v[0] : v[k % size_t(os.c)]);
      };
      for (size_t k = 0; k < y.size(); ++k) {
        double acc = operand(r.values[size_t(n.inputs[0])], k);
        int first_max = 0;
        for (size_t i = 1; i < n.inputs.size(); ++i) {
          const double u = operand(r.values[size_t(n.inputs[i])], k);
          if (t == "Max" && u > acc) first_max = int(i);
          acc = t == "Max" ? std::max(acc, u) : acc + u;
        }
        if (t == "Max") branch(first_max);
        y[k] = t == "Mean" ? acc / double(n.inputs.size()) : acc;
      }
    } else if (t == "Concat") {
      int offset = 0;
      for (int in : n.inputs) {
        const Shape& s = g.value(in).shape;
        for (int i = 0; i < s.h * s.w; ++i)
          for (int c = 0; c < s.c; ++c) y[size_t(i) * os.c + size_t(offset + c)] = r.values[size_t(in)][size_t(i) * s.c + c];
        offset += s.c;
      }
    } else if (t == "Flatten" || t == "Reshape") {
      // ONNX reads [C,H,W] order; a Keras flatten reads [H,W,C], the storage order.
      for (int yy = 0; yy < is.h; ++yy)
        for (int xx = 0; xx < is.w; ++xx)
          for (int c = 0; c < is.c; ++c) {
            const size_t to = a.channels_first_flatten ? (size_t(c) * is.h + yy) * is.w + xx : at(is, yy, xx, c);
            y[to] = x[at(is, yy, xx, c)];
          }
    } else if (t == "Pad") {
      for (int yy = 0; yy < os.h; ++yy)
        for (int xx = 0; xx < os.w; ++xx)
          for (int c = 0; c < os.c; ++c) {
            const int iy = yy - a.pad_t, ix = xx - a.pad_l;
            const bool inside = iy >= 0 && ix >= 0 && iy < is.h && ix < is.w;
            y[at(os, yy, xx, c)] = inside ? x[at(is, iy, ix, c)] : a.pad_value;
          }
    } else if (t == "Identity" || t == "Dropout") {
      y = x;
    } else {
      // Element-wise activations, as ONNX defines them.
      for (size_t k = 0; k < y.size(); ++k) {
        const double v = x[k];
        if (t == "Relu") {
          branch(v > 0), y[k] = v > 0 ? v : 0;
        } else if (t == "LeakyRelu") {
          branch(v > 0), y[k] = v > 0 ? v : a.alpha * v;
        } else if (t == "Clip") {
          branch(v < a.lo ? 0 : (v > a.hi ? 2 : 1)), y[k] = std::min(std::max(v, double(a.lo)), double(a.hi));
        } else if (t == "Sigmoid") {
          y[k] = 1 / (1 + std::exp(-v));
        } else if (t == "HardSigmoid") {
          const double s = a.alpha * v + a.beta;
          branch(s < 0 ? 0 : (s > 1 ? 2 : 1)), y[k] = std::min(std::max(s, 0.0), 1.0);
        } else if (t == "HardSwish") {
          const double s = v / 6 + 0.5;
          branch(s < 0 ? 0 : (s > 1 ? 2 : 1)), y[k] = v * std::min(std::max(s, 0.0), 1.0);
        } else if (t == "Tanh") {
          y[k] = std::tanh(v);
        } else if (t == "Elu") {
          branch(v > 0), y[k] = v > 0 ? v : a.alpha * (std::exp(v) - 1);
        } else if (t == "Gelu") {
          y[k] = a.approximate_tanh ? 0.5 * v * (1 + std::tanh(std::sqrt(2 / 3.141592653589793) * (v + 0.044715 * v * v * v)))
                                    : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        } else if (t == "Swish") {
          y[k] = v / (1 + std::exp(-v));
        } else if (t == "KerasReLU") {
          // Keras: min(x, max_value) where x > threshold, negative_slope (x - threshold) elsewhere.
          branch(v > a.lo ? (v < a.hi ? 1 : 2) : 0);
          y[k] = v > a.lo ? std::min(v, double(a.hi)) : a.alpha * (v - a.lo);
        } else {
          FAIL("the reference has no definition of ", t);
        }
      }
    }
    // Computed all the same, so that the node's own choices are recorded as in the base pass.
    if (n.output == replaced) y = *replacement;
  }
  return r;
}

// ---- the check ----

double score(const Reference& r, const Graph& g, const std::vector<double>& weights) {
  double s = 0;
  for (size_t k = 0; k < weights.size(); ++k) s += weights[k] * r.values[size_t(g.output)][k];
  return s;
}

// Forward logits against the reference, then d(score)/d(value) for the input and every node's
// output against central differences (up to `samples` coordinates of each, spread over it).
void check_gradients(const Model& model, uint64_t seed, int samples = 96) {
  const Graph& g = *model.graph;
  Network net(model);
  const std::vector<float> input = random_vector(size_t(g.values[0].shape.size()), seed, -2.f, 2.f);
  net.forward(input.data());
  const std::vector<double> input_d(input.begin(), input.end());
  const Reference base = reference_forward(g, input_d);

  const std::vector<double>& logits = base.values[size_t(g.output)];
  double largest = 0;
  for (double z : logits) largest = std::max(largest, std::abs(z));
  for (size_t k = 0; k < logits.size(); ++k) CHECK(std::abs(net.logits()[k] - logits[k]) <= 1e-4 * (1 + largest));

  const std::vector<float> direction = random_vector(logits.size(), seed + 1, -1.f, 1.f);
  const std::vector<double> direction_d(direction.begin(), direction.end());
  net.backward(direction.data(), -1);

  for (size_t v = 0; v + 1 < g.values.size(); ++v) {
    if (int(v) == g.output) continue;
    const std::vector<float>& analytic = v == 0 ? net.input_grad() : net.output_grad(g.value(int(v)).producer);
    const std::vector<double>& x = base.values[v];
    // A token grid's gradient is its map (ViT's tokens after the class token).
    const size_t offset = g.value(int(v)).map.is_map() ? size_t(g.value(int(v)).map.offset) : 0;
    REQUIRE(offset + analytic.size() <= x.size());
    double scale = 0;
    for (float d : analytic) scale = std::max(scale, double(std::abs(d)));
    const double eps = 1e-5;
    int checked = 0, kinks = 0, mismatched = 0;
    const size_t stride = std::max<size_t>(1, x.size() / size_t(samples));
    for (size_t i = offset; i < offset + analytic.size(); i += stride) {
      std::vector<double> plus = x, minus = x;
      plus[i] += eps, minus[i] -= eps;
      const Reference p = reference_forward(g, input_d, int(v), &plus), m = reference_forward(g, input_d, int(v), &minus);
      if (p.branches != base.branches || m.branches != base.branches) {
        ++kinks;  // not differentiable on [x - eps, x + eps]
        continue;
      }
      const double fd = (score(p, g, direction_d) - score(m, g, direction_d)) / (2 * eps);
      // Float forward and backward against a double reference: errors of a few ulps of the largest
      // gradient; a wrong rule is off by the size of a gradient.
      if (std::abs(fd - analytic[i - offset]) > 1e-4 * scale + 1e-4 * std::abs(fd) + 1e-9) {
        if (mismatched < 3) MESSAGE("value ", g.value(int(v)).name, "[", i, "]: backward ", analytic[i - offset], ", finite difference ", fd);
        ++mismatched;
      }
      ++checked;
    }
    CAPTURE(g.value(int(v)).name);
    CHECK(mismatched == 0);
    CHECK(kinks <= (checked + kinks) / 10);  // a kink inside eps of most points would make this vacuous
    CHECK(checked > 0);
  }
}

// ---- graph pieces ----

OpAttributes window(int k, int stride, int pad_t, int pad_l, int pad_b, int pad_r) {
  OpAttributes a;
  a.kh = a.kw = k, a.sh = a.sw = stride;
  a.pad_t = pad_t, a.pad_l = pad_l, a.pad_b = pad_b, a.pad_r = pad_r;
  return a;
}

// A Conv with random weights in its own layout: kernel [kh][kw][ic/groups][oc], bias [oc].
int conv(GraphBuilder& b, int x, int oc, OpAttributes a, uint64_t seed, float scale = 1.f) {
  a.out_channels = oc;
  const int icg = b.value(x).shape.c / a.groups;
  const size_t taps = size_t(a.kh) * a.kw * size_t(icg);
  // He-like scale so that activations stay of order one through a few layers.
  const float w = scale * std::sqrt(3.f / float(taps));
  return b.add("Conv", {x}, a, {random_vector(taps * size_t(oc), seed, -w, w), random_vector(size_t(oc), seed + 1, -0.5f, 0.5f)});
}
// A Conv as a Keras layer without bias (use_bias=False) gives it: the kernel alone.
int conv_without_bias(GraphBuilder& b, int x, int oc, OpAttributes a, uint64_t seed) {
  a.out_channels = oc;
  const size_t taps = size_t(a.kh) * a.kw * size_t(b.value(x).shape.c / a.groups);
  const float w = std::sqrt(3.f / float(taps));
  return b.add("Conv", {x}, a, {random_vector(taps * size_t(oc), seed, -w, w)});
}
int conv1x1(GraphBuilder& b, int x, int oc, uint64_t seed, float scale = 1.f) { return conv(b, x, oc, window(1, 1, 0, 0, 0, 0), seed, scale); }

// Gemm/MatMul: W [in][out], bias [out] (MatMul's import leaves a zero bias).
int dense(GraphBuilder& b, const std::string& type, int x, int units, uint64_t seed, bool relu = false) {
  OpAttributes a;
  a.out_channels = units;
  a.relu = relu;
  const size_t in = size_t(b.value(x).shape.size());
  const float w = std::sqrt(3.f / float(in));
  std::vector<float> bias = type == "MatMul" ? std::vector<float>(size_t(units), 0.f) : random_vector(size_t(units), seed + 1, -0.5f, 0.5f);
  return b.add(type, {x}, a, {random_vector(in * size_t(units), seed, -w, w), std::move(bias)});
}

OpAttributes keepdims_0() {
  OpAttributes a;
  a.keep_dims = false;
  return a;
}

OpAttributes flatten_attrs(bool channels_first) {
  OpAttributes a;
  a.channels_first_flatten = channels_first;
  return a;
}

// ONNX Flatten and a Gemm of 4 classes: the logits.
Model with_head(GraphBuilder& b, int x, uint64_t seed) {
  if (!b.value(x).is_vector()) {
    OpAttributes a = flatten_attrs(true);
    a.axis = 0;  // [1, n] of any rank
    x = b.add("Flatten", {x}, a);
  }
  return b.model(dense(b, "Gemm", x, 4, seed));
}

// The layout ops as the ONNX importer makes them.
int reshape(GraphBuilder& b, int x, std::vector<int64_t> dims) {
  OpAttributes a = flatten_attrs(true);
  a.target_dims = std::move(dims);
  return b.add("Reshape", {x}, a);
}

int transpose(GraphBuilder& b, int x, std::vector<int64_t> perm) {
  OpAttributes a;
  a.perm = std::move(perm);
  return b.add("Transpose", {x}, a);
}

int slice(GraphBuilder& b, int x, std::vector<int64_t> axes, std::vector<int64_t> starts, std::vector<int64_t> ends,
          std::vector<int64_t> steps) {
  OpAttributes a;
  a.slice_axes = std::move(axes), a.slice_starts = std::move(starts), a.slice_ends = std::move(ends), a.slice_steps = std::move(steps);
  return b.add("Slice", {x}, a);
}

int gather(GraphBuilder& b, int x, int axis, std::vector<int64_t> indices, bool scalar) {
  OpAttributes a;
  a.axis = axis, a.gather_indices = std::move(indices), a.gather_scalar = scalar;
  return b.add("Gather", {x}, a);
}

int unsqueeze(GraphBuilder& b, int x, std::vector<int64_t> axes) {
  OpAttributes a = flatten_attrs(true);
  a.squeeze_axes = std::move(axes);
  return b.add("Unsqueeze", {x}, a);
}

// Concat of `inputs` and `constants` in the order `parts` gives (k >= 0: inputs[k]; -1 - w: constants[w]).
int concat(GraphBuilder& b, std::vector<int> inputs, std::vector<std::vector<float>> constants, std::vector<int64_t> parts, int axis) {
  OpAttributes a;
  a.axis = axis, a.concat_parts = std::move(parts);
  return b.add("Concat", std::move(inputs), a, std::move(constants));
}

// An activation after a 1x1 conv that spreads its input over about [-5, 5], across every kink.
Model activation_graph(const std::string& type, OpAttributes a, uint64_t seed) {
  GraphBuilder b(5, 6, 3);
  const int x = conv1x1(b, 0, 4, seed, 2.f);
  return with_head(b, b.add(type, {x}, a), seed + 2);
}

OpAttributes pool_attrs(int k, int stride, int pad_t, int pad_l, int pad_b, int pad_r, bool ceil_mode,
                        bool count_include_pad = false) {
  OpAttributes a = window(k, stride, pad_t, pad_l, pad_b, pad_r);
  a.ceil_mode = ceil_mode, a.count_include_pad = count_include_pad;
  return a;
}

// A pooling of a 7x6 map (odd and even sides: ceil_mode adds a window on one only).
Model pool_graph(const std::string& type, OpAttributes a, uint64_t seed) {
  GraphBuilder b(7, 6, 3);
  const int x = conv1x1(b, 0, 4, seed);
  return with_head(b, b.add(type, {x}, a), seed + 2);
}

// Add or Mul of a 5x6x4 map `m` and, by `form`, a second operand.
Model binary_graph(const std::string& type, const std::string& form, uint64_t seed) {
  GraphBuilder b(5, 6, 3);
  const int m = conv1x1(b, 0, 4, seed);
  int out = -1;
  auto gate = [&](int channels) {  // [1,C,1,1] from the map: a squeeze-and-excitation branch
    return conv1x1(b, b.add("GlobalAveragePool", {conv1x1(b, 0, 4, seed + 10)}), channels, seed + 12);
  };
  auto constant = [&](size_t count, int rank) {
    OpAttributes a;
    a.constant_rank = rank;
    return std::make_pair(a, std::vector<std::vector<float>>{random_vector(count, seed + 20, -1.5f, 1.5f)});
  };
  if (form == "same shape") {
    out = b.add(type, {m, conv1x1(b, 0, 4, seed + 10)});
  } else if (form == "[1,C,1,1] second") {
    out = b.add(type, {m, gate(4)});
  } else if (form == "[1,C,1,1] first") {
    out = b.add(type, {gate(4), m});
  } else if (form == "scalar second") {
    out = b.add(type, {m, gate(1)});
  } else if (form == "scalar first") {
    out = b.add(type, {gate(1), m});
  } else if (form == "x with itself") {
    out = b.add(type, {m, m});
  } else if (form == "constant scalar") {
    auto [a, w] = constant(1, 0);
    out = b.add(type, {m}, a, w);
  } else if (form == "constant [C,1,1]") {
    auto [a, w] = constant(4, 3);
    out = b.add(type, {m}, a, w);
  } else if (form == "constant [C,1,1] first") {
    auto [a, w] = constant(4, 3);
    a.constant_first = true;
    out = b.add(type, {m}, a, w);
  } else if (form == "2-D [C] gate second (Keras)" || form == "2-D [C] gate first (Keras)") {
    OpAttributes a;
    a.broadcast_channels_last = true;
    const int g = dense(b, "Gemm", b.add("GlobalAveragePool", {conv1x1(b, 0, 4, seed + 10)}, keepdims_0()), 4, seed + 12);
    out = form == "2-D [C] gate second (Keras)" ? b.add(type, {m, g}, a) : b.add(type, {g, m}, a);
  } else if (form == "2-D same shape") {
    const int x = b.add("Flatten", {m}, flatten_attrs(true));
    out = b.add(type, {dense(b, "Gemm", x, 6, seed + 30), dense(b, "Gemm", x, 6, seed + 32)});
  } else if (form == "2-D constant [C]") {
    const int x = dense(b, "Gemm", b.add("Flatten", {m}, flatten_attrs(true)), 6, seed + 30);
    auto [a, w] = constant(6, 1);
    out = b.add(type, {x}, a, w);
  }
  REQUIRE(out >= 0);
  return with_head(b, out, seed + 40);
}

struct OpCase {
  std::string op, variant;
  std::function<Model()> build;
};

#include "nd_math_cases.h"

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c;
    // Conv: the shapes pick each of plan_conv's kernels.
    c.push_back({"Conv", "dense 3x3 stride 1 pad 1 (Winograd)", [] {
                   GraphBuilder b(7, 6, 3);
                   return with_head(b, conv(b, 0, 5, window(3, 1, 1, 1, 1, 1), 100), 101);
                 }});
    c.push_back({"Conv", "dense 3x3 stride 1 valid, fused ReLU (Winograd)", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 1, 0, 0, 0, 0);
                   a.relu = true;
                   return with_head(b, conv(b, 0, 5, a, 110), 111);
                 }});
    c.push_back({"Conv", "dense 1x1 (direct)", [] {
                   GraphBuilder b(7, 6, 3);
                   return with_head(b, conv1x1(b, 0, 6, 120), 121);
                 }});
    c.push_back({"Conv", "3x3 stride 2, asymmetric pads, fused ReLU (direct)", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 2, 1, 0, 2, 1);
                   a.relu = true;
                   return with_head(b, conv(b, 0, 5, a, 130), 131);
                 }});
    c.push_back({"Conv", "4x4 stride 2 auto_pad SAME_LOWER (direct)", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(4, 2, 0, 0, 0, 0);
                   a.auto_pad = "SAME_LOWER";
                   return with_head(b, conv(b, 0, 4, a, 140), 141);
                 }});
    c.push_back({"Conv", "depthwise 3x3 pad 1, fused ReLU", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 1, 1, 1, 1, 1);
                   a.groups = 6, a.relu = true;
                   return with_head(b, conv(b, conv1x1(b, 0, 6, 150), 6, a, 151), 152);
                 }});
    c.push_back({"Conv", "depthwise 3x3 stride 2, asymmetric pads", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 2, 0, 1, 1, 0);
                   a.groups = 6;
                   return with_head(b, conv(b, conv1x1(b, 0, 6, 160), 6, a, 161), 162);
                 }});
    c.push_back({"Conv", "grouped: 6 to 4 channels in 2 groups, fused ReLU", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 1, 1, 1, 1, 1);
                   a.groups = 2, a.relu = true;
                   return with_head(b, conv(b, conv1x1(b, 0, 6, 170), 4, a, 171), 172);
                 }});
    c.push_back({"Conv", "depthwise with a channel multiplier of 2 (grouped)", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 1, 1, 1, 1, 1);
                   a.groups = 3;
                   return with_head(b, conv(b, 0, 6, a, 180), 181);
                 }});
    c.push_back({"Conv", "dense 3x3 dilation 2 pad 2", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 1, 2, 2, 2, 2);
                   a.dh = a.dw = 2;
                   return with_head(b, conv(b, 0, 4, a, 190), 191);
                 }});
    c.push_back({"Conv", "depthwise 3x3 dilation 2 stride 2", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 2, 2, 1, 2, 2);
                   a.dh = a.dw = 2, a.groups = 3;
                   return with_head(b, conv(b, 0, 3, a, 195), 196);
                 }});
    // The forms Keras layers need: use_bias=False (the kernel alone), dilation with 'same' padding
    // (SAME_UPPER), Conv2D(groups=g), DepthwiseConv2D with a depth multiplier.
    c.push_back({"Conv", "Keras: no bias, 3x3 dilation 2 stride 1 SAME_UPPER", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 1, 0, 0, 0, 0);
                   a.dh = a.dw = 2, a.auto_pad = "SAME_UPPER";
                   return with_head(b, conv_without_bias(b, 0, 4, a, 197), 198);
                 }});
    c.push_back({"Conv", "Keras: Conv2D(groups=3) 6 to 9 channels, no bias, stride 2 SAME_UPPER", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 2, 0, 0, 0, 0);
                   a.groups = 3, a.auto_pad = "SAME_UPPER";
                   return with_head(b, conv_without_bias(b, conv1x1(b, 0, 6, 199), 9, a, 200), 201);
                 }});
    c.push_back({"Conv", "Keras: DepthwiseConv2D depth_multiplier 3, no bias, SAME_UPPER", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 1, 0, 0, 0, 0);
                   a.groups = 3, a.auto_pad = "SAME_UPPER";
                   return with_head(b, conv_without_bias(b, 0, 9, a, 203), 204);
                 }});
    c.push_back({"Conv", "Keras: DepthwiseConv2D depth_multiplier 2, 3x3 dilation 2 SAME_UPPER, fused ReLU", [] {
                   GraphBuilder b(7, 6, 3);
                   OpAttributes a = window(3, 1, 0, 0, 0, 0);
                   a.groups = 4, a.dh = a.dw = 2, a.auto_pad = "SAME_UPPER", a.relu = true;
                   return with_head(b, conv(b, conv1x1(b, 0, 4, 205), 8, a, 206), 207);
                 }});
    c.push_back({"Gemm", "Keras: Dense(use_bias=False), the weight alone", [] {
                   GraphBuilder b(4, 5, 3);
                   OpAttributes a;
                   a.out_channels = 4;
                   const int f = b.add("Flatten", {0}, flatten_attrs(false));
                   return b.model(b.add("Gemm", {f}, a, {random_vector(60 * 4, 208, -0.3f, 0.3f)}));
                 }});
    for (const char* type : {"Gemm", "MatMul"}) {
      c.push_back({type, "two layers, the first with a fused ReLU", [type] {
                     GraphBuilder b(4, 5, 3);
                     const int x = b.add("Flatten", {0}, flatten_attrs(true));
                     return b.model(dense(b, type, dense(b, type, x, 12, 200, true), 4, 202));
                   }});
    }
    c.push_back({"MaxPool", "2x2 stride 2", [] { return pool_graph("MaxPool", pool_attrs(2, 2, 0, 0, 0, 0, false), 300); }});
    c.push_back({"MaxPool", "3x3 stride 2 pad 1 ceil_mode", [] { return pool_graph("MaxPool", pool_attrs(3, 2, 1, 1, 1, 1, true), 310); }});
    c.push_back({"MaxPool", "3x3 stride 1 asymmetric pads", [] { return pool_graph("MaxPool", pool_attrs(3, 1, 0, 1, 2, 1, false), 320); }});
    c.push_back({"AveragePool", "2x2 stride 2", [] { return pool_graph("AveragePool", pool_attrs(2, 2, 0, 0, 0, 0, false), 330); }});
    c.push_back({"AveragePool", "3x3 stride 2 pad 1 ceil_mode", [] {
                   return pool_graph("AveragePool", pool_attrs(3, 2, 1, 1, 1, 1, true, false), 340);
                 }});
    c.push_back({"AveragePool", "3x3 stride 2 pad 1 ceil_mode count_include_pad", [] {
                   return pool_graph("AveragePool", pool_attrs(3, 2, 1, 1, 1, 1, true, true), 350);
                 }});
    c.push_back({"AveragePool", "2x2 stride 2 asymmetric pads count_include_pad", [] {
                   return pool_graph("AveragePool", pool_attrs(2, 2, 0, 1, 1, 0, false, true), 360);
                 }});
    c.push_back({"GlobalAveragePool", "then flatten", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("GlobalAveragePool", {conv1x1(b, 0, 4, 400)}), 401);
                 }});
    c.push_back({"GlobalAveragePool", "keep_dims false (2-D, Keras)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("GlobalAveragePool", {conv1x1(b, 0, 4, 405)}, keepdims_0()), 406);
                 }});
    c.push_back({"GlobalMaxPool", "then flatten", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("GlobalMaxPool", {conv1x1(b, 0, 4, 430)}), 431);
                 }});
    c.push_back({"GlobalMaxPool", "keep_dims false (2-D, Keras)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("GlobalMaxPool", {conv1x1(b, 0, 4, 440)}, keepdims_0()), 441);
                 }});
    c.push_back({"ReduceMean", "keepdims=1", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("ReduceMean", {conv1x1(b, 0, 4, 410)}, reduce_attrs({2, 3}, true)), 411);
                 }});
    c.push_back({"ReduceMean", "keepdims=0 (2-D)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("ReduceMean", {conv1x1(b, 0, 4, 420)}, reduce_attrs({2, 3}, false)), 421);
                 }});
    c.push_back({"Relu", "", [] { return activation_graph("Relu", {}, 500); }});
    c.push_back({"LeakyRelu", "alpha 0.1", [] {
                   OpAttributes a;
                   a.alpha = 0.1f;
                   return activation_graph("LeakyRelu", a, 510);
                 }});
    c.push_back({"Clip", "[-1, 1.5]", [] {
                   OpAttributes a;
                   a.lo = -1.f, a.hi = 1.5f;
                   return activation_graph("Clip", a, 520);
                 }});
    c.push_back({"Clip", "ReLU6", [] {
                   OpAttributes a;
                   a.lo = 0.f, a.hi = 6.f;
                   return activation_graph("Clip", a, 525);
                 }});
    c.push_back({"Sigmoid", "", [] { return activation_graph("Sigmoid", {}, 530); }});
    c.push_back({"HardSigmoid", "alpha 0.5 beta 0.5", [] {
                   OpAttributes a;
                   a.alpha = 0.5f, a.beta = 0.5f;
                   return activation_graph("HardSigmoid", a, 540);
                 }});
    c.push_back({"HardSwish", "", [] { return activation_graph("HardSwish", {}, 550); }});
    c.push_back({"Tanh", "", [] { return activation_graph("Tanh", {}, 560); }});
    c.push_back({"Elu", "alpha 1.3", [] {
                   OpAttributes a;
                   a.alpha = 1.3f;
                   return activation_graph("Elu", a, 565);
                 }});
    c.push_back({"Gelu", "exact (erf)", [] { return activation_graph("Gelu", {}, 570); }});
    c.push_back({"Gelu", "tanh approximation", [] {
                   OpAttributes a;
                   a.approximate_tanh = true;
                   return activation_graph("Gelu", a, 575);
                 }});
    c.push_back({"Swish", "", [] { return activation_graph("Swish", {}, 580); }});
    for (const auto& [variant, slope, threshold, max_value] :
         std::vector<std::tuple<const char*, float, float, float>>{
             {"plain ReLU", 0.f, 0.f, std::numeric_limits<float>::infinity()},
             {"max_value 2 (ReLU6-like)", 0.f, 0.f, 2.f},
             {"negative_slope 0.3, threshold 0.5, max_value 2", 0.3f, 0.5f, 2.f},
             {"threshold 1 (a jump at 1)", 0.f, 1.f, std::numeric_limits<float>::infinity()}}) {
      c.push_back({"KerasReLU", variant, [slope = slope, threshold = threshold, max_value = max_value] {
                     OpAttributes a;
                     a.alpha = slope, a.lo = threshold, a.hi = max_value;
                     return activation_graph("KerasReLU", a, 590);
                   }});
    }
    c.push_back({"PRelu", "one slope per channel (Keras shared_axes=[1,2])", [] {
                   GraphBuilder b(5, 6, 3);
                   const int x = conv1x1(b, 0, 4, 1900, 2.f);
                   return with_head(b, b.add("PRelu", {x}, {}, {random_vector(4, 1901, -0.5f, 1.5f)}), 1902);
                 }});
    c.push_back({"PRelu", "one slope per element (Keras default)", [] {
                   GraphBuilder b(5, 6, 3);
                   const int x = conv1x1(b, 0, 4, 1910, 2.f);
                   return with_head(b, b.add("PRelu", {x}, {}, {random_vector(5 * 6 * 4, 1911, -0.5f, 1.5f)}), 1912);
                 }});
    // Keras shared_axes [1] (one slope per column and channel), [2] (per row and channel), [3] (per position).
    for (const auto& [variant, sh, sw, sc] : std::vector<std::tuple<const char*, int, int, int>>{
             {"shared over height (Keras shared_axes=[1])", 1, 6, 4},
             {"shared over width (Keras shared_axes=[2])", 5, 1, 4},
             {"shared over channels (Keras shared_axes=[3])", 5, 6, 1}}) {
      c.push_back({"PRelu", variant, [sh = sh, sw = sw, sc = sc] {
                     GraphBuilder b(5, 6, 3);
                     const int x = conv1x1(b, 0, 4, 1930, 2.f);
                     OpAttributes a;
                     a.slope_h = sh, a.slope_w = sw, a.slope_c = sc;
                     return with_head(b, b.add("PRelu", {x}, a, {random_vector(size_t(sh * sw * sc), 1931, -0.5f, 1.5f)}), 1932);
                   }});
    }
    c.push_back({"PRelu", "one slope, 2-D input", [] {
                   GraphBuilder b(4, 4, 3);
                   const int x = dense(b, "Gemm", b.add("Flatten", {0}, flatten_attrs(true)), 10, 1920);
                   return with_head(b, b.add("PRelu", {x}, {}, {{0.25f}}), 1922);
                 }});
    c.push_back({"SoftmaxChannels", "per position of a 4-D map, then a conv", [] {
                   GraphBuilder b(5, 6, 3);
                   const int p = b.add("SoftmaxChannels", {conv1x1(b, 0, 4, 1950, 2.f)});
                   return with_head(b, conv1x1(b, p, 3, 1951, 4.f), 1952);
                 }});
    c.push_back({"SoftmaxChannels", "over a 2-D value, then a Gemm", [] {
                   GraphBuilder b(4, 4, 3);
                   const int x = dense(b, "Gemm", b.add("Flatten", {0}, flatten_attrs(true)), 7, 1960);
                   return b.model(dense(b, "Gemm", b.add("SoftmaxChannels", {x}), 4, 1961));
                 }});
    c.push_back({"BatchNormalization", "folded scale and shift", [] {
                   GraphBuilder b(5, 6, 3);
                   const int x = conv1x1(b, 0, 4, 600);
                   return with_head(b, b.add("BatchNormalization", {x}, {}, {random_vector(4, 601, 0.5f, 1.5f), random_vector(4, 602, -1.f, 1.f)}), 603);
                 }});
    uint64_t seed = 700;
    for (const char* type : {"Add", "Mul", "Sub"})
      for (const char* form : {"same shape", "[1,C,1,1] second", "[1,C,1,1] first", "scalar second", "scalar first",
                               "x with itself", "constant scalar", "constant [C,1,1]", "constant [C,1,1] first",
                               "2-D same shape", "2-D constant [C]", "2-D [C] gate second (Keras)",
                               "2-D [C] gate first (Keras)"}) {
        c.push_back({type, form, [type, form, seed] { return binary_graph(type, form, seed); }});
        seed += 50;
      }
    for (const char* type : {"Max", "Mean", "Sum"}) {
      c.push_back({type, "three of one shape", [type, seed] {
                     GraphBuilder b(5, 6, 3);
                     const int x = b.add(type, {conv1x1(b, 0, 4, seed), conv1x1(b, 0, 4, seed + 2), conv1x1(b, 0, 4, seed + 4)});
                     return with_head(b, x, seed + 6);
                   }});
      c.push_back({type, "a map, a [1,1,C] gate, a 2-D [C] (Keras) and a scalar, either order", [type, seed] {
                     GraphBuilder b(5, 6, 3);
                     const int m = conv1x1(b, 0, 4, seed + 10);
                     const int pooled = b.add("GlobalAveragePool", {conv1x1(b, 0, 4, seed + 12)});
                     const int gate = conv1x1(b, pooled, 4, seed + 14, 3.f);
                     const int flat = dense(b, "Gemm", b.add("Flatten", {pooled}, flatten_attrs(false)), 4, seed + 16);
                     const int scalar = conv1x1(b, pooled, 1, seed + 18);
                     OpAttributes a;
                     a.broadcast_channels_last = true;
                     return with_head(b, b.add(type, {gate, m, flat, scalar, m}, a), seed + 20);
                   }});
      c.push_back({type, "2-D, two inputs", [type, seed] {
                     GraphBuilder b(4, 4, 3);
                     const int f = b.add("Flatten", {0}, flatten_attrs(true));
                     return with_head(b, b.add(type, {dense(b, "Gemm", f, 6, seed + 30), dense(b, "Gemm", f, 6, seed + 32)}), seed + 34);
                   }});
      seed += 50;
    }
    c.push_back({"Concat", "three 4-D inputs (the image among them)", [] {
                   GraphBuilder b(5, 6, 3);
                   const int x = b.add("Concat", {conv1x1(b, 0, 5, 800), 0, conv(b, 0, 2, window(3, 1, 1, 1, 1, 1), 801)});
                   return with_head(b, x, 802);
                 }});
    c.push_back({"Concat", "three 2-D inputs", [] {
                   GraphBuilder b(4, 4, 3);
                   const int f = b.add("Flatten", {0}, flatten_attrs(true));
                   const int x = b.add("Concat", {dense(b, "Gemm", f, 3, 810), dense(b, "Gemm", f, 5, 811), f});
                   return with_head(b, x, 812);
                 }});
    c.push_back({"Flatten", "channels-first (ONNX)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("Flatten", {conv1x1(b, 0, 4, 900)}, flatten_attrs(true)), 901);
                 }});
    c.push_back({"Flatten", "channels-last (Keras)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("Flatten", {conv1x1(b, 0, 4, 910)}, flatten_attrs(false)), 911);
                 }});
    c.push_back({"Reshape", "to [1, -1]", [] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a = flatten_attrs(true);
                   a.out_channels = -1;
                   return with_head(b, b.add("Reshape", {conv1x1(b, 0, 4, 920)}, a), 921);
                 }});
    c.push_back({"Reshape", "to [1, 120]", [] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a = flatten_attrs(true);
                   a.out_channels = 120;
                   return with_head(b, b.add("Reshape", {conv1x1(b, 0, 4, 930)}, a), 931);
                 }});
    c.push_back({"KerasReshape", "Flatten: [5,6,4] to (-1,)", [] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a;
                   a.reshape_c = -1;
                   return b.model(dense(b, "Gemm", b.add("KerasReshape", {conv1x1(b, 0, 4, 940)}, a), 4, 941));
                 }});
    c.push_back({"KerasReshape", "a squeeze-and-excitation gate: [4] to (1,1,4), times the map", [] {
                   GraphBuilder b(5, 6, 3);
                   const int m = conv1x1(b, 0, 4, 950);
                   OpAttributes a;
                   a.reshape_h = 1, a.reshape_w = 1, a.reshape_c = 4;
                   const int gate = b.add("KerasReshape", {b.add("GlobalAveragePool", {m}, keepdims_0())}, a);
                   return with_head(b, b.add("Mul", {m, conv1x1(b, gate, 4, 951)}), 952);
                 }});
    c.push_back({"KerasReshape", "[5,6,4] to (3,-1,4), then a 3x3 conv", [] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a;
                   a.reshape_h = 3, a.reshape_w = -1, a.reshape_c = 4;
                   const int r = b.add("KerasReshape", {conv1x1(b, 0, 4, 960)}, a);
                   return with_head(b, conv(b, r, 3, window(3, 1, 1, 1, 1, 1), 961), 962);
                 }});
    c.push_back({"Pad", "asymmetric, constant 0.5, then a conv", [] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a;
                   a.pad_t = 1, a.pad_l = 2, a.pad_b = 0, a.pad_r = 1, a.pad_value = 0.5f;
                   const int p = b.add("Pad", {conv1x1(b, 0, 4, 1000)}, a);
                   return with_head(b, conv(b, p, 3, window(3, 1, 0, 0, 0, 0), 1001), 1002);
                 }});
    // ONNX's pads: on an image's H and W (an image, as Keras's), on a rows [1,C,H,W] that a Reshape
    // made (an image too), and on a rows value's other axes (rows): Swin pads its channels-last
    // [1,h,w,C] grid at the end of h and w when they are not a multiple of the window (off 224).
    auto onnx_pad = [](GraphBuilder& b, int x, std::vector<int64_t> pads, float value) {
      OpAttributes a;
      a.pads = std::move(pads), a.pad_value = value;
      return b.add("Pad", {x}, a);
    };
    c.push_back({"Pad", "ONNX pads on an image's H and W, then a conv", [onnx_pad] {
                   GraphBuilder b(5, 6, 3);
                   const int p = onnx_pad(b, conv1x1(b, 0, 4, 1010), {0, 0, 1, 2, 0, 0, 0, 1}, 0.25f);
                   return with_head(b, conv(b, p, 3, window(3, 1, 0, 0, 0, 0), 1011), 1012);
                 }});
    c.push_back({"Pad", "a rows [1,4,5,6] from a Reshape on H and W: an image, then a conv", [onnx_pad] {
                   GraphBuilder b(5, 6, 3);
                   const int r = reshape(b, reshape(b, conv1x1(b, 0, 4, 1020), {1, 4, 30}), {1, 4, 5, 6});
                   const int p = onnx_pad(b, r, {0, 0, 2, 0, 0, 0, 1, 3}, 0.f);
                   return with_head(b, conv(b, p, 3, window(3, 1, 0, 0, 0, 0), 1021), 1022);
                 }});
    c.push_back({"Pad", "Swin's F.pad off 224: a channels-last [1,5,6,4] grid to [1,7,7,4] (rows)", [onnx_pad] {
                   GraphBuilder b(5, 6, 3);
                   const int grid = transpose(b, conv1x1(b, 0, 4, 1030), {0, 2, 3, 1});
                   return with_head(b, onnx_pad(b, grid, {0, 0, 0, 0, 0, 2, 1, 0}, 0.f), 1031);
                 }});
    c.push_back({"Pad", "rows [1,4,30] on both ends of both axes, constant -0.5", [onnx_pad] {
                   GraphBuilder b(5, 6, 3);
                   const int r = reshape(b, conv1x1(b, 0, 4, 1040), {1, 4, 30});
                   return with_head(b, onnx_pad(b, r, {0, 1, 2, 0, 2, 3}, -0.5f), 1041);
                 }});
    for (const char* type : {"Identity", "Dropout"}) {
      c.push_back({type, "", [type] {
                     GraphBuilder b(5, 6, 3);
                     return with_head(b, b.add(type, {conv1x1(b, 0, 4, 1100)}), 1101);
                   }});
      c.push_back({type, "rows [1,4,30]", [type] {
                     GraphBuilder b(5, 6, 3);
                     return with_head(b, b.add(type, {reshape(b, conv1x1(b, 0, 4, 1110), {1, 4, 30})}), 1111);
                   }});
    }
    // ---- the layout ops, each with an image input and a rows input ----
    c.push_back({"Reshape", "an image to rows [0, -1, 5] (0 keeps the batch)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, reshape(b, conv1x1(b, 0, 4, 2000), {0, -1, 5}), 2001);
                 }});
    c.push_back({"Reshape", "rows [1,4,30] to [1,2,60], then to [1,120]", [] {
                   GraphBuilder b(5, 6, 3);
                   const int r = reshape(b, reshape(b, conv1x1(b, 0, 4, 2010), {1, 4, 30}), {1, 2, 60});
                   return with_head(b, reshape(b, r, {1, -1}), 2011);
                 }});
    c.push_back({"Flatten", "an image on axis 2 ([C, H*W])", [] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a = flatten_attrs(true);
                   a.axis = 2;
                   return with_head(b, b.add("Flatten", {conv1x1(b, 0, 4, 2020)}, a), 2021);
                 }});
    c.push_back({"Flatten", "rows [1,4,30] on axis 1", [] {
                   GraphBuilder b(5, 6, 3);
                   return b.model(dense(b, "Gemm", b.add("Flatten", {reshape(b, conv1x1(b, 0, 4, 2030), {1, 4, 30})}, flatten_attrs(true)), 4, 2031));
                 }});
    c.push_back({"ToImage", "rows [1,4,5,6] from a Reshape, then a 3x3 conv", [] {
                   GraphBuilder b(5, 6, 3);
                   const int r = reshape(b, reshape(b, conv1x1(b, 0, 4, 2040), {1, 4, 30}), {1, 4, 5, 6});
                   return with_head(b, conv(b, b.add("ToImage", {r}), 3, window(3, 1, 1, 1, 1, 1), 2041), 2042);
                 }});
    c.push_back({"ToImage", "an image (a plain copy)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, conv1x1(b, b.add("ToImage", {conv1x1(b, 0, 4, 2050)}), 3, 2051), 2052);
                 }});
    c.push_back({"Transpose", "an image NCHW to NHWC (Swin's patch grid)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, transpose(b, conv1x1(b, 0, 4, 2060), {0, 2, 3, 1}), 2061);
                 }});
    c.push_back({"Transpose", "ShuffleNet's channel shuffle: [1,2,3,5,6] swapping 2 and 3, then a conv", [] {
                   GraphBuilder b(5, 6, 3);
                   const int r = reshape(b, conv1x1(b, 0, 6, 2070), {1, 2, 3, 5, 6});
                   const int s = reshape(b, transpose(b, r, {0, 2, 1, 3, 4}), {1, -1, 5, 6});
                   return with_head(b, conv1x1(b, b.add("ToImage", {s}), 3, 2071), 2072);
                 }});
    c.push_back({"Transpose", "rows, the default perm (dims reversed)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, transpose(b, reshape(b, conv1x1(b, 0, 4, 2080), {1, 4, 30}), {}), 2081);
                 }});
    c.push_back({"Slice", "channels 1..3 of an image", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, slice(b, conv1x1(b, 0, 4, 2090), {1}, {1}, {3}, {1}), 2091);
                 }});
    c.push_back({"Slice", "rows: a negative step and negative indices on two axes", [] {
                   GraphBuilder b(5, 6, 3);
                   const int r = reshape(b, conv1x1(b, 0, 4, 2100), {1, 4, 30});
                   return with_head(b, slice(b, r, {-1, 1}, {-1, 1}, {-100, 1000}, {-3, 2}), 2101);
                 }});
    c.push_back({"Gather", "a token of rows [1,31,4] by a negative scalar index (as ViT's class token x[:, 0])", [] {
                   GraphBuilder b(5, 6, 3);
                   const int tokens = transpose(b, reshape(b, conv1x1(b, 0, 4, 2110), {1, 4, 30}), {0, 2, 1});
                   const int with_class = concat(b, {tokens}, {random_vector(4, 2111, -1.f, 1.f)}, {-1, 0}, 1);
                   return with_head(b, gather(b, with_class, 1, {-30}, true), 2112);
                 }});
    c.push_back({"Gather", "an image's channels [2, -1, 2] (a repeat adds gradients)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, gather(b, conv1x1(b, 0, 4, 2120), 1, {2, -1, 2}, false), 2121);
                 }});
    c.push_back({"Expand", "rows [1,1,4] to [1,3,4] (a token repeated)", [] {
                   GraphBuilder b(5, 6, 3);
                   const int pooled = b.add("GlobalAveragePool", {conv1x1(b, 0, 4, 2130)}, keepdims_0());
                   OpAttributes a;
                   a.target_dims = {1, 3, 1};
                   return with_head(b, b.add("Expand", {unsqueeze(b, pooled, {1})}, a), 2131);
                 }});
    c.push_back({"Expand", "an image [1,4,1,1] to [2,1,4,5,6] (a new leading dim)", [] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a;
                   a.target_dims = {2, 1, 1, 5, 6};
                   return with_head(b, b.add("Expand", {b.add("GlobalAveragePool", {conv1x1(b, 0, 4, 2140)})}, a), 2141);
                 }});
    c.push_back({"Squeeze", "an image [1,4,1,1] on axes 2, 3 (a [1,4] vector)", [] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a = flatten_attrs(true);
                   a.squeeze_axes = {2, -1};
                   return with_head(b, b.add("Squeeze", {b.add("GlobalAveragePool", {conv1x1(b, 0, 4, 2150)})}, a), 2151);
                 }});
    c.push_back({"Squeeze", "rows [1,4,1,30], every dim of 1", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, b.add("Squeeze", {reshape(b, conv1x1(b, 0, 4, 2160), {1, 4, 1, 30})}, flatten_attrs(true)), 2161);
                 }});
    c.push_back({"Unsqueeze", "an image to [1,4,5,6,1]", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, unsqueeze(b, conv1x1(b, 0, 4, 2170), {-1}), 2171);
                 }});
    c.push_back({"Unsqueeze", "a [1,4] vector to [1,4,1,1], then a conv", [] {
                   GraphBuilder b(5, 6, 3);
                   const int pooled = b.add("GlobalAveragePool", {conv1x1(b, 0, 4, 2180)}, keepdims_0());
                   const int u = b.add("ToImage", {unsqueeze(b, pooled, {2, 3})});
                   return with_head(b, conv1x1(b, u, 3, 2181), 2182);
                 }});
    c.push_back({"Concat", "two images on the height axis (rows)", [] {
                   GraphBuilder b(5, 6, 3);
                   return with_head(b, concat(b, {conv1x1(b, 0, 4, 2190), conv1x1(b, 0, 4, 2191)}, {}, {0, 1}, 2), 2192);
                 }});
    c.push_back({"Concat", "a rows [1,2,5,6] and an image on channels: an image, then a conv", [] {
                   GraphBuilder b(5, 6, 3);
                   const int half = slice(b, conv1x1(b, 0, 4, 2195), {1}, {0}, {2}, {1});
                   const int x = concat(b, {half, conv1x1(b, 0, 3, 2196)}, {}, {0, 1}, 1);
                   REQUIRE(b.value(x).layout == Layout::image);
                   return with_head(b, conv1x1(b, x, 3, 2197), 2198);
                 }});
    c.push_back({"Concat", "rows tokens between two constant rows, on axis -2", [] {
                   GraphBuilder b(5, 6, 3);
                   const int tokens = transpose(b, reshape(b, conv1x1(b, 0, 4, 2200), {1, 4, 30}), {0, 2, 1});
                   return with_head(b, concat(b, {tokens}, {random_vector(4, 2201, -1.f, 1.f), random_vector(8, 2202, -1.f, 1.f)}, {-1, 0, -2}, -2), 2203);
                 }});
    add_nd_math_cases(c);
    return c;
  }();
  return cases;
}

// The input gradient of a network in both ReLU rules.
std::pair<std::vector<float>, std::vector<float>> standard_and_guided(const Model& model, uint64_t seed) {
  Network net(model);
  const auto input = random_vector(size_t(model.graph->values[0].shape.size()), seed, -2.f, 2.f);
  const auto direction = random_vector(size_t(net.num_classes()), seed + 1, -1.f, 1.f);
  net.forward(input.data());
  net.backward(direction.data(), -1);
  std::vector<float> standard = net.input_grad();
  net.backward(direction.data(), -1, ReluBackward::guided);
  return {standard, net.input_grad()};
}

}  // namespace

TEST_CASE("every op in the table has finite-difference cases, and its backward matches them") {
  for (const OpDescriptor* op : op_table()) {
    int count = 0;
    for (const OpCase& c : op_cases()) {
      if (c.op != op->type) continue;
      CAPTURE(c.op);
      CAPTURE(c.variant);
      const Model model = c.build();
      const auto& nodes = model.graph->nodes;
      // The case runs the op it is filed under.
      REQUIRE(std::any_of(nodes.begin(), nodes.end(), [&](const Node& n) { return n.op == op; }));
      check_gradients(model, 7 + uint64_t(count));
      ++count;
    }
    CHECK_MESSAGE(count > 0, "op ", op->type, " has no case in test_graph_ops.cpp");
  }
  for (const OpCase& c : op_cases()) CHECK_MESSAGE(find_op(c.op) != nullptr, "a case for ", c.op, ", which is not in the table");
}

TEST_CASE("a value read by three nodes (a residual block with a squeeze-and-excitation gate) gets their gradients summed") {
  GraphBuilder b(6, 5, 3);
  const int x = conv(b, 0, 4, window(3, 1, 1, 1, 1, 1), 1200);
  // x feeds the block's conv, the gate's pooling and the residual sum.
  const int body = conv(b, x, 4, window(3, 1, 1, 1, 1, 1), 1201);
  const int gate = b.add("Sigmoid", {conv1x1(b, b.add("GlobalAveragePool", {x}), 4, 1202)});
  const int out = b.add("Add", {b.add("Mul", {body, gate}), x});
  const Model model = with_head(b, out, 1203);
  int readers = 0;
  for (const Node& n : model.graph->nodes) readers += int(std::count(n.inputs.begin(), n.inputs.end(), x));
  REQUIRE(readers == 3);
  check_gradients(model, 1204, 200);
}

TEST_CASE("a value read twice by one node (x + x, x * x) and by two nodes gets every path's gradient") {
  GraphBuilder b(5, 4, 3);
  const int x = conv1x1(b, 0, 4, 1300);
  const int square = b.add("Mul", {x, x});
  const int twice = b.add("Add", {x, x});
  check_gradients(with_head(b, b.add("Concat", {square, twice, b.add("Add", {square, square})}), 1301), 1302, 200);
}

TEST_CASE("guided backprop: the ReLU-like ops (Relu, LeakyRelu, Clip) also drop negative incoming gradients; the others do not") {
  auto graph = [](const std::string& type, OpAttributes a) { return activation_graph(type, a, 1400); };
  OpAttributes leaky, clip, hard_sigmoid;
  leaky.alpha = 0.1f;
  clip.lo = 0.f, clip.hi = 6.f;
  hard_sigmoid.alpha = 0.5f, hard_sigmoid.beta = 0.5f;
  // (pairs, not structured bindings: clang 14 cannot capture those in CAPTURE's lambda)
  for (const auto& case_ : std::vector<std::pair<std::string, OpAttributes>>{{"Relu", {}}, {"LeakyRelu", leaky}, {"Clip", clip}}) {
    const std::string& type = case_.first;
    const OpAttributes& a = case_.second;
    CAPTURE(type);
    // activation_graph: node 0 is the conv before the op, node 1 the op.
    const Model model = graph(type, a);
    int dropped = 0;
    Network net(model);
    const auto input = random_vector(size_t(model.graph->values[0].shape.size()), 1401, -2.f, 2.f);
    const auto direction = random_vector(size_t(net.num_classes()), 1402, -1.f, 1.f);
    net.forward(input.data());
    net.backward(direction.data(), -1);
    const std::vector<float> standard_at_op_input = net.output_grad(0), incoming = net.output_grad(1);
    net.backward(direction.data(), -1, ReluBackward::guided);
    const std::vector<float>& guided_at_op_input = net.output_grad(0);
    for (size_t k = 0; k < incoming.size(); ++k) {
      CHECK(guided_at_op_input[k] == (incoming[k] > 0.f ? standard_at_op_input[k] : 0.f));
      dropped += incoming[k] < 0.f && standard_at_op_input[k] != 0.f;
    }
    CHECK(dropped > 0);  // the rule was exercised
    // The deconvnet (Captum's Deconvolution) changes nn.ReLU only: ReLU of the incoming gradient,
    // wherever the forward input was; LeakyRelu and Clip keep their plain gradient.
    net.backward(direction.data(), -1, ReluBackward::deconvnet);
    const std::vector<float>& deconv_at_op_input = net.output_grad(0);
    int passed_through_mask = 0;
    for (size_t k = 0; k < incoming.size(); ++k) {
      CHECK(deconv_at_op_input[k] == (type == "Relu" ? std::max(incoming[k], 0.f) : standard_at_op_input[k]));
      passed_through_mask += incoming[k] > 0.f && standard_at_op_input[k] == 0.f;
    }
    if (type == "Relu") CHECK(passed_through_mask > 0);
  }
  for (const auto& case_ : std::vector<std::pair<std::string, OpAttributes>>{{"Sigmoid", {}}, {"HardSigmoid", hard_sigmoid}, {"HardSwish", {}}}) {
    const std::string& type = case_.first;
    const OpAttributes& a = case_.second;
    CAPTURE(type);
    const auto [standard, guided] = standard_and_guided(graph(type, a), 1403);
    CHECK(guided == standard);
  }
}

TEST_CASE("a ReLU fused into Conv or Gemm passes gradients as a Relu node after it, in both rules") {
  for (const bool conv_layer : {true, false})
    for (const ReluBackward rule : {ReluBackward::standard, ReluBackward::guided, ReluBackward::deconvnet}) {
      CAPTURE(conv_layer);
      CAPTURE(int(rule));
      auto build = [&](bool fused) {
        GraphBuilder b(6, 5, 3);
        int x = 0;
        if (conv_layer) {
          OpAttributes a = window(3, 1, 1, 1, 1, 1);
          a.relu = fused;
          x = conv(b, 0, 5, a, 1500);
        } else {
          OpAttributes a;
          a.out_channels = 24;
          a.relu = fused;
          const int f = b.add("Flatten", {0}, flatten_attrs(true));
          x = b.add("Gemm", {f}, a, {random_vector(size_t(90) * 24, 1500, -0.3f, 0.3f), random_vector(24, 1501, -0.5f, 0.5f)});
        }
        if (!fused) x = b.add("Relu", {x});
        return with_head(b, x, 1502);
      };
      const Model fused = build(true), unfused = build(false);
      Network a(fused), b(unfused);
      const auto input = random_vector(6 * 5 * 3, 1503, -2.f, 2.f);
      const auto direction = random_vector(4, 1504, -1.f, 1.f);
      a.forward(input.data());
      b.forward(input.data());
      a.backward(direction.data(), -1, rule);
      b.backward(direction.data(), -1, rule);
      double largest = 0;
      for (float v : b.input_grad()) largest = std::max(largest, double(std::abs(v)));
      REQUIRE(largest > 0);
      for (size_t k = 0; k < a.input_grad().size(); ++k) CHECK(std::abs(a.input_grad()[k] - b.input_grad()[k]) <= 1e-5 * largest);
    }
}

namespace {

// The outputs of one element-wise op on the values `x` (a 1x1xN input), read off the network.
std::vector<float> apply_op(const std::string& type, OpAttributes a, const std::vector<float>& x) {
  GraphBuilder b(1, 1, int(x.size()));
  const int y = b.add(type, {0}, a);
  Network net(b.model(dense(b, "Gemm", b.add("Flatten", {y}, flatten_attrs(false)), 2, 1600)));
  net.forward(x.data());
  return net.output(0);
}

void check_values(const std::vector<float>& got, const std::vector<float>& expected, float tolerance) {
  REQUIRE(got.size() == expected.size());
  for (size_t k = 0; k < got.size(); ++k) {
    CAPTURE(k);
    CHECK(std::abs(got[k] - expected[k]) <= tolerance);
  }
}

}  // namespace

TEST_CASE("KerasReLU and Gelu give the values Keras documents for them") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {-10.f, -5.f, 0.f, 5.f, 10.f};
  auto relu = [&](float slope, float threshold, float max_value) {
    OpAttributes a;
    a.alpha = slope, a.lo = threshold, a.hi = max_value;
    return apply_op("KerasReLU", a, x);
  };
  // keras/src/activations/activations.py, relu's docstring.
  check_values(relu(0.f, 0.f, inf), {0.f, 0.f, 0.f, 5.f, 10.f}, 0.f);
  check_values(relu(0.5f, 0.f, inf), {-5.f, -2.5f, 0.f, 5.f, 10.f}, 0.f);
  check_values(relu(0.f, 0.f, 5.f), {0.f, 0.f, 0.f, 5.f, 5.f}, 0.f);
  check_values(relu(0.f, 5.f, inf), {0.f, 0.f, 0.f, 0.f, 10.f}, 0.f);  // x == threshold gives 0
  // The ReLU layer's docstring: max_value 10, negative_slope 0.5.
  check_values(relu(0.5f, 0.f, 10.f), {-5.f, -2.5f, 0.f, 5.f, 10.f}, 0.f);
  check_values(relu(0.5f, 2.f, 8.f), {-6.f, -3.5f, -1.f, 5.f, 8.f}, 0.f);

  // tf_keras/activations.py, gelu's docstring (float32 values).
  const std::vector<float> g = {-3.f, -1.f, 0.f, 1.f, 3.f};
  OpAttributes exact, approximate;
  approximate.approximate_tanh = true;
  check_values(apply_op("Gelu", exact, g), {-0.00404951f, -0.15865529f, 0.f, 0.8413447f, 2.9959507f}, 2e-6f);
  check_values(apply_op("Gelu", approximate, g), {-0.00363752f, -0.15880796f, 0.f, 0.841192f, 2.9963627f}, 2e-6f);
}

TEST_CASE("KerasReLU takes the ReLU rules of guided backprop and the deconvnet only without slope or threshold") {
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    const char* what;
    float slope, threshold, max_value;
    bool guided, deconvnet;
  };
  for (const Case& k : {Case{"plain ReLU", 0.f, 0.f, inf, true, true}, Case{"ReLU6 (as Clip)", 0.f, 0.f, 6.f, true, false},
                        Case{"leaky", 0.3f, 0.f, inf, false, false}, Case{"thresholded", 0.f, 0.5f, inf, false, false}}) {
    CAPTURE(k.what);
    OpAttributes a;
    a.alpha = k.slope, a.lo = k.threshold, a.hi = k.max_value;
    const Model model = activation_graph("KerasReLU", a, 1700);
    Network net(model);
    const auto input = random_vector(size_t(model.graph->values[0].shape.size()), 1701, -2.f, 2.f);
    const auto direction = random_vector(size_t(net.num_classes()), 1702, -1.f, 1.f);
    net.forward(input.data());
    net.backward(direction.data(), -1);
    const std::vector<float> standard = net.output_grad(0), incoming = net.output_grad(1);
    net.backward(direction.data(), -1, ReluBackward::guided);
    const std::vector<float> guided = net.output_grad(0);
    net.backward(direction.data(), -1, ReluBackward::deconvnet);
    const std::vector<float>& deconvnet = net.output_grad(0);
    int guided_differs = 0, deconvnet_differs = 0;
    for (size_t i = 0; i < incoming.size(); ++i) {
      CHECK(guided[i] == (k.guided && incoming[i] < 0.f ? 0.f : standard[i]));
      CHECK(deconvnet[i] == (k.deconvnet ? std::max(incoming[i], 0.f) : standard[i]));
      guided_differs += guided[i] != standard[i];
      deconvnet_differs += deconvnet[i] != standard[i];
    }
    // The rule was exercised where it applies.
    CHECK((guided_differs > 0) == k.guided);
    CHECK((deconvnet_differs > 0) == k.deconvnet);
  }
}

TEST_CASE("Tanh, Elu, Gelu and Swish pass gradients unchanged under guided backprop") {
  OpAttributes elu, gelu;
  elu.alpha = 1.f;
  gelu.approximate_tanh = true;
  for (const auto& case_ : std::vector<std::pair<std::string, OpAttributes>>{{"Tanh", {}}, {"Elu", elu}, {"Gelu", gelu}, {"Swish", {}}}) {
    CAPTURE(case_.first);
    const auto [standard, guided] = standard_and_guided(activation_graph(case_.first, case_.second, 1800), 1801);
    CHECK(guided == standard);
  }
}

TEST_CASE("KerasReshape and PRelu refuse shapes that do not fit, naming the node") {
  auto error = [](const std::string& type, OpAttributes a, std::vector<std::vector<float>> weights = {}) {
    GraphBuilder b(5, 6, 4);
    try {
      b.add(type, {0}, a, std::move(weights));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  OpAttributes a;
  a.reshape_h = 4, a.reshape_w = 5, a.reshape_c = 7;
  CHECK(error("KerasReshape", a) == "node 'KerasReshape_0' (KerasReshape): cannot reshape 120 values to (4, 5, 7)");
  a.reshape_h = 0, a.reshape_c = 119;
  CHECK(error("KerasReshape", a) == "node 'KerasReshape_0' (KerasReshape): cannot reshape 120 values to (119,)");
  a.reshape_h = -1, a.reshape_w = -1, a.reshape_c = 4;
  CHECK(error("KerasReshape", a) ==
        "node 'KerasReshape_0' (KerasReshape): the target shape (-1, -1, 4) needs positive dimensions (one may be -1)");
  a.reshape_h = 7, a.reshape_w = -1, a.reshape_c = 4;
  CHECK(error("KerasReshape", a) == "node 'KerasReshape_0' (KerasReshape): cannot reshape 120 values to (7, -1, 4)");
  a.reshape_h = 2, a.reshape_w = -1, a.reshape_c = 4;
  CHECK(error("KerasReshape", a) == "(no error)");
  CHECK(error("PRelu", {}, {std::vector<float>(6, 0.1f)}) ==
        "node 'PRelu_0' (PRelu): the slope has 6 values; the input has 4 channels and 120 values");
  OpAttributes onnx_vector;
  onnx_vector.constant_rank = 1;
  CHECK(error("PRelu", onnx_vector, {std::vector<float>(4, 0.1f)}) ==
        "node 'PRelu_0' (PRelu): a [C] slope broadcasts over the width of a 4-D input: not supported");
  OpAttributes shared;
  shared.slope_h = 5, shared.slope_w = 1, shared.slope_c = 4;
  CHECK(error("PRelu", shared, {std::vector<float>(20, 0.1f)}) == "(no error)");
  CHECK(error("PRelu", shared, {std::vector<float>(24, 0.1f)}) ==
        "node 'PRelu_0' (PRelu): the slope has 24 values, its shape [5, 1, 4] needs 20");
  shared.slope_h = 6, shared.slope_w = 1;
  CHECK(error("PRelu", shared, {std::vector<float>(24, 0.1f)}) ==
        "node 'PRelu_0' (PRelu): a slope of shape [6, 1, 4] does not broadcast over the input's [5, 6, 4] (each extent 1 or the "
        "input's)");
}

TEST_CASE("a 2-D [C] operand broadcasts over a 4-D one's channels only as Keras's merge layers ask (ONNX aligns it with [H,W])") {
  for (const char* type : {"Add", "Sub", "Mul", "Max", "Mean", "Sum"}) {
    CAPTURE(type);
    GraphBuilder b(5, 6, 3);
    const int m = conv1x1(b, 0, 4, 2000);
    const int flat = dense(b, "Gemm", b.add("Flatten", {m}, flatten_attrs(false)), 4, 2001);
    std::string error;
    try {
      b.add(type, {m, flat});
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    CHECK(error.find("cannot broadcast") != std::string::npos);
    OpAttributes keras;
    keras.broadcast_channels_last = true;
    const int out = b.add(type, {m, flat}, keras);
    CHECK(b.value(out).shape == b.value(m).shape);
    CHECK(b.value(out).rank == 4);
  }
}

TEST_CASE("a Keras DepthwiseConv2D kernel [kh,kw,ic,m] is the Conv's own layout: output channel c*m + k reads input channel c") {
  // tf.nn.depthwise_conv2d (which Keras's DepthwiseConv2D calls): output[i, j, c*m + k] =
  // sum over (di, dj) of filter[di, dj, c, k] * input[i + di, j + dj, c] (valid padding, stride 1).
  const int h = 5, w = 4, ic = 3, m = 2, kh = 3, kw = 2;
  const std::vector<float> kernel = random_vector(size_t(kh) * kw * ic * m, 2100, -1.f, 1.f);  // [kh][kw][ic][m]
  const std::vector<float> input = random_vector(size_t(h) * w * ic, 2101, -1.f, 1.f);
  GraphBuilder b(h, w, ic);
  OpAttributes a;
  a.kh = kh, a.kw = kw, a.groups = ic, a.out_channels = ic * m;
  const int y = b.add("Conv", {0}, a, {kernel});  // Keras's bytes, as they are; no bias
  Network net(b.model(dense(b, "Gemm", b.add("Flatten", {y}, flatten_attrs(false)), 2, 2102)));
  net.forward(input.data());
  const std::vector<float>& out = net.output(0);
  const int oh = h - kh + 1, ow = w - kw + 1;
  REQUIRE(out.size() == size_t(oh) * ow * ic * m);
  for (int i = 0; i < oh; ++i)
    for (int j = 0; j < ow; ++j)
      for (int c = 0; c < ic; ++c)
        for (int k = 0; k < m; ++k) {
          double expected = 0;
          for (int di = 0; di < kh; ++di)
            for (int dj = 0; dj < kw; ++dj)
              expected += double(kernel[((size_t(di) * kw + dj) * ic + c) * m + k]) * input[(size_t(i + di) * w + j + dj) * ic + c];
          CHECK(std::abs(out[(size_t(i) * ow + j) * ic * m + size_t(c * m + k)] - expected) <= 1e-5);
        }
}

TEST_CASE("Conv and Gemm nodes with a kernel that does not fit say so") {
  auto error = [](const std::string& type, int rank, OpAttributes a, std::vector<std::vector<float>> weights) {
    GraphBuilder b(5, 6, 4);
    const int x = rank == 4 ? 0 : b.add("Flatten", {0}, flatten_attrs(false));
    try {
      b.add(type, {x}, a, std::move(weights));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  OpAttributes a = window(3, 1, 0, 0, 0, 0);
  a.out_channels = 5;
  CHECK(error("Conv", 4, a, {std::vector<float>(3 * 3 * 4 * 5 + 1)}) ==
        "node 'Conv_0' (Conv): the kernel has 181 values, not a multiple of 3x3x5");
  CHECK(error("Conv", 4, a, {std::vector<float>(3 * 3 * 4 * 5), std::vector<float>(4)}) ==
        "node 'Conv_0' (Conv): the bias has 4 values, not one per output channel (5)");
  a.groups = 2;
  CHECK(error("Conv", 4, a, {std::vector<float>(3 * 3 * 2 * 5)}) ==
        "node 'Conv_0' (Conv): needs a kernel (and a bias) and groups dividing its 5 output channels");
  OpAttributes d;
  d.out_channels = 3;
  CHECK(error("Gemm", 2, d, {std::vector<float>(120 * 3), std::vector<float>(2)}) == "node 'Gemm_1' (Gemm): the bias has 2 values for 3 units");
  CHECK(error("Gemm", 2, d, {std::vector<float>(120 * 3)}) == "(no error)");
}
