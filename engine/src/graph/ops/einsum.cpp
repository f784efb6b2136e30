// Einsum (ONNX opset 12) of one or two operands: MaxViT's attention writes its products as
// "bghid,bghjd->bghij" (q k^T per window and head) and "bghij,bghjd->bghid" (the weights times v).
// Every letter of the equation is one of four kinds: in the output and both operands (a batch
// axis), in the output and one operand (a row of the first's or a column of the second's), or in
// no output (summed over). Each operand is copied into a packed [batch, M, K] or [batch, K, N]
// matrix through a strided view (a letter an operand lacks, or holds with extent 1, has stride 0
// there: it broadcasts), one GEMM per batch gives [batch, M, N], and that is copied to the output
// in its own order. The backward is the matrix product's (dA = dC B^T, dB = A^T dC) added back
// through the same views, so a broadcast or summed-away letter gets its gradient summed. One
// operand is the product with the scalar 1 ("ij->ji" a transpose, "ij->i" a sum). An operand may
// be a constant. Not supported: ellipses ("...") and a letter repeated within one term (a
// diagonal); the importer's error says so.
#include <algorithm>
#include <string>

#include <Eigen/Dense>

#include "../op_support.h"
#include "ops.h"
#include "strided.h"

namespace gradcam::ops {
namespace {

constexpr int kLetters = 128;  // indexed by the letter's ASCII code

struct Term {
  int rank = 0;
  char letters[kMaxRank] = {};
  bool has(char c) const { return std::find(letters, letters + rank, c) != letters + rank; }
};

struct Equation {
  int operands = 0;
  Term in[2];
  Term out;
};

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Reads "bghid, bghjd -> bghij" (spaces ignored). Without "->" the output is every letter that
// appears once, in alphabetical (ASCII) order, as ONNX and numpy define the implicit form. Returns
// nullptr, or what is wrong. Allocates nothing: the passes parse the node's equation each time.
const char* parse_equation(const std::string& s, Equation& e) {
  e = {};
  e.operands = 1;
  Term* t = &e.in[0];
  bool arrow = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ') continue;
    if (c == '.') return "an ellipsis (...) is not supported: name every axis with a letter";
    if (c == ',') {
      if (arrow) return "the output has a comma";
      if (e.operands == 2) return "more than two operands are not supported";
      t = &e.in[e.operands++];
      continue;
    }
    if (c == '-') {
      if (arrow || i + 1 >= s.size() || s[i + 1] != '>') return "a '-' that does not begin the one \"->\"";
      arrow = true, ++i, t = &e.out;
      continue;
    }
    if (!is_letter(c)) return "subscripts must be letters a-z, A-Z";
    if (t->has(c))
      return arrow ? "a letter repeats in the output" : "a letter repeats within an operand (a diagonal): not supported";
    if (t->rank == kMaxRank) return "a term has more than 6 letters (the engine holds ranks up to 6)";
    t->letters[t->rank++] = c;
  }
  int seen[kLetters] = {};
  for (int k = 0; k < e.operands; ++k)
    for (int j = 0; j < e.in[k].rank; ++j) ++seen[int(e.in[k].letters[j])];
  if (!arrow) {
    for (int c = 0; c < kLetters; ++c) {
      if (seen[c] != 1) continue;
      if (e.out.rank == kMaxRank) return "the implicit output has more than 6 letters";
      e.out.letters[e.out.rank++] = char(c);
    }
  }
  for (int j = 0; j < e.out.rank; ++j)
    if (!seen[int(e.out.letters[j])]) return "an output letter is in no operand";
  if (e.out.rank == 0) return "a scalar result is not supported (the output needs at least one letter)";
  return nullptr;
}

// The operands' elements as their terms index them: an activation's storage, a constant's
// row-major dims, or the scalar 1 that a single operand is multiplied by.
struct Operands {
  StridedView view[2];
  const float* data[2] = {};
};

const float kOne = 1.f;

// Where operand k lies: node input k with two activations; with one activation and a constant
// (weights[0], of attrs.constant_dims), the constant is the first operand when constant_first.
Operands operands(const Graph& g, const Node& n, const float* const* in) {
  Operands o;
  const bool constant = !n.weights.empty();
  int next_input = 0;
  for (int k = 0; k < 2; ++k) {
    const bool is_constant = constant && (k == 0) == n.attrs.constant_first;
    if (is_constant) {
      o.view[k] = row_major(int(n.attrs.constant_dims.size()), n.attrs.constant_dims.data());
      o.data[k] = n.weights[0].data();
    } else if (next_input < int(n.inputs.size())) {
      o.view[k] = storage_view(g.value(n.inputs[size_t(next_input)]));
      o.data[k] = in ? in[next_input] : nullptr;
      ++next_input;
    } else {  // the scalar 1 beside a single operand
      o.view[k] = {};
      o.data[k] = &kOne;
    }
  }
  return o;
}

// The packed matrices' views into each operand and the output: a [batch, M, K], b [batch, K, N],
// out [batch, M, N], each axis a letter (or run of letters) in that order.
struct Contraction {
  StridedView a, b, out;
  int64_t batch = 1, m = 1, n = 1, k = 1;
};

// Per letter: its extent (the largest of the operands'; the others hold it or 1) and each term's
// stride for it (0 where the term lacks it or holds extent 1). false: a packed view would exceed
// kMaxRank axes.
bool contraction(const Equation& e, const Operands& ops, const StridedView* out, Contraction& c) {
  int64_t extent[kLetters], stride[3][kLetters] = {};
  std::fill(extent, extent + kLetters, int64_t(1));
  const Term* terms[3] = {&e.in[0], &e.in[1], &e.out};
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < terms[k]->rank; ++j) {
      const int l = terms[k]->letters[j];
      const int64_t d = ops.view[k].dims[j];
      extent[l] = std::max(extent[l], d);
      stride[k][l] = d == 1 ? 0 : ops.view[k].strides[j];
    }
  if (out)
    for (int j = 0; j < e.out.rank; ++j) stride[2][int(e.out.letters[j])] = out->dims[j] == 1 ? 0 : out->strides[j];
  c = {};
  auto append = [&](StridedView& v, int term, char letter) {
    if (v.rank == kMaxRank) return false;
    v.dims[v.rank] = extent[int(letter)];
    v.strides[v.rank++] = stride[term][int(letter)];
    return true;
  };
  bool fits = true;
  // Batch letters, then the first operand's own, then the second's.
  for (int j = 0; j < e.out.rank; ++j) {
    const char l = e.out.letters[j];
    const bool in_a = e.in[0].has(l), in_b = e.in[1].has(l);
    if (in_a && in_b) {
      fits = fits && append(c.a, 0, l) && append(c.b, 1, l) && append(c.out, 2, l);
      c.batch *= extent[int(l)];
    }
  }
  // The output letters only operand k has: A's rows (k 0, into m), B's columns (k 1, into n).
  auto own = [&](int k, StridedView& operand, int64_t& count) {
    for (int j = 0; j < e.out.rank; ++j) {
      const char l = e.out.letters[j];
      if (e.in[k].has(l) && !e.in[1 - k].has(l)) {
        fits = fits && append(operand, k, l) && append(c.out, 2, l);
        count *= extent[int(l)];
      }
    }
  };
  own(0, c.a, c.m);
  // Summed letters: in either operand and not in the output (stride 0 in the one that lacks it).
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < e.in[k].rank; ++j) {
      const char l = e.in[k].letters[j];
      if (e.out.has(l) || (k == 1 && e.in[0].has(l))) continue;
      fits = fits && append(c.a, 0, l) && append(c.b, 1, l);
      c.k *= extent[int(l)];
    }
  own(1, c.b, c.n);
  return fits;
}

