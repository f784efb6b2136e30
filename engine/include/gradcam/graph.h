// The network as a graph: values (tensors computed from the image) and nodes (ops) in topological
// order, one image input, one logits output. A sequential model file is a chain of nodes; an ONNX
// model is any DAG of the supported ops. Every op is one descriptor (engine/src/graph/ops/): how
// it is read from ONNX, its output shape, how it is planned, its forward pass and its input-
// gradient backward pass. Adding an op means adding one descriptor to the table in op_table.cpp.
//
// Layout: a value is one image's tensor, in one of two layouts (Value::layout):
//   image  a 4-D [1,C,H,W] (ONNX; Keras [1,H,W,C]) kept channels-last as Shape h x w x c: what the
//          convolution and pooling kernels read and write.
//   rows   any other tensor of rank 1..6, kept in its own row-major order, its ONNX shape (batch
//          included) in Value::dims: [1, n] (a vector, 1 x 1 x n as before), ViT's tokens
//          [1, 197, 768], attention [1, 12, 197, 197], a channels-last grid [1, 7, 7, 768].
// Ops written before values had any rank see only image values and [1, n] vectors: shape inference
// refuses anything else for an op without OpFlags::any_rank (OpDescriptor). tensor_view() gives
// any value's logical dims and strides, so an any-rank op reads both layouts alike.
// A value a CAM can read (Value::map): image values whole; a rows value whose tokens form a grid
// (ViT's [1, 1+h*w, C] after its class token, Swin's [1, h, w, C]) as that h x w x C map.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gradcam/conv_geometry.h"
#include "gradcam/model.h"
#include "gradcam/status.h"

namespace gradcam {

namespace onnx {
struct Node;
}

enum class Layout { image, rows };

// Where a CAM finds an h x w x c channels-last map inside a value's floats.
struct MapView {
  int64_t offset = 0;  // floats before the map (ViT: the class token's C)
  Shape grid;          // h x w x c; all 0: the value is not a map
  bool is_map() const { return grid.h > 0; }
};

struct Value {
  std::string name;  // ONNX tensor name, or the Keras layer name of its producer
  // The floats held: image h x w x c; rows 1 x 1 x (their count), so shape.size() is always the
  // value's size. (A [1, n] vector is 1 x 1 x n, as the ops written for it read it.)
  Shape shape;
  int rank = 4;      // the ONNX rank: image 4; rows dims.size() (2 for a [1, n] vector)
  int producer = -1; // node index, -1 for the graph input
  Layout layout = Layout::image;
  std::vector<int64_t> dims{};  // rows: the ONNX shape, batch included; image: empty (see tensor_view)
  MapView map{};              // set by settle_value: the image itself, or a token grid, or none

