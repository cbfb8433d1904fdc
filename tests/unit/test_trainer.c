/*
 * Unit tests for trainer/: gradients against finite differences, the GMP
 * schedule and masks (checked after every step of real runs), bit-identical
 * reruns, the command line, the corpus, the JSON lines, a clean stop, and a
 * short run on tinyshakespeare that must beat the bigram entropy.
 *
 * The corpus is read from SL_DATA_DIR (CMake points it at the project's
 * data/ folder).
 */
#include <criterion/criterion.h>

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_train_cuda.h"
#include "sl_train_data.h"
#include "sl_train_gemm_map.h"
#include "sl_train_model.h"
#include "sl_train_prune.h"
#include "sl_train_prune_select.h"
#include "sl_train_rng.h"
#include "sl_train_run.h"
#include "sl_test_trainer.h"

#ifndef SL_DATA_DIR
#error "SL_DATA_DIR must name the project's data/ folder"
#endif
#define SHAKESPEARE SL_DATA_DIR "/tinyshakespeare.txt"

/* ---- helpers ---- */

static sl_train_options tiny_options(void) {
    sl_train_options o;
    sl_train_options_default(&o);
    o.model =
        (sl_train_model_config){.n_layer = 1, .n_embd = 16, .n_head = 2, .seq_len = 16, .batch = 4};
    o.corpus = SHAKESPEARE;
    o.steps = 60;
    o.val_tokens = 128;
    o.threads = 1; /* tests run side by side; masks_hold_..._2_4 runs threaded */
    o.progress = 0;
    return o;
}

static FILE *devnull(void) {
    FILE *f = fopen("/dev/null", "w");
    cr_assert_not_null(f);
    return f;
}

static sl_train_status run_quiet(const sl_train_options *o, const sl_train_hooks *h,
                                 sl_train_result *res) {
    char err[512] = "";
    FILE *f = devnull();
    sl_train_status st = sl_train_run(o, f, NULL, h, res, err, sizeof err);
    fclose(f);
    cr_assert(st != SL_TRAIN_EUSAGE && st != SL_TRAIN_ENOMEM, "run failed: %s", err);
    return st;
}

static int parse_args(sl_train_options *o, const char *const *args, char *err, size_t n) {
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)(uintptr_t) "sparselaw-train";
    for (; *args; args++)
        argv[argc++] = (char *)(uintptr_t)*args;
    sl_train_options_default(o);
    return sl_train_options_parse(o, argc, argv, err, n);
}

/* ---- model ---- */

typedef struct fd_ctx {
    sl_train_model *m;
    const int *in, *tg;
} fd_ctx;

static double cpu_loss(void *vctx) {
    fd_ctx *c = vctx;
    return (double)sl_train_model_forward(c->m, c->in, c->tg);
}

Test(train_model, gradients_match_finite_differences) {
    sl_train_model_config c = {.n_layer = 2, .n_embd = 8, .n_head = 2, .seq_len = 5, .batch = 2};
    sl_train_threads(1); /* thousands of tiny forwards: threads only add barriers */
    sl_train_model *m = sl_train_model_new(&c, 7);
    cr_assert_not_null(m);
    int in[10], tg[10];
    sl_test_trainer_gradcheck_init(m, in, tg, 10);
    sl_train_model_forward(m, in, tg);
    sl_train_model_backward(m);
    float *an = malloc(m->num_params * sizeof(float));
    cr_assert_not_null(an);
    memcpy(an, m->grads, m->num_params * sizeof(float));

    fd_ctx ctx = {m, in, tg};
    for (int t = 0; t < SL_P_COUNT; t++) {
        double num = 0.0, den = 0.0;
        size_t n = m->param_sizes[t], off = m->param_offsets[t];
        for (size_t i = 0; i < n; i++) {
            double fd = sl_test_trainer_central_difference(m, off + i, 1e-2f, cpu_loss, &ctx);
            double g = (double)an[off + i];
            cr_expect(fabs(fd - g) <= 5e-4 + 2e-2 * fabs(g), "%s[%zu]: analytic %.6g, numeric %.6g",
                      sl_train_param_names[t], i, g, fd);
            num += (fd - g) * (fd - g);
            den += g * g;
        }
        cr_expect(den > 1e-4, "%s: gradient too small to check", sl_train_param_names[t]);
        cr_expect(sqrt(num / den) < 5e-3, "%s: relative error %.3g", sl_train_param_names[t],
                  sqrt(num / den));
    }
    free(an);
    sl_train_model_free(m);
}

Test(train_model, sizes_flops_and_init) {
    sl_train_model_config c = {.n_layer = 2, .n_embd = 96, .n_head = 4, .seq_len = 64, .batch = 4};
    cr_assert_eq(sl_train_model_count_prunable(&c), 221184u); /* 12 L C^2 */
    /* + wte 256 C + wpe T C + per layer 13 C (biases, norms) + lnf 2 C */
    cr_assert_eq(sl_train_model_count_params(&c), 221184u + 24576u + 6144u + 2u * 13u * 96u + 192u);
    double fwd = 24.0 * 2 * 96 * 96 + 2.0 * 256 * 96 + 2.0 * 2 * 96 * 65;
    cr_assert_float_eq(sl_train_model_forward_flops_per_token(&c), fwd, 1e-6);
    sl_train_model *m = sl_train_model_new(&c, 1);
    cr_assert_not_null(m);
    cr_assert_eq(m->num_params, sl_train_model_count_params(&c));
    cr_assert_eq(sl_train_model_nonzeros(m), 221184u);
    /* GPT-2 init: LayerNorm gains 1, biases 0, weights with std ~0.02 */
    cr_assert_eq(m->params[m->param_offsets[SL_P_LN1W]], 1.0f);
    cr_assert_eq(m->params[m->param_offsets[SL_P_QKVB]], 0.0f);
    double ss = 0.0;
    size_t n = m->param_sizes[SL_P_FCW];
    for (size_t i = 0; i < n; i++)
        ss += (double)m->params[m->param_offsets[SL_P_FCW] + i] *
              (double)m->params[m->param_offsets[SL_P_FCW] + i];
    cr_assert(fabs(sqrt(ss / (double)n) - 0.02) < 0.001, "fc std %g", sqrt(ss / (double)n));
    sl_train_model_free(m);

    char err[128];
    sl_train_model_config bad = c;
    bad.n_head = 5;
    cr_assert_eq(sl_train_model_config_check(&bad, err, sizeof err), -1);
    cr_assert_null(sl_train_model_new(&bad, 1));
}

/* cuBLAS's column-major strided product, naively, noting whether it reads
 * past the spans the bf16 path converts. */
static void cm_gemm(const sl_gemm_cm *g, float alpha, float beta, float *C, size_t ldc,
                    long long sc, int count, size_t span_a, size_t span_b, int *outside) {
    for (int bi = 0; bi < count; bi++) {
        const float *A = g->a + bi * g->stride_a, *B = g->b + bi * g->stride_b;
        float *Cb = C + bi * sc;
        for (size_t j = 0; j < g->n; j++)
            for (size_t i = 0; i < g->m; i++) {
                double sum = 0.0;
                for (size_t l = 0; l < g->k; l++) {
                    size_t ia = g->trans_a ? l + i * g->lda : i + l * g->lda;
                    size_t ib = g->trans_b ? j + l * g->ldb : l + j * g->ldb;
                    *outside |=
                        (size_t)(A + ia - g->a) >= span_a || (size_t)(B + ib - g->b) >= span_b;
                    sum += (double)A[ia] * (double)B[ib];
                }
                Cb[i + j * ldc] = alpha * (float)sum + beta * Cb[i + j * ldc];
            }
    }
}

