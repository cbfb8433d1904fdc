/*
 * sl_train_cuda.cu - forward, backward, AdamW and pruning of the trainer's
 * model on one CUDA GPU (sl_train_cuda.h).
 *
 * Written to be checked against the CPU code line by line rather than to be
 * fast: every op of sl_train_model.c has a kernel (or cuBLAS call) of the
 * same name and arguments here, in the same order. Elementwise kernels are
 * grid-stride loops; row ops (LayerNorm, softmax) take a warp per row,
 * cross-entropy a block per row. Reductions that feed a decision (gradient
 * norm, counts) are done in double or integers in a fixed order; the token
 * embedding's gradient is the one atomicAdd (rows of wte are hit by any
 * position), so GPU runs agree with the CPU to rounding, not bit for bit.
 *
 * Matmuls: a row-major helper (mm) with cblas's arguments that calls
 * cublasGemmStridedBatchedEx on the transposed problem. In bf16, operands
 * are rounded to bf16 (a copy of the weights made after every update, the
 * activations into two scratch buffers per call) and accumulate in fp32.
 *
 * Pruning: per matrix, keys (|w| bits << 32 | index) of kept weights are
 * radix-sorted (CUB); an n:m group's weight is eligible when fewer than
 * m - n of its group are pruned or ranked before it; an inclusive scan of
 * eligibility in key order picks the first k - removed: exactly the CPU's
 * greedy walk (sl_train_prune.c).
 */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
#include "sl_train_model.h"
#include "sl_train_prune.h"
}
#include "sl_train_prune_select.h"
#include "sl_train_cuda.h"
#include "sl_train_gemm_map.h"

#define LN_EPS     1e-5f
#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */
#define THREADS    256
#define CHUNKS     64   /* row chunks of the column sums */
#define PARTIALS   1024 /* blocks of the double reductions */

struct sl_train_cuda {
    sl_train_model d; /* the twin: every pointer is device memory, but prunable (host) */
    int precision;
    cublasHandle_t blas;
    __nv_bfloat16 *params_bf; /* bf16 weights, when precision is bf16 */
    int params_bf_stale;
    __nv_bfloat16 *scratch_bf[2];
    size_t scratch_n;
    float *colpart;  /* 2 x CHUNKS x 4C: the column sums' partials */
    double *partial; /* PARTIALS */
    unsigned long long *count;
    float *host_losses; /* B x T */
    double host_partial[PARTIALS];
    /* pruning buffers, grown to the largest matrix */
    size_t prune_cap, cub_bytes;
    uint64_t *keys_in, *keys_out;
    unsigned *flags, *pos;
    uint8_t *elig;
    void *cub_tmp;
    char err[512];
    int failed;
};

/* ------------------------------------------------------------ errors */

static int fail(sl_train_cuda *g, const char *what, const char *why) {
    if (!g->failed) snprintf(g->err, sizeof g->err, "%s: %s", what, why);
    g->failed = 1;
    return -1;
}

/* 0, or -1 after recording what failed. */
static int ck(sl_train_cuda *g, cudaError_t e, const char *what) {
    return e == cudaSuccess ? 0 : fail(g, what, cudaGetErrorString(e));
}

static int ckb(sl_train_cuda *g, cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    char buf[64];
    snprintf(buf, sizeof buf, "cuBLAS status %d", (int)s);
    return fail(g, what, buf);
}

/* A launch's own error (bad configuration); errors inside kernels show at
 * the next synchronising call. */
static int launched(sl_train_cuda *g, const char *what) {
    return ck(g, cudaGetLastError(), what);
}

static unsigned grid_for(size_t n) {
    size_t b = (n + THREADS - 1) / THREADS;
    return (unsigned)(b < 1 ? 1 : b > 262144 ? 262144 : b);
}

#define FOR_N(i, n)                                                                                \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)gridDim.x * blockDim.x)

/* One warp per row r of [0, rows): lane and the row, grid-stride. */
#define FOR_ROW_WARP(r, rows)                                                                      \
    for (size_t r = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32; r < (rows);              \
         r += (size_t)gridDim.x * blockDim.x / 32)

static unsigned warp_grid(size_t rows) {
    return grid_for(rows * 32);
}

__device__ static float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ static float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum (or max) over the block; every thread gets it. */
__device__ static float block_reduce(float v, int is_max) {
    __shared__ float s[32];
    __shared__ float out;
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = (blockDim.x + 31) / 32;
    v = is_max ? warp_max(v) : warp_sum(v);
    __syncthreads(); /* s and out may still be read from the last call */
    if (lane == 0) s[w] = v;
    __syncthreads();
    if (w == 0) {
        float x = lane < nw ? s[lane] : (is_max ? -INFINITY : 0.0f);
        x = is_max ? warp_max(x) : warp_sum(x);
        if (lane == 0) out = x;
    }
    __syncthreads();
    return out;
}

/* ------------------------------------------------------------ kernels */

__global__ static void encoder_forward_k(float *out, const int *inp, const float *wte,
                                         const float *wpe, size_t BT, size_t T, size_t C) {
    FOR_N(i, BT * C) {
        size_t bt = i / C, c = i % C;
        out[i] = wte[(size_t)inp[bt] * C + c] + wpe[(bt % T) * C + c];
    }
}

__global__ static void encoder_backward_wte_k(float *dwte, const float *dout, const int *inp,
                                              size_t BT, size_t C) {
    FOR_N(i, BT * C) {
        size_t bt = i / C, c = i % C;
        atomicAdd(dwte + (size_t)inp[bt] * C + c, dout[i]);
    }
}

/* dwpe[t] += sum over b of dout[b, t]: one thread per (t, c), in b order. */
__global__ static void encoder_backward_wpe_k(float *dwpe, const float *dout, size_t B, size_t T,
                                              size_t C) {
    FOR_N(i, T * C) {
        float s = 0.0f;
        for (size_t b = 0; b < B; b++)
            s += dout[b * T * C + i];
        dwpe[i] += s;
    }
}

