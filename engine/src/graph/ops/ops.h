// The op descriptors, one per file family under ops/; op_table.cpp lists them.
#pragma once
#include "gradcam/graph.h"

namespace gradcam::ops {

extern const OpDescriptor conv_op;                        // conv.cpp
extern const OpDescriptor gemm_op, matmul_op;             // dense.cpp
extern const OpDescriptor max_pool_op, average_pool_op,   // pool.cpp
    global_average_pool_op, reduce_mean_op;
extern const OpDescriptor relu_op, leaky_relu_op, clip_op, sigmoid_op, hard_sigmoid_op,  // activation.cpp
    hard_swish_op;
extern const OpDescriptor batch_norm_op;                  // batch_norm.cpp
extern const OpDescriptor add_op, mul_op;                 // binary.cpp
extern const OpDescriptor concat_op;                      // concat.cpp
extern const OpDescriptor flatten_op, reshape_op, pad_op, identity_op, dropout_op;  // shape.cpp

}  // namespace gradcam::ops

namespace gradcam::ops {
// Folds Keras/ONNX batch-norm parameters into the node's per-channel scale and shift.
void fold_batch_norm(const std::vector<float>& gamma, const std::vector<float>& beta, const std::vector<float>& mean,
                     const std::vector<float>& var, float epsilon, Node& n);
}  // namespace gradcam::ops
