// ONNX ModelProto (read by onnx_reader.cpp) to the engine's graph: one image input, nodes of the
// op table with their constants bound, nodes computable from constants and static shapes folded
// into constants (onnx_fold.cpp), a final Softmax dropped so that its input is the logits, and
// nodes that do not lead to the output pruned.
#include "formats/onnx_import.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "gradcam/graph.h"
#include "formats/onnx.h"
#include "formats/onnx_fold.h"
#include "graph/ops/ops.h"

namespace gradcam {

namespace {

// Constants by name: initializers and Constant nodes' values.
using Constants = std::map<std::string, const onnx::Tensor*>;

Result<GraphInput> read_input(const onnx::Model& m, const Constants& constants, const OnnxOptions& options,
                              const std::string& source) {
  std::vector<const onnx::ValueInfo*> inputs;
  for (const onnx::ValueInfo& v : m.inputs)
    if (!constants.count(v.name)) inputs.push_back(&v);  // old exporters list initializers as inputs
  if (inputs.size() != 1)
    return make_error(source + ": the model has " + std::to_string(inputs.size()) + " inputs; one image input is supported");
  const onnx::ValueInfo& in = *inputs[0];
  if (in.elem_type != int32_t(onnx::DataType::float32))
    return make_error(source + ": the input '" + onnx::printable(in.name) + "' must be float32");
  if (!in.has_shape || in.dims.size() != 4)
    return make_error(source + ": the input '" + onnx::printable(in.name) + "' must be 4-D [1, channels, height, width]");
  const auto& d = in.dims;
  if (d[0] > 1) return make_error(source + ": the input's batch size is " + std::to_string(d[0]) + "; export it with batch 1 or dynamic");
  // Images become three channels (RGB); a grey-scale or channels-last input is refused by name.
  if (d[1] != 3)
    return make_error(source + ": the input must be an RGB image, channels first: [1, 3, height, width] (as PyTorch exports); its shape is " +
                      shape_text(d));
  GraphInput g;
  g.name = onnx::printable(in.name);
  g.channels = int(d[1]);
  g.channels_first = true;
  g.dynamic_size = d[2] < 1 || d[3] < 1;
  if (options.size > 0) {
    if (!g.dynamic_size && (d[2] != options.size || d[3] != options.size))
      return make_error(source + ": --size " + std::to_string(options.size) + " does not match the model's fixed input " +
                        std::to_string(d[2]) + "x" + std::to_string(d[3]));
    g.height = g.width = options.size;
  } else if (g.dynamic_size) {
    return make_error(source + ": the model's input height and width are dynamic: give the size to use (--size N)");
  } else {
    g.height = int(std::min<int64_t>(d[2], 1 << 30)), g.width = int(std::min<int64_t>(d[3], 1 << 30));
  }
  if (g.height < 1 || g.width < 1 || g.height > ModelLimits::kMaxSide || g.width > ModelLimits::kMaxSide)
    return make_error(source + ": the input size " + std::to_string(g.height) + "x" + std::to_string(g.width) +
                      " is outside 1.." + std::to_string(ModelLimits::kMaxSide));
  return g;
}

// A Constant node's value: `value` (a tensor) or, from opset 12, value_float(s) / value_int(s).
Result<onnx::Tensor> constant_value(const onnx::Node& n, const std::string& at) {
  for (const onnx::Attribute& a : n.attributes) {
    onnx::Tensor t;
    if (a.name == "value" && a.kind == onnx::Attribute::Kind::t) t = a.t;
    else if (a.name == "value_float" && a.kind == onnx::Attribute::Kind::f) t.data_type = 1, t.floats = {a.f};
    else if (a.name == "value_floats" && a.kind == onnx::Attribute::Kind::floats) t.data_type = 1, t.floats = a.floats, t.dims = {int64_t(a.floats.size())};
    else if (a.name == "value_int" && a.kind == onnx::Attribute::Kind::i) t.data_type = 7, t.ints = {a.i};
    else if (a.name == "value_ints" && a.kind == onnx::Attribute::Kind::ints) t.data_type = 7, t.ints = a.ints, t.dims = {int64_t(a.ints.size())};
    else continue;
    return t;
  }
  return make_error(at + "only a tensor, float(s) or int(s) value is supported");
}

// An activation's shape as ONNX sees it.
std::vector<int64_t> onnx_dims(const Value& v) { return tensor_view(v).dims; }

// Op types in the file that the importer neither runs nor folds (a foldable op type counts where
// it reads an activation), in file order: an error for the first one lists them all, so a person
// learns in one try what a model needs.
std::vector<std::string> unsupported_op_types(const onnx::Model& m) {
  std::set<std::string> constant;
  for (const onnx::Tensor& t : m.initializers) constant.insert(t.name);
  std::vector<std::string> seen;
  for (const onnx::Node& n : m.nodes) {
    bool folds = n.op_type == "Constant" || n.op_type == "Shape" || n.op_type == "Size";
    if (!folds && onnx::foldable(n.op_type))
      folds = std::all_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& x) { return x.empty() || constant.count(x); });
    if (folds) {
      constant.insert(n.outputs.begin(), n.outputs.end());
      continue;
    }
    const OpDescriptor* op = find_op(n.op_type);
    if ((op && op->import) || n.op_type == "Split") continue;
    const std::string t = onnx::printable(n.op_type);
    if (std::find(seen.begin(), seen.end(), t) == seen.end()) seen.push_back(t);
  }
  return seen;
}

