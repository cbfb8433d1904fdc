/*
 * sl_train_math.h - branch-free exp and tanh that gcc vectorises.
 *
 * glibc's expf/tanhf are scalar calls; in the GELU and softmax loops they
 * took a third of a training step. These follow Cephes' expf (relative
 * error about 2e-7 over the clamped range [-87, 88]); tanh is built from it
 * with absolute error about 2e-7, which is what GELU and its gradient need.
 */
#ifndef SL_TRAIN_MATH_H
#define SL_TRAIN_MATH_H

#include <stdint.h>
#include <string.h>

/* SL_TRAIN_SIMD marks the elementwise kernels: on x86-64 gcc builds an AVX2 +
 * FMA clone beside the baseline one and picks at load time (an ifunc), so
 * the binary stays portable and is fast where the CPU allows. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SL_TRAIN_NO_CLONES)
#if __GNUC__ >= 12
#define SL_TRAIN_SIMD __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef SL_TRAIN_SIMD
#define SL_TRAIN_SIMD
#endif

static inline float sl_train_expf(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    /* k = round(x / ln 2) + 127, the biased exponent of 2^round(x / ln 2);
     * x >= -87 keeps the argument of the truncating cast positive */
    int32_t k = (int32_t)(x * 1.44269504088896341f + 127.5f);
    float n = (float)(k - 127);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t bits = (uint32_t)k << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float sl_train_tanhf(float x) {
    return 1.0f - 2.0f / (sl_train_expf(2.0f * x) + 1.0f);
}

#endif
