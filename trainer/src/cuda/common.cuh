// Error checking on every CUDA and cuBLAS call (file and line in the message), launch sizes, and
// row-major GEMM on column-major cuBLAS.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace trainer::cuda {

inline void cuda_check(cudaError_t e, const char* file, int line) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error at ") + file + ":" + std::to_string(line) + ": " +
                             cudaGetErrorString(e));
}
inline void cublas_check(cublasStatus_t s, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLAS error at ") + file + ":" + std::to_string(line) + ": status " +
                             std::to_string(int(s)));
}
#define cudaCheck(call) ::trainer::cuda::cuda_check((call), __FILE__, __LINE__)
#define cublasCheck(call) ::trainer::cuda::cublas_check((call), __FILE__, __LINE__)
// After a kernel launch: launch-configuration errors surface here.
#define cudaCheckLaunch() cudaCheck(cudaGetLastError())

constexpr int kThreads = 256;
inline int blocks_for(int64_t n) { return int((n + kThreads - 1) / kThreads); }

// Row-major C[M,N] = alpha * op(A) op(B) + beta * C, with lda/ldb/ldc the row-major row strides.
// cuBLAS is column-major, and a row-major matrix is its column-major transpose, so this computes
// C^T = op(B)^T op(A)^T.
inline void gemm_row_major(cublasHandle_t h, bool trans_a, bool trans_b, int M, int N, int K, const float* A,
                           int lda, const float* B, int ldb, float* C, int ldc, float beta) {
  const float alpha = 1.f;
  cublasCheck(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
                          &alpha, B, ldb, A, lda, &beta, C, ldc));
}

}  // namespace trainer::cuda
