/*
 * sl_train_gemm_map.h - a row-major product (cblas_sgemm's arguments, with
 * strided batches) as the column-major one cuBLAS computes, and how far its
 * operands reach. Header only, plain C and C++, so the CPU tests hold the
 * mapping to cblas while the GPU code uses it.
 *
 * Row-major C (M, N) = op(A) (M, K) op(B) (K, N) is column-major
 * C^T (N, M) = op(B)^T op(A)^T: the operands swap, each keeps its
 * transpose flag and leading dimension.
 */
#ifndef SL_TRAIN_GEMM_MAP_H
#define SL_TRAIN_GEMM_MAP_H

#include <stddef.h>

typedef struct sl_gemm_cm {
    int trans_a, trans_b; /* of the column-major operands a and b */
    size_t m, n, k;
    const float *a, *b;
    size_t lda, ldb;
    long long stride_a, stride_b;
} sl_gemm_cm;

static inline sl_gemm_cm sl_gemm_row_to_col(int ta, int tb, size_t M, size_t N, size_t K,
                                            const float *A, size_t lda, long long sa,
                                            const float *B, size_t ldb, long long sb) {
    sl_gemm_cm g = {tb, ta, N, M, K, B, A, ldb, lda, sb, sa};
    return g;
}

/* Floats a row-major operand of count matrices, rows x cols each with
 * leading dimension ld, stride apart, spans from its first. */
static inline size_t sl_gemm_span(size_t rows, size_t cols, size_t ld, long long stride,
                                  int count) {
    return (size_t)(count - 1) * (size_t)stride + (rows - 1) * ld + cols;
}

#endif
