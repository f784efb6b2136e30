// The any-rank arithmetic ops' half of test_graph_ops.cpp (included there, inside its anonymous
// namespace, after its graph pieces): their double-precision reference, written from the ONNX
// definitions over logical (ONNX-order) indices and read through each value's own layout, and
// their finite-difference cases, each op on image values and on rows values where it takes both.
//
// Rows values come from the ops under test themselves (no Reshape needed): an image times a
// constant of dims [1,1,1,1,1] is rows [1,1,C,H,W], and ReduceSum over axis 0 makes it [1,C,H,W].
// The head dots a rows value with random constants and sums all but axis 1 to a [1, n] vector.

// ---- the reference ----

// Every index of `dims`, the last axis fastest.
template <class F>
void each_index(const std::vector<int64_t>& dims, F f) {
  int64_t total = 1;
  for (int64_t d : dims) total *= d;
  std::vector<int64_t> index(dims.size(), 0);
  for (int64_t n = 0; n < total; ++n) {
    f(index);
    for (size_t k = dims.size(); k-- > 0;) {
      if (++index[k] < dims[k]) break;
      index[k] = 0;
    }
  }
}

// The offset of `index` (of a result of rank index.size()) in an operand of `dims` and `strides`,
// right-aligned and broadcast as numpy does.
size_t broadcast_offset(const std::vector<int64_t>& index, const std::vector<int64_t>& dims, const std::vector<int64_t>& strides) {
  const size_t shift = index.size() - dims.size();
  int64_t o = 0;
  for (size_t k = 0; k < dims.size(); ++k) o += (dims[k] == 1 ? 0 : index[k + shift]) * strides[k];
  return size_t(o);
}

std::vector<int64_t> row_major(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) s[k - 1] = s[k] * dims[k];
  return s;
}