Test(train_model, the_gpus_gemm_mapping_is_cblas_row_major) {
    /* linear layers (ld = width), and attention's heads: strided slices of a
     * (T, 3C) buffer, as sl_train_cuda.cu calls them */
    enum { T = 7, C = 12, NH = 3, HS = C / NH, C3 = 3 * C };
    static float buf_a[T * C3 * 4], buf_b[T * C3 * 4], want[T * T * NH * 2], got[T * T * NH * 2];
    sl_train_rng r = sl_train_rng_seed(5, 9);
    for (size_t i = 0; i < sizeof buf_a / sizeof buf_a[0]; i++) {
        buf_a[i] = (float)sl_train_rng_normal(&r);
        buf_b[i] = (float)sl_train_rng_normal(&r);
    }
    const struct {
        int ta, tb;
        size_t M, N, K, lda, ldb, ldc;
        long long sa, sb, sc;
        int count;
    } cases[] = {
        {0, 1, 9, 5, 6, 6, 6, 5, 0, 0, 0, 1},           /* x W^T */
        {0, 0, 9, 6, 5, 5, 6, 6, 0, 0, 0, 1},           /* dout W */
        {1, 0, 5, 6, 9, 5, 6, 6, 0, 0, 0, 1},           /* dout^T x */
        {1, 1, 4, 5, 3, 7, 8, 9, 0, 0, 0, 1},           /* both, wide lds */
        {0, 1, T, T, HS, C3, C3, T, HS, HS, T * T, NH}, /* q k^T per head */
        {0, 0, T, HS, T, T, C3, C, T * T, HS, HS, NH},  /* att v */
        {1, 0, T, HS, T, T, C, C3, T * T, HS, HS, NH},  /* att^T dy */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const float *A = buf_a, *B = buf_b + 1;
        size_t cn = (size_t)(cases[c].count - 1) * (size_t)cases[c].sc + cases[c].M * cases[c].ldc;
        for (size_t i = 0; i < cn; i++)
            want[i] = got[i] = (float)i * 0.01f;
        for (int bi = 0; bi < cases[c].count; bi++)
            cblas_sgemm(CblasRowMajor, cases[c].ta ? CblasTrans : CblasNoTrans,
                        cases[c].tb ? CblasTrans : CblasNoTrans, (blasint)cases[c].M,
                        (blasint)cases[c].N, (blasint)cases[c].K, 0.5f, A + bi * cases[c].sa,
                        (blasint)cases[c].lda, B + bi * cases[c].sb, (blasint)cases[c].ldb, 2.0f,
                        want + bi * cases[c].sc, (blasint)cases[c].ldc);
        sl_gemm_cm g =
            sl_gemm_row_to_col(cases[c].ta, cases[c].tb, cases[c].M, cases[c].N, cases[c].K, A,
                               cases[c].lda, cases[c].sa, B, cases[c].ldb, cases[c].sb);
        size_t span_b = sl_gemm_span(cases[c].tb ? cases[c].N : cases[c].K,
                                     cases[c].tb ? cases[c].K : cases[c].N, cases[c].ldb,
                                     cases[c].sb, cases[c].count);
        size_t span_a = sl_gemm_span(cases[c].ta ? cases[c].K : cases[c].M,
                                     cases[c].ta ? cases[c].M : cases[c].K, cases[c].lda,
                                     cases[c].sa, cases[c].count);
        int outside = 0;
        /* the column-major a is the row-major B */
        cm_gemm(&g, 0.5f, 2.0f, got, cases[c].ldc, cases[c].sc, cases[c].count, span_b, span_a,
                &outside);
        cr_assert(!outside, "case %zu reads past the converted spans", c);
        for (size_t i = 0; i < cn; i++)
            cr_assert(fabsf(got[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])),
                      "case %zu entry %zu: %g, cblas %g", c, i, (double)got[i], (double)want[i]);
    }
}

/* ---- pruning ---- */

Test(train_prune, cubic_schedule_values) {
    sl_train_prune_config pc = {.sparsity = 0.8, .start = 0.25, .end = 0.75, .every = 100};
    long t0, t1;
    sl_train_prune_window(&pc, 1000, &t0, &t1);
    cr_assert_eq(t0, 250);
    cr_assert_eq(t1, 750);
    cr_assert_float_eq(sl_train_prune_target(&pc, 1, 1000), 0.0, 0);
    cr_assert_float_eq(sl_train_prune_target(&pc, 250, 1000), 0.0, 0);
    cr_assert_float_eq(sl_train_prune_target(&pc, 375, 1000), 0.8 * (1 - 0.75 * 0.75 * 0.75),
                       1e-12);
    cr_assert_float_eq(sl_train_prune_target(&pc, 500, 1000), 0.8 * 0.875, 1e-12);
    cr_assert_float_eq(sl_train_prune_target(&pc, 750, 1000), 0.8, 0);
    cr_assert_float_eq(sl_train_prune_target(&pc, 1000, 1000), 0.8, 0);
    double prev = 0.0;
    for (long s = 1; s <= 1000; s++) {
        double v = sl_train_prune_target(&pc, s, 1000);
        cr_assert(v >= prev && v <= 0.8);
        prev = v;
    }
    long due[] = {250, 350, 450, 550, 650, 750};
    long n = 0;
    for (long s = 1; s <= 1000; s++)
        if (sl_train_prune_due(&pc, s, 1000)) {
            cr_assert(n < 6);
            cr_assert_eq(s, due[n], "update %ld at step %ld, want %ld", n, s, due[n]);
            n++;
        }
    cr_assert_eq(n, 6);
    /* t1 off the interval grid still gets its update; frozen afterwards */
    pc.every = 300;
    cr_assert(sl_train_prune_due(&pc, 550, 1000));
    cr_assert(sl_train_prune_due(&pc, 750, 1000));
    cr_assert(!sl_train_prune_due(&pc, 850, 1000));
    /* dense never prunes; a one-step window prunes at once */
    pc.sparsity = 0.0;
    cr_assert(!sl_train_prune_due(&pc, 250, 1000));
    pc = (sl_train_prune_config){.sparsity = 0.5, .start = 0.5, .end = 0.5, .every = 10};
    cr_assert(sl_train_prune_due(&pc, 50, 100));
    cr_assert_float_eq(sl_train_prune_target(&pc, 50, 100), 0.5, 0);
    cr_assert_float_eq(sl_train_prune_target(&pc, 49, 100), 0.0, 0);

    char err[128];
    sl_train_prune_config bad = {.sparsity = 1.0, .start = 0.25, .end = 0.75, .every = 1};
    cr_assert_eq(sl_train_prune_check(&bad, err, sizeof err), -1);
    bad = (sl_train_prune_config){.sparsity = 0.5, .start = 0.8, .end = 0.2, .every = 1};
    cr_assert_eq(sl_train_prune_check(&bad, err, sizeof err), -1);
    bad =
        (sl_train_prune_config){.sparsity = 0.6, .n = 2, .m = 4, .start = 0, .end = 1, .every = 1};
    cr_assert_eq(sl_train_prune_check(&bad, err, sizeof err), -1);
}

