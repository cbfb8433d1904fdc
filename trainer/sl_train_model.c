/*
 * sl_train_model.c - forward, backward and AdamW of the byte-level GPT.
 *
 * Layout and naming follow llm.c's CPU trainer. Matmuls go to OpenBLAS
 * (OpenMP flavour, so BLAS and the loops here share one thread pool);
 * everything else is an OpenMP loop over rows. The attention backward is
 * O(T) per query row: with softmax output a and upstream gradient g,
 * d(pre-softmax) = a * (g - sum(a * g)); it runs in parallel over
 * (batch, head), whose gradient slices are disjoint.
 */
#include "sl_train_model.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_proto.h"
#include "sl_train_math.h"
#include "sl_train_rng.h"

const char *const sl_train_param_names[SL_P_COUNT] = {
    "wte",  "wpe",  "ln1w", "ln1b", "qkvw",    "qkvb",    "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw",  "fcb",  "fcprojw", "fcprojb", "lnfw",     "lnfb"};

#define LN_EPS     1e-5f
#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */

/* ------------------------------------------------------------------ sizes */

static void param_sizes(const sl_train_model_config *c, size_t s[SL_P_COUNT]) {
    size_t V = sl_train_model_vocab(c), L = c->n_layer, C = c->n_embd, T = c->seq_len;
    s[SL_P_WTE] = V * C;
    s[SL_P_WPE] = T * C;
    s[SL_P_LN1W] = L * C;
    s[SL_P_LN1B] = L * C;
    s[SL_P_QKVW] = L * 3 * C * C;
    s[SL_P_QKVB] = L * 3 * C;
    s[SL_P_ATTPROJW] = L * C * C;
    s[SL_P_ATTPROJB] = L * C;
    s[SL_P_LN2W] = L * C;
    s[SL_P_LN2B] = L * C;
    s[SL_P_FCW] = L * 4 * C * C;
    s[SL_P_FCB] = L * 4 * C;
    s[SL_P_FCPROJW] = L * C * 4 * C;
    s[SL_P_FCPROJB] = L * C;
    s[SL_P_LNFW] = C;
    s[SL_P_LNFB] = C;
}

size_t sl_train_model_count_params(const sl_train_model_config *cfg) {
    size_t s[SL_P_COUNT], n = 0;
    param_sizes(cfg, s);
    for (int i = 0; i < SL_P_COUNT; i++)
        n += s[i];
    return n;
}

size_t sl_train_model_count_prunable(const sl_train_model_config *cfg) {
    return 12 * cfg->n_layer * cfg->n_embd * cfg->n_embd;
}

double sl_train_model_forward_flops_per_token(const sl_train_model_config *cfg) {
    double L = (double)cfg->n_layer, C = (double)cfg->n_embd, T = (double)cfg->seq_len;
    return 24.0 * L * C * C + 2.0 * (double)sl_train_model_vocab(cfg) * C + 2.0 * L * C * (T + 1.0);
}

int sl_train_model_config_check(const sl_train_model_config *cfg, char *err, size_t errlen) {
    const char *why = NULL;
    if (cfg->n_layer < 1 || cfg->n_layer > 256)
        why = "layers must be in [1, 256]";
    else if (cfg->n_embd < 1 || cfg->n_embd > 16384)
        why = "width must be in [1, 16384]";
    else if (cfg->n_head < 1 || cfg->n_embd % cfg->n_head != 0)
        why = "heads must be >= 1 and divide the width";
    else if (cfg->seq_len < 1 || cfg->seq_len > 16384)
        why = "context must be in [1, 16384]";
    else if (cfg->batch < 1 || cfg->batch > 16384)
        why = "batch must be in [1, 16384]";
    else if (cfg->vocab > SL_TRAIN_VOCAB_MAX)
        why = "vocabulary must be in [1, 65536] (0: bytes)";
    else {
        /* every matmul dimension within BLAS's int, the activations within
         * what the run protocol admits on any device (24 x 1024 at context
         * 1024 and batch 8 for a large GPU) */
        sl_proto_size z = {(double)cfg->n_layer, (double)cfg->n_embd,
                           (double)cfg->n_head,  (double)cfg->seq_len,
                           (double)cfg->batch,   (double)sl_train_model_vocab(cfg)};
        char why_size[160];
        if (sl_proto_size_fits(&z, why_size, sizeof why_size) != 0) {
            snprintf(err, errlen, "%s", why_size);
            return -1;
        }
    }
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- forward */

SL_TRAIN_SIMD
static void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
                            size_t B, size_t T, size_t C) {
#pragma omp parallel for
    for (size_t bt = 0; bt < B * T; bt++) {
        float *o = out + bt * C;
        const float *we = wte + (size_t)inp[bt] * C, *pe = wpe + (bt % T) * C;
        for (size_t i = 0; i < C; i++)
            o[i] = we[i] + pe[i];
    }
}