// ONNX Split as one Slice node per output along `axis`: the sizes from the `split` input (opset
// 13 on) or attribute, or equal parts of the axis (its extent from the shapes inferred so far).
template <class InferSoFar>
Status import_split(const onnx::Node& fn, const std::string& name, const std::string& at, Graph& g, const Constants& constants,
                    std::map<std::string, int>& value_id, InferSoFar& infer_so_far) {
  if (fn.inputs.empty() || !value_id.count(fn.inputs[0])) return make_error(at + "the split input must be an activation");
  const int x = value_id[fn.inputs[0]];
  std::vector<int64_t> sizes = [&] {
    for (const onnx::Attribute& a : fn.attributes)
      if (a.name == "split") return a.ints;
    return std::vector<int64_t>{};
  }();
  if (fn.inputs.size() > 1 && !fn.inputs[1].empty()) {
    auto c = constants.find(fn.inputs[1]);
    if (c == constants.end()) return make_error(at + "the split sizes must be a constant");
    sizes = c->second->ints;
  }
  int64_t axis = 0;
  for (const onnx::Attribute& a : fn.attributes)
    if (a.name == "axis") axis = a.i;
  if (Status s = infer_so_far(); !s) return s;
  const std::vector<int64_t> dims = tensor_view(g.values[size_t(x)]).dims;
  const int rank = int(dims.size());
  if (axis < -rank || axis >= rank) return make_error(at + "axis " + std::to_string(axis) + " does not fit an input of rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const int64_t extent = dims[size_t(axis)], parts = int64_t(fn.outputs.size());
  if (sizes.empty()) {
    if (extent % parts != 0) return make_error(at + "cannot split an extent of " + std::to_string(extent) + " into " + std::to_string(parts) + " equal parts");
    sizes.assign(size_t(parts), extent / parts);
  }
  int64_t total = 0;
  for (int64_t k : sizes) total += k;
  if (int64_t(sizes.size()) != parts || total != extent)
    return make_error(at + "split sizes " + dims_text(sizes) + " do not cut an extent of " + std::to_string(extent) + " into " + std::to_string(parts) + " outputs");
  int64_t start = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int64_t begin = start;
    start += sizes[k];
    if (fn.outputs[k].empty()) continue;
    Node n;
    n.name = name + ":" + std::to_string(k);
    n.op_type = "Slice";
    n.op = &ops::slice_op;
    n.inputs = {x};
    n.attrs.slice_starts = {begin};
    n.attrs.slice_ends = {start};
    n.attrs.slice_axes = {axis};
    n.attrs.slice_steps = {1};
    n.output = int(g.values.size());
    g.values.push_back({onnx::printable(fn.outputs[k]), {}, 4, int(g.nodes.size())});
    value_id[fn.outputs[k]] = n.output;
    g.nodes.push_back(std::move(n));
  }
  return {};
}

}  // namespace