  bool is_vector() const { return layout == Layout::rows && dims.size() == 2 && dims[0] == 1; }
};

// A value's logical (ONNX-order) dims and the stride of each in its floats: image [1,C,H,W] with
// strides [h*w*c, 1, w*c, c]; rows row-major.
struct TensorView {
  std::vector<int64_t> dims, strides;
  int64_t size() const;
};
TensorView tensor_view(const Value& v);
// "[1,197,768]", for messages.
std::string dims_text(const std::vector<int64_t>& dims);
// Makes a rows value of these dims (shape 1 x 1 x count, rank, layout); the map is set by settle_value.
void set_rows(Value& v, std::vector<int64_t> dims);
// After an op's shape inference: a legacy rank-2 output becomes a rows [1, n] vector; shape, rank
// and the CAM map view are made consistent with the layout and dims.
void settle_value(Value& v);

// Every attribute any op reads, in the op's own words; an op ignores what it does not use.
struct OpAttributes {
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;  // window, strides, dilations
  int pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;      // explicit padding
  std::string auto_pad;                                // ONNX SAME_UPPER / SAME_LOWER / VALID, resolved by shape inference
  int groups = 1;
  int out_channels = 0;         // Conv filters, Dense units
  bool relu = false;            // a ReLU fused into the op (Keras conv2d/dense activation)
  bool ceil_mode = false, count_include_pad = false;
  bool channels_first_flatten = false;  // ONNX Flatten/Reshape: the [C,H,W] order of the 2-D result
  bool keep_dims = true;                // ReduceMean: [1,C,1,1] (4-D) or [1,C] (2-D)
  float alpha = 0.f, beta = 0.f;        // LeakyRelu, KerasReLU slope; Elu alpha; HardSigmoid alpha, beta
  float lo = 0.f, hi = 0.f;             // Clip bounds; KerasReLU threshold and max_value (+inf: none)
  float pad_value = 0.f;                // Pad constant
  // Pad of any other value than an image padded on height and width (a rows [1,h,w,C], Swin's
  // F.pad): ONNX's pads, every axis's begin then every axis's end.
  std::vector<int64_t> pads{};
  int constant_rank = 0;                // Add/Mul/Sub/PRelu: the rank of an ONNX constant operand (0: Keras, channels-last)
  bool constant_first = false;          // Sub: the constant is the first operand (c - x)
  // Add/Mul/Sub/Max/Mean/Sum: a 2-D [C] operand broadcasts over the channels of a 4-D one, as
  // Keras's merge layers do (they expand it to [1,1,C]); ONNX would align it with [H,W] instead.
  bool broadcast_channels_last = false;
  bool approximate_tanh = false;        // Gelu: the tanh approximation instead of the exact erf form
  int reshape_h = 0, reshape_w = 0, reshape_c = 0;  // KerasReshape target: [h,w,c] (h 0: 2-D [c]); one may be -1
  int axis = 1;                         // Concat
  // PRelu (Keras shared_axes): the slope's [h, w, c] extents, each 1 (shared) or the input's own;
  // all 0: one slope, one per channel or one per element, told by its size (ONNX).
  int slope_h = 0, slope_w = 0, slope_c = 0;
  // The layout ops, as the ONNX file writes them (negative axes and indices are resolved against
  // the input's rank when the op runs): Transpose's perm; Slice's starts/ends/steps, one per axis
  // of slice_axes; Gather's constant indices on `axis` (gather_scalar: a 0-D index, which drops
  // the axis); Squeeze's and Unsqueeze's axes; Reshape's and Expand's target dims (Reshape: 0
  // keeps the input's extent, one -1 is inferred); Concat's operands in order (k >= 0: input k;
  // -1 - w: the constant weights[w]).
  std::vector<int64_t> perm, slice_starts, slice_ends, slice_steps, slice_axes, gather_indices, squeeze_axes,
      target_dims, concat_parts;
  bool gather_scalar = false;
  std::string equation;                 // Einsum, as the file writes it
  std::vector<int64_t> condition_dims;  // Where: its constant condition's dims (the condition is weights[0])
  // Add/Sub/Mul/Div: an ONNX constant operand's dims (numpy broadcasting against the activation's).
  std::vector<int64_t> constant_dims{};
  // ReduceMean/ReduceSum: the axes reduced (ONNX order, non-negative once inferred; empty: all);
  // LayerNormalization normalises over the axes from `axis` on, Softmax along `axis`.
  std::vector<int64_t> reduce_axes{};
};

struct OpDescriptor;

struct Node {
  std::string name;     // ONNX node name (or its output's name when the file has none); Keras layer name
  std::string op_type;  // as in the file: "Conv", "Relu", ... (Keras layers: "conv2d", ...)
  const OpDescriptor* op = nullptr;
  std::vector<int> inputs;  // value ids (activations only: constants are bound into `weights`)
  int output = -1;          // value id
  OpAttributes attrs;
  // Constants in the op's own layout (e.g. Conv: kernel [kh][kw][ic/groups][oc], bias [oc]).
  std::vector<std::vector<float>> weights;
  bool explainable = false;  // can be the explained layer (the importer decides: ExplainableWords)
};

// Per-node state computed once when the network is planned: transformed kernels, geometry.
struct NodePlan {
  kernels::ConvGeometry geometry{};
  std::vector<float> a, b, c, d;  // the op's own derived constants
  int variant = 0;                // the op's choice of kernel
  // The op's own planned state, of a type only its file knows (the layout ops' index mapping, read
  // by every pass); set by plan, read-only after it.
  std::shared_ptr<const void> state;
};

// Scratch memory shared by all nodes, sized by planning.
struct Scratch {
  std::vector<float> padded, winograd, grad;
};
struct ScratchSizes {
  size_t padded = 0, winograd = 0, grad = 0;
  void at_least(size_t& field, size_t n) { field = field < n ? n : field; }
};

struct Graph;
struct ForwardArgs {
  const Graph& graph;
  const float* const* in;  // one per node input
  float* out;
  Scratch& scratch;
  // Images one after another, each value [batch, ...] with every image's block as a single pass
  // holds it. Above 1 only for an op with OpFlags::batched_forward (Network::forward_batch).
  int batch = 1;
  // A Relu or Clip fused into this node by the network (engine/src/graph/activation_fusion.h):
  // `out` is then that activation's output, min(max(y, clamp_lo), clamp_hi). Only the ops that
  // file names (Conv) are given bounds other than these.
  float clamp_lo = -std::numeric_limits<float>::infinity();
  float clamp_hi = std::numeric_limits<float>::infinity();
};
// How ReLU passes gradients back. Guided Backprop (Springenberg et al., arXiv 1412.6806, Eq. 6)
// also zeroes negative incoming gradients; the deconvnet (Zeiler & Fergus 2014, arXiv 1311.2901,
// Sec. 2.1, as Captum's Deconvolution) passes ReLU of the incoming gradient and ignores the forward
// mask. Captum changes only nn.ReLU for the deconvnet, so here Relu (and ReLUs fused into Conv or
// Gemm) take that rule and LeakyRelu and Clip keep their plain gradient.
enum class ReluBackward { standard, guided, deconvnet };

struct BackwardArgs {
  const Graph& graph;
  const float* const* in;  // forward inputs
  const float* out;        // forward output
  const float* gout;       // d score / d output
  float* const* gin;       // d score / d each input: written over (the network adds where needed)
  Scratch& scratch;
  ReluBackward relu;       // the rule ReLU-like ops follow (guided backprop, deconvnet)
};

// What an ONNX importer hands an op: the file's node, the graph so far (inputs already hold the
// activation value ids) and, per input slot, the constant behind it (nullptr: an activation or absent).
namespace onnx {
struct Tensor;
}
struct OnnxImport {
  const onnx::Node& node;
  const Graph& graph;
  std::vector<const onnx::Tensor*> constants;
  // Per slot, the constant again where this node is the last to read it: its data is the importer's
  // to move into the node's weights (not copy), since the file's copy is freed after this node.
  std::vector<onnx::Tensor*> last_reads;
  const onnx::Tensor* constant(size_t slot) const { return slot < constants.size() ? constants[slot] : nullptr; }
  onnx::Tensor* movable(size_t slot) const { return slot < last_reads.size() ? last_reads[slot] : nullptr; }
};

// An op's capabilities beyond the legacy contract, named where the descriptor is written so that
// two of them cannot be given in each other's place (they were once two positional bools, which a
// merge swapped). An enum class, so a stray `true` in a descriptor does not compile.
enum class OpFlags : unsigned {
  none = 0,
  // The op reads inputs of any rank and layout (through tensor_view). Without it only image values
  // and [1, n] vectors reach it; shape inference refuses other inputs with a message naming the node.
  any_rank = 1u << 0,
  // forward runs ForwardArgs::batch images at once (a convolution or a dense layer then reads each
  // weight once per batch). Without it a batched pass runs forward on one image at a time, which is
  // right for every op.
  batched_forward = 1u << 1,
};
constexpr OpFlags operator|(OpFlags a, OpFlags b) { return OpFlags(unsigned(a) | unsigned(b)); }
constexpr bool has(OpFlags set, OpFlags flag) { return (unsigned(set) & unsigned(flag)) != 0; }

struct OpDescriptor {
  const char* type;  // ONNX op type, or the engine's own name for an op ONNX does not have
  // Reads ONNX attributes and constant inputs into `out` (inputs already hold the activation
  // value ids). Errors name what is unsupported. nullptr: not an ONNX op (a Keras layer's own
  // semantics, e.g. KerasReLU); the ONNX importer refuses a node of that type as unknown.
  Status (*import)(const OnnxImport& in, Node& out);
  // Sets the output value's shape and rank from the inputs'; errors name the problem. May resolve
  // attributes that depend on the input's size (auto_pad into pads).
  Status (*infer)(const Graph& g, Node& n, Value& out);
  // Derived constants and scratch sizes.
  void (*plan)(const Graph& g, const Node& n, NodePlan& p, ScratchSizes& s);
  void (*forward)(const Node& n, NodePlan& p, const ForwardArgs& a);
  // Writes d(score)/d(input) for every input. ReLU-like ops honour BackwardArgs::relu.
  void (*backward)(const Node& n, NodePlan& p, const BackwardArgs& a);
  // What else the op can do (OpFlags), by name: `OpFlags::any_rank | OpFlags::batched_forward`.
  OpFlags flags = OpFlags::none;