SL_TRAIN_SIMD
static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, size_t N, size_t C) {
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        const float *x = inp + i * C;
        float m = 0.0f, v = 0.0f;
        for (size_t c = 0; c < C; c++)
            m += x[c];
        m /= (float)C;
        for (size_t c = 0; c < C; c++)
            v += (x[c] - m) * (x[c] - m);
        v /= (float)C;
        float s = 1.0f / sqrtf(v + LN_EPS);
        float *o = out + i * C;
        for (size_t c = 0; c < C; c++)
            o[c] = s * (x[c] - m) * w[c] + b[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

/* out (N, OC) = inp (N, C) W^T + bias; W is (OC, C). */
static void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                           size_t N, size_t C, size_t OC) {
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for
        for (size_t i = 0; i < N; i++)
            memcpy(out + i * OC, bias, OC * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)N, (blasint)OC, (blasint)C, 1.0f,
                inp, (blasint)C, w, (blasint)C, beta, out, (blasint)OC);
}

/* Softmax of row t of a causal T x T score matrix, in place: entries past
 * the diagonal become 0. */
static inline void causal_softmax_row(float *a, size_t t, size_t T) {
    float maxv = a[0];
    for (size_t t2 = 1; t2 <= t; t2++)
        maxv = a[t2] > maxv ? a[t2] : maxv;
    float sum = 0.0f;
    for (size_t t2 = 0; t2 <= t; t2++) {
        a[t2] = sl_train_expf(a[t2] - maxv);
        sum += a[t2];
    }
    float inv = 1.0f / sum;
    for (size_t t2 = 0; t2 <= t; t2++)
        a[t2] *= inv;
    for (size_t t2 = t + 1; t2 < T; t2++)
        a[t2] = 0.0f;
}

/* inp is (B, T, 3C) holding q, k, v; out is (B, T, C); att (B, NH, T, T)
 * keeps the softmax for the backward pass (zero above the diagonal). Per
 * (batch, head) the two products are small sgemms (OpenBLAS runs them on
 * the calling thread inside a parallel region). */
SL_TRAIN_SIMD
static void attention_forward(float *out, float *att, const float *inp, size_t B, size_t T,
                              size_t C, size_t NH) {
    size_t C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2)
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++) {
            const float *q = inp + b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            float *a = att + (b * NH + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)T, (blasint)T,
                        (blasint)hs, scale, q, (blasint)C3, k, (blasint)C3, 0.0f, a, (blasint)T);
            for (size_t t = 0; t < T; t++)
                causal_softmax_row(a + t * T, t, T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)T, (blasint)hs,
                        (blasint)T, 1.0f, a, (blasint)T, v, (blasint)C3, 0.0f,
                        out + b * T * C + h * hs, (blasint)C);
        }
}

SL_TRAIN_SIMD
static void residual_forward(float *out, const float *a, const float *b, size_t N) {
#pragma omp parallel for
    for (size_t i = 0; i < N; i++)
        out[i] = a[i] + b[i];
}

SL_TRAIN_SIMD
static void gelu_forward(float *out, const float *inp, size_t N) {
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + sl_train_tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
    }
}

/* probs = softmax(logits); losses[i] = logsumexp(logits_i) - logits_i[target]. */
SL_TRAIN_SIMD
static void crossentropy_forward(float *probs, float *losses, const float *logits,
                                 const int *targets, size_t N, size_t V) {
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        const float *l = logits + i * V;
        float *p = probs + i * V;
        float maxv = l[0];
        for (size_t v = 1; v < V; v++)
            if (l[v] > maxv) maxv = l[v];
        float sum = 0.0f;
        for (size_t v = 0; v < V; v++) {
            p[v] = sl_train_expf(l[v] - maxv);
            sum += p[v];
        }
        float inv = 1.0f / sum;
        for (size_t v = 0; v < V; v++)
            p[v] *= inv;
        if (targets) losses[i] = maxv + logf(sum) - l[(size_t)targets[i]];
    }
}