namespace {

// A rows [1,C,H,W] value that has an image copy (ToImage) is read through the copy alone: every
// reader, the any-rank ones too (they read either layout), reads the copy, which runs right after
// the value's producer. The copy is what a CAM explains when the value is named (find_layer:
// MaxViT's window departition), so its gradient must be all of the value's: a reader left on the
// rows value (MaxViT's downsampling shortcut, a Pad imported before the image op that made the
// copy, or a residual Add) would send its share of the gradient around the map, which then misses it.
void read_through_image_copies(Graph& g, const std::map<int, int>& as_image) {
  if (as_image.empty()) return;
  std::vector<char> is_copy(g.nodes.size(), 0);
  std::vector<std::vector<int>> copies_after(g.nodes.size());  // per node: the copies of its output
  for (const auto& [value, copy] : as_image) {
    const int t = g.values[size_t(copy)].producer;
    is_copy[size_t(t)] = 1;
    copies_after[size_t(g.values[size_t(value)].producer)].push_back(t);
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (is_copy[i]) continue;
    for (int& v : g.nodes[i].inputs)
      if (auto c = as_image.find(v); c != as_image.end()) v = c->second;
  }
  std::vector<Node> order;
  order.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (is_copy[i]) continue;
    order.push_back(std::move(g.nodes[i]));
    for (int t : copies_after[i]) order.push_back(std::move(g.nodes[size_t(t)]));
  }
  g.nodes = std::move(order);
  for (size_t k = 0; k < g.nodes.size(); ++k) g.values[size_t(g.nodes[k].output)].producer = int(k);
}

}  // namespace