// The any-rank arithmetic ops (and Add/Sub/Mul in the forms only the general kernel takes: a
// constant with dims, or a rows operand that is not a vector). false: not one of them.
bool nd_math_reference(const Graph& g, const Node& n, const std::vector<std::vector<double>>& values, std::vector<double>& y) {
  const std::string& t = n.op_type;
  const OpAttributes& a = n.attrs;
  const TensorView out = tensor_view(g.value(n.output));
  const TensorView in = tensor_view(g.value(n.inputs[0]));
  const std::vector<double>& x = values[size_t(n.inputs[0])];
  auto beyond_vectors = [&] {
    for (int v : n.inputs)
      if (g.value(v).layout == Layout::rows && !g.value(v).is_vector()) return true;
    return !a.constant_dims.empty() || (g.value(n.output).layout == Layout::rows && !g.value(n.output).is_vector());
  };
  if (t == "Erf" || t == "Sqrt" || t == "Pow") {
    for (size_t k = 0; k < y.size(); ++k)
      y[k] = t == "Erf" ? std::erf(x[k]) : (t == "Sqrt" ? std::sqrt(x[k]) : std::pow(x[k], double(a.alpha)));
    return true;
  }
  if (t == "Div" || ((t == "Add" || t == "Sub" || t == "Mul") && beyond_vectors())) {
    const bool constant = n.inputs.size() == 1;
    std::vector<double> c;
    std::vector<int64_t> cdims = a.constant_dims, cstrides;
    if (constant) {
      c.assign(n.weights[0].begin(), n.weights[0].end());
      cstrides = row_major(cdims);
    } else {
      const TensorView second = tensor_view(g.value(n.inputs[1]));
      cdims = second.dims, cstrides = second.strides;
    }
    const std::vector<double>& other = constant ? c : values[size_t(n.inputs[1])];
    each_index(out.dims, [&](const std::vector<int64_t>& i) {
      double u = x[broadcast_offset(i, in.dims, in.strides)], v = other[broadcast_offset(i, cdims, cstrides)];
      if (constant && a.constant_first) std::swap(u, v);
      y[broadcast_offset(i, out.dims, out.strides)] = t == "Add" ? u + v : t == "Sub" ? u - v : t == "Mul" ? u * v : u / v;
    });
    return true;
  }
  if (t == "ReduceMean" || t == "ReduceSum") {
    // The output's floats lie as the kept dims' (1 on each reduced axis) row-major ones, or as the
    // 1x1xC image of the spatial mean.
    std::vector<int64_t> kept = in.dims;
    for (int64_t axis : a.reduce_axes) kept[size_t(axis)] = 1;
    const std::vector<int64_t> strides = g.value(n.output).layout == Layout::image ? out.strides : row_major(kept);
    const double count = double(x.size()) / double(y.size());
    each_index(in.dims, [&](const std::vector<int64_t>& i) {
      y[broadcast_offset(i, kept, strides)] += x[broadcast_offset(i, in.dims, in.strides)] / (t == "ReduceMean" ? count : 1.0);
    });
    return true;
  }
  if (t == "Softmax") {
    std::vector<int64_t> others = in.dims;
    others[size_t(a.axis)] = 1;
    const int64_t stride = in.strides[size_t(a.axis)];
    each_index(others, [&](const std::vector<int64_t>& i) {
      const size_t o = broadcast_offset(i, in.dims, in.strides);
      double sum = 0;
      for (int64_t k = 0; k < in.dims[size_t(a.axis)]; ++k) sum += std::exp(x[o + size_t(k * stride)]);
      for (int64_t k = 0; k < in.dims[size_t(a.axis)]; ++k) y[o + size_t(k * stride)] = std::exp(x[o + size_t(k * stride)]) / sum;
    });
    return true;
  }
  if ((t == "MatMul" || t == "Gemm") && n.inputs.size() == 1 && !g.value(n.inputs[0]).is_vector()) {
    // Every row of [..., M, K] times W [K][N], plus the bias.
    const size_t units = size_t(a.out_channels), k = n.weights[0].size() / units;
    for (size_t row = 0; row < x.size() / k; ++row)
      for (size_t o = 0; o < units; ++o) {
        double acc = n.weights[1][o];
        for (size_t i = 0; i < k; ++i) acc += x[row * k + i] * n.weights[0][i * units + o];
        y[row * units + o] = acc;
      }
    return true;
  }
  if (t == "MatMul" && n.inputs.size() == 2) {
    const TensorView second = tensor_view(g.value(n.inputs[1]));
    const std::vector<double>& x2 = values[size_t(n.inputs[1])];
    const size_t r = out.dims.size();
    const int64_t k = in.dims.back();
    // Batch axes broadcast; the strides of the matrices' own two axes are each operand's.
    each_index(out.dims, [&](const std::vector<int64_t>& i) {
      double acc = 0;
      for (int64_t j = 0; j < k; ++j) {
        std::vector<int64_t> ia = i, ib = i;
        ia[r - 1] = j, ib[r - 2] = j;
        acc += x[broadcast_offset(ia, in.dims, in.strides)] * x2[broadcast_offset(ib, second.dims, second.strides)];
      }
      y[broadcast_offset(i, out.dims, out.strides)] = acc;
    });
    return true;
  }
  if (t == "Einsum") {
    // Every output index times every value of the summed letters: the sum of the operands' product,
    // each operand read at its letters' indices (index 0 on an extent of 1, as it broadcasts).
    std::string eq;
    for (char ch : a.equation)
      if (ch != ' ') eq += ch;
    const size_t arrow = eq.find("->");
    std::vector<std::string> terms(1);
    for (char ch : eq.substr(0, arrow)) {
      if (ch == ',') terms.emplace_back();
      else terms.back().push_back(ch);
    }
    std::string output;  // without "->": the letters that appear once, in alphabetical order
    if (arrow != std::string::npos) {
      output = eq.substr(arrow + 2);
    } else {
      std::string all;
      for (const std::string& term : terms) all += term;
      std::sort(all.begin(), all.end());
      for (char l : all)
        if (std::count(all.begin(), all.end(), l) == 1) output += l;
    }
    struct Operand {
      std::vector<int64_t> dims, strides;
      std::vector<double> data;
    };
    std::vector<Operand> operands;
    size_t next = 0;
    for (size_t k = 0; k < terms.size(); ++k) {
      if (!n.weights.empty() && (k == 0) == a.constant_first) {
        operands.push_back({a.constant_dims, row_major(a.constant_dims), {n.weights[0].begin(), n.weights[0].end()}});
      } else {
        const int v = n.inputs[next++];
        const TensorView view = tensor_view(g.value(v));
        operands.push_back({view.dims, view.strides, values[size_t(v)]});
      }
    }
    std::string letters = output;  // the output's, then the summed ones
    std::vector<int64_t> extents;
    for (char l : output) {
      int64_t e = 1;
      for (size_t k = 0; k < terms.size(); ++k)
        for (size_t j = 0; j < terms[k].size(); ++j)
          if (terms[k][j] == l) e = std::max(e, operands[k].dims[j]);
      extents.push_back(e);
    }
    for (size_t k = 0; k < terms.size(); ++k)
      for (size_t j = 0; j < terms[k].size(); ++j)
        if (letters.find(terms[k][j]) == std::string::npos) letters += terms[k][j], extents.push_back(operands[k].dims[j]);
    each_index(extents, [&](const std::vector<int64_t>& i) {
      double product = 1;
      for (size_t k = 0; k < terms.size(); ++k) {
        int64_t o = 0;
        for (size_t j = 0; j < terms[k].size(); ++j)
          if (operands[k].dims[j] != 1) o += i[letters.find(terms[k][j])] * operands[k].strides[j];
        product *= operands[k].data[size_t(o)];
      }
      int64_t o = 0;
      for (size_t j = 0; j < output.size(); ++j) o += i[j] * out.strides[j];
      y[size_t(o)] += product;
    });
    return true;
  }
  if (t == "Where") {
    // cond ? X : Y, a constant X (constant_first) or Y in weights[1].
    struct Operand {
      std::vector<int64_t> dims, strides;
      std::vector<double> data;
    };
    auto operand = [&](bool constant, int slot) {
      if (constant) return Operand{a.constant_dims, row_major(a.constant_dims), {n.weights[1].begin(), n.weights[1].end()}};
      const TensorView view = tensor_view(g.value(n.inputs[size_t(slot)]));
      return Operand{view.dims, view.strides, values[size_t(n.inputs[size_t(slot)])]};
    };
    const bool constant_x = n.weights.size() == 2 && a.constant_first, constant_y = n.weights.size() == 2 && !a.constant_first;
    const Operand px = operand(constant_x, 0), py = operand(constant_y, constant_x ? 0 : 1);
    const std::vector<int64_t> cstrides = row_major(a.condition_dims);
    each_index(out.dims, [&](const std::vector<int64_t>& i) {
      const bool c = n.weights[0][broadcast_offset(i, a.condition_dims, cstrides)] != 0.f;
      y[broadcast_offset(i, out.dims, out.strides)] =
          c ? px.data[broadcast_offset(i, px.dims, px.strides)] : py.data[broadcast_offset(i, py.dims, py.strides)];
    });
    return true;
  }
  if (t == "LayerNormalization") {
    size_t m = 1;
    for (size_t k = size_t(a.axis); k < in.dims.size(); ++k) m *= size_t(in.dims[k]);
    auto at = [](const std::vector<float>& w, size_t k) { return double(w.size() == 1 ? w[0] : w[k]); };
    for (size_t group = 0; group < x.size() / m; ++group) {
      double mean = 0, var = 0;
      for (size_t k = 0; k < m; ++k) mean += x[group * m + k] / double(m);
      for (size_t k = 0; k < m; ++k) var += (x[group * m + k] - mean) * (x[group * m + k] - mean) / double(m);
      for (size_t k = 0; k < m; ++k)
        y[group * m + k] = (x[group * m + k] - mean) / std::sqrt(var + double(a.alpha)) * at(n.weights[0], k) + at(n.weights[1], k);
    }
    return true;
  }
  return false;
}