/* ------------------------------------------------------------- backward */

SL_TRAIN_SIMD
static void crossentropy_backward(float *dlogits, const float *probs, const int *targets, size_t N,
                                  size_t V) {
    float inv = 1.0f / (float)N;
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        float *d = dlogits + i * V;
        const float *p = probs + i * V;
        for (size_t v = 0; v < V; v++)
            d[v] += p[v] * inv;
        d[(size_t)targets[i]] -= inv;
    }
}

SL_TRAIN_SIMD
static void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                            const float *inp, const float *w, size_t N, size_t C, size_t OC) {
    /* dinp (N, C) += dout (N, OC) W (OC, C) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)N, (blasint)C, (blasint)OC,
                1.0f, dout, (blasint)OC, w, (blasint)C, 1.0f, dinp, (blasint)C);
    /* dW (OC, C) += dout^T (OC, N) inp (N, C) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)OC, (blasint)C, (blasint)N, 1.0f,
                dout, (blasint)OC, inp, (blasint)C, 1.0f, dw, (blasint)C);
    if (dbias)
        for (size_t i = 0; i < N; i++) {
            const float *d = dout + i * OC;
            for (size_t o = 0; o < OC; o++)
                dbias[o] += d[o];
        }
}

SL_TRAIN_SIMD
static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, size_t N, size_t C) {
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        const float *d = dout + i * C, *x = inp + i * C;
        float m = mean[i], s = rstd[i];
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
        for (size_t c = 0; c < C; c++) {
            float dnorm = w[c] * d[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * (x[c] - m) * s;
        }
        dnorm_mean /= (float)C;
        dnorm_norm_mean /= (float)C;
        float *di = dinp + i * C;
        for (size_t c = 0; c < C; c++) {
            float norm = (x[c] - m) * s;
            di[c] += (w[c] * d[c] - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
    for (size_t i = 0; i < N; i++) {
        const float *d = dout + i * C, *x = inp + i * C;
        float m = mean[i], s = rstd[i];
        for (size_t c = 0; c < C; c++) {
            dw[c] += (x[c] - m) * s * d[c];
            db[c] += d[c];
        }
    }
}

/* With P the softmax and dP = dY V^T, the scores' gradient is
 * dS = P * (dP - rowsum(P * dP)) * scale: O(T) per row. scratch holds dP
 * per (batch, head), (B, NH, T, T). */
SL_TRAIN_SIMD
static void attention_backward(float *dinp, float *scratch, const float *dout, const float *inp,
                               const float *att, size_t B, size_t T, size_t C, size_t NH) {
    size_t C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2)
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++) {
            const float *q = inp + b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            float *dq = dinp + b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
            const float *a = att + (b * NH + h) * T * T, *dy = dout + b * T * C + h * hs;
            float *dp = scratch + (b * NH + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)T, (blasint)T,
                        (blasint)hs, 1.0f, dy, (blasint)C, v, (blasint)C3, 0.0f, dp, (blasint)T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)T, (blasint)hs,
                        (blasint)T, 1.0f, a, (blasint)T, dy, (blasint)C, 1.0f, dv, (blasint)C3);
            for (size_t t = 0; t < T; t++) {
                const float *ar = a + t * T;
                float *d = dp + t * T, sum = 0.0f;
                for (size_t t2 = 0; t2 <= t; t2++)
                    sum += ar[t2] * d[t2];
                for (size_t t2 = 0; t2 <= t; t2++)
                    d[t2] = ar[t2] * (d[t2] - sum) * scale;
                for (size_t t2 = t + 1; t2 < T; t2++)
                    d[t2] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)T, (blasint)hs,
                        (blasint)T, 1.0f, dp, (blasint)T, k, (blasint)C3, 1.0f, dq, (blasint)C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)T, (blasint)hs,
                        (blasint)T, 1.0f, dp, (blasint)T, q, (blasint)C3, 1.0f, dk, (blasint)C3);
        }
}

SL_TRAIN_SIMD
static void residual_backward(float *da, float *db, const float *dout, size_t N) {
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

SL_TRAIN_SIMD
static void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N) {
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float th = sl_train_tanhf(GELU_SCALE * (x + 0.044715f * x * x * x));
        float sech2 = 1.0f - th * th;
        float g =
            0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += g * dout[i];
    }
}

