// Dense layer: y = x W + b with cuBLAS; W is Keras [in][out].
#pragma once
#include "conv2d.cuh"

namespace trainer::cuda {

inline void dense_forward(cublasHandle_t h, float* out, const float* in, const float* kernel, const float* bias, int B,
                          int n_in, int n_out, bool relu) {
  gemm_row_major(h, false, false, B, n_out, n_in, in, n_in, kernel, n_out, out, n_out, 0.f);
  bias_activation_kernel<<<grid_for(int64_t(B) * n_out), kThreads>>>(out, bias, B, n_out, relu);
  cudaCheckLaunch();
}

inline void dense_backward(cublasHandle_t h, float* din, float* dkernel, float* dbias, const float* dout,
                           const float* in, const float* kernel, int B, int n_in, int n_out) {
  gemm_row_major(h, true, false, n_in, n_out, B, in, n_in, dout, n_out, dkernel, n_out, 1.f);  // dW += x^T dY
  bias_backward_kernel<<<n_out, kThreads>>>(dbias, dout, B, n_out);
  cudaCheckLaunch();
  if (din) gemm_row_major(h, false, true, B, n_in, n_out, dout, n_out, kernel, n_out, din, n_in, 0.f);  // dX = dY W^T
}

}  // namespace trainer::cuda
