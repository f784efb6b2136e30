// The CPU reference: every layer as a forward/backward pair of free functions on a batch of B
// images in NHWC layout (Keras's), in the style of llm.c's train_gpt2.c. Backward functions
// accumulate parameter gradients (+=) and overwrite input gradients (=); a null input-gradient
// pointer skips that part (the first layer). The CUDA backend implements the same list and is
// tested against these.
#pragma once
#include <cstdint>

#include "../plan.h"

namespace trainer::cpu {

// Convolution as batched im2col + Eigen GEMM over chunks of images (kernel [kh,kw,ic,oc] is
// already the (kh*kw*ic) x oc matrix). `cols` is scratch of conv2d_scratch_floats(g, B) floats.
int64_t conv2d_scratch_floats(const Geometry& g, int B);
void conv2d_forward(float* out, float* cols, const float* in, const float* kernel, const float* bias,
                    int B, const Geometry& g, bool relu);
// dout is d(loss)/d(pre-activation output): callers apply relu_backward first.
void conv2d_backward(float* din, float* dkernel, float* dbias, float* cols, const float* dout,
                     const float* in, const float* kernel, int B, const Geometry& g);

// y = x W + b (W is Keras [in][out]), optional ReLU.
void dense_forward(float* out, const float* in, const float* kernel, const float* bias, int B, int n_in,
                   int n_out, bool relu);
void dense_backward(float* din, float* dkernel, float* dbias, const float* dout, const float* in,
                    const float* kernel, int B, int n_in, int n_out);

// d(pre-activation) from d(post-activation) in place, using the post-activation output.
void relu_backward(float* dout, const float* out, int64_t n);

// Max pooling (out-of-bounds positions of "same" padding never win). argmax holds each output's
// input index within its image.
void max_pool_forward(float* out, int32_t* argmax, const float* in, int B, const Geometry& g);
void max_pool_backward(float* din, const float* dout, const int32_t* argmax, int B, const Geometry& g);

// Batch normalisation (Ioffe & Szegedy, 2015) over B*H*W per channel. Training normalises with the
// batch mean and the biased batch variance, saves mean and 1/sqrt(var+eps) for backward, and moves
// moving = momentum*moving + (1-momentum)*batch (the biased variance, as Keras 3's ops.moments).
void batch_norm_forward_train(float* out, float* save_mean, float* save_invstd, const float* in,
                              const float* gamma, const float* beta, float* moving_mean, float* moving_var,
                              int64_t N, int C, float eps, float momentum);
void batch_norm_forward_infer(float* out, const float* in, const float* gamma, const float* beta,
                              const float* moving_mean, const float* moving_var, int64_t N, int C, float eps);
void batch_norm_backward(float* din, float* dgamma, float* dbeta, const float* dout, const float* in,
                         const float* save_mean, const float* save_invstd, const float* gamma, int64_t N, int C);

// Inverted dropout with the counter-based mask of hash_random.h (stream = layer index).
void dropout_forward(float* out, const float* in, int64_t n, float rate, uint64_t seed, uint64_t stream);
void dropout_backward(float* din, const float* dout, int64_t n, float rate, uint64_t seed, uint64_t stream);

// Softmax fused with categorical cross-entropy against label-smoothed one-hot targets
// (target = (1-s)*onehot + s/K; Szegedy et al. 2016, Sec. 7). Returns the mean loss, writes the
// probabilities, d(mean loss)/d(logits) (if dlogits) and the number of correct argmax predictions.
float softmax_cross_entropy(float* probs, float* dlogits, int* correct, const float* logits, const int* labels,
                            int B, int K, float smoothing);

}  // namespace trainer::cpu