// ---- graph pieces ----

OpAttributes with_constant_dims(std::vector<int64_t> dims) {
  OpAttributes a;
  a.constant_rank = int(dims.size());
  a.constant_dims = std::move(dims);
  return a;
}

size_t count_of(const std::vector<int64_t>& dims) {
  size_t n = 1;
  for (int64_t d : dims) n *= size_t(d);
  return n;
}

OpAttributes reduce_attrs(std::vector<int64_t> axes, bool keep_dims) {
  OpAttributes a;
  a.reduce_axes = std::move(axes);
  a.keep_dims = keep_dims;
  return a;
}

// Gemm/MatMul on every row of a rows value: W [K][units] for its last extent K, bias [units].
int linear(GraphBuilder& b, const std::string& type, int x, int units, uint64_t seed) {
  OpAttributes a;
  a.out_channels = units;
  const size_t k = size_t(tensor_view(b.value(x)).dims.back());
  const float w = std::sqrt(3.f / float(k));
  return b.add(type, {x}, a, {random_vector(k * size_t(units), seed, -w, w), random_vector(size_t(units), seed + 1, -0.5f, 0.5f)});
}

// An image [1,C,H,W] as rows [1,C,H,W] of the same floats in ONNX order (times a scale).
int rows_of(GraphBuilder& b, int image, uint64_t seed) {
  const int wide = b.add("Mul", {image}, with_constant_dims({1, 1, 1, 1, 1}), {random_vector(1, seed, 0.8f, 1.2f)});
  return b.add("ReduceSum", {wide}, reduce_attrs({0}, false));
}