SL_TRAIN_SIMD
static void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp, size_t B,
                             size_t T, size_t C) {
    for (size_t bt = 0; bt < B * T; bt++) {
        const float *d = dout + bt * C;
        float *we = dwte + (size_t)inp[bt] * C, *pe = dwpe + (bt % T) * C;
        for (size_t i = 0; i < C; i++) {
            we[i] += d[i];
            pe[i] += d[i];
        }
    }
}

/* ---------------------------------------------------------- model object */

/* Points the named activation arrays into one block; returns its size. */
size_t sl_train_model_layout_acts(sl_train_model *m, float *base) {
    size_t L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, T = m->cfg.seq_len;
    size_t B = m->cfg.batch, BT = B * T, V = sl_train_model_vocab(&m->cfg);
    struct {
        float **p;
        size_t n;
    } t[] = {
        {&m->encoded, BT * C},
        {&m->ln1, L * BT * C},
        {&m->ln1_mean, L * BT},
        {&m->ln1_rstd, L * BT},
        {&m->qkv, L * BT * 3 * C},
        {&m->atty, L * BT * C},
        {&m->att, L * B * NH * T * T},
        {&m->attproj, L * BT * C},
        {&m->residual2, L * BT * C},
        {&m->ln2, L * BT * C},
        {&m->ln2_mean, L * BT},
        {&m->ln2_rstd, L * BT},
        {&m->fch, L * BT * 4 * C},
        {&m->fch_gelu, L * BT * 4 * C},
        {&m->fcproj, L * BT * C},
        {&m->residual3, L * BT * C},
        {&m->lnf, BT * C},
        {&m->lnf_mean, BT},
        {&m->lnf_rstd, BT},
        {&m->logits, BT * V},
        {&m->probs, BT * V},
        {&m->losses, BT},
        {&m->scratch, B * NH * T * T},
    };
    size_t off = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (base) *t[i].p = base + off;
        off += t[i].n;
    }
    return off;
}

double sl_train_model_bytes(const sl_train_model_config *cfg) {
    sl_train_model m = {.cfg = *cfg};
    double params = (double)sl_train_model_count_params(cfg);
    double acts = (double)sl_train_model_layout_acts(&m, NULL);
    double bt = (double)(cfg->batch * cfg->seq_len);
    return params * (4.0 * sizeof(float) + 1.0) + 2.0 * acts * sizeof(float) +
           2.0 * bt * sizeof(int);
}

/* The gradient buffer that mirrors activation p. */
#define GRAD(m, p) ((m)->grad_acts + ((p) - (m)->acts))

static int is_matrix(int p) {
    return p == SL_P_WTE || p == SL_P_WPE || p == SL_P_QKVW || p == SL_P_ATTPROJW ||
           p == SL_P_FCW || p == SL_P_FCPROJW;
}

static sl_train_model *model_alloc(const sl_train_model_config *cfg, uint64_t seed, int acts) {
    char err[128];
    if (sl_train_model_config_check(cfg, err, sizeof err) != 0) return NULL;
    sl_train_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *cfg;
    param_sizes(cfg, m->param_sizes);
    for (int i = 0; i < SL_P_COUNT; i++) {
        m->param_offsets[i] = m->num_params;
        m->num_params += m->param_sizes[i];
    }
    size_t L = cfg->n_layer, C = cfg->n_embd, BT = cfg->batch * cfg->seq_len;
    m->n_prunable = 4 * L;
    m->prunable_params = sl_train_model_count_prunable(cfg);
    m->num_acts = sl_train_model_layout_acts(m, NULL);
    m->params = calloc(m->num_params, sizeof(float));
    m->grads = calloc(m->num_params, sizeof(float));
    m->adam_m = calloc(m->num_params, sizeof(float));
    m->adam_v = calloc(m->num_params, sizeof(float));
    m->mask = malloc(m->num_params);
    m->prunable = calloc(m->n_prunable, sizeof *m->prunable);
    if (acts) {
        m->acts = calloc(m->num_acts, sizeof(float));
        m->grad_acts = calloc(m->num_acts, sizeof(float));
        m->inputs = calloc(BT, sizeof(int));
        m->targets = calloc(BT, sizeof(int));
    }
    if (!m->params || !m->grads || !m->adam_m || !m->adam_v || !m->mask || !m->prunable ||
        (acts && (!m->acts || !m->grad_acts || !m->inputs || !m->targets))) {
        sl_train_model_free(m);
        return NULL;
    }
    if (acts) sl_train_model_layout_acts(m, m->acts);
    memset(m->mask, 1, m->num_params);

    for (size_t l = 0; l < L; l++) {
        sl_train_matrix *p = m->prunable + 4 * l;
        p[0] = (sl_train_matrix){m->param_offsets[SL_P_QKVW] + l * 3 * C * C, 3 * C, C};
        p[1] = (sl_train_matrix){m->param_offsets[SL_P_ATTPROJW] + l * C * C, C, C};
        p[2] = (sl_train_matrix){m->param_offsets[SL_P_FCW] + l * 4 * C * C, 4 * C, C};
        p[3] = (sl_train_matrix){m->param_offsets[SL_P_FCPROJW] + l * 4 * C * C, C, 4 * C};
    }

    sl_train_rng rng = sl_train_rng_seed(seed, 0);
    double resid_std = 0.02 / sqrt(2.0 * (double)L);
    for (int i = 0; i < SL_P_COUNT; i++) {
        float *w = m->params + m->param_offsets[i];
        size_t n = m->param_sizes[i];
        if (i == SL_P_LN1W || i == SL_P_LN2W || i == SL_P_LNFW) {
            for (size_t j = 0; j < n; j++)
                w[j] = 1.0f;
        } else if (is_matrix(i)) {
            double std = i == SL_P_WPE                             ? 0.01
                         : i == SL_P_ATTPROJW || i == SL_P_FCPROJW ? resid_std
                                                                   : 0.02;
            for (size_t j = 0; j < n; j++)
                w[j] = (float)(std * sl_train_rng_normal(&rng));
        }
    }
    return m;
}