Test(train_prune, unstructured_removes_exactly_k_smallest_ties_by_index) {
    float w[6] = {3.0f, -1.0f, 1.0f, 0.5f, -0.5f, 2.0f};
    float am[6] = {1, 1, 1, 1, 1, 1}, av[6] = {1, 1, 1, 1, 1, 1};
    uint8_t mask[6] = {1, 1, 1, 1, 1, 1};
    cr_assert_eq(sl_train_prune_matrix(w, mask, am, av, 2, 3, 3, 0, 0), 0);
    uint8_t want1[6] = {1, 0, 1, 0, 0, 1}; /* 0.5 (3), 0.5 (4), then 1 at index 1 before 2 */
    cr_assert_arr_eq(mask, want1, 6);
    for (int i = 0; i < 6; i++)
        if (!mask[i]) cr_assert(w[i] == 0.0f && am[i] == 0.0f && av[i] == 0.0f);
    /* masks only grow: 4 removed in all takes the next kept one */
    cr_assert_eq(sl_train_prune_matrix(w, mask, am, av, 2, 3, 4, 0, 0), 0);
    uint8_t want2[6] = {1, 0, 0, 0, 0, 1};
    cr_assert_arr_eq(mask, want2, 6);
    /* asking for fewer than already removed changes nothing */
    cr_assert_eq(sl_train_prune_matrix(w, mask, am, av, 2, 3, 2, 0, 0), 0);
    cr_assert_arr_eq(mask, want2, 6);
    cr_assert_eq(sl_train_prune_count(1000, 0.75), 750u);
    cr_assert_eq(sl_train_prune_count(7, 0.5), 4u); /* round half away from zero */
}

Test(train_prune, n_m_groups_run_along_the_input_dimension) {
    enum { R = 6, C = 16, N = R * C };
    float w[N], orig[N];
    uint8_t mask[N];
    sl_train_rng r = sl_train_rng_seed(11, 0);
    for (int i = 0; i < N; i++) {
        w[i] = orig[i] = (float)sl_train_rng_normal(&r);
        mask[i] = 1;
    }
    /* on the way: 30 % removed, no group of 4 loses more than 2 */
    cr_assert_eq(sl_train_prune_matrix(w, mask, NULL, NULL, R, C, 29, 2, 4), 0);
    size_t removed = 0;
    for (int g = 0; g < N / 4; g++) {
        int lost = 0;
        for (int j = 0; j < 4; j++)
            lost += !mask[g * 4 + j];
        cr_assert(lost <= 2, "group %d lost %d", g, lost);
        removed += (size_t)lost;
    }
    cr_assert_eq(removed, 29u);
    /* at the target: exactly 2 of every 4 consecutive weights of a row, the
     * two largest in magnitude */
    cr_assert_eq(sl_train_prune_matrix(w, mask, NULL, NULL, R, C, N / 2, 2, 4), 0);
    for (int g = 0; g < N / 4; g++) {
        int kept = 0;
        for (int j = 0; j < 4; j++) {
            int i = g * 4 + j;
            kept += mask[i];
            cr_assert_eq(w[i] == 0.0f, !mask[i]);
        }
        cr_assert_eq(kept, 2, "group %d keeps %d", g, kept);
    }
    /* the capped greedy pass meets a group's weights in ascending order, so
     * each group loses exactly its two smallest */
    for (int g = 0; g < N / 4; g++)
        for (int j = 0; j < 4; j++) {
            int smaller = 0;
            for (int k = 0; k < 4; k++)
                smaller += fabsf(orig[g * 4 + k]) < fabsf(orig[g * 4 + j]);
            cr_assert_eq(mask[g * 4 + j], smaller >= 2, "group %d weight %d", g, j);
        }
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The GPU's selection, serially: keys, eligibility, sort, the first need
 * eligible entries in key order (sl_train_prune_select.h). */
static void parallel_rule(float *w, uint8_t *mask, size_t numel, size_t k, unsigned n, unsigned m) {
    uint64_t *keys = malloc(numel * sizeof *keys), *sorted = malloc(numel * sizeof *sorted);
    uint8_t *elig = malloc(numel);
    cr_assert(keys && sorted && elig);
    size_t removed = 0;
    for (size_t i = 0; i < numel; i++) {
        removed += !mask[i];
        keys[i] = sl_prune_key(w[i], mask[i], i);
    }
    for (size_t i = 0; i < numel; i++)
        elig[i] = (uint8_t)sl_prune_eligible(keys, mask, i, n, m);
    memcpy(sorted, keys, numel * sizeof *keys);
    qsort(sorted, numel, sizeof *sorted, u64_cmp);
    size_t pos = 0;
    for (size_t j = 0; j < numel && k > removed; j++) {
        if (sorted[j] == SL_PRUNE_KEY_PRUNED || !elig[sl_prune_key_index(sorted[j])]) continue;
        if (++pos > k - removed) break;
        size_t i = sl_prune_key_index(sorted[j]);
        mask[i] = 0;
        w[i] = 0.0f;
    }
    free(keys);
    free(sorted);
    free(elig);
}

Test(train_prune, the_gpus_parallel_rule_is_the_greedy_walk) {
    enum { ROWS = 12, COLS = 48, N = ROWS * COLS };
    static const unsigned pats[][2] = {{0, 0}, {2, 4}, {1, 4}, {3, 8}, {1, 2}};
    sl_train_rng r = sl_train_rng_seed(11, 7);
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++)
        for (int trial = 0; trial < 20; trial++) {
            float w0[N], w1[N], w2[N];
            uint8_t m1[N], m2[N];
            /* few distinct magnitudes (and signs): many ties */
            for (int i = 0; i < N; i++) {
                w0[i] = (float)((int)sl_train_rng_below(&r, 9) - 4) * 0.25f;
                m1[i] = 1;
            }
            memcpy(w1, w0, sizeof w0);
            unsigned n = pats[p][0], m = pats[p][1];
            size_t cap = m ? (size_t)N / m * (m - n) : N;
            /* a first update, then the next from where it left */
            size_t k0 = sl_train_rng_below(&r, cap / 2 + 1), k1 = sl_train_rng_below(&r, cap + 8);
            cr_assert_eq(sl_train_prune_matrix(w1, m1, NULL, NULL, ROWS, COLS, k0, n, m), 0);
            memcpy(w2, w1, sizeof w1);
            memcpy(m2, m1, sizeof m1);
            cr_assert_eq(sl_train_prune_matrix(w1, m1, NULL, NULL, ROWS, COLS, k1, n, m), 0);
            parallel_rule(w2, m2, N, k1, n, m);
            cr_assert_eq(memcmp(m1, m2, N), 0, "pattern %u:%u trial %d (k %zu then %zu)", n, m,
                         trial, k0, k1);
            cr_assert_eq(memcmp(w1, w2, sizeof w1), 0);
        }
}

/* ---- masks after every step of real runs ---- */

typedef struct inv_ctx {
    const sl_train_options *o;
    long steps_checked, failures;
    char first[256];
} inv_ctx;

#define INV_FAIL(c, ...)                                                                           \
    do {                                                                                           \
        if ((c)->failures++ == 0) snprintf((c)->first, sizeof(c)->first, __VA_ARGS__);             \
    } while (0)

