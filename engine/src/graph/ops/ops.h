// The op descriptors, one per file family under ops/, and the table of them: adding an op is its
// descriptor in its file and its declaration and row here (op_table.cpp serves the table).
#pragma once
#include "gradcam/graph.h"

namespace gradcam::ops {

extern const OpDescriptor conv_op;                        // conv.cpp
extern const OpDescriptor gemm_op, matmul_op;             // dense.cpp
extern const OpDescriptor max_pool_op, average_pool_op,   // pool.cpp
    global_average_pool_op, global_max_pool_op;
extern const OpDescriptor reduce_mean_op, reduce_sum_op;   // reduce.cpp
extern const OpDescriptor layer_norm_op;                   // layer_norm.cpp
extern const OpDescriptor relu_op, leaky_relu_op, clip_op, sigmoid_op, hard_sigmoid_op,  // activation.cpp
    hard_swish_op, tanh_op, elu_op, gelu_op, swish_op, keras_relu_op, prelu_op, erf_op, sqrt_op, pow_op;
extern const OpDescriptor softmax_op, softmax_axis_op;    // softmax.cpp
extern const OpDescriptor batch_norm_op;                  // batch_norm.cpp
extern const OpDescriptor add_op, sub_op, mul_op, div_op;  // binary.cpp
extern const OpDescriptor max_op, mean_op, sum_op;        // variadic.cpp
extern const OpDescriptor concat_op;                      // concat.cpp
extern const OpDescriptor flatten_op, reshape_op, keras_reshape_op, pad_op, identity_op, dropout_op,  // shape.cpp
    squeeze_op, unsqueeze_op;
extern const OpDescriptor to_image_op, transpose_op, slice_op, gather_op, expand_op;  // layout.cpp
extern const OpDescriptor einsum_op;                      // einsum.cpp
extern const OpDescriptor where_op;                       // where.cpp

// Every op the engine runs, in the order supported_ops_text() does not care about (it sorts). The
// ops without an ONNX import carry a Keras layer's own semantics:
//   Swish            x * sigmoid(x) (Keras swish / silu), fused
//   KerasReLU        Keras's ReLU layer: alpha = negative_slope, lo = threshold, hi = max_value (+inf: none)
//   SoftmaxChannels  softmax over the channels of each position, anywhere in the graph (Activation('softmax'));
//                    ONNX's "Softmax" is a row of its own (any axis; the importer drops a final one)
//   KerasReshape     Reshape/Flatten on channels-last memory: the data unchanged, the shape from
//                    reshape_h/w/c ([h,w,c] rank 4; h == 0: rank 2 [c]; one of them may be -1)
//   ToImage          a rows [1,C,H,W] value copied into the image layout; the ONNX importer puts
//                    one where an op that reads only images reads such a value
// and of the ONNX ops, these serve Keras layers too: Tanh, Elu (alpha), Gelu (approximate_tanh),
// PRelu (slope in weights[0]: one, one per channel, one per element in h,w,c order, or of shape
// slope_h/w/c, each 1 or the input's),
// GlobalMaxPool and GlobalAveragePool (keep_dims: 1x1xC rank 4, the default, or rank 2 [C]), Sub,
// and of 2+ inputs Max (the gradient to the first maximal input), Mean (Keras Average) and Sum
// (Keras Add of 3+). Add/Sub/Mul/Max/Mean/Sum take a [1,1,C] operand on either side, or a 2-D [C]
// one with broadcast_channels_last (Keras's merge layers), and Add/Sub/Mul a constant as ONNX does.
inline constexpr const OpDescriptor* kOpTable[] = {
    &add_op,        &average_pool_op, &batch_norm_op, &clip_op,      &concat_op,      &conv_op,
    &dropout_op,    &flatten_op,      &gemm_op,       &global_average_pool_op,        &hard_sigmoid_op,
    &hard_swish_op, &identity_op,     &leaky_relu_op, &matmul_op,    &max_pool_op,    &mul_op,
    &pad_op,        &reduce_mean_op,  &relu_op,       &reshape_op,   &sigmoid_op,
    &tanh_op,       &elu_op,          &gelu_op,       &swish_op,     &keras_relu_op,  &prelu_op,
    &softmax_op,    &global_max_pool_op,              &keras_reshape_op,              &sub_op,
    &max_op,        &mean_op,         &sum_op,
    &to_image_op,   &transpose_op,    &slice_op,      &gather_op,    &expand_op,      &squeeze_op,
    &unsqueeze_op,
    // Any rank (issue 26): element-wise, reductions, normalisation.
    &erf_op,        &sqrt_op,         &pow_op,        &div_op,       &reduce_sum_op,  &softmax_axis_op,
    &layer_norm_op,  &einsum_op,       &where_op,
};

}  // namespace gradcam::ops

namespace gradcam::ops {
// Folds Keras/ONNX batch-norm parameters into the node's per-channel scale and shift.
void fold_batch_norm(const std::vector<float>& gamma, const std::vector<float>& beta, const std::vector<float>& mean,
                     const std::vector<float>& var, float epsilon, Node& n);
}  // namespace gradcam::ops