// ---- import and shapes ----

// The equation as the file writes it.
std::string& equation_of(Node& n) { return n.attrs.equation; }
const std::string& equation_of(const Node& n) { return n.attrs.equation; }

Status import_einsum(const OnnxImport& in, Node& n) {
  equation_of(n) = attr_string(in.node, "equation");
  Equation e;
  if (const char* problem = parse_equation(equation_of(n), e))
    return make_error(where(in.node) + "equation \"" + onnx::printable(equation_of(n)) + "\": " + problem);
  if (size_t(e.operands) != in.node.inputs.size())
    return make_error(where(in.node) + "equation \"" + onnx::printable(equation_of(n)) + "\" names " + std::to_string(e.operands) +
                      " operands, the node has " + std::to_string(in.node.inputs.size()));
  if (in.constant(0) && (in.node.inputs.size() == 1 || in.constant(1)))
    return make_error(where(in.node) + "every operand is a constant (fold them before export)");
  for (size_t slot = 0; slot < in.node.inputs.size(); ++slot) {
    const onnx::Tensor* k = in.constant(slot);
    if (!k) continue;
    if (k->floats.empty()) return make_error(where(in.node) + "a constant operand must be a float tensor");
    if (k->dims.size() > size_t(kMaxRank))
      return make_error(where(in.node) + "a constant operand of rank " + std::to_string(k->dims.size()) + " (at most " +
                        std::to_string(kMaxRank) + " is supported)");
    n.weights = {k->floats};
    n.attrs.constant_dims = k->dims;
    n.attrs.constant_rank = int(k->dims.size());
    n.attrs.constant_first = slot == 0;
  }
  return {};
}