static void check_masks(void *vctx, const sl_train_model *m, long step, long steps) {
    inv_ctx *c = vctx;
    const sl_train_prune_config *pc = &c->o->prune;
    double s = 0.0;
    for (long u = step; u >= 1; u--)
        if (sl_train_prune_due(pc, u, steps)) {
            s = sl_train_prune_target(pc, u, steps);
            break;
        }
    long t0, t1;
    sl_train_prune_window(pc, steps, &t0, &t1);
    size_t kept_all = 0, masked_all = 0;
    for (size_t j = 0; j < m->n_prunable; j++) {
        const sl_train_matrix *t = m->prunable + j;
        size_t numel = t->rows * t->cols, removed = 0;
        for (size_t i = 0; i < numel; i++) {
            size_t at = t->offset + i;
            if (!m->mask[at]) {
                removed++;
                if (m->params[at] != 0.0f || m->adam_m[at] != 0.0f || m->adam_v[at] != 0.0f)
                    INV_FAIL(c, "step %ld: pruned entry %zu of matrix %zu is not zero", step, i, j);
            } else if (m->params[at] == 0.0f) {
                INV_FAIL(c, "step %ld: kept entry %zu of matrix %zu is zero", step, i, j);
            }
        }
        size_t want = sl_train_prune_count(numel, s);
        if (removed != want)
            INV_FAIL(c, "step %ld: matrix %zu has %zu pruned, schedule says %zu", step, j, removed,
                     want);
        if (pc->m > 0)
            for (size_t g = 0; g < numel / pc->m; g++) {
                unsigned kept = 0;
                for (unsigned k = 0; k < pc->m; k++)
                    kept += m->mask[t->offset + g * pc->m + k];
                if (kept < pc->n || (step >= t1 && kept != pc->n))
                    INV_FAIL(c, "step %ld: matrix %zu group %zu keeps %u of %u", step, j, g, kept,
                             pc->m);
            }
        kept_all += numel - removed;
        masked_all += numel;
    }
    size_t embed_pruned = 0;
    if (pc->embed) {
        /* each embedding on its own at 1 - sqrt(1 - s), zero with its moments */
        int emb[2] = {SL_P_WTE, SL_P_WPE};
        for (int e = 0; e < 2; e++) {
            size_t off = m->param_offsets[emb[e]], n = m->param_sizes[emb[e]], removed = 0;
            for (size_t i = off; i < off + n; i++)
                if (!m->mask[i]) {
                    removed++;
                    if (m->params[i] != 0.0f || m->adam_m[i] != 0.0f || m->adam_v[i] != 0.0f)
                        INV_FAIL(c, "step %ld: pruned %s entry is not zero", step,
                                 sl_train_param_names[emb[e]]);
                }
            size_t want = sl_train_prune_count(n, sl_train_prune_embed_target(s));
            if (removed != want)
                INV_FAIL(c, "step %ld: %s has %zu pruned, want %zu", step,
                         sl_train_param_names[emb[e]], removed, want);
            embed_pruned += removed;
        }
    }
    size_t zeros_elsewhere = 0;
    for (size_t i = 0; i < m->num_params; i++)
        zeros_elsewhere += !m->mask[i];
    if (zeros_elsewhere != masked_all - kept_all + embed_pruned)
        INV_FAIL(c, "step %ld: mask entries outside the pruned matrices", step);
    if (sl_train_model_nonzeros(m) != kept_all)
        INV_FAIL(c, "step %ld: N %zu from weights != %zu kept", step, sl_train_model_nonzeros(m),
                 kept_all);
    if (step == steps && fabs(s - pc->sparsity) > 1e-12)
        INV_FAIL(c, "final sparsity %g, want %g", s, pc->sparsity);
    c->steps_checked++;
}

static void run_invariants(sl_train_options *o) {
    o->prune.start = 0.2;
    o->prune.end = 0.8;
    o->prune.every = 3;
    inv_ctx c = {.o = o};
    sl_train_hooks h = {.on_step = check_masks, .ctx = &c};
    sl_train_result res;
    cr_assert_eq(run_quiet(o, &h, &res), SL_TRAIN_COMPLETED);
    cr_assert_eq(c.steps_checked, o->steps);
    cr_assert_eq(c.failures, 0, "%ld failures; first: %s", c.failures, c.first);
    size_t want_nz = 0;
    for (size_t l = 0; l < o->model.n_layer; l++) {
        size_t C = o->model.n_embd, sizes[4] = {3 * C * C, C * C, 4 * C * C, 4 * C * C};
        for (int j = 0; j < 4; j++)
            want_nz += sizes[j] - sl_train_prune_count(sizes[j], o->prune.sparsity);
    }
    cr_assert_eq(res.nonzeros, want_nz);
    cr_assert_float_eq(res.sparsity, 1.0 - (double)want_nz / (double)res.prunable_params, 1e-12);
    cr_assert(isfinite(res.val_loss));
}

Test(train_run, masks_hold_after_every_step_unstructured) {
    sl_train_options o = tiny_options();
    o.prune.sparsity = 0.75;
    run_invariants(&o);
}

Test(train_run, masks_hold_after_every_step_2_4) {
    sl_train_options o = tiny_options();
    o.prune.n = 2;
    o.prune.m = 4;
    o.prune.sparsity = 0.5;
    o.threads = 2; /* the parallel loops, and BLAS inside a parallel region */
    run_invariants(&o);
}

/* ---- reproducibility ---- */

Test(train_run, rerun_from_one_seed_is_bit_identical_on_one_thread) {
    sl_train_options o = tiny_options();
    o.threads = 1;
    o.prune.sparsity = 0.5;
    o.prune.every = 5;
    sl_train_model *a = NULL, *b = NULL, *c = NULL;
    sl_train_result ra, rb, rc;
    sl_train_hooks ha = {.keep_model = &a}, hb = {.keep_model = &b}, hc = {.keep_model = &c};
    run_quiet(&o, &ha, &ra);
    run_quiet(&o, &hb, &rb);
    o.seed = 2;
    run_quiet(&o, &hc, &rc);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    size_t bytes = a->num_params * sizeof(float);
    cr_assert_eq(memcmp(a->params, b->params, bytes), 0);
    cr_assert_eq(memcmp(a->adam_m, b->adam_m, bytes), 0);
    cr_assert_eq(memcmp(a->adam_v, b->adam_v, bytes), 0);
    cr_assert_eq(memcmp(a->mask, b->mask, a->num_params), 0);
    cr_assert(memcmp(&ra.val_loss, &rb.val_loss, sizeof ra.val_loss) == 0);
    cr_assert(memcmp(&ra.train_loss, &rb.train_loss, sizeof ra.train_loss) == 0);
    cr_assert_neq(memcmp(a->params, c->params, bytes), 0, "another seed gives another model");
    sl_train_model_free(a);
    sl_train_model_free(b);
    sl_train_model_free(c);
}

/* ---- learning ---- */

Test(train_run, tinyshakespeare_beats_the_bigram_entropy, .timeout = 120) {
    sl_train_options o;
    sl_train_options_default(&o);
    o.model =
        (sl_train_model_config){.n_layer = 2, .n_embd = 64, .n_head = 4, .seq_len = 64, .batch = 8};
    o.corpus = SHAKESPEARE;
    o.steps = 500; /* 256k tokens; 3 seeds gave 2.35-2.39 */
    o.adamw.lr = 4e-3f;
    o.val_tokens = 8192;
    o.threads = 1; /* steady under a busy machine; other tests run threaded */
    o.progress = 0;
    sl_train_result res;
    cr_assert_eq(run_quiet(&o, NULL, &res), SL_TRAIN_COMPLETED);
    cr_assert_eq(res.tokens, 500 * 8 * 64);
    cr_assert(res.val_loss < 2.49, "validation loss %.4f nats/byte, want < 2.49", res.val_loss);
}

/* ---- learning rate ---- */