// A [1, n] head for a rows value: dotted with random constants over every axis but 1, then a Gemm.
Model with_rows_head(GraphBuilder& b, int x, uint64_t seed) {
  std::vector<int64_t> dims = tensor_view(b.value(x)).dims;
  if (b.value(x).is_vector()) return b.model(dense(b, "Gemm", x, 4, seed));
  const int weighted = b.add("Mul", {x}, with_constant_dims(dims), {random_vector(count_of(dims), seed, -1.f, 1.f)});
  std::vector<int64_t> axes;
  for (int64_t k = 2; k < int64_t(dims.size()); ++k) axes.push_back(k);
  // [M, N]: summed over M into [1, N]; [1, d1, ...]: over the axes after d1 into [1, d1].
  const OpAttributes sum = dims.size() == 2 ? reduce_attrs({0}, true) : reduce_attrs(axes, false);
  return b.model(dense(b, "Gemm", b.add("ReduceSum", {weighted}, sum), 4, seed + 1));
}

Model with_any_head(GraphBuilder& b, int x, uint64_t seed) {
  return b.value(x).layout == Layout::image ? with_head(b, x, seed) : with_rows_head(b, x, seed);
}

// ---- the cases ----

void add_nd_math_cases(std::vector<OpCase>& c) {
  // Element-wise, on an image and on rows.
  for (const char* type : {"Erf", "Pow", "Sqrt", "Relu", "Gelu", "Tanh"}) {
    for (bool rows : {false, true}) {
      c.push_back({type, rows ? "rows [1,4,5,6]" : "image", [type, rows] {
                     GraphBuilder b(5, 6, 3);
                     int x = conv1x1(b, 0, 4, 3000, 1.5f);
                     if (rows) x = rows_of(b, x, 3002);
                     OpAttributes a;
                     a.alpha = rows ? 3.f : 2.f;  // Pow's exponent
                     // sqrt of x^2 + 0.5: away from 0, where its derivative is unbounded
                     if (std::string(type) == "Sqrt") x = b.add("Add", {b.add("Mul", {x, x})}, with_constant_dims({1}), {{0.5f}});
                     return with_any_head(b, b.add(type, {x}, a), 3004);
                   }});
    }
  }
  // Broadcasting beyond the fast path's forms.
  for (const char* type : {"Add", "Sub", "Mul", "Div"}) {
    const std::string op = type;
    c.push_back({type, "image and rows of the same [1,C,H,W] (an image result)", [op] {
                   GraphBuilder b(5, 6, 3);
                   const int x = conv1x1(b, 0, 4, 3100);
                   int r = rows_of(b, conv1x1(b, 0, 4, 3102), 3104);
                   if (op == "Div") r = b.add("Add", {b.add("Mul", {r, r})}, with_constant_dims({1}), {{1.f}});
                   const int y = b.add(op, {x, r});
                   REQUIRE(b.value(y).layout == Layout::image);
                   return with_head(b, y, 3106);
                 }});
    c.push_back({type, "image [1,4,5,6] and its channel mean [1,1,5,6] (LayerNorm2d's x - mean)", [op] {
                   GraphBuilder b(5, 6, 3);
                   const int x = conv1x1(b, 0, 4, 3110);
                   int m = b.add("ReduceMean", {conv1x1(b, 0, 4, 3112)}, reduce_attrs({1}, true));
                   if (op == "Div") m = b.add("Add", {b.add("Mul", {m, m})}, with_constant_dims({1}), {{1.f}});
                   return with_head(b, b.add(op, {x, m}), 3114);
                 }});
    c.push_back({type, "rows [1,4,5,6] and a constant [6] (a layer scale)", [op] {
                   GraphBuilder b(5, 6, 3);
                   const int r = rows_of(b, conv1x1(b, 0, 4, 3120), 3122);
                   return with_rows_head(b, b.add(op, {r}, with_constant_dims({6}), {random_vector(6, 3124, 0.5f, 1.5f)}), 3126);
                 }});
    c.push_back({type, "a constant [5,1] first, rows [1,4,5,6] second", [op] {
                   GraphBuilder b(5, 6, 3);
                   int r = rows_of(b, conv1x1(b, 0, 4, 3130), 3132);
                   if (op == "Div") r = b.add("Add", {b.add("Mul", {r, r})}, with_constant_dims({1}), {{1.f}});
                   OpAttributes a = with_constant_dims({5, 1});
                   a.constant_first = true;
                   return with_rows_head(b, b.add(op, {r}, a, {random_vector(5, 3134, -1.f, 1.f)}), 3136);
                 }});
    c.push_back({type, "rows [1,4,1,6] and rows [1,1,5,1] (both broadcast)", [op] {
                   GraphBuilder b(5, 6, 3);
                   const int r = rows_of(b, conv1x1(b, 0, 4, 3140), 3142);
                   const int p = b.add("ReduceMean", {r}, reduce_attrs({2}, true));
                   int q = b.add("ReduceMean", {r}, reduce_attrs({1, 3}, true));
                   if (op == "Div") q = b.add("Add", {b.add("Mul", {q, q})}, with_constant_dims({1}), {{1.f}});
                   return with_rows_head(b, b.add(op, {p, q}), 3144);
                 }});
  }
  c.push_back({"Div", "same shape (images)", [] {
                 GraphBuilder b(5, 6, 3);
                 const int x = conv1x1(b, 0, 4, 3150);
                 const int y = b.add("Sigmoid", {conv1x1(b, 0, 4, 3152)});
                 return with_head(b, b.add("Div", {x, b.add("Add", {y}, with_constant_dims({1}), {{0.5f}})}), 3154);
               }});
  c.push_back({"Div", "constant scalar", [] {
                 GraphBuilder b(5, 6, 3);
                 return with_head(b, b.add("Div", {conv1x1(b, 0, 4, 3160)}, with_constant_dims({}), {{1.7f}}), 3162);
               }});
  // Reductions on any axes.
  for (const char* type : {"ReduceMean", "ReduceSum"}) {
    c.push_back({type, "image over channels, keepdims (rows [1,1,5,6])", [type] {
                   GraphBuilder b(5, 6, 3);
                   return with_rows_head(b, b.add(type, {conv1x1(b, 0, 4, 3200)}, reduce_attrs({1}, true)), 3202);
                 }});
    c.push_back({type, "rows over axes 0 and -1, no keepdims", [type] {
                   GraphBuilder b(5, 6, 3);
                   const int r = rows_of(b, conv1x1(b, 0, 4, 3210), 3212);
                   return with_rows_head(b, b.add(type, {r}, reduce_attrs({-1, 0}, false)), 3214);
                 }});
    c.push_back({type, "rows over every axis", [type] {
                   GraphBuilder b(5, 6, 3);
                   const int r = rows_of(b, conv1x1(b, 0, 4, 3220), 3222);
                   const int s = b.add(type, {r}, reduce_attrs({}, true));
                   return with_head(b, b.add("Mul", {conv1x1(b, 0, 4, 3224), s}), 3226);
                 }});
  }
  // Softmax along any axis.
  for (int axis : {-1, 1, 2}) {
    c.push_back({"Softmax", "rows [1,4,5,6] along axis " + std::to_string(axis), [axis] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a;
                   a.axis = axis;
                   return with_rows_head(b, b.add("Softmax", {rows_of(b, conv1x1(b, 0, 4, 3300, 2.f), 3302)}, a), 3304);
                 }});
  }
  c.push_back({"Softmax", "an image along its channels (axis 1)", [] {
                 GraphBuilder b(5, 6, 3);
                 OpAttributes a;
                 a.axis = 1;
                 return with_head(b, b.add("Softmax", {conv1x1(b, 0, 4, 3310, 2.f)}, a), 3312);
               }});
  // MatMul and Gemm on rows; MatMul of two activations.
  c.push_back({"MatMul", "rows [1,4,5,6] times a constant [6,3]", [] {
                 GraphBuilder b(5, 6, 3);
                 return with_rows_head(b, linear(b, "MatMul", rows_of(b, conv1x1(b, 0, 4, 3500), 3501), 3, 3502), 3504);
               }});
  c.push_back({"Gemm", "rows [5,6] (MultiheadAttention's 2-D tokens) with a bias", [] {
                 GraphBuilder b(5, 6, 3);
                 const int r = b.add("ReduceSum", {rows_of(b, conv1x1(b, 0, 4, 3510), 3511)}, reduce_attrs({0, 1}, false));
                 REQUIRE(tensor_view(b.value(r)).dims == std::vector<int64_t>{5, 6});
                 return with_rows_head(b, linear(b, "Gemm", r, 3, 3512), 3514);
               }});
  c.push_back({"MatMul", "two activations [1,4,6,6] x [1,4,6,6] (attention)", [] {
                 GraphBuilder b(6, 6, 3);
                 const int p = rows_of(b, conv1x1(b, 0, 4, 3520), 3521), q = rows_of(b, conv1x1(b, 0, 4, 3522), 3523);
                 return with_rows_head(b, b.add("MatMul", {p, q}), 3524);
               }});
  c.push_back({"MatMul", "batch broadcast [1,4,6,6] x [1,1,6,6], and a value times itself", [] {
                 GraphBuilder b(6, 6, 3);
                 const int p = rows_of(b, conv1x1(b, 0, 4, 3530), 3531);
                 const int q = b.add("ReduceMean", {p}, reduce_attrs({1}, true));
                 return with_rows_head(b, b.add("MatMul", {b.add("MatMul", {p, q}), p}), 3534);
               }});
  // Einsum: MaxViT's attention pair, an image operand, broadcasting, one operand, a constant.
  auto einsum = [](GraphBuilder& b, const std::string& equation, std::vector<int> inputs,
                   std::vector<std::vector<float>> weights = {}, std::vector<int64_t> constant_dims = {}) {
    OpAttributes a = with_constant_dims(std::move(constant_dims));
    a.equation = equation;
    a.constant_first = !weights.empty();  // (the constant case's is the first operand)
    return b.add("Einsum", std::move(inputs), a, std::move(weights));
  };
  c.push_back({"Einsum", "MaxViT's q k^T then attn v: [1,2,2,5,6] (torch's spaced capitals)", [einsum] {
                 GraphBuilder b(5, 6, 3);
                 const int q = reshape(b, conv1x1(b, 0, 4, 3600), {1, 2, 2, 5, 6});
                 const int k = reshape(b, conv1x1(b, 0, 4, 3601), {1, 2, 2, 5, 6});
                 const int v = reshape(b, conv1x1(b, 0, 4, 3602), {1, 2, 2, 5, 6});
                 const int attn = einsum(b, "B G H I D, B G H J D -> B G H I J", {q, k});
                 REQUIRE(tensor_view(b.value(attn)).dims == std::vector<int64_t>{1, 2, 2, 5, 5});
                 return with_rows_head(b, einsum(b, "B G H I J, B G H J D -> B G H I D", {attn, v}), 3603);
               }});
  c.push_back({"Einsum", "an image and rows [1,4,5,6]: batch b,w; rows h; columns g; summed c", [einsum] {
                 GraphBuilder b(5, 6, 3);
                 const int r = rows_of(b, conv1x1(b, 0, 4, 3610), 3611);
                 return with_rows_head(b, einsum(b, "bchw,bcgw->bhgw", {conv1x1(b, 0, 4, 3612), r}), 3613);
               }});
  c.push_back({"Einsum", "a batch letter broadcast (extent 1 in the second) and a letter summed in one operand only", [einsum] {
                 GraphBuilder b(5, 6, 3);
                 const int r = rows_of(b, conv1x1(b, 0, 4, 3620), 3621);
                 const int m = b.add("ReduceMean", {rows_of(b, conv1x1(b, 0, 4, 3622), 3623)}, reduce_attrs({1}, true));
                 return with_rows_head(b, einsum(b, "abcd,abce->abce", {r, m}), 3624);
               }});
  c.push_back({"Einsum", "one operand: a transpose with a sum (abcd->adc), then the implicit output of acb (abc)", [einsum] {
                 GraphBuilder b(5, 6, 3);
                 const int x = einsum(b, "abcd->adc", {conv1x1(b, 0, 4, 3630)});
                 return with_rows_head(b, einsum(b, "acb", {x}), 3631);
               }});
  c.push_back({"Einsum", "a constant [3,6] first, rows [1,4,5,6] second", [einsum] {
                 GraphBuilder b(5, 6, 3);
                 const int r = rows_of(b, conv1x1(b, 0, 4, 3640), 3641);
                 return with_rows_head(b, einsum(b, "ij,abcj->abci", {r}, {random_vector(18, 3642, -1.f, 1.f)}, {3, 6}), 3643);
               }});
  // Where with a constant condition: two activations, or one and a constant, all three broadcast.
  auto mask = [](std::vector<int64_t> dims, uint64_t seed) {
    std::vector<float> m = random_vector(count_of(dims), seed, -1.f, 1.f);
    for (float& v : m) v = v > 0.f ? 1.f : 0.f;
    return m;
  };
  auto where_attrs = [](std::vector<int64_t> condition, std::vector<int64_t> constant, bool constant_x) {
    OpAttributes a = with_constant_dims(std::move(constant));
    a.condition_dims = std::move(condition);
    a.constant_first = constant_x;
    return a;
  };
  c.push_back({"Where", "an image X and rows Y [1,4,5,6], a condition [5,6] (an image result)", [mask, where_attrs] {
                 GraphBuilder b(5, 6, 3);
                 const int r = rows_of(b, conv1x1(b, 0, 4, 3700), 3701);
                 const int y = b.add("Where", {conv1x1(b, 0, 4, 3702), r}, where_attrs({5, 6}, {}, false), {mask({5, 6}, 3703)});
                 REQUIRE(b.value(y).layout == Layout::image);
                 return with_head(b, y, 3704);
               }});
  c.push_back({"Where", "rows X [1,4,5,6] and a constant scalar Y (masked_fill), a condition [1,1,5,1]", [mask, where_attrs] {
                 GraphBuilder b(5, 6, 3);
                 const int r = rows_of(b, conv1x1(b, 0, 4, 3710), 3711);
                 return with_rows_head(b, b.add("Where", {r}, where_attrs({1, 1, 5, 1}, {}, false), {mask({1, 1, 5, 1}, 3712), {-2.f}}), 3713);
               }});
  c.push_back({"Where", "a constant X [6] and rows Y [1,4,1,6] broadcast over a condition [1,1,5,6]", [mask, where_attrs] {
                 GraphBuilder b(5, 6, 3);
                 const int r = b.add("ReduceMean", {rows_of(b, conv1x1(b, 0, 4, 3720), 3721)}, reduce_attrs({2}, true));
                 return with_rows_head(b, b.add("Where", {r}, where_attrs({1, 1, 5, 6}, {6}, true),
                                                {mask({1, 1, 5, 6}, 3722), random_vector(6, 3723, -1.f, 1.f)}), 3724);
               }});
  // LayerNormalization over the last axis and the last two.
  for (int axis : {-1, 2}) {
    c.push_back({"LayerNormalization", "rows [1,4,5,6] from axis " + std::to_string(axis), [axis] {
                   GraphBuilder b(5, 6, 3);
                   OpAttributes a;
                   a.axis = axis, a.alpha = 1e-5f;
                   const size_t m = axis == -1 ? 6 : 30;
                   const int r = rows_of(b, conv1x1(b, 0, 4, 3400, 2.f), 3402);
                   return with_rows_head(b, b.add("LayerNormalization", {r}, a, {random_vector(m, 3404, 0.5f, 1.5f), random_vector(m, 3405, -0.5f, 0.5f)}), 3406);
                 }});
  }
}
