/*
 * sl_train_prune_select.h - the pruning walk of sl_train_prune_matrix as
 * per-entry rules, for a parallel selection (the CUDA kernels) and for the
 * tests that hold it to the walk on the CPU.
 *
 * The walk visits kept weights by (|w|, index) and prunes each unless its
 * n:m group has already lost m - n, until k are pruned in all. Equivalently:
 * sort the keys below; a kept weight is eligible when fewer than m - n of
 * its group are pruned or come before it in that order (always, when
 * unstructured); the first k - removed eligible ones in key order go.
 * Header only; SL_PRUNE_HD makes each rule a __host__ __device__ function
 * under nvcc.
 */
#ifndef SL_TRAIN_PRUNE_SELECT_H
#define SL_TRAIN_PRUNE_SELECT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define SL_PRUNE_HD __host__ __device__
#else
#define SL_PRUNE_HD
#endif

#define SL_PRUNE_KEY_PRUNED UINT64_MAX

/* The order of the walk: |w|'s bits (ordered as the non-negative float),
 * then the index (below 2^32); pruned entries last. */
static inline SL_PRUNE_HD uint64_t sl_prune_key(float w, uint8_t kept, size_t i) {
    uint32_t bits;
    float a = w < 0.0f ? -w : w;
    memcpy(&bits, &a, sizeof bits);
    return kept ? (uint64_t)bits << 32 | (uint64_t)(uint32_t)i : SL_PRUNE_KEY_PRUNED;
}

static inline SL_PRUNE_HD size_t sl_prune_key_index(uint64_t key) {
    return (size_t)(key & 0xffffffffu);
}

/* Whether entry i may be pruned by this update: kept, and (n:m, m > 0) its
 * group of m has fewer than m - n entries pruned or ahead of it. */
static inline SL_PRUNE_HD int sl_prune_eligible(const uint64_t *keys, const uint8_t *mask, size_t i,
                                                unsigned n, unsigned m) {
    if (!mask[i]) return 0;
    if (m == 0) return 1;
    size_t g0 = i / m * m;
    unsigned ahead = 0;
    for (size_t j = g0; j < g0 + m; j++)
        ahead += !mask[j] || keys[j] < keys[i];
    return ahead < m - n;
}

#endif