Test(train_run, warmup_then_cosine_to_the_floor) {
    sl_train_options o;
    sl_train_options_default(&o);
    o.adamw.lr = 1e-3f;
    o.warmup = 0.1;
    o.min_lr = 0.1;
    cr_assert_float_eq(sl_train_lr(&o, 0, 100), 1e-4f, 1e-9);
    cr_assert_float_eq(sl_train_lr(&o, 9, 100), 1e-3f, 1e-9);
    cr_assert_float_eq(sl_train_lr(&o, 10, 100), 1e-3f, 1e-9);
    cr_assert_float_eq(sl_train_lr(&o, 99, 100), 1e-4f, 1e-9);
    float prev = 1.0f;
    for (long s = 10; s < 100; s++) {
        float lr = sl_train_lr(&o, s, 100);
        cr_assert(lr <= prev);
        prev = lr;
    }
}

/* ---- command line ---- */

Test(train_cli, flags_parse_with_defaults) {
    sl_train_options o;
    char err[256];
    const char *a1[] = {"--layers",         "4",    "--width=128", "--heads", "4",
                        "--pattern",        "2:4",  "--tokens",    "1e6",     "--seed",
                        "9007199254740992", "--lr", "1e-3",        NULL};
    cr_assert_eq(parse_args(&o, a1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.model.n_layer, 4u);
    cr_assert_eq(o.model.n_embd, 128u);
    cr_assert_eq(o.prune.n, 2u);
    cr_assert_eq(o.prune.m, 4u);
    cr_assert_float_eq(o.prune.sparsity, 0.5, 0);
    cr_assert_eq(o.tokens, 1000000);
    cr_assert_eq(o.seed, 9007199254740992ull); /* 2^53, the protocol's bound */
    cr_assert_eq(sl_train_options_steps(&o), 3907);
    cr_assert_float_eq(o.prune.start, 0.25, 0);
    cr_assert_float_eq(o.prune.end, 0.75, 0);
    cr_assert_eq(o.prune.every, 100);
    const char *a2[] = {"--steps", "10", "--sparsity", "0.9", NULL};
    cr_assert_eq(parse_args(&o, a2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sl_train_options_steps(&o), 10);
    cr_assert_float_eq(o.prune.sparsity, 0.9, 0);
    const char *a3[] = {"--help", NULL};
    cr_assert_eq(parse_args(&o, a3, err, sizeof err), 0);
    cr_assert(o.help);
}

Test(train_cli, bad_flags_are_rejected_with_a_reason) {
    static const char *const cases[][4] = {
        {"--bogus", "1", NULL, NULL},
        {"--layers", NULL, NULL, NULL},
        {"--layers", "two", NULL, NULL},
        {"--layers", "0", NULL, NULL},
        {"--layers", "2.5", NULL, NULL},
        {"--width", "96", "--heads", "5"},
        {"--sparsity", "1", NULL, NULL},
        {"--sparsity", "-0.1", NULL, NULL},
        {"--sparsity", "nan", NULL, NULL},
        {"--pattern", "4:2", NULL, NULL},
        {"--pattern", "2-4", NULL, NULL},
        {"--pattern", "2:4", "--sparsity", "0.7"},
        {"--pattern", "2:5", NULL, NULL}, /* width 96 is not a multiple of 5 */
        {"--prune-start", "0.8", "--prune-end", "0.5"},
        {"--prune-every", "0", NULL, NULL},
        {"--lr", "0", NULL, NULL},
        {"--seed", "-1", NULL, NULL},
        {"--progress", "sometimes", NULL, NULL},
        {"--dry-run=1", NULL, NULL, NULL},
        {"positional", NULL, NULL, NULL},
        {"--corpus=", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_train_options o;
        char err[256] = "";
        cr_expect_eq(parse_args(&o, cases[i], err, sizeof err), -1, "case %zu (%s) accepted", i,
                     cases[i][0]);
        cr_expect(strlen(err) > 0, "case %zu has no message", i);
    }
}

/* ---- corpus ---- */

Test(train_data, unreadable_or_small_corpus_is_a_usage_error) {
    sl_train_options o = tiny_options();
    o.corpus = "/nonexistent/corpus.txt";
    sl_train_result res;
    char err[512] = "";
    FILE *f = devnull();
    cr_assert_eq(sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err), SL_TRAIN_EUSAGE);
    cr_assert(strstr(err, "/nonexistent/corpus.txt") != NULL, "%s", err);

    char path[] = "/tmp/sl_train_small_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "tiny corpus\n", 12), 12);
    close(fd);
    o.corpus = path;
    cr_assert_eq(sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err), SL_TRAIN_EUSAGE);
    cr_assert(strstr(err, "too small") != NULL, "%s", err);
    unlink(path);
    fclose(f);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(train_data, directory_joins_txt_files_in_name_order_and_splits_90_10) {
    char dir[] = "/tmp/sl_train_dir_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    write_file(dir, "b.txt", "second\n");
    write_file(dir, "a.txt", "first");
    write_file(dir, "c.md", "ignored");
    sl_train_corpus c;
    char err[256];
    cr_assert_eq(sl_train_corpus_load(&c, dir, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.files, 2u);
    cr_assert_eq(c.len, 13u);
    cr_assert_eq(memcmp(c.bytes, "first\nsecond\n", 13), 0);
    cr_assert_eq(c.train_len, 11u); /* floor(0.9 x 13) */
    sl_train_corpus_free(&c);
    char p[600];
    const char *names[] = {"a.txt", "b.txt", "c.md"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    cr_assert_eq(sl_train_corpus_load(&c, dir, err, sizeof err), -1);
    cr_assert(strstr(err, "no *.txt") != NULL, "%s", err);
    rmdir(dir);

    /* windows: training ones stay inside the first 90 %, validation ones
     * are fixed and start at the split */
    char text[1000];
    for (int i = 0; i < 1000; i++)
        text[i] = (char)('a' + i % 26);
    cr_assert_eq(sl_train_corpus_from_bytes(&c, text, sizeof text), 0);
    cr_assert_eq(c.train_len, 900u);
    cr_assert_eq(sl_train_data_val_windows(&c, 16), 6u); /* (100 - 1) / 16 */
    int in[4 * 16], tg[4 * 16];
    sl_train_rng r = sl_train_rng_seed(1, 1);
    for (int k = 0; k < 200; k++) {
        sl_train_data_train_batch(&c, &r, 4, 16, in, tg);
        for (int i = 0; i < 4 * 16; i++)
            cr_assert_eq(tg[i], (in[i] - 'a' + 1) % 26 + 'a');
    }
    sl_train_data_val_batch(&c, 2, 4, 16, in, tg);
    cr_assert_eq(in[0], text[900 + 32]);
    cr_assert_eq(tg[4 * 16 - 1], text[900 + 5 * 16 + 16]);
    sl_train_corpus_free(&c);
}

/* ---- events ---- */

static json_t *read_lines(FILE *f, size_t *n) {
    json_t *arr = json_array();
    char line[8192];
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        cr_assert_not_null(j, "not JSON: %s (%s)", line, e.text);
        cr_assert(json_is_object(j) && json_is_string(json_object_get(j, "event")), "%s", line);
        json_array_append_new(arr, j);
    }
    *n = json_array_size(arr);
    return arr;
}

Test(train_run, json_lines_start_progress_result) {
    sl_train_options o = tiny_options();
    o.steps = 20;
    o.log_every = 5;
    o.eval_every = 10;
    o.prune.sparsity = 0.5;
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    sl_train_result res;
    char err[256];
    cr_assert_eq(sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err), SL_TRAIN_COMPLETED);
    size_t n;
    json_t *ev = read_lines(f, &n);
    cr_assert_eq(n, 6u); /* start, progress at 5 10 15 20, result */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "event")), "start");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(ev, 0), "total_params")),
                 (json_int_t)res.total_params);
    int vals = 0;
    for (size_t i = 1; i < 5; i++) {
        json_t *p = json_array_get(ev, i);
        cr_assert_str_eq(json_string_value(json_object_get(p, "event")), "progress");
        cr_assert_eq(json_integer_value(json_object_get(p, "step")), (json_int_t)(5 * i));
        cr_assert_eq(json_integer_value(json_object_get(p, "tokens")), (json_int_t)(5 * i * 64));
        cr_assert(json_is_number(json_object_get(p, "train_loss")));
        cr_assert(json_is_number(json_object_get(p, "sparsity")));
        cr_assert(json_is_number(json_object_get(p, "tokens_per_s")));
        vals += json_object_get(p, "val_loss") != NULL;
    }
    cr_assert_eq(vals, 2);
    json_t *r = json_array_get(ev, 5);
    cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "completed");
    cr_assert_eq(json_integer_value(json_object_get(r, "nonzeros")), (json_int_t)res.nonzeros);
    cr_assert_float_eq(json_number_value(json_object_get(r, "val_loss")), res.val_loss, 1e-5);
    cr_assert_float_eq(json_number_value(json_object_get(r, "sparsity")), 0.5, 1e-6);
    json_decref(ev);
    fclose(f);

    f = tmpfile();
    sl_train_dry_run(&o, f, NULL);
    ev = read_lines(f, &n);
    cr_assert_eq(n, 1u);
    json_t *d = json_array_get(ev, 0);
    cr_assert_str_eq(json_string_value(json_object_get(d, "event")), "dry_run");
    cr_assert_eq(json_integer_value(json_object_get(d, "total_params")),
                 (json_int_t)res.total_params);
    cr_assert_float_eq(json_number_value(json_object_get(d, "forward_flops_per_token")),
                       sl_train_model_forward_flops_per_token(&o.model), 1e-3);
    json_decref(ev);
    fclose(f);
}