void mark_explainable_4d_outputs(Graph& g) {
  // Images, and token grids (Value::map): ViT's [1,1+h*w,C] and [1,h*w,C]. A rows [1,a,b,c] is
  // [1,h,w,C] or a [1,C,H,W] that a Reshape or Transpose left in row-major order (ShuffleNet's
  // channel shuffle), which its dims do not tell apart: it counts as a grid where a Transpose moved
  // the channels last (perm [0,2,3,1]: Swin's and ConvNeXt's NHWC), and downstream of such a grid
  // wherever a node reads one and writes a 4-D value other than by a Transpose: Swin's residual
  // stream, its LayerNorms (norm1, pytorch-grad-cam's layer) and its patch merging. The patch
  // merging's F.pad is an image op, so the grid passes through a ToImage copy whose [1,C,H,W] is
  // really [1,h,w,C]: such an image is no map.
  std::vector<bool> nhwc(g.values.size(), false);
  for (Node& n : g.nodes) {
    const Value& v = g.values[size_t(n.output)];
    const bool four_d = v.layout == Layout::image || v.dims.size() == 4;
    bool grid_in = false;
    for (int i : n.inputs) grid_in = grid_in || nhwc[size_t(i)];
    nhwc[size_t(n.output)] = four_d && (n.op == &ops::transpose_op ? n.attrs.perm == std::vector<int64_t>{0, 2, 3, 1} : grid_in);
    n.explainable = v.map.is_map() && (v.layout == Layout::image ? !nhwc[size_t(n.output)] : v.dims.size() != 4 || nhwc[size_t(n.output)]);
  }
  // The last collapse of a spatial map (height or width above 1): earlier ones are
  // squeeze-and-excitation gates, later ones flatten a map that is already 1x1.
  g.default_layer = -1;
  for (const Node& n : g.nodes) {
    // (A ReduceMean collapses only as the spatial mean: over the channels, LayerNorm2d's, it does not.)
    const Value& out = g.values[size_t(n.output)];
    const bool spatial_mean = n.op == &ops::reduce_mean_op && (out.is_vector() || (out.layout == Layout::image && out.shape.h * out.shape.w == 1));
    const bool collapses = n.op == &ops::global_average_pool_op || spatial_mean || n.op == &ops::flatten_op || n.op == &ops::reshape_op;
    const Value& in = g.values[size_t(n.inputs[0])];
    if (!collapses || in.layout != Layout::image || in.shape.h * in.shape.w <= 1) continue;
    if (in.producer >= 0 && g.nodes[size_t(in.producer)].explainable) g.default_layer = in.producer;
  }
  // A transformer: pytorch-grad-cam's choice, the last block's first normalization (ViT's ln_1,
  // Swin's norm1), is the token grid the last attention reads: the nearest one among the ancestors
  // of the last Softmax. (The last block's output will not do: after it only the class token reaches
  // the head, so every other token's gradient is 0.)
  int attention = -1;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].op_type == "Softmax") attention = int(i);
  // A channels-last grid [1,h,w,C] is preferred to a token list: Swin's windows ([1,49,C] when the
  // grid is one 7x7 window, and its qkv projection [1,49,3C]) lie between norm1 and the Softmax.
  // A grid that only moves positions is not the layer: a shifted block rolls norm1's grid
  // (torch.roll, exported as Slice and Concat) and pads it to whole windows before the Softmax, so
  // the nearest grid would be norm1's map shifted by half a window.
  auto moves_positions = [](const Node& n) {
    return n.op_type == "Concat" || n.op_type == "Slice" || n.op_type == "Pad" || n.op_type == "Transpose" ||
           n.op_type == "Reshape" || n.op_type == "Gather";
  };
  if (attention >= 0) {
    std::vector<bool> ancestor(g.nodes.size(), false);
    ancestor[size_t(attention)] = true;
    int tokens = -1, grid = -1;
    for (int i = attention; i >= 0 && grid < 0; --i) {
      if (!ancestor[size_t(i)]) continue;
      const Node& n = g.nodes[size_t(i)];
      const Value& out = g.values[size_t(n.output)];
      if (i != attention && n.explainable && out.layout == Layout::rows && !moves_positions(n)) {
        if (out.dims.size() == 4) grid = i;
        else if (tokens < 0) tokens = i;
      }
      for (int v : n.inputs)
        if (g.values[size_t(v)].producer >= 0) ancestor[size_t(g.values[size_t(v)].producer)] = true;
    }
    if (grid >= 0 || tokens >= 0) g.default_layer = grid >= 0 ? grid : tokens;
  }
  if (g.default_layer < 0)
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (g.nodes[i].explainable) g.default_layer = int(i);
  g.words = {"explainable node", "nodes with a 4-D output or a token grid", "does not have a 4-D output or a token grid",
             "the model has no node with a 4-D output or a token grid to explain",
             "has no map to explain: only nodes with a 4-D output [1,C,H,W] or a token grid ([1,1+h*w,C], [1,h*w,C], [1,h,w,C]) can be explained", 12};
}

namespace {

// Each initializer's data is freed once the last node that reads it is imported: an op keeps its
// constants in its own layout (a Conv's kernel transposed, a Gemm's weight scaled), so the file's
// copy is dead from then on, and holding every one to the end would double the load's peak.
class InitializerRelease {
 public:
  explicit InitializerRelease(onnx::Model& m) {
    for (onnx::Tensor& t : m.initializers) by_name_[t.name] = &t;
    // PyTorch's exporter passes shared initializers through Identity nodes (read as aliases below).
    for (const onnx::Node& n : m.nodes) {
      if (n.op_type == "Identity" && n.inputs.size() == 1 && n.outputs.size() == 1) {
        if (auto t = by_name_.find(root(n.inputs[0])); t != by_name_.end()) {
          alias_[n.outputs[0]] = t->first;
          continue;
        }
      }
      for (const std::string& x : n.inputs)
        if (by_name_.count(root(x))) ++uses_[root(x)];
    }
  }
  // The initializer `x` names when the node being imported is the last to read it (and reads it once).
  onnx::Tensor* last_read(const std::string& x) {
    auto u = uses_.find(root(x));
    return u != uses_.end() && u->second == 1 ? by_name_[u->first] : nullptr;
  }
  // `n` is imported (or folded): its inputs have one reader fewer.
  void read_by(const onnx::Node& n) {
    for (const std::string& x : n.inputs) {
      auto u = uses_.find(root(x));
      if (u == uses_.end() || --u->second > 0) continue;
      onnx::Tensor& t = *by_name_[u->first];
      std::vector<float>().swap(t.floats);
      std::vector<int64_t>().swap(t.ints);
    }
  }