__global__ static void layernorm_forward_k(float *out, float *mean, float *rstd, const float *inp,
                                           const float *w, const float *b, size_t N, size_t C) {
    int lane = threadIdx.x % 32;
    FOR_ROW_WARP(i, N) {
        const float *x = inp + i * C;
        float m = 0.0f, v = 0.0f;
        for (size_t c = lane; c < C; c += 32)
            m += x[c];
        m = warp_sum(m) / (float)C;
        for (size_t c = lane; c < C; c += 32)
            v += (x[c] - m) * (x[c] - m);
        v = warp_sum(v) / (float)C;
        float s = 1.0f / sqrtf(v + LN_EPS);
        float *o = out + i * C;
        for (size_t c = lane; c < C; c += 32)
            o[c] = s * (x[c] - m) * w[c] + b[c];
        if (lane == 0) {
            mean[i] = m;
            rstd[i] = s;
        }
    }
}

__global__ static void layernorm_backward_k(float *dinp, const float *dout, const float *inp,
                                            const float *w, const float *mean, const float *rstd,
                                            size_t N, size_t C) {
    int lane = threadIdx.x % 32;
    FOR_ROW_WARP(i, N) {
        const float *d = dout + i * C, *x = inp + i * C;
        float m = mean[i], s = rstd[i], dm = 0.0f, dnm = 0.0f;
        for (size_t c = lane; c < C; c += 32) {
            float dnorm = w[c] * d[c];
            dm += dnorm;
            dnm += dnorm * (x[c] - m) * s;
        }
        dm = warp_sum(dm) / (float)C;
        dnm = warp_sum(dnm) / (float)C;
        float *di = dinp + i * C;
        for (size_t c = lane; c < C; c += 32) {
            float norm = (x[c] - m) * s;
            di[c] += (w[c] * d[c] - dm - norm * dnm) * s;
        }
    }
}

/* Column sums of x (N, C) in CHUNKS row chunks: part[k][c]. With mean and
 * rstd, the LayerNorm weight's gradient instead: sum of norm(x) * d, where
 * d is dout and x the LayerNorm's input. */
__global__ static void colsum_partial_k(float *part, const float *dout, const float *x,
                                        const float *mean, const float *rstd, size_t N, size_t C,
                                        size_t rows_per) {
    size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x, k = blockIdx.y;
    if (c >= C) return;
    size_t r0 = k * rows_per, r1 = r0 + rows_per < N ? r0 + rows_per : N;
    float s = 0.0f;
    for (size_t r = r0; r < r1; r++)
        s += x ? (x[r * C + c] - mean[r]) * rstd[r] * dout[r * C + c] : dout[r * C + c];
    part[k * C + c] = s;
}

__global__ static void colsum_add_k(float *dst, const float *part, size_t C, size_t chunks) {
    FOR_N(c, C) {
        float s = 0.0f;
        for (size_t k = 0; k < chunks; k++)
            s += part[k * C + c];
        dst[c] += s;
    }
}

__global__ static void add_bias_k(float *out, const float *bias, size_t N, size_t OC) {
    FOR_N(i, N * OC) out[i] += bias[i % OC];
}

/* Rows of att (B NH T, T) in place: the causal softmax of row t. */
__global__ static void causal_softmax_k(float *att, size_t rows, size_t T) {
    int lane = threadIdx.x % 32;
    FOR_ROW_WARP(r, rows) {
        float *a = att + r * T;
        size_t t = r % T;
        float mx = -INFINITY;
        for (size_t t2 = lane; t2 <= t; t2 += 32)
            mx = fmaxf(mx, a[t2]);
        mx = warp_max(mx);
        float sum = 0.0f;
        for (size_t t2 = lane; t2 <= t; t2 += 32) {
            float e = expf(a[t2] - mx);
            a[t2] = e;
            sum += e;
        }
        float inv = 1.0f / warp_sum(sum);
        for (size_t t2 = lane; t2 < T; t2 += 32)
            a[t2] = t2 <= t ? a[t2] * inv : 0.0f;
    }
}

/* dP into dS in place: dS = P (dP - rowsum(P dP)) scale, 0 past the diagonal. */
__global__ static void softmax_backward_k(float *dp, const float *att, size_t rows, size_t T,
                                          float scale) {
    int lane = threadIdx.x % 32;
    FOR_ROW_WARP(r, rows) {
        const float *a = att + r * T;
        float *d = dp + r * T;
        size_t t = r % T;
        float sum = 0.0f;
        for (size_t t2 = lane; t2 <= t; t2 += 32)
            sum += a[t2] * d[t2];
        sum = warp_sum(sum);
        for (size_t t2 = lane; t2 < T; t2 += 32)
            d[t2] = t2 <= t ? a[t2] * (d[t2] - sum) * scale : 0.0f;
    }
}

__global__ static void residual_forward_k(float *out, const float *a, const float *b, size_t N) {
    FOR_N(i, N) out[i] = a[i] + b[i];
}

__global__ static void residual_backward_k(float *da, float *db, const float *dout, size_t N) {
    FOR_N(i, N) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

__global__ static void gelu_forward_k(float *out, const float *inp, size_t N) {
    FOR_N(i, N) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
    }
}

__global__ static void gelu_backward_k(float *dinp, const float *inp, const float *dout, size_t N) {
    FOR_N(i, N) {
        float x = inp[i];
        float th = tanhf(GELU_SCALE * (x + 0.044715f * x * x * x));
        float sech2 = 1.0f - th * th;
        float g =
            0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += g * dout[i];
    }
}

/* One block per row: probs = softmax(logits), losses = logsumexp - logit[target]. */
__global__ static void crossentropy_forward_k(float *probs, float *losses, const float *logits,
                                              const int *targets, size_t V) {
    size_t i = blockIdx.x;
    const float *l = logits + i * V;
    float *p = probs + i * V;
    float mx = -INFINITY;
    for (size_t v = threadIdx.x; v < V; v += blockDim.x)
        mx = fmaxf(mx, l[v]);
    mx = block_reduce(mx, 1);
    float sum = 0.0f;
    for (size_t v = threadIdx.x; v < V; v += blockDim.x) {
        float e = expf(l[v] - mx);
        p[v] = e;
        sum += e;
    }
    sum = block_reduce(sum, 0);
    float inv = 1.0f / sum;
    for (size_t v = threadIdx.x; v < V; v += blockDim.x)
        p[v] *= inv;
    if (targets && threadIdx.x == 0) losses[i] = mx + logf(sum) - l[(size_t)targets[i]];
}

__global__ static void crossentropy_backward_k(float *dlogits, const float *probs,
                                               const int *targets, size_t N, size_t V) {
    float inv = 1.0f / (float)N;
    FOR_N(j, N * V) {
        size_t i = j / V, v = j % V;
        float d = dlogits[j] + probs[j] * inv;
        dlogits[j] = v == (size_t)targets[i] ? d - inv : d;
    }
}