  bool any_rank() const { return has(flags, OpFlags::any_rank); }
  bool batched_forward() const { return has(flags, OpFlags::batched_forward); }
};

// The op table (engine/src/graph/op_table.cpp).
const OpDescriptor* find_op(const std::string& type);
const std::vector<const OpDescriptor*>& op_table();
std::string supported_ops_text();  // the ONNX ops: "Add, AveragePool, ..." for the ONNX importer's errors

struct GraphInput {
  std::string name = "input";
  int height = 0, width = 0, channels = 0;
  bool channels_first = false;  // the model's input layout: NCHW (PyTorch) or NHWC (Keras)
  bool dynamic_size = false;    // height/width were symbolic in the file (--size)
};

// How a format speaks of the nodes it lets a person explain, set by its importer with the nodes'
// `explainable` flags and the default layer, so that nothing downstream asks which format it was.
struct ExplainableWords {
  std::string kind = "conv layer";                    // "no conv layer named \"x\" ..."
  std::string plural = "conv layers";                 // the list that message gives
  std::string refused = "is not a conv2d layer";      // "layer 7 is not a conv2d layer"
  std::string none = "the model has no conv2d layer to explain";
  // A named node that exists but cannot be explained: this message after "node \"x\" " (empty:
  // it is reported as not found, with the list).
  std::string named_but_refused;
  size_t listed = 0;  // how many names that list shows, the last ones (0: all)
};

struct Graph {
  GraphInput input;
  std::vector<Value> values;  // values[0] is the input
  std::vector<Node> nodes;    // topological order
  int output = -1;            // the logits value
  int default_layer = -1;     // node explained when none is named (the importer's choice)
  ExplainableWords words;
  std::string format;         // for display only (`info`): "model" or "onnx"
  // The file leaves the input's normalisation and the class names to the person (ONNX): front ends
  // offer to set them.
  bool asks_for_input_options = false;