Status infer_einsum(const Graph& g, Node& n, Value& out) {
  Equation e;
  const std::string eq = "equation \"" + onnx::printable(equation_of(n)) + "\": ";
  if (const char* problem = parse_equation(equation_of(n), e)) return make_error(where(n) + eq + problem);
  const int given = int(n.inputs.size()) + (n.weights.empty() ? 0 : 1);
  if (given != e.operands || n.inputs.empty() || n.weights.size() > 1)
    return make_error(where(n) + eq + "names " + std::to_string(e.operands) + " operands, the node has " + std::to_string(given) +
                      " (at least one an activation)");
  if (!n.weights.empty()) {
    if (n.attrs.constant_dims.size() > size_t(kMaxRank)) return make_error(where(n) + "a constant operand of rank above 6");
    int64_t count = 1;
    for (int64_t d : n.attrs.constant_dims) count *= d;
    if (size_t(count) != n.weights[0].size())
      return make_error(where(n) + "the constant's " + std::to_string(n.weights[0].size()) + " values do not fit its shape " +
                        dims_text(n.attrs.constant_dims));
  }
  const Operands ops = operands(g, n, nullptr);
  int64_t extent[kLetters];
  std::fill(extent, extent + kLetters, int64_t(1));
  for (int k = 0; k < e.operands; ++k) {
    const std::vector<int64_t> dims(ops.view[k].dims, ops.view[k].dims + ops.view[k].rank);
    if (ops.view[k].rank != e.in[k].rank)
      return make_error(where(n) + eq + "operand " + std::to_string(k + 1) + " has " + std::to_string(e.in[k].rank) +
                        " letters but rank " + std::to_string(ops.view[k].rank) + " " + dims_text(dims));
    for (int j = 0; j < e.in[k].rank; ++j) {
      int64_t& x = extent[int(e.in[k].letters[j])];
      const int64_t d = ops.view[k].dims[j];
      if (x != 1 && d != 1 && x != d)
        return make_error(where(n) + eq + "letter '" + std::string(1, e.in[k].letters[j]) + "' has extents " + std::to_string(x) +
                          " and " + std::to_string(d) + " (they must be equal, or one of them 1)");
      x = std::max(x, d);
    }
  }
  Contraction c;
  if (!contraction(e, ops, nullptr, c))
    return make_error(where(n) + eq + "its batch, row and summed letters together exceed " + std::to_string(kMaxRank) + " axes");
  std::vector<int64_t> dims;
  for (int j = 0; j < e.out.rank; ++j) dims.push_back(extent[int(e.out.letters[j])]);
  set_rows(out, std::move(dims));
  return {};
}

// The packed operands, their product and (backward) a packed gradient share the scratch the
// convolutions use for their Winograd tiles: the ops run one at a time.
struct Workspace {
  float *a, *b, *c, *g;
};

size_t workspace_floats(const Contraction& c) {
  const size_t a = size_t(c.batch * c.m * c.k), b = size_t(c.batch * c.k * c.n), out = size_t(c.batch * c.m * c.n);
  return a + b + out + std::max(a, b);
}