/* partial[block] = sum of g^2 over kept entries, in double. */
__global__ static void sumsq_k(double *partial, const float *g, const uint8_t *mask, size_t n) {
    __shared__ double s[THREADS];
    double acc = 0.0;
    FOR_N(i, n) {
        if (mask[i]) acc += (double)g[i] * (double)g[i];
    }
    s[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned o = blockDim.x / 2; o > 0; o >>= 1) {
        if (threadIdx.x < o) s[threadIdx.x] += s[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

__global__ static void adamw_k(float *p, float *mm, float *vv, const float *g, const uint8_t *mask,
                               size_t n, float scale, float b1, float b2, float lr, float eps,
                               float wd, float bc1, float bc2) {
    FOR_N(i, n) {
        int keep = mask[i] != 0;
        float gi = keep ? g[i] * scale : 0.0f;
        float mi = b1 * mm[i] + (1.0f - b1) * gi, vi = b2 * vv[i] + (1.0f - b2) * gi * gi;
        float pi = p[i] - lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * p[i]);
        mm[i] = keep ? mi : 0.0f;
        vv[i] = keep ? vi : 0.0f;
        p[i] = keep ? pi : 0.0f;
    }
}

/* *count += entries of x that are non-zero (want 1) or of mask that are 0 (want 0). */
__global__ static void count_k(unsigned long long *count, const float *x, const uint8_t *mask,
                               size_t n) {
    __shared__ unsigned long long s[THREADS];
    unsigned long long c = 0;
    FOR_N(i, n) c += x ? x[i] != 0.0f : mask[i] == 0;
    s[threadIdx.x] = c;
    __syncthreads();
    for (unsigned o = blockDim.x / 2; o > 0; o >>= 1) {
        if (threadIdx.x < o) s[threadIdx.x] += s[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0 && s[0]) atomicAdd(count, s[0]);
}

__global__ static void to_bf16_k(__nv_bfloat16 *out, const float *in, size_t n) {
    FOR_N(i, n) out[i] = __float2bfloat16(in[i]);
}

/* The walk's order and its eligibility rule (sl_train_prune_select.h). */
__global__ static void prune_keys_k(uint64_t *keys, const float *w, const uint8_t *mask, size_t n) {
    FOR_N(i, n) keys[i] = sl_prune_key(w[i], mask[i], i);
}

__global__ static void prune_eligible_k(uint8_t *elig, const uint64_t *keys, const uint8_t *mask,
                                        size_t n, unsigned gn, unsigned gm) {
    FOR_N(i, n) elig[i] = (uint8_t)sl_prune_eligible(keys, mask, i, gn, gm);
}

__global__ static void prune_flags_k(unsigned *flags, const uint64_t *sorted, const uint8_t *elig,
                                     size_t n) {
    FOR_N(j, n) flags[j] = sorted[j] != SL_PRUNE_KEY_PRUNED && elig[sl_prune_key_index(sorted[j])];
}

/* The first need eligible entries in key order go (pos: how many eligible
 * ones there are up to and with j). */
__global__ static void prune_apply_k(const uint64_t *sorted, const unsigned *flags,
                                     const unsigned *pos, size_t need, float *w, uint8_t *mask,
                                     float *am, float *av, size_t n) {
    FOR_N(j, n) {
        if (!flags[j] || pos[j] > need) continue;
        size_t i = sl_prune_key_index(sorted[j]);
        mask[i] = 0;
        w[i] = 0.0f;
        am[i] = 0.0f;
        av[i] = 0.0f;
    }
}

/* ------------------------------------------------------------ matmuls */

/* bf16 of n floats at p: the weights' copy when p is a parameter, else
 * rounded into scratch slot. */
static const void *as_bf16(sl_train_cuda *g, const float *p, size_t n, int slot) {
    uintptr_t lo = (uintptr_t)g->d.params, hi = lo + g->d.num_params * sizeof(float);
    if ((uintptr_t)p >= lo && (uintptr_t)p < hi) {
        if (g->params_bf_stale) {
            to_bf16_k<<<grid_for(g->d.num_params), THREADS>>>(g->params_bf, g->d.params,
                                                              g->d.num_params);
            launched(g, "bf16 weights");
            g->params_bf_stale = 0;
        }
        return g->params_bf + (p - g->d.params);
    }
    if (n > g->scratch_n) {
        fail(g, "bf16 operand", "larger than its scratch buffer");
        return p;
    }
    to_bf16_k<<<grid_for(n), THREADS>>>(g->scratch_bf[slot], p, n);
    launched(g, "bf16 operand");
    return g->scratch_bf[slot];
}

/* As cblas_sgemm(CblasRowMajor, ...) count times over strided operands:
 * C (M, N) = alpha op(A) op(B) + beta C. cuBLAS is column-major, so it
 * computes C^T = op(B)^T op(A)^T with the operands swapped. */
static void mm(sl_train_cuda *g, int ta, int tb, size_t M, size_t N, size_t K, float alpha,
               const float *A, size_t lda, long long sa, const float *B, size_t ldb, long long sb,
               float beta, float *C, size_t ldc, long long sc, int count) {
    if (g->failed) return;
    sl_gemm_cm c = sl_gemm_row_to_col(ta, tb, M, N, K, A, lda, sa, B, ldb, sb);
    const void *a = c.a, *b = c.b;
    cudaDataType_t ty = CUDA_R_32F;
    cublasComputeType_t ct = CUBLAS_COMPUTE_32F;
    if (g->precision == SL_TRAIN_CUDA_TF32) ct = CUBLAS_COMPUTE_32F_FAST_TF32;
    if (g->precision == SL_TRAIN_CUDA_BF16) {
        ty = CUDA_R_16BF;
        a = as_bf16(g, c.a, sl_gemm_span(tb ? N : K, tb ? K : N, ldb, sb, count), 0);
        b = as_bf16(g, c.b, sl_gemm_span(ta ? K : M, ta ? M : K, lda, sa, count), 1);
    }
    ckb(g,
        cublasGemmStridedBatchedEx(
            g->blas, c.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, c.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
            (int)c.m, (int)c.n, (int)c.k, &alpha, a, ty, (int)c.lda, c.stride_a, b, ty, (int)c.ldb,
            c.stride_b, &beta, C, CUDA_R_32F, (int)ldc, sc, count, ct, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx");
}

/* ------------------------------------------------------------ layers */

static void colsum_into(sl_train_cuda *g, float *dst, const float *dout, const float *x,
                        const float *mean, const float *rstd, size_t N, size_t C, float *part) {
    size_t chunks = N < CHUNKS ? N : CHUNKS, per = (N + chunks - 1) / chunks;
    dim3 grid((unsigned)((C + THREADS - 1) / THREADS), (unsigned)chunks);
    colsum_partial_k<<<grid, THREADS>>>(part, dout, x, mean, rstd, N, C, per);
    colsum_add_k<<<grid_for(C), THREADS>>>(dst, part, C, chunks);
    launched(g, "column sum");
}

static void layernorm_forward(sl_train_cuda *g, float *out, float *mean, float *rstd,
                              const float *inp, const float *w, const float *b, size_t N,
                              size_t C) {
    layernorm_forward_k<<<warp_grid(N), THREADS>>>(out, mean, rstd, inp, w, b, N, C);
    launched(g, "layernorm_forward");
}

static void layernorm_backward(sl_train_cuda *g, float *dinp, float *dw, float *db,
                               const float *dout, const float *inp, const float *w,
                               const float *mean, const float *rstd, size_t N, size_t C) {
    layernorm_backward_k<<<warp_grid(N), THREADS>>>(dinp, dout, inp, w, mean, rstd, N, C);
    launched(g, "layernorm_backward");
    colsum_into(g, dw, dout, inp, mean, rstd, N, C, g->colpart);
    colsum_into(g, db, dout, NULL, NULL, NULL, N, C, g->colpart + CHUNKS * C);
}

static void matmul_forward(sl_train_cuda *g, float *out, const float *inp, const float *w,
                           const float *bias, size_t N, size_t C, size_t OC) {
    mm(g, 0, 1, N, OC, C, 1.0f, inp, C, 0, w, C, 0, 0.0f, out, OC, 0, 1);
    if (bias) {
        add_bias_k<<<grid_for(N * OC), THREADS>>>(out, bias, N, OC);
        launched(g, "bias");
    }
}

static void matmul_backward(sl_train_cuda *g, float *dinp, float *dw, float *dbias,
                            const float *dout, const float *inp, const float *w, size_t N, size_t C,
                            size_t OC) {
    mm(g, 0, 0, N, C, OC, 1.0f, dout, OC, 0, w, C, 0, 1.0f, dinp, C, 0, 1);
    mm(g, 1, 0, OC, C, N, 1.0f, dout, OC, 0, inp, C, 0, 1.0f, dw, C, 0, 1);
    if (dbias) colsum_into(g, dbias, dout, NULL, NULL, NULL, N, OC, g->colpart);
}

/* As the CPU's: per batch, the heads as one strided batch of products. */
static void attention_forward(sl_train_cuda *g, float *out, float *att, const float *inp, size_t B,
                              size_t T, size_t C, size_t NH) {
    size_t C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    long long h = (long long)hs, tt = (long long)(T * T);
    for (size_t b = 0; b < B; b++) {
        const float *q = inp + b * T * C3, *k = q + C;
        mm(g, 0, 1, T, T, hs, scale, q, C3, h, k, C3, h, 0.0f, att + b * NH * T * T, T, tt,
           (int)NH);
    }
    causal_softmax_k<<<warp_grid(B * NH * T), THREADS>>>(att, B * NH * T, T);
    launched(g, "causal_softmax");
    for (size_t b = 0; b < B; b++) {
        const float *v = inp + b * T * C3 + 2 * C;
        mm(g, 0, 0, T, hs, T, 1.0f, att + b * NH * T * T, T, tt, v, C3, h, 0.0f, out + b * T * C, C,
           h, (int)NH);
    }
}

static void attention_backward(sl_train_cuda *g, float *dinp, float *scratch, const float *dout,
                               const float *inp, const float *att, size_t B, size_t T, size_t C,
                               size_t NH) {
    size_t C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    long long h = (long long)hs, tt = (long long)(T * T);
    for (size_t b = 0; b < B; b++) {
        const float *v = inp + b * T * C3 + 2 * C, *a = att + b * NH * T * T;
        const float *dy = dout + b * T * C;
        float *dv = dinp + b * T * C3 + 2 * C, *dp = scratch + b * NH * T * T;
        mm(g, 0, 1, T, T, hs, 1.0f, dy, C, h, v, C3, h, 0.0f, dp, T, tt, (int)NH);
        mm(g, 1, 0, T, hs, T, 1.0f, a, T, tt, dy, C, h, 1.0f, dv, C3, h, (int)NH);
    }
    softmax_backward_k<<<warp_grid(B * NH * T), THREADS>>>(scratch, att, B * NH * T, T, scale);
    launched(g, "softmax_backward");
    for (size_t b = 0; b < B; b++) {
        const float *q = inp + b * T * C3, *k = q + C, *dp = scratch + b * NH * T * T;
        float *dq = dinp + b * T * C3, *dk = dq + C;
        mm(g, 0, 0, T, hs, T, 1.0f, dp, T, tt, k, C3, h, 1.0f, dq, C3, h, (int)NH);
        mm(g, 1, 0, T, hs, T, 1.0f, dp, T, tt, q, C3, h, 1.0f, dk, C3, h, (int)NH);
    }
}

static void residual_forward(sl_train_cuda *g, float *out, const float *a, const float *b,
                             size_t N) {
    residual_forward_k<<<grid_for(N), THREADS>>>(out, a, b, N);
    launched(g, "residual_forward");
}

static void residual_backward(sl_train_cuda *g, float *da, float *db, const float *dout, size_t N) {
    residual_backward_k<<<grid_for(N), THREADS>>>(da, db, dout, N);
    launched(g, "residual_backward");
}

/* ------------------------------------------------------------ model */

#define PARAM(g, i) ((g)->d.params + (g)->d.param_offsets[i])
#define PGRAD(g, i) ((g)->d.grads + (g)->d.param_offsets[i])
#define GRAD(g, p)  ((g)->d.grad_acts + ((p) - (g)->d.acts))

extern "C" int sl_train_cuda_probe(sl_train_cuda_info *info, char *why, size_t whylen) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, whylen, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        return -1;
    }
    if (n < 1) {
        snprintf(why, whylen, "no CUDA device found");
        return -1;
    }
    cudaDeviceProp p;
    e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) {
        snprintf(why, whylen, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        return -1;
    }
    if (p.major < 8) {
        snprintf(why, whylen, "%s has compute capability %d.%d; this build needs 8.0 or later",
                 p.name, p.major, p.minor);
        return -1;
    }
    memset(info, 0, sizeof *info);
    info->device = 0;
    snprintf(info->name, sizeof info->name, "%s", p.name);
    info->memory_bytes = (double)p.totalGlobalMem;
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    return 0;
}

extern "C" const char *sl_train_cuda_error(const sl_train_cuda *g) {
    return g && g->failed ? g->err : NULL;
}

extern "C" void sl_train_cuda_free(sl_train_cuda *g) {
    if (!g) return;
    void *bufs[] = {g->d.params,      g->d.grads,       g->d.adam_m, g->d.adam_v,  g->d.mask,
                    g->d.acts,        g->d.grad_acts,   g->d.inputs, g->d.targets, g->params_bf,
                    g->scratch_bf[0], g->scratch_bf[1], g->colpart,  g->partial,   g->count,
                    g->keys_in,       g->keys_out,      g->flags,    g->pos,       g->elig,
                    g->cub_tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) cudaFree(bufs[i]);
    if (g->blas) cublasDestroy(g->blas);
    free(g->d.prunable);
    free(g->host_losses);
    free(g);
}

static int dev_alloc(sl_train_cuda *g, void **p, size_t bytes, double *total) {
    *total += (double)bytes;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e == cudaSuccess) return 0;
    *p = NULL;
    char why[160];
    snprintf(why, sizeof why, "%s after %.3g GiB of device memory", cudaGetErrorString(e),
             *total / (1024.0 * 1024.0 * 1024.0));
    return fail(g, "allocating the model", why);
}

extern "C" int sl_train_cuda_upload(sl_train_cuda *g, const sl_train_model *host) {
    if (g->failed) return -1;
    size_t n = g->d.num_params;
    if (ck(g, cudaMemcpy(g->d.params, host->params, n * sizeof(float), cudaMemcpyHostToDevice),
           "upload") ||
        ck(g, cudaMemcpy(g->d.grads, host->grads, n * sizeof(float), cudaMemcpyHostToDevice),
           "upload") ||
        ck(g, cudaMemcpy(g->d.adam_m, host->adam_m, n * sizeof(float), cudaMemcpyHostToDevice),
           "upload") ||
        ck(g, cudaMemcpy(g->d.adam_v, host->adam_v, n * sizeof(float), cudaMemcpyHostToDevice),
           "upload") ||
        ck(g, cudaMemcpy(g->d.mask, host->mask, n, cudaMemcpyHostToDevice), "upload"))
        return -1;
    g->d.adam_t = host->adam_t;
    g->params_bf_stale = 1;
    return 0;
}

extern "C" int sl_train_cuda_download(sl_train_cuda *g, sl_train_model *host) {
    if (g->failed) return -1;
    size_t n = g->d.num_params;
    if (ck(g, cudaMemcpy(host->params, g->d.params, n * sizeof(float), cudaMemcpyDeviceToHost),
           "download") ||
        ck(g, cudaMemcpy(host->grads, g->d.grads, n * sizeof(float), cudaMemcpyDeviceToHost),
           "download") ||
        ck(g, cudaMemcpy(host->adam_m, g->d.adam_m, n * sizeof(float), cudaMemcpyDeviceToHost),
           "download") ||
        ck(g, cudaMemcpy(host->adam_v, g->d.adam_v, n * sizeof(float), cudaMemcpyDeviceToHost),
           "download") ||
        ck(g, cudaMemcpy(host->mask, g->d.mask, n, cudaMemcpyDeviceToHost), "download"))
        return -1;
    host->adam_t = g->d.adam_t;
    host->loss = g->d.loss;
    return 0;
}

extern "C" sl_train_cuda *sl_train_cuda_new(const sl_train_model *host, int precision, char *err,
                                            size_t errlen) {
    sl_train_cuda *g = (sl_train_cuda *)calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->d = *host;
    g->d.params = g->d.grads = g->d.adam_m = g->d.adam_v = NULL;
    g->d.mask = NULL;
    g->d.acts = g->d.grad_acts = NULL;
    g->d.inputs = g->d.targets = NULL;
    g->d.prunable = (sl_train_matrix *)malloc(host->n_prunable * sizeof *host->prunable);
    g->precision = precision;
    const sl_train_model_config *c = &host->cfg;
    size_t BT = c->batch * c->seq_len, C = c->n_embd, V = sl_train_model_vocab(c);
    size_t NH = c->n_head, T = c->seq_len, n = host->num_params;
    g->host_losses = (float *)malloc(BT * sizeof(float));
    if (!g->d.prunable || !g->host_losses) {
        fail(g, "allocating the model", "host out of memory");
    } else {
        memcpy(g->d.prunable, host->prunable, host->n_prunable * sizeof *host->prunable);
        g->d.num_acts = sl_train_model_layout_acts(&g->d, NULL);
    }
    double total = 0.0;
    float *acts = NULL;
    if (!g->failed) ck(g, cudaSetDevice(0), "cudaSetDevice");
    if (!g->failed)
        (void)(dev_alloc(g, (void **)&g->d.params, n * sizeof(float), &total) ||
               dev_alloc(g, (void **)&g->d.grads, n * sizeof(float), &total) ||
               dev_alloc(g, (void **)&g->d.adam_m, n * sizeof(float), &total) ||
               dev_alloc(g, (void **)&g->d.adam_v, n * sizeof(float), &total) ||
               dev_alloc(g, (void **)&g->d.mask, n, &total) ||
               dev_alloc(g, (void **)&acts, g->d.num_acts * sizeof(float), &total) ||
               dev_alloc(g, (void **)&g->d.grad_acts, g->d.num_acts * sizeof(float), &total) ||
               dev_alloc(g, (void **)&g->d.inputs, BT * sizeof(int), &total) ||
               dev_alloc(g, (void **)&g->d.targets, BT * sizeof(int), &total) ||
               dev_alloc(g, (void **)&g->colpart, 2 * CHUNKS * 4 * C * sizeof(float), &total) ||
               dev_alloc(g, (void **)&g->partial, PARTIALS * sizeof(double), &total) ||
               dev_alloc(g, (void **)&g->count, sizeof(unsigned long long), &total));
    /* acts becomes d.acts (the first array); grad_acts mirrors it, GRAD()
     * needs only the offsets */
    if (!g->failed) {
        g->d.acts = acts;
        sl_train_model_layout_acts(&g->d, acts);
    } else if (acts) {
        cudaFree(acts);
    }
    if (!g->failed && precision == SL_TRAIN_CUDA_BF16) {
        /* the largest operand that is not a weight: logits' gradient, the
         * MLP's activations, or one batch's attention */
        size_t s = BT * V;
        if (BT * 4 * C > s) s = BT * 4 * C;
        if (NH * T * T > s) s = NH * T * T;
        g->scratch_n = s;
        (void)(dev_alloc(g, (void **)&g->params_bf, n * sizeof(__nv_bfloat16), &total) ||
               dev_alloc(g, (void **)&g->scratch_bf[0], s * sizeof(__nv_bfloat16), &total) ||
               dev_alloc(g, (void **)&g->scratch_bf[1], s * sizeof(__nv_bfloat16), &total));
    }
    if (!g->failed) ckb(g, cublasCreate(&g->blas), "cublasCreate");
    if (!g->failed) sl_train_cuda_upload(g, host);
    if (g->failed) {
        snprintf(err, errlen, "%s", g->err);
        sl_train_cuda_free(g);
        return NULL;
    }
    return g;
}

extern "C" float sl_train_cuda_forward(sl_train_cuda *g, const int *inputs, const int *targets) {
    if (g->failed) return NAN;
    sl_train_model *m = &g->d;
    size_t L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, T = m->cfg.seq_len;
    size_t B = m->cfg.batch, BT = B * T, V = sl_train_model_vocab(&m->cfg);
    if (ck(g, cudaMemcpy(m->inputs, inputs, BT * sizeof(int), cudaMemcpyHostToDevice), "inputs"))
        return NAN;
    if (targets &&
        ck(g, cudaMemcpy(m->targets, targets, BT * sizeof(int), cudaMemcpyHostToDevice), "targets"))
        return NAN;

    encoder_forward_k<<<grid_for(BT * C), THREADS>>>(m->encoded, m->inputs, PARAM(g, SL_P_WTE),
                                                     PARAM(g, SL_P_WPE), BT, T, C);
    launched(g, "encoder_forward");
    for (size_t l = 0; l < L; l++) {
        const float *residual = l == 0 ? m->encoded : m->residual3 + (l - 1) * BT * C;
        float *ln1 = m->ln1 + l * BT * C, *qkv = m->qkv + l * BT * 3 * C;
        float *atty = m->atty + l * BT * C, *att = m->att + l * B * NH * T * T;
        float *attproj = m->attproj + l * BT * C, *residual2 = m->residual2 + l * BT * C;
        float *ln2 = m->ln2 + l * BT * C, *fch = m->fch + l * BT * 4 * C;
        float *fch_gelu = m->fch_gelu + l * BT * 4 * C, *fcproj = m->fcproj + l * BT * C;
        float *residual3 = m->residual3 + l * BT * C;
        layernorm_forward(g, ln1, m->ln1_mean + l * BT, m->ln1_rstd + l * BT, residual,
                          PARAM(g, SL_P_LN1W) + l * C, PARAM(g, SL_P_LN1B) + l * C, BT, C);
        matmul_forward(g, qkv, ln1, PARAM(g, SL_P_QKVW) + l * 3 * C * C,
                       PARAM(g, SL_P_QKVB) + l * 3 * C, BT, C, 3 * C);
        attention_forward(g, atty, att, qkv, B, T, C, NH);
        matmul_forward(g, attproj, atty, PARAM(g, SL_P_ATTPROJW) + l * C * C,
                       PARAM(g, SL_P_ATTPROJB) + l * C, BT, C, C);
        residual_forward(g, residual2, residual, attproj, BT * C);
        layernorm_forward(g, ln2, m->ln2_mean + l * BT, m->ln2_rstd + l * BT, residual2,
                          PARAM(g, SL_P_LN2W) + l * C, PARAM(g, SL_P_LN2B) + l * C, BT, C);
        matmul_forward(g, fch, ln2, PARAM(g, SL_P_FCW) + l * 4 * C * C,
                       PARAM(g, SL_P_FCB) + l * 4 * C, BT, C, 4 * C);
        gelu_forward_k<<<grid_for(BT * 4 * C), THREADS>>>(fch_gelu, fch, BT * 4 * C);
        launched(g, "gelu_forward");
        matmul_forward(g, fcproj, fch_gelu, PARAM(g, SL_P_FCPROJW) + l * 4 * C * C,
                       PARAM(g, SL_P_FCPROJB) + l * C, BT, 4 * C, C);
        residual_forward(g, residual3, residual2, fcproj, BT * C);
    }
    layernorm_forward(g, m->lnf, m->lnf_mean, m->lnf_rstd, m->residual3 + (L - 1) * BT * C,
                      PARAM(g, SL_P_LNFW), PARAM(g, SL_P_LNFB), BT, C);
    matmul_forward(g, m->logits, m->lnf, PARAM(g, SL_P_WTE), NULL, BT, C, V);
    crossentropy_forward_k<<<(unsigned)BT, THREADS>>>(m->probs, m->losses, m->logits,
                                                      targets ? m->targets : NULL, V);
    launched(g, "crossentropy_forward");
    if (!targets) {
        m->loss = 0.0f;
        return g->failed ? NAN : 0.0f;
    }
    if (ck(g, cudaMemcpy(g->host_losses, m->losses, BT * sizeof(float), cudaMemcpyDeviceToHost),
           "forward"))
        return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < BT; i++)
        sum += (double)g->host_losses[i];
    m->loss = (float)(sum / (double)BT);
    return g->failed ? NAN : m->loss;
}

extern "C" void sl_train_cuda_backward(sl_train_cuda *g) {
    if (g->failed) return;
    sl_train_model *m = &g->d;
    size_t L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, T = m->cfg.seq_len;
    size_t B = m->cfg.batch, BT = B * T, V = sl_train_model_vocab(&m->cfg);
    if (ck(g, cudaMemset(m->grads, 0, m->num_params * sizeof(float)), "backward") ||
        ck(g, cudaMemset(m->grad_acts, 0, m->num_acts * sizeof(float)), "backward"))
        return;

    crossentropy_backward_k<<<grid_for(BT * V), THREADS>>>(GRAD(g, m->logits), m->probs, m->targets,
                                                           BT, V);
    launched(g, "crossentropy_backward");
    matmul_backward(g, GRAD(g, m->lnf), PGRAD(g, SL_P_WTE), NULL, GRAD(g, m->logits), m->lnf,
                    PARAM(g, SL_P_WTE), BT, C, V);
    const float *last = m->residual3 + (L - 1) * BT * C;
    layernorm_backward(g, GRAD(g, last), PGRAD(g, SL_P_LNFW), PGRAD(g, SL_P_LNFB), GRAD(g, m->lnf),
                       last, PARAM(g, SL_P_LNFW), m->lnf_mean, m->lnf_rstd, BT, C);

    for (size_t l = L; l-- > 0;) {
        const float *residual = l == 0 ? m->encoded : m->residual3 + (l - 1) * BT * C;
        float *dresidual = GRAD(g, residual);
        const float *ln1 = m->ln1 + l * BT * C, *qkv = m->qkv + l * BT * 3 * C;
        const float *atty = m->atty + l * BT * C, *att = m->att + l * B * NH * T * T;
        const float *attproj = m->attproj + l * BT * C, *residual2 = m->residual2 + l * BT * C;
        const float *ln2 = m->ln2 + l * BT * C, *fch = m->fch + l * BT * 4 * C;
        const float *fch_gelu = m->fch_gelu + l * BT * 4 * C, *fcproj = m->fcproj + l * BT * C;
        const float *residual3 = m->residual3 + l * BT * C;

        residual_backward(g, GRAD(g, residual2), GRAD(g, fcproj), GRAD(g, residual3), BT * C);
        matmul_backward(g, GRAD(g, fch_gelu), PGRAD(g, SL_P_FCPROJW) + l * 4 * C * C,
                        PGRAD(g, SL_P_FCPROJB) + l * C, GRAD(g, fcproj), fch_gelu,
                        PARAM(g, SL_P_FCPROJW) + l * 4 * C * C, BT, 4 * C, C);
        gelu_backward_k<<<grid_for(BT * 4 * C), THREADS>>>(GRAD(g, fch), fch, GRAD(g, fch_gelu),
                                                           BT * 4 * C);
        launched(g, "gelu_backward");
        matmul_backward(g, GRAD(g, ln2), PGRAD(g, SL_P_FCW) + l * 4 * C * C,
                        PGRAD(g, SL_P_FCB) + l * 4 * C, GRAD(g, fch), ln2,
                        PARAM(g, SL_P_FCW) + l * 4 * C * C, BT, C, 4 * C);
        layernorm_backward(g, GRAD(g, residual2), PGRAD(g, SL_P_LN2W) + l * C,
                           PGRAD(g, SL_P_LN2B) + l * C, GRAD(g, ln2), residual2,
                           PARAM(g, SL_P_LN2W) + l * C, m->ln2_mean + l * BT, m->ln2_rstd + l * BT,
                           BT, C);
        residual_backward(g, dresidual, GRAD(g, attproj), GRAD(g, residual2), BT * C);
        matmul_backward(g, GRAD(g, atty), PGRAD(g, SL_P_ATTPROJW) + l * C * C,
                        PGRAD(g, SL_P_ATTPROJB) + l * C, GRAD(g, attproj), atty,
                        PARAM(g, SL_P_ATTPROJW) + l * C * C, BT, C, C);
        attention_backward(g, GRAD(g, qkv), m->scratch, GRAD(g, atty), qkv, att, B, T, C, NH);
        matmul_backward(g, GRAD(g, ln1), PGRAD(g, SL_P_QKVW) + l * 3 * C * C,
                        PGRAD(g, SL_P_QKVB) + l * 3 * C, GRAD(g, qkv), ln1,
                        PARAM(g, SL_P_QKVW) + l * 3 * C * C, BT, C, 3 * C);
        layernorm_backward(g, dresidual, PGRAD(g, SL_P_LN1W) + l * C, PGRAD(g, SL_P_LN1B) + l * C,
                           GRAD(g, ln1), residual, PARAM(g, SL_P_LN1W) + l * C,
                           m->ln1_mean + l * BT, m->ln1_rstd + l * BT, BT, C);
    }
    encoder_backward_wte_k<<<grid_for(BT * C), THREADS>>>(PGRAD(g, SL_P_WTE), GRAD(g, m->encoded),
                                                          m->inputs, BT, C);
    encoder_backward_wpe_k<<<grid_for(T * C), THREADS>>>(PGRAD(g, SL_P_WPE), GRAD(g, m->encoded), B,
                                                         T, C);
    launched(g, "encoder_backward");
}

extern "C" float sl_train_cuda_adamw(sl_train_cuda *g, const sl_train_adamw *opt) {
    if (g->failed) return NAN;
    sl_train_model *m = &g->d;
    sumsq_k<<<PARTIALS, THREADS>>>(g->partial, m->grads, m->mask, m->num_params);
    if (launched(g, "gradient norm") ||
        ck(g,
           cudaMemcpy(g->host_partial, g->partial, sizeof g->host_partial, cudaMemcpyDeviceToHost),
           "gradient norm"))
        return NAN;
    double ss = 0.0;
    for (int i = 0; i < PARTIALS; i++)
        ss += g->host_partial[i];
    float norm = (float)sqrt(ss);
    float scale = opt->grad_clip > 0.0f && norm > opt->grad_clip ? opt->grad_clip / norm : 1.0f;

    m->adam_t++;
    float b1 = opt->beta1, b2 = opt->beta2;
    float bc1 = 1.0f - powf(b1, (float)m->adam_t), bc2 = 1.0f - powf(b2, (float)m->adam_t);
    for (int t = 0; t < SL_P_COUNT; t++) {
        float wd = sl_train_model_param_decays(t) ? opt->weight_decay : 0.0f;
        size_t off = m->param_offsets[t], n = m->param_sizes[t];
        adamw_k<<<grid_for(n), THREADS>>>(m->params + off, m->adam_m + off, m->adam_v + off,
                                          m->grads + off, m->mask + off, n, scale, b1, b2, opt->lr,
                                          opt->eps, wd, bc1, bc2);
    }
    launched(g, "adamw");
    g->params_bf_stale = 1;
    return norm;
}

/* Entries of the range [off, off + n) of params that are non-zero (x) or
 * of the mask that are 0 (mask); -1 after a failure. */
static long long count_range(sl_train_cuda *g, size_t off, size_t n, int of_mask) {
    unsigned long long c = 0;
    if (ck(g, cudaMemset(g->count, 0, sizeof c), "count")) return -1;
    count_k<<<grid_for(n), THREADS>>>(g->count, of_mask ? NULL : g->d.params + off, g->d.mask + off,
                                      n);
    if (launched(g, "count") ||
        ck(g, cudaMemcpy(&c, g->count, sizeof c, cudaMemcpyDeviceToHost), "count"))
        return -1;
    return (long long)c;
}

extern "C" size_t sl_train_cuda_nonzeros(sl_train_cuda *g) {
    size_t nz = 0;
    const int t[4] = {SL_P_QKVW, SL_P_ATTPROJW, SL_P_FCW, SL_P_FCPROJW};
    for (int i = 0; i < 4 && !g->failed; i++) {
        long long c = count_range(g, g->d.param_offsets[t[i]], g->d.param_sizes[t[i]], 0);
        nz += c > 0 ? (size_t)c : 0;
    }
    return g->failed ? 0 : nz;
}

extern "C" size_t sl_train_cuda_embedding_nonzeros(sl_train_cuda *g) {
    if (g->failed) return 0;
    size_t lo = g->d.param_offsets[SL_P_WTE];
    size_t n = g->d.param_sizes[SL_P_WTE] + g->d.param_sizes[SL_P_WPE];
    long long c = count_range(g, lo, n, 0);
    return c > 0 ? (size_t)c : 0;
}

/* Room for a matrix of n entries in the pruning buffers. */
static int prune_reserve(sl_train_cuda *g, size_t n) {
    if (n <= g->prune_cap) return 0;
    void *bufs[] = {g->keys_in, g->keys_out, g->flags, g->pos, g->elig, g->cub_tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) cudaFree(bufs[i]);
    g->keys_in = g->keys_out = NULL;
    g->flags = g->pos = NULL;
    g->elig = NULL;
    g->cub_tmp = NULL;
    g->prune_cap = 0;
    size_t sort_bytes = 0, scan_bytes = 0;
    if (ck(g,
           cub::DeviceRadixSort::SortKeys(NULL, sort_bytes, (uint64_t *)NULL, (uint64_t *)NULL,
                                          (int)n),
           "sizing the pruning sort") ||
        ck(g,
           cub::DeviceScan::InclusiveSum(NULL, scan_bytes, (unsigned *)NULL, (unsigned *)NULL,
                                         (int)n),
           "sizing the pruning scan"))
        return -1;
    g->cub_bytes = sort_bytes > scan_bytes ? sort_bytes : scan_bytes;
    double total = 0.0;
    if (dev_alloc(g, (void **)&g->keys_in, n * sizeof(uint64_t), &total) ||
        dev_alloc(g, (void **)&g->keys_out, n * sizeof(uint64_t), &total) ||
        dev_alloc(g, (void **)&g->flags, n * sizeof(unsigned), &total) ||
        dev_alloc(g, (void **)&g->pos, n * sizeof(unsigned), &total) ||
        dev_alloc(g, (void **)&g->elig, n, &total) ||
        dev_alloc(g, &g->cub_tmp, g->cub_bytes, &total))
        return -1;
    g->prune_cap = n;
    return 0;
}

/* sl_train_prune_matrix on the device, for the matrix at params + off. */
static int prune_matrix(sl_train_cuda *g, size_t off, size_t rows, size_t cols, size_t k,
                        unsigned n, unsigned m) {
    size_t numel = rows * cols;
    if (numel > (size_t)INT_MAX) return fail(g, "pruning", "a matrix over 2^31 entries");
    long long removed = count_range(g, off, numel, 1);
    if (removed < 0) return -1;
    if (k <= (size_t)removed) return 0;
    if (prune_reserve(g, numel) != 0) return -1;
    float *w = g->d.params + off, *am = g->d.adam_m + off, *av = g->d.adam_v + off;
    uint8_t *mask = g->d.mask + off;
    unsigned grid = grid_for(numel);
    prune_keys_k<<<grid, THREADS>>>(g->keys_in, w, mask, numel);
    prune_eligible_k<<<grid, THREADS>>>(g->elig, g->keys_in, mask, numel, n, m);
    if (launched(g, "pruning keys")) return -1;
    size_t bytes = g->cub_bytes;
    if (ck(g,
           cub::DeviceRadixSort::SortKeys(g->cub_tmp, bytes, g->keys_in, g->keys_out, (int)numel),
           "pruning sort"))
        return -1;
    prune_flags_k<<<grid, THREADS>>>(g->flags, g->keys_out, g->elig, numel);
    if (launched(g, "pruning flags")) return -1;
    bytes = g->cub_bytes;
    if (ck(g, cub::DeviceScan::InclusiveSum(g->cub_tmp, bytes, g->flags, g->pos, (int)numel),
           "pruning scan"))
        return -1;
    prune_apply_k<<<grid, THREADS>>>(g->keys_out, g->flags, g->pos, k - (size_t)removed, w, mask,
                                     am, av, numel);
    return launched(g, "pruning");
}

extern "C" int sl_train_cuda_prune(sl_train_cuda *g, const sl_train_prune_config *pc, double s) {
    if (g->failed) return -1;
    for (size_t j = 0; j < g->d.n_prunable; j++) {
        const sl_train_matrix *t = g->d.prunable + j;
        size_t k = sl_train_prune_count(t->rows * t->cols, s);
        if (prune_matrix(g, t->offset, t->rows, t->cols, k, pc->n, pc->m) != 0) return -1;
    }
    if (pc->embed) {
        const int emb[2] = {SL_P_WTE, SL_P_WPE};
        double se = sl_train_prune_embed_target(s);
        for (int j = 0; j < 2; j++) {
            size_t off = g->d.param_offsets[emb[j]], n = g->d.param_sizes[emb[j]];
            size_t C = g->d.cfg.n_embd;
            if (prune_matrix(g, off, n / C, C, sl_train_prune_count(n, se), 0, 0) != 0) return -1;
        }
    }
    g->params_bf_stale = 1;
    return ck(g, cudaDeviceSynchronize(), "pruning");
}