sl_train_model *sl_train_model_new(const sl_train_model_config *cfg, uint64_t seed) {
    return model_alloc(cfg, seed, 1);
}

sl_train_model *sl_train_model_new_params(const sl_train_model_config *cfg, uint64_t seed) {
    return model_alloc(cfg, seed, 0);
}

void sl_train_model_free(sl_train_model *m) {
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->mask);
    free(m->prunable);
    free(m->acts);
    free(m->grad_acts);
    free(m->inputs);
    free(m->targets);
    free(m);
}

#define PARAM(m, i) ((m)->params + (m)->param_offsets[i])
#define PGRAD(m, i) ((m)->grads + (m)->param_offsets[i])

float sl_train_model_forward(sl_train_model *m, const int *inputs, const int *targets) {
    size_t L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, T = m->cfg.seq_len;
    size_t B = m->cfg.batch, BT = B * T, V = sl_train_model_vocab(&m->cfg);
    memcpy(m->inputs, inputs, BT * sizeof(int));
    if (targets) memcpy(m->targets, targets, BT * sizeof(int));

    encoder_forward(m->encoded, m->inputs, PARAM(m, SL_P_WTE), PARAM(m, SL_P_WPE), B, T, C);
    for (size_t l = 0; l < L; l++) {
        const float *residual = l == 0 ? m->encoded : m->residual3 + (l - 1) * BT * C;
        float *ln1 = m->ln1 + l * BT * C, *qkv = m->qkv + l * BT * 3 * C;
        float *atty = m->atty + l * BT * C, *att = m->att + l * B * NH * T * T;
        float *attproj = m->attproj + l * BT * C, *residual2 = m->residual2 + l * BT * C;
        float *ln2 = m->ln2 + l * BT * C, *fch = m->fch + l * BT * 4 * C;
        float *fch_gelu = m->fch_gelu + l * BT * 4 * C, *fcproj = m->fcproj + l * BT * C;
        float *residual3 = m->residual3 + l * BT * C;
        layernorm_forward(ln1, m->ln1_mean + l * BT, m->ln1_rstd + l * BT, residual,
                          PARAM(m, SL_P_LN1W) + l * C, PARAM(m, SL_P_LN1B) + l * C, BT, C);
        matmul_forward(qkv, ln1, PARAM(m, SL_P_QKVW) + l * 3 * C * C,
                       PARAM(m, SL_P_QKVB) + l * 3 * C, BT, C, 3 * C);
        attention_forward(atty, att, qkv, B, T, C, NH);
        matmul_forward(attproj, atty, PARAM(m, SL_P_ATTPROJW) + l * C * C,
                       PARAM(m, SL_P_ATTPROJB) + l * C, BT, C, C);
        residual_forward(residual2, residual, attproj, BT * C);
        layernorm_forward(ln2, m->ln2_mean + l * BT, m->ln2_rstd + l * BT, residual2,
                          PARAM(m, SL_P_LN2W) + l * C, PARAM(m, SL_P_LN2B) + l * C, BT, C);
        matmul_forward(fch, ln2, PARAM(m, SL_P_FCW) + l * 4 * C * C, PARAM(m, SL_P_FCB) + l * 4 * C,
                       BT, C, 4 * C);
        gelu_forward(fch_gelu, fch, BT * 4 * C);
        matmul_forward(fcproj, fch_gelu, PARAM(m, SL_P_FCPROJW) + l * 4 * C * C,
                       PARAM(m, SL_P_FCPROJB) + l * C, BT, 4 * C, C);
        residual_forward(residual3, residual2, fcproj, BT * C);
    }
    layernorm_forward(m->lnf, m->lnf_mean, m->lnf_rstd, m->residual3 + (L - 1) * BT * C,
                      PARAM(m, SL_P_LNFW), PARAM(m, SL_P_LNFB), BT, C);
    matmul_forward(m->logits, m->lnf, PARAM(m, SL_P_WTE), NULL, BT, C, V);
    crossentropy_forward(m->probs, m->losses, m->logits, targets ? m->targets : NULL, BT, V);
    if (!targets) {
        m->loss = 0.0f;
        return 0.0f;
    }
    double sum = 0.0;
    for (size_t i = 0; i < BT; i++)
        sum += (double)m->losses[i];
    m->loss = (float)(sum / (double)BT);
    return m->loss;
}