Workspace workspace(const Contraction& c, Scratch& s) {
  float* p = s.winograd.data();
  Workspace w;
  w.a = p, p += c.batch * c.m * c.k;
  w.b = p, p += c.batch * c.k * c.n;
  w.c = p, p += c.batch * c.m * c.n;
  w.g = p;
  return w;
}

Contraction planned(const Graph& g, const Node& n, const float* const* in, Operands& ops) {
  Equation e;
  parse_equation(equation_of(n), e);  // checked by shape inference
  ops = operands(g, n, in);
  const StridedView out = storage_view(g.value(n.output));
  Contraction c;
  contraction(e, ops, &out, c);
  return c;
}

void plan_einsum(const Graph& g, const Node& n, NodePlan&, ScratchSizes& s) {
  Operands ops;
  s.at_least(s.winograd, workspace_floats(planned(g, n, nullptr, ops)));
}

// A view's elements into row-major floats, and back (added).
void pack(const StridedView& v, const float* from, float* to) {
  if (v.rank == 0) {
    to[0] = from[v.offset];
    return;
  }
  strided_copy(v, from, row_major(v.rank, v.dims), to);
}

void unpack_add(const StridedView& v, const float* from, float* to) {
  if (v.rank == 0) {
    to[v.offset] += from[0];
    return;
  }
  strided_add(row_major(v.rank, v.dims), from, v, to);
}

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMajor>;

// This pass's contraction, with both operands packed into the workspace as matrices.
struct Packed {
  Contraction c;
  Workspace w;
};
Packed packed(const Graph& g, const Node& n, const float* const* in, Scratch& scratch) {
  Operands ops;
  const Contraction c = planned(g, n, in, ops);
  const Workspace w = workspace(c, scratch);
  pack(c.a, ops.data[0], w.a);
  pack(c.b, ops.data[1], w.b);
  return {c, w};
}

void forward_einsum(const Node& n, NodePlan&, const ForwardArgs& a) {
  const auto [c, w] = packed(a.graph, n, a.in, a.scratch);
  for (int64_t t = 0; t < c.batch; ++t)
    MatrixMap(w.c + t * c.m * c.n, c.m, c.n).noalias() =
        ConstMatrixMap(w.a + t * c.m * c.k, c.m, c.k) * ConstMatrixMap(w.b + t * c.k * c.n, c.k, c.n);
  strided_copy(row_major(c.out.rank, c.out.dims), w.c, c.out, a.out);
}

void backward_einsum(const Node& n, NodePlan&, const BackwardArgs& a) {
  const auto [c, w] = packed(a.graph, n, a.in, a.scratch);
  pack(c.out, a.gout, w.c);  // dC
  // Which node input (if any) each operand is: a constant or the scalar 1 gets no gradient.
  const bool constant = !n.weights.empty();
  int slot[2] = {-1, -1}, next = 0;
  for (int k = 0; k < 2; ++k)
    if (!(constant && (k == 0) == n.attrs.constant_first) && next < int(n.inputs.size())) slot[k] = next++;
  for (int k = 0; k < 2; ++k) {
    if (slot[k] < 0) continue;
    for (int64_t t = 0; t < c.batch; ++t) {
      const ConstMatrixMap dc(w.c + t * c.m * c.n, c.m, c.n);
      if (k == 0)  // dA = dC B^T
        MatrixMap(w.g + t * c.m * c.k, c.m, c.k).noalias() = dc * ConstMatrixMap(w.b + t * c.k * c.n, c.k, c.n).transpose();
      else  // dB = A^T dC
        MatrixMap(w.g + t * c.k * c.n, c.k, c.n).noalias() = ConstMatrixMap(w.a + t * c.m * c.k, c.m, c.k).transpose() * dc;
    }
    float* gin = a.gin[slot[k]];
    std::fill(gin, gin + a.graph.value(n.inputs[size_t(slot[k])]).shape.size(), 0.f);
    unpack_add(k == 0 ? c.a : c.b, w.g, gin);
  }
}

}  // namespace

const OpDescriptor einsum_op = {"Einsum", import_einsum, infer_einsum, plan_einsum, forward_einsum, backward_einsum,
                                OpFlags::any_rank};

}  // namespace gradcam::ops