typedef struct stop_ctx {
    volatile sig_atomic_t *flag;
    long at;
} stop_ctx;

static void stop_at(void *vctx, const sl_train_model *m, long step, long steps) {
    (void)m;
    (void)steps;
    stop_ctx *c = vctx;
    if (step == c->at) *c->flag = SIGTERM;
}

Test(train_run, a_stop_request_ends_with_an_interrupted_result) {
    sl_train_options o = tiny_options();
    volatile sig_atomic_t flag = 0;
    stop_ctx c = {&flag, 7};
    sl_train_hooks h = {.on_step = stop_at, .ctx = &c, .stop = &flag};
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    sl_train_result res;
    char err[256];
    cr_assert_eq(sl_train_run(&o, f, NULL, &h, &res, err, sizeof err), SL_TRAIN_INTERRUPTED);
    cr_assert_eq(res.steps, 7);
    cr_assert(isfinite(res.val_loss));
    size_t n;
    json_t *ev = read_lines(f, &n);
    json_t *r = json_array_get(ev, n - 1);
    cr_assert_str_eq(json_string_value(json_object_get(r, "event")), "result");
    cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "interrupted");
    cr_assert_str_eq(json_string_value(json_object_get(r, "signal")), "SIGTERM");
    cr_assert_eq(json_integer_value(json_object_get(r, "step")), 7);
    json_decref(ev);
    fclose(f);
}

/* ---- the dry run's estimate ---- */

static json_t *dry_run_line(const sl_train_options *o) {
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    sl_train_dry_run(o, f, NULL);
    size_t n;
    json_t *ev = read_lines(f, &n);
    fclose(f);
    cr_assert_eq(n, 1u);
    json_t *d = json_incref(json_array_get(ev, 0));
    json_decref(ev);
    cr_assert_str_eq(json_string_value(json_object_get(d, "event")), "dry_run");
    return d;
}

static double num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

Test(train_estimate, mask_updates_count_the_steps_where_masks_change) {
    static const struct {
        long steps, every;
        double start, end;
    } cases[] = {{60, 100, 0.25, 0.75},  {60, 5, 0.25, 0.75}, {60, 7, 0.0, 1.0},
                 {1, 1, 0.0, 0.0},       {97, 3, 0.1, 0.9},   {10, 4, 0.5, 0.5},
                 {3907, 100, 0.25, 0.75}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_train_prune_config pc = {
            .sparsity = 0.5, .start = cases[i].start, .end = cases[i].end, .every = cases[i].every};
        long due = 0;
        for (long s = 1; s <= cases[i].steps; s++)
            due += sl_train_prune_due(&pc, s, cases[i].steps);
        cr_assert(due > 0, "case %zu", i);
        cr_assert_eq(sl_train_prune_updates(&pc, cases[i].steps), due, "case %zu: %ld, not %ld", i,
                     sl_train_prune_updates(&pc, cases[i].steps), due);
        pc.sparsity = 0.0;
        cr_assert_eq(sl_train_prune_updates(&pc, cases[i].steps), 0);
    }
}