  const Value& value(int id) const { return values[size_t(id)]; }
  const Value& output_of(int node) const { return values[size_t(nodes[size_t(node)].output)]; }
};

// Keeps only the nodes the output depends on, renumbering values (ops index values by id).
void prune_to_output(Graph& g);
// The engine's limits on a node's output (sides, channels, floats); what a whole pass may hold is
// checked when the network plans it (ModelLimits::kMaxPassBytes). Errors name the node.
Status check_output_limits(const Node& n, const Value& out);
// One node's shape inference: refuses inputs a legacy op cannot read, runs the op's infer on a
// fresh output, settles it (settle_value). infer_shapes runs it for every node.
Status infer_node(Graph& g, Node& n, Value& out);
// Runs every op's shape inference in order; unless the importer chose one, the default layer is the
// last explainable node. Errors name the node.
Status infer_shapes(Graph& g);
// The sequential model file's network as a graph: one node per layer, named after it, built by the
// Keras importer's layer handlers (each layer is the Keras layer it is named after).
Result<Graph> graph_from_model(const Model& model);
// The model's graph: model.graph, or built from its layers (which parse_architecture has already
// checked, so a failure there is a bug and aborts).
std::shared_ptr<const Graph> model_graph(const Model& model);
// A node to explain by node name or output name ("" or "auto": the default). Errors list the
// explainable nodes.
Result<int> find_layer(const Graph& g, const std::string& name);
std::vector<int> explainable_nodes(const Graph& g);

}  // namespace gradcam
