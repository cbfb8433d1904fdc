/*
 * sl_train_model.h - a byte-level GPT for the reference sparse trainer.
 *
 * Vocabulary 256 (bytes) by default, or a token shard's (cfg.vocab), learned position embedding,
 * pre-LayerNorm blocks of causal multi-head attention and a 4x GELU (tanh) MLP, a final LayerNorm,
 * and the output projection tied to the token embedding. Forward and backward of each layer sit
 * side by side in the .c file, in the manner of llm.c: parameters, their gradients, the AdamW
 * moments and the pruning mask are each one contiguous block, addressed per tensor.
 *
 * Weight matrices are stored (out, in) row-major, so y = x W^T + b and the
 * input (reduction) dimension is contiguous: n:m groups run along a row.
 *
 * The four weight matrices of every block (qkv, attention projection, MLP
 * in, MLP out) are "prunable"; a byte mask (1 kept, 0 pruned) covers every
 * parameter, 1 everywhere else. After every optimizer step a pruned weight
 * and its two AdamW moments are exactly zero; clipping and weight decay see
 * only kept weights.
 *
 * Functions that allocate return NULL / -1 on failure; nothing else fails.
 */
#ifndef SL_TRAIN_MODEL_H
#define SL_TRAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define SL_TRAIN_VOCAB     256
#define SL_TRAIN_VOCAB_MAX 65536 /* uint16 token shards */

typedef struct sl_train_model_config {
    size_t n_layer; /* L */
    size_t n_embd;  /* C, a multiple of n_head */
    size_t n_head;  /* NH */
    size_t seq_len; /* T: the context, and the length of every window */
    size_t batch;   /* B: windows per step */
    size_t vocab;   /* V: tokens of the corpus; 0 means SL_TRAIN_VOCAB (bytes) */
} sl_train_model_config;

/* V of a shape: cfg->vocab, or the byte vocabulary when it is 0. */
static inline size_t sl_train_model_vocab(const sl_train_model_config *cfg) {
    return cfg->vocab ? cfg->vocab : SL_TRAIN_VOCAB;
}

/* The parameter tensors, in storage order. */
enum {
    SL_P_WTE,      /* (V, C) token embedding, tied to the output projection */
    SL_P_WPE,      /* (T, C) position embedding */
    SL_P_LN1W,     /* (L, C) */
    SL_P_LN1B,     /* (L, C) */
    SL_P_QKVW,     /* (L, 3C, C) prunable */
    SL_P_QKVB,     /* (L, 3C) */
    SL_P_ATTPROJW, /* (L, C, C) prunable */
    SL_P_ATTPROJB, /* (L, C) */
    SL_P_LN2W,     /* (L, C) */
    SL_P_LN2B,     /* (L, C) */
    SL_P_FCW,      /* (L, 4C, C) prunable */
    SL_P_FCB,      /* (L, 4C) */
    SL_P_FCPROJW,  /* (L, C, 4C) prunable */
    SL_P_FCPROJB,  /* (L, C) */
    SL_P_LNFW,     /* (C) */
    SL_P_LNFB,     /* (C) */
    SL_P_COUNT
};

extern const char *const sl_train_param_names[SL_P_COUNT];

/* One prunable matrix: rows x cols floats at params + offset. */
typedef struct sl_train_matrix {
    size_t offset, rows, cols;
} sl_train_matrix;

typedef struct sl_train_model {
    sl_train_model_config cfg;
    size_t param_sizes[SL_P_COUNT];
    size_t param_offsets[SL_P_COUNT];
    size_t num_params;
    float *params, *grads, *adam_m, *adam_v;
    uint8_t *mask;
    /* the 4 L prunable matrices: layer l's qkv, attproj, fc, fcproj at 4l..4l+3 */
    size_t n_prunable;
    sl_train_matrix *prunable;
    size_t prunable_params; /* 12 L C^2 */

    /* activations and their gradients, for batch x seq_len tokens */
    size_t num_acts;
    float *acts, *grad_acts;
    float *encoded, *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *attproj, *residual2, *ln2,
        *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *fcproj, *residual3, *lnf, *lnf_mean, *lnf_rstd,
        *logits, *probs, *losses, *scratch;
    int *inputs, *targets;
    float loss;  /* mean cross-entropy (nats per byte) of the last forward */
    long adam_t; /* optimizer steps taken */
} sl_train_model;

typedef struct sl_train_adamw {
    float lr, beta1, beta2, eps, weight_decay;
    float grad_clip; /* global norm over kept gradients; <= 0: none */
} sl_train_adamw;

/* Checks the shape (every size >= 1, n_embd % n_head == 0, sizes that fit);
 * 0 when valid, else -1 with a reason in err. */
int sl_train_model_config_check(const sl_train_model_config *cfg, char *err, size_t errlen);

/* Allocates a model and initialises it GPT-2 style from seed: weights
 * N(0, 0.02), position embedding N(0, 0.01), the two residual projections
 * N(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm gains 1; mask all ones. */
sl_train_model *sl_train_model_new(const sl_train_model_config *cfg, uint64_t seed);
/* The same model without activations (acts, grad_acts, inputs and targets
 * NULL): the host copy of a model that trains on another device. Forward
 * and backward must not be called on it. */
sl_train_model *sl_train_model_new_params(const sl_train_model_config *cfg, uint64_t seed);
/* Points m's named activation arrays into base (base + offset for each, in
 * one fixed order) and returns the floats they take; base NULL only sizes.
 * A device copy of the model uses it to lay out its own block. */
size_t sl_train_model_layout_acts(sl_train_model *m, float *base);
void sl_train_model_free(sl_train_model *m);

/* Forward over batch x seq_len tokens; targets may be NULL (no loss).
 * Returns the mean loss (or 0 without targets). */
float sl_train_model_forward(sl_train_model *m, const int *inputs, const int *targets);
/* Gradients of the last forward's mean loss, overwriting m->grads. */
void sl_train_model_backward(sl_train_model *m);
/* One AdamW step on kept weights (see the header comment); returns the
 * global gradient norm before clipping. Decay applies to the matrices. */
float sl_train_model_adamw(sl_train_model *m, const sl_train_adamw *opt);

/* Non-zero weights in the prunable matrices, counted from the weights. */
size_t sl_train_model_nonzeros(const sl_train_model *m);
/* Non-zero entries of the two embeddings (wte, wpe), which N leaves out. */
size_t sl_train_model_embedding_nonzeros(const sl_train_model *m);
/* 1 for the tensors weight decay applies to (the embeddings and the block
 * matrices), 0 for norms and biases. */
int sl_train_model_param_decays(int p);
/* Forward FLOPs per token of this shape as the code runs it: 2 per
 * multiply-add of every matmul (including the tied output projection) and
 * of the causal attention (on average (T + 1) / 2 keys per query). Training
 * costs three times this. */
double sl_train_model_forward_flops_per_token(const sl_train_model_config *cfg);
/* Parameter counts of a shape without allocating it. */
size_t sl_train_model_count_params(const sl_train_model_config *cfg);
size_t sl_train_model_count_prunable(const sl_train_model_config *cfg);
/* Bytes sl_train_model_new allocates for this shape: parameters, gradients,
 * both moments and the mask, the activations and their gradients. */
double sl_train_model_bytes(const sl_train_model_config *cfg);

#endif