void sl_train_model_backward(sl_train_model *m) {
    size_t L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, T = m->cfg.seq_len;
    size_t B = m->cfg.batch, BT = B * T, V = sl_train_model_vocab(&m->cfg);
    memset(m->grads, 0, m->num_params * sizeof(float));
    memset(m->grad_acts, 0, m->num_acts * sizeof(float));

    crossentropy_backward(GRAD(m, m->logits), m->probs, m->targets, BT, V);
    matmul_backward(GRAD(m, m->lnf), PGRAD(m, SL_P_WTE), NULL, GRAD(m, m->logits), m->lnf,
                    PARAM(m, SL_P_WTE), BT, C, V);
    const float *last = m->residual3 + (L - 1) * BT * C;
    layernorm_backward(GRAD(m, last), PGRAD(m, SL_P_LNFW), PGRAD(m, SL_P_LNFB), GRAD(m, m->lnf),
                       last, PARAM(m, SL_P_LNFW), m->lnf_mean, m->lnf_rstd, BT, C);

    for (size_t l = L; l-- > 0;) {
        const float *residual = l == 0 ? m->encoded : m->residual3 + (l - 1) * BT * C;
        float *dresidual = GRAD(m, residual);
        const float *ln1 = m->ln1 + l * BT * C, *qkv = m->qkv + l * BT * 3 * C;
        const float *atty = m->atty + l * BT * C, *att = m->att + l * B * NH * T * T;
        const float *attproj = m->attproj + l * BT * C, *residual2 = m->residual2 + l * BT * C;
        const float *ln2 = m->ln2 + l * BT * C, *fch = m->fch + l * BT * 4 * C;
        const float *fch_gelu = m->fch_gelu + l * BT * 4 * C, *fcproj = m->fcproj + l * BT * C;
        const float *residual3 = m->residual3 + l * BT * C;

        residual_backward(GRAD(m, residual2), GRAD(m, fcproj), GRAD(m, residual3), BT * C);
        matmul_backward(GRAD(m, fch_gelu), PGRAD(m, SL_P_FCPROJW) + l * 4 * C * C,
                        PGRAD(m, SL_P_FCPROJB) + l * C, GRAD(m, fcproj), fch_gelu,
                        PARAM(m, SL_P_FCPROJW) + l * 4 * C * C, BT, 4 * C, C);
        gelu_backward(GRAD(m, fch), fch, GRAD(m, fch_gelu), BT * 4 * C);
        matmul_backward(GRAD(m, ln2), PGRAD(m, SL_P_FCW) + l * 4 * C * C,
                        PGRAD(m, SL_P_FCB) + l * 4 * C, GRAD(m, fch), ln2,
                        PARAM(m, SL_P_FCW) + l * 4 * C * C, BT, C, 4 * C);
        layernorm_backward(GRAD(m, residual2), PGRAD(m, SL_P_LN2W) + l * C,
                           PGRAD(m, SL_P_LN2B) + l * C, GRAD(m, ln2), residual2,
                           PARAM(m, SL_P_LN2W) + l * C, m->ln2_mean + l * BT, m->ln2_rstd + l * BT,
                           BT, C);
        residual_backward(dresidual, GRAD(m, attproj), GRAD(m, residual2), BT * C);
        matmul_backward(GRAD(m, atty), PGRAD(m, SL_P_ATTPROJW) + l * C * C,
                        PGRAD(m, SL_P_ATTPROJB) + l * C, GRAD(m, attproj), atty,
                        PARAM(m, SL_P_ATTPROJW) + l * C * C, BT, C, C);
        attention_backward(GRAD(m, qkv), m->scratch, GRAD(m, atty), qkv, att, B, T, C, NH);
        matmul_backward(GRAD(m, ln1), PGRAD(m, SL_P_QKVW) + l * 3 * C * C,
                        PGRAD(m, SL_P_QKVB) + l * 3 * C, GRAD(m, qkv), ln1,
                        PARAM(m, SL_P_QKVW) + l * 3 * C * C, BT, C, 3 * C);
        layernorm_backward(dresidual, PGRAD(m, SL_P_LN1W) + l * C, PGRAD(m, SL_P_LN1B) + l * C,
                           GRAD(m, ln1), residual, PARAM(m, SL_P_LN1W) + l * C,
                           m->ln1_mean + l * BT, m->ln1_rstd + l * BT, BT, C);
    }
    encoder_backward(PGRAD(m, SL_P_WTE), PGRAD(m, SL_P_WPE), GRAD(m, m->encoded), m->inputs, B, T,
                     C);
}