Test(train_estimate, dry_run_times_steps_and_extrapolates_to_the_run, .timeout = 60) {
    sl_train_options o = tiny_options();
    o.model =
        (sl_train_model_config){.n_layer = 2, .n_embd = 64, .n_head = 2, .seq_len = 32, .batch = 4};
    o.steps = 400;
    o.val_tokens = 1024;
    o.prune.sparsity = 0.5;
    json_t *d = dry_run_line(&o);
    /* every field of before is still there */
    const char *kept[] = {"layers",
                          "width",
                          "heads",
                          "context",
                          "batch",
                          "vocab",
                          "total_params",
                          "prunable_params",
                          "steps",
                          "tokens",
                          "target_nonzeros",
                          "forward_flops_per_token",
                          "train_flops_per_token",
                          "train_flops",
                          "sparsity"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        cr_assert(json_is_number(json_object_get(d, kept[i])), "%s", kept[i]);
    cr_assert_str_eq(json_string_value(json_object_get(d, "pattern")), "unstructured");

    cr_assert_str_eq(json_string_value(json_object_get(d, "estimate_basis")), "timed_steps");
    cr_assert(json_is_null(json_object_get(d, "unmeasured_reason")));
    double total = num(d, "estimated_seconds"), train = num(d, "estimated_train_seconds");
    double eval = num(d, "estimated_eval_seconds"), prune = num(d, "estimated_prune_seconds");
    double tps = num(d, "measured_tokens_per_second"), step = num(d, "measured_step_seconds");
    cr_assert(total > 0 && train > 0 && eval > 0 && prune > 0 && tps > 0 && step > 0,
              "%g %g %g %g %g %g", total, train, eval, prune, tps, step);
    cr_assert_geq(num(d, "timed_steps"), 3);
    /* consistent: tokens/s is a step's tokens over its time; the run is its parts */
    cr_assert_float_eq(tps * step, 4.0 * 32.0, 1e-3 * 128.0);
    cr_assert_float_eq(train, 400.0 * step, 1e-4 * train);
    cr_assert_float_eq(total, train + eval + prune, 1e-4 * total);
    cr_assert_float_eq(num(d, "tokens") / tps, train, 1e-3 * train);
    /* the counts the run will have: 10 evaluations of 1024 / 32 / 4 batches,
     * masks updated after steps 100, 200 and 300 */
    cr_assert_eq(num(d, "evaluations"), 10);
    cr_assert_eq(num(d, "eval_batches"), 8);
    long due = 0;
    for (long s = 1; s <= 400; s++)
        due += sl_train_prune_due(&o.prune, s, 400);
    cr_assert_eq(due, 3);
    cr_assert_eq(num(d, "mask_updates"), (double)due);
    /* fast, and near what the run takes (one thread, the same machine) */
    double took = num(d, "timing_seconds");
    cr_assert(took > 0 && took < 3.0, "the dry run took %g s", took);
    sl_train_result res;
    run_quiet(&o, NULL, &res);
    cr_assert(total > res.seconds / 4 && total < res.seconds * 4,
              "estimated %g s, the run took %g s", total, res.seconds);
    json_decref(d);
}

Test(train_estimate, a_model_too_large_to_time_is_unmeasured_with_the_reason) {
    sl_train_options o = tiny_options();
    /* 3.2e9 parameters (55 GB with moments), 2e13 FLOPs a step */
    o.model = (sl_train_model_config){
        .n_layer = 64, .n_embd = 2048, .n_head = 16, .seq_len = 1024, .batch = 1};
    char err[128];
    cr_assert_eq(sl_train_model_config_check(&o.model, err, sizeof err), 0, "%s", err);
    json_t *d = dry_run_line(&o);
    cr_assert_str_eq(json_string_value(json_object_get(d, "estimate_basis")), "unmeasured");
    const char *why = json_string_value(json_object_get(d, "unmeasured_reason"));
    cr_assert_not_null(why);
    cr_assert(strncmp(why, "memory: ", 8) == 0 || strncmp(why, "time: ", 6) == 0, "%s", why);
    const char *nulls[] = {"estimated_seconds",          "estimated_train_seconds",
                           "estimated_eval_seconds",     "estimated_prune_seconds",
                           "measured_tokens_per_second", "measured_step_seconds"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        cr_assert(json_is_null(json_object_get(d, nulls[i])), "%s", nulls[i]);
    cr_assert_eq(num(d, "timed_steps"), 0);
    cr_assert_lt(num(d, "timing_seconds"), 1.0);
    cr_assert(json_is_number(json_object_get(d, "train_flops")));
    json_decref(d);
}

/* ---- device, precision, token shards, embedding sparsity ---- */

Test(train_cli, device_precision_vocab_and_embedding_flags) {
    sl_train_options o;
    char err[256];
    cr_assert_eq(parse_args(&o, (const char *[]){NULL}, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.device, SL_TRAIN_DEVICE_CPU);
    cr_assert_eq(sl_train_precision(&o), SL_TRAIN_PRECISION_FP32);
    cr_assert_eq(o.model.vocab, 0u);
    cr_assert_eq(o.prune.embed, 0);
    const char *a1[] = {"--device", "cuda", "--vocab", "50257", "--embed-sparsity", "auto", NULL};
    cr_assert_eq(parse_args(&o, a1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.device, SL_TRAIN_DEVICE_CUDA);
    cr_assert_eq(sl_train_precision(&o), SL_TRAIN_PRECISION_BF16, "bf16 is the GPU's default");
    cr_assert_eq(o.model.vocab, 50257u);
    cr_assert_eq(o.prune.embed, 1);
    const char *a2[] = {"--device=cuda", "--precision", "tf32", NULL};
    cr_assert_eq(parse_args(&o, a2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sl_train_precision(&o), SL_TRAIN_PRECISION_TF32);
    const char *a3[] = {"--precision", "fp32", NULL};
    cr_assert_eq(parse_args(&o, a3, err, sizeof err), 0, "%s", err);
    /* the scale calibration needs: 24 x 1024 at context 1024, batch 8 */
    const char *a4[] = {"--layers",  "24",   "--width", "1024", "--heads", "16",
                        "--context", "1024", "--batch", "8",    NULL};
    cr_assert_eq(parse_args(&o, a4, err, sizeof err), 0, "%s", err);
    o.model.vocab = SL_TRAIN_SHARD_VOCAB;
    cr_assert_eq(sl_train_model_config_check(&o.model, err, sizeof err), 0, "%s", err);
    o.model.batch = 64;
    cr_assert_eq(sl_train_model_config_check(&o.model, err, sizeof err), -1);
    cr_assert(strstr(err, "too large") != NULL, "%s", err);

    static const char *const bad[][4] = {
        {"--device", "tpu", NULL, NULL},
        {"--device", "", NULL, NULL},
        {"--precision", "bf16", NULL, NULL}, /* the CPU trains in fp32 */
        {"--precision", "fp16", "--device", "cuda"},
        {"--vocab", "65537", NULL, NULL},
        {"--vocab", "-1", NULL, NULL},
        {"--embed-sparsity", "0.5", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(parse_args(&o, bad[i], err, sizeof err), -1, "case %zu (%s %s) accepted", i,
                     bad[i][0], bad[i][1]);
        cr_expect(strlen(err) > 0, "case %zu has no message", i);
    }
    const char *a5[] = {"--precision", "tf32", NULL};
    cr_assert_eq(parse_args(&o, a5, err, sizeof err), -1);
    cr_assert(strstr(err, "--device cuda") != NULL, "%s", err);

    /* the dry run times CPU steps only, and says so for a GPU run */
    sl_train_options g = tiny_options();
    g.device = SL_TRAIN_DEVICE_CUDA;
    json_t *d = dry_run_line(&g);
    cr_assert_str_eq(json_string_value(json_object_get(d, "device")), "cuda");
    cr_assert_str_eq(json_string_value(json_object_get(d, "precision")), "bf16");
    cr_assert_str_eq(json_string_value(json_object_get(d, "estimate_basis")), "unmeasured");
    const char *why = json_string_value(json_object_get(d, "unmeasured_reason"));
    cr_assert(why && strncmp(why, "device: ", 8) == 0, "%s", why ? why : "(null)");
    json_decref(d);
}

Test(train_run, device_cuda_without_a_usable_gpu_exits_with_the_reason) {
    sl_train_cuda_info info;
    char why[512];
    if (sl_train_cuda_probe(&info, why, sizeof why) == 0)
        cr_skip_test("a GPU is here (%s): the gpu-labelled tests cover it", info.name);
    sl_train_options o = tiny_options();
    o.device = SL_TRAIN_DEVICE_CUDA;
    sl_train_result res;
    char err[512] = "";
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err), SL_TRAIN_EDEVICE);
    /* the probe's own words: "built without CUDA", or the CUDA runtime's */
    cr_assert(strncmp(err, "--device cuda: ", 15) == 0, "%s", err);
    cr_assert(strstr(err, why) != NULL, "'%s' does not carry '%s'", err, why);
    size_t n;
    json_t *ev = read_lines(f, &n);
    cr_assert_eq(n, 0u, "nothing starts");
    json_decref(ev);
    fclose(f);
}

/* Writes an llm.c shard of n tokens (header per sl_train_data.h) to a new
 * temporary file; version and count as given, to make bad ones too. */
static void write_shard(char *path, const uint16_t *tok, size_t n, int32_t version, int32_t count) {
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    int32_t header[256] = {SL_TRAIN_SHARD_MAGIC, version, count};
    cr_assert_eq(write(fd, header, sizeof header), (ssize_t)sizeof header);
    cr_assert_eq(write(fd, tok, n * 2), (ssize_t)(n * 2));
    close(fd);
}

/* tinyshakespeare's bytes as tokens b * 100 + 7: a shard whose windows can
 * be checked against the byte corpus, with tokens above 256. */
static uint16_t *shakespeare_tokens(sl_train_corpus *bytes) {
    char err[256];
    cr_assert_eq(sl_train_corpus_load(bytes, SHAKESPEARE, err, sizeof err), 0, "%s", err);
    uint16_t *tok = malloc(bytes->len * sizeof *tok);
    cr_assert_not_null(tok);
    for (size_t i = 0; i < bytes->len; i++)
        tok[i] = (uint16_t)(bytes->bytes[i] * 100 + 7);
    return tok;
}

Test(train_data, token_shards_read_as_the_byte_corpus_they_encode) {
    sl_train_corpus bytes, shard;
    uint16_t *tok = shakespeare_tokens(&bytes);
    char path[] = "/tmp/sl_train_shard_XXXXXX";
    write_shard(path, tok, bytes.len, 1, (int32_t)bytes.len);
    char err[256];
    cr_assert(sl_train_corpus_is_shard(path));
    cr_assert(!sl_train_corpus_is_shard(SHAKESPEARE));
    cr_assert_eq(sl_train_corpus_load(&shard, path, err, sizeof err), 0, "%s", err);
    cr_assert_not_null(shard.tokens);
    cr_assert_eq(shard.len, bytes.len);
    cr_assert_eq(shard.train_len, bytes.train_len);
    cr_assert_eq(shard.max_token, bytes.max_token * 100 + 7);
    /* the same windows from the same stream, token for byte */
    int bi[4 * 32], bt[4 * 32], si[4 * 32], st[4 * 32];
    sl_train_rng r1 = sl_train_rng_seed(9, 1), r2 = sl_train_rng_seed(9, 1);
    for (int k = 0; k < 50; k++) {
        sl_train_data_train_batch(&bytes, &r1, 4, 32, bi, bt);
        sl_train_data_train_batch(&shard, &r2, 4, 32, si, st);
        for (int i = 0; i < 4 * 32; i++) {
            cr_assert_eq(si[i], bi[i] * 100 + 7);
            cr_assert_eq(st[i], bt[i] * 100 + 7);
        }
    }
    sl_train_data_val_batch(&shard, 3, 4, 32, si, st);
    sl_train_data_val_batch(&bytes, 3, 4, 32, bi, bt);
    cr_assert_eq(si[5], bi[5] * 100 + 7);
    cr_assert_eq(sl_train_corpus_check_vocab(&shard, SL_TRAIN_SHARD_VOCAB, err, sizeof err), 0);
    cr_assert_eq(sl_train_corpus_check_vocab(&shard, 1000, err, sizeof err), -1);
    cr_assert(strstr(err, "--vocab") != NULL, "%s", err);
    sl_train_corpus_free(&shard);
    unlink(path);

    /* headers that do not match the file, and another version */
    const struct {
        int32_t version, count;
        const char *says;
    } bad[] = {{1, (int32_t)bytes.len + 1, "the header says"},
               {1, (int32_t)bytes.len - 1, "the header says"},
               {2, (int32_t)bytes.len, "version 2"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[] = "/tmp/sl_train_shard_XXXXXX";
        write_shard(p, tok, bytes.len, bad[i].version, bad[i].count);
        cr_assert_eq(sl_train_corpus_load(&shard, p, err, sizeof err), -1, "case %zu", i);
        cr_assert(strstr(err, bad[i].says) != NULL, "case %zu: %s", i, err);
        unlink(p);
    }
    free(tok);
    sl_train_corpus_free(&bytes);
}

Test(train_run, a_token_shard_trains_with_gpt2s_vocabulary_or_the_flags) {
    sl_train_corpus bytes;
    uint16_t *tok = shakespeare_tokens(&bytes);
    char path[] = "/tmp/sl_train_shard_XXXXXX";
    write_shard(path, tok, bytes.len, 1, (int32_t)bytes.len);
    size_t largest = bytes.max_token * 100 + 7;
    free(tok);
    sl_train_corpus_free(&bytes);

    sl_train_options o = tiny_options();
    o.corpus = path;
    o.steps = 30;
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    sl_train_result res;
    char err[256];
    cr_assert_eq(sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err), SL_TRAIN_COMPLETED, "%s",
                 err);
    size_t n;
    json_t *ev = read_lines(f, &n);
    json_t *st = json_array_get(ev, 0), *r = json_array_get(ev, n - 1);
    cr_assert_eq(json_integer_value(json_object_get(st, "vocab")), SL_TRAIN_SHARD_VOCAB);
    cr_assert_str_eq(json_string_value(json_object_get(st, "corpus_format")), "shard");
    cr_assert_str_eq(json_string_value(json_object_get(st, "device")), "cpu");
    cr_assert_str_eq(json_string_value(json_object_get(st, "precision")), "fp32");
    cr_assert(json_is_null(json_object_get(st, "gpu_name")));
    sl_train_model_config mc = o.model;
    mc.vocab = SL_TRAIN_SHARD_VOCAB;
    cr_assert_eq(res.total_params, sl_train_model_count_params(&mc));
    cr_assert_eq(json_integer_value(json_object_get(st, "embedding_params")),
                 (json_int_t)((SL_TRAIN_SHARD_VOCAB + 16) * 16));
    /* a fresh model's loss starts near ln V and falls */
    cr_assert(isfinite(res.val_loss) && res.val_loss < log(50257.0), "%g", res.val_loss);
    cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "completed");
    json_decref(ev);
    fclose(f);

    /* the dry run reads the vocabulary from the shard's header */
    json_t *d = dry_run_line(&o);
    cr_assert_eq(num(d, "vocab"), SL_TRAIN_SHARD_VOCAB);
    json_decref(d);

    /* --vocab: large enough runs, too small is a usage error naming the token */
    o.model.vocab = largest + 1;
    f = devnull();
    cr_assert_eq(sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err), SL_TRAIN_COMPLETED, "%s",
                 err);
    o.model.vocab = 300;
    cr_assert_eq(sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err), SL_TRAIN_EUSAGE);
    cr_assert(strstr(err, "outside a vocabulary of 300") != NULL, "%s", err);
    fclose(f);
    unlink(path);
}

Test(train_run, masks_hold_after_every_step_with_embeddings_pruned) {
    sl_train_options o = tiny_options();
    o.prune.sparsity = 0.75;
    o.prune.embed = 1;
    run_invariants(&o);
    /* 1 - sqrt(1 - 0.75) = 0.5 of each embedding, not counted in N */
    sl_train_result res;
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    char err[256];
    cr_assert_eq(sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err), SL_TRAIN_COMPLETED);
    size_t wte = 256 * 16, wpe = 16 * 16;
    cr_assert_eq(res.embedding_params, wte + wpe);
    cr_assert_eq(res.embedding_nonzeros, wte / 2 + wpe / 2);
    size_t n;
    json_t *ev = read_lines(f, &n);
    json_t *st = json_array_get(ev, 0), *r = json_array_get(ev, n - 1);
    cr_assert_str_eq(json_string_value(json_object_get(st, "embed_sparsity")), "auto");
    cr_assert_float_eq(num(st, "embedding_sparsity_target"), 0.5, 1e-9);
    cr_assert_str_eq(json_string_value(json_object_get(r, "embed_sparsity")), "auto");
    cr_assert_float_eq(num(r, "embedding_sparsity"), 0.5, 1e-9);
    cr_assert_eq(num(r, "embedding_nonzeros"), (double)(wte / 2 + wpe / 2));
    cr_assert_float_eq(num(r, "sparsity"), 0.75, 1e-3);
    json_decref(ev);
    fclose(f);

    /* off by default: the embeddings stay dense */
    o.prune.embed = 0;
    run_quiet(&o, NULL, &res);
    cr_assert_eq(res.embedding_nonzeros, wte + wpe);
}