 private:
  const std::string& root(const std::string& name) const {
    auto a = alias_.find(name);
    return a == alias_.end() ? name : a->second;
  }
  std::map<std::string, onnx::Tensor*> by_name_;
  std::map<std::string, std::string> alias_;
  std::map<std::string, int> uses_;
};

}  // namespace

Result<Model> load_onnx_model(const uint8_t* bytes, size_t size, const std::string& source, const OnnxOptions& options) {
  auto file = onnx::read_model(bytes, size, source);
  if (!file) return make_error(file.error());
  return import_onnx_model(std::move(*file), source, options);
}

Result<Model> load_onnx_model_file(std::FILE* file, size_t size, const std::string& source, const OnnxOptions& options) {
  auto read = onnx::read_model_file(file, size, source);
  if (!read) return make_error(read.error());
  return import_onnx_model(std::move(*read), source, options);
}

Result<Model> import_onnx_model(onnx::Model file, const std::string& source, const OnnxOptions& options) {
  InitializerRelease release(file);
  const onnx::Model& m = file;
  const int64_t opset = m.default_opset();
  if (opset < 7 || opset > 21)
    return make_error(source + ": ONNX opset " + std::to_string(opset) + " is not supported (7..21; PyTorch exports 11..17)");

  Constants constants;
  std::deque<onnx::Tensor> owned;  // Constant nodes' scalar values and folded results (stable addresses)
  int64_t folded_elements = 0;
  for (const onnx::Tensor& t : m.initializers) constants[t.name] = &t;
  for (const onnx::Node& n : m.nodes)
    if (n.op_type == "Constant") {
      const std::string at = source + ": node '" + onnx::printable(n.name) + "' (Constant): ";
      if (n.outputs.size() != 1) return make_error(at + "must have one output");
      const onnx::Attribute* v = n.attribute("value");
      if (v && v->kind == onnx::Attribute::Kind::t) {
        constants[n.outputs[0]] = &v->t;
        continue;
      }
      auto t = constant_value(n, at);
      if (!t) return make_error(t.error());
      owned.push_back(std::move(*t));
      constants[n.outputs[0]] = &owned.back();
    }

  auto input = read_input(m, constants, options, source);
  if (!input) return make_error(input.error());
  if (m.outputs.size() != 1)
    return make_error(source + ": the model has " + std::to_string(m.outputs.size()) + " outputs; one (the class scores) is supported");

  Graph g;
  g.format = "onnx";
  g.asks_for_input_options = true;  // torchvision's mean/std and the class names are not in the file
  g.input = *input;
  g.values.push_back({g.input.name, {g.input.height, g.input.width, g.input.channels}, 4, -1});
  std::map<std::string, int> value_id;  // by the file's own (raw) names
  for (const onnx::ValueInfo& v : m.inputs)
    if (onnx::printable(v.name) == g.input.name && !constants.count(v.name)) value_id[v.name] = 0;
  std::string output_name = m.outputs[0].name;
  std::map<int, int> as_image;  // a rows [1,C,H,W] value -> its ToImage copy
  // Shapes are inferred as far as a Shape node needs them (on copies of the nodes: the final
  // infer_shapes after pruning is the one that counts).
  size_t inferred = 0;
  auto infer_so_far = [&]() -> Status {
    for (; inferred < g.nodes.size(); ++inferred) {
      // The copy borrows the node's weights rather than copying them (a classifier's are most of
      // the model), and hands them back.
      Node& original = g.nodes[inferred];
      std::vector<std::vector<float>> weights = std::move(original.weights);
      Node copy = original;
      copy.weights = std::move(weights);
      Status s = infer_node(g, copy, g.values[size_t(copy.output)]);
      original.weights = std::move(copy.weights);
      if (!s) return make_error(source + ": " + s.error());
    }
    return {};
  };

  for (const onnx::Node& fn : m.nodes) {
    if (fn.op_type == "Constant") continue;
    // PyTorch's exporter de-duplicates equal initializers through Identity nodes: still constants.
    if (fn.op_type == "Identity" && fn.inputs.size() == 1 && fn.outputs.size() == 1 && constants.count(fn.inputs[0])) {
      constants[fn.outputs[0]] = constants[fn.inputs[0]];
      continue;
    }
    // Names and op types from the file are kept printable (control bytes escaped): they end up in
    // one-line messages, and a person types them back as --layer.
    const std::string name = onnx::printable(fn.name.empty() ? (fn.outputs.empty() ? std::string("?") : fn.outputs[0]) : fn.name);
    const std::string op_type = onnx::printable(fn.op_type);
    const std::string at = source + ": node '" + name + "' (" + op_type + "): ";
    // However this node is taken (folded, dropped, split or imported), its constants are read by then.
    struct ReadBy {
      InitializerRelease& release;
      const onnx::Node& node;
      ~ReadBy() { release.read_by(node); }
    } read_by{release, fn};
    if (!fn.domain.empty() && fn.domain != "ai.onnx")
      return make_error(at + "ops of domain '" + onnx::printable(fn.domain) + "' are not supported");
    if (fn.outputs.empty() || fn.outputs[0].empty()) return make_error(at + "has no output");
    // Constant folding: every input a constant, or Shape/Size of an activation (whose shape is
    // static once the input size is known).
    if (onnx::foldable(fn.op_type)) {
      const bool of_shape = fn.op_type == "Shape" || fn.op_type == "Size";
      std::vector<const onnx::Tensor*> args;
      onnx::Tensor shape_arg;
      bool known = true;
      for (size_t i = 0; i < fn.inputs.size() && known; ++i) {
        const std::string& x = fn.inputs[i];
        auto c = constants.find(x);
        if (x.empty()) {
          args.push_back(nullptr);
        } else if (c != constants.end()) {
          args.push_back(c->second);
        } else if (of_shape && i == 0 && value_id.count(x)) {
          if (Status s = infer_so_far(); !s) return make_error(s.error());
          shape_arg = onnx::shape_only(onnx_dims(g.values[size_t(value_id[x])]));
          args.push_back(&shape_arg);
        } else {
          known = false;
        }
      }
      if (known) {
        auto t = onnx::fold_node(fn, args, opset);
        if (!t) return make_error(source + ": " + t.error());
        folded_elements += t->element_count();
        if (folded_elements > onnx::Limits::kMaxTotalElements)
          return make_error(at + "folded constants would exceed " + std::to_string(onnx::Limits::kMaxTotalElements) + " elements");
        owned.push_back(std::move(*t));
        constants[fn.outputs[0]] = &owned.back();
        continue;
      }
    }
    // A final Softmax: the engine differentiates the logits, its input.
    if (fn.op_type == "Softmax" && fn.outputs[0] == output_name && fn.inputs.size() == 1 && value_id.count(fn.inputs[0])) {
      output_name = fn.inputs[0];
      continue;
    }
    // Split: one Slice node per output (the engine's nodes have one output each).
    if (fn.op_type == "Split") {
      if (Status s = import_split(fn, name, at, g, constants, value_id, infer_so_far); !s) return make_error(s.error());
      continue;
    }
    const OpDescriptor* op = find_op(fn.op_type);
    // What else the model needs, for an error: the op types it uses that the engine lacks.
    auto others = [&] {
      std::string list;
      for (const std::string& t : unsupported_op_types(m))
        if (t != op_type) list += (list.empty() ? "" : ", ") + t;
      return list.empty() ? list : "; the model's other unsupported op types: " + list;
    };
    if (!op || !op->import) {
      if (onnx::foldable(fn.op_type))
        return make_error(at + "op type " + op_type + " is not supported on activations (only on constants and static shapes, folded when the model loads)" + others());
      return make_error(at + "op type " + op_type + " is not supported (supported: " + supported_ops_text() + ")" + others());
    }
    Node n;
    n.name = name;
    n.op_type = op_type;
    n.op = op;
    OnnxImport in{fn, g, {}, {}};
    for (const std::string& x : fn.inputs) {
      auto c = constants.find(x);
      in.constants.push_back(c == constants.end() ? nullptr : c->second);
      onnx::Tensor* last = c == constants.end() ? nullptr : release.last_read(x);
      in.last_reads.push_back(last && last == c->second ? last : nullptr);
      if (x.empty() || c != constants.end()) continue;
      auto v = value_id.find(x);
      if (v == value_id.end()) return make_error(at + "reads '" + onnx::printable(x) + "', which no earlier node computes");
      n.inputs.push_back(v->second);
    }
    if (n.inputs.empty()) return make_error(at + "does not read the image (all its inputs are constants, and " + op_type + " is not an op the importer folds)");
    if (Status s = op->import(in, n); !s) return make_error(source + ": " + s.error() + others());
    // An op written for images reads a [1,C,H,W] that a Reshape or Transpose left in row-major
    // order through a copy into the image layout (one per value, shared by its readers). Only an
    // any-rank op makes such a value, so only then are the shapes so far inferred to look.
    if (!op->any_rank())
      for (int& v : n.inputs) {
        const int producer = g.values[size_t(v)].producer;
        if (producer < 0 || !g.nodes[size_t(producer)].op->any_rank()) continue;
        if (auto c = as_image.find(v); c != as_image.end()) {
          v = c->second;
          continue;
        }
        if (Status s = infer_so_far(); !s) return make_error(s.error());
        const Value& x = g.values[size_t(v)];
        if (x.layout != Layout::rows || x.dims.size() != 4 || x.dims[0] != 1) continue;
        Node t;
        t.name = g.nodes[size_t(producer)].name + "/ToImage";
        t.op_type = "ToImage";
        t.op = &ops::to_image_op;
        t.inputs = {v};
        t.output = int(g.values.size());
        g.values.push_back({x.name + "/image", {}, 4, int(g.nodes.size())});
        g.nodes.push_back(std::move(t));
        v = as_image[v] = int(g.values.size()) - 1;
      }
    n.output = int(g.values.size());
    g.values.push_back({onnx::printable(fn.outputs[0]), {}, 4, int(g.nodes.size())});
    value_id[fn.outputs[0]] = n.output;
    g.nodes.push_back(std::move(n));
  }
  auto out = value_id.find(output_name);
  if (out == value_id.end() || out->second == 0)
    return make_error(source + ": no node computes the output '" + onnx::printable(output_name) + "'");
  g.output = out->second;
  read_through_image_copies(g, as_image);
  prune_to_output(g);
  if (Status s = infer_shapes(g); !s) return make_error(source + ": " + s.error());
  mark_explainable_4d_outputs(g);

  Model model;
  model.arch.height = g.input.height;
  model.arch.width = g.input.width;
  model.arch.channels = g.input.channels;
  model.arch.scale = 1.f / 255.f;
  const int classes = g.values[size_t(g.output)].shape.c;
  if (classes > ModelLimits::kMaxClasses) return make_error(source + ": " + std::to_string(classes) + " classes is more than the limit");
  for (int c = 0; c < classes; ++c) model.arch.classes.push_back(std::to_string(c));
  model.metadata = m.metadata;
  model.metadata["format"] = "onnx";
  model.metadata["producer"] = m.producer_name + (m.producer_version.empty() ? "" : " " + m.producer_version);
  model.metadata["opset"] = std::to_string(opset);
  // No "trained": an ONNX file does not say, so --json says null and nothing warns.
  model.graph = std::make_shared<const Graph>(std::move(g));
  return model;
}

}  // namespace gradcam