SL_TRAIN_SIMD
float sl_train_model_adamw(sl_train_model *m, const sl_train_adamw *opt) {
    const float *g = m->grads;
    const uint8_t *mask = m->mask;
    size_t n = m->num_params;
    double ss = 0.0;
#pragma omp parallel for reduction(+ : ss)
    for (size_t i = 0; i < n; i++)
        if (mask[i]) ss += (double)g[i] * (double)g[i];
    float norm = (float)sqrt(ss);
    float scale = opt->grad_clip > 0.0f && norm > opt->grad_clip ? opt->grad_clip / norm : 1.0f;

    m->adam_t++;
    float b1 = opt->beta1, b2 = opt->beta2, lr = opt->lr, eps = opt->eps;
    float bc1 = 1.0f - powf(b1, (float)m->adam_t), bc2 = 1.0f - powf(b2, (float)m->adam_t);
    float *p = m->params, *mm = m->adam_m, *vv = m->adam_v;
    for (int t = 0; t < SL_P_COUNT; t++) {
        float wd = is_matrix(t) ? opt->weight_decay : 0.0f;
        size_t lo = m->param_offsets[t], hi = lo + m->param_sizes[t];
#pragma omp parallel for
        for (size_t i = lo; i < hi; i++) {
            /* branch-free so it vectorises; a pruned entry ends exactly 0 */
            int keep = mask[i] != 0;
            float gi = keep ? g[i] * scale : 0.0f;
            float mi = b1 * mm[i] + (1.0f - b1) * gi, vi = b2 * vv[i] + (1.0f - b2) * gi * gi;
            float pi = p[i] - lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * p[i]);
            mm[i] = keep ? mi : 0.0f;
            vv[i] = keep ? vi : 0.0f;
            p[i] = keep ? pi : 0.0f;
        }
    }
    return norm;
}

size_t sl_train_model_nonzeros(const sl_train_model *m) {
    size_t nz = 0;
    for (size_t k = 0; k < m->n_prunable; k++) {
        const float *w = m->params + m->prunable[k].offset;
        size_t n = m->prunable[k].rows * m->prunable[k].cols;
        for (size_t i = 0; i < n; i++)
            nz += w[i] != 0.0f;
    }
    return nz;
}

size_t sl_train_model_embedding_nonzeros(const sl_train_model *m) {
    size_t nz = 0, lo = m->param_offsets[SL_P_WTE];
    size_t hi = m->param_offsets[SL_P_WPE] + m->param_sizes[SL_P_WPE];
    for (size_t i = lo; i < hi; i++)
        nz += m->params[i] != 0.0f;
    return nz;
}

int sl_train_model_param_decays(int p) {
    return is_matrix(p);
}
