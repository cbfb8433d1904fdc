/*
 * sl_train_cuda_none.c - sl_train_cuda.h for a build without the CUDA
 * toolkit: the probe says so and nothing else can be reached.
 */
#include <stdio.h>

#include "sl_train_cuda.h"

struct sl_train_cuda {
    int unused;
};

static const char *const without = "built without CUDA";

int sl_train_cuda_probe(sl_train_cuda_info *info, char *why, size_t whylen) {
    (void)info;
    snprintf(why, whylen, "%s", without);
    return -1;
}

sl_train_cuda *sl_train_cuda_new(const sl_train_model *host, int precision, char *err,
                                 size_t errlen) {
    (void)host;
    (void)precision;
    snprintf(err, errlen, "%s", without);
    return NULL;
}

void sl_train_cuda_free(sl_train_cuda *g) {
    (void)g;
}

float sl_train_cuda_forward(sl_train_cuda *g, const int *inputs, const int *targets) {
    (void)g;
    (void)inputs;
    (void)targets;
    return 0.0f;
}

void sl_train_cuda_backward(sl_train_cuda *g) {
    (void)g;
}

float sl_train_cuda_adamw(sl_train_cuda *g, const sl_train_adamw *opt) {
    (void)g;
    (void)opt;
    return 0.0f;
}

int sl_train_cuda_prune(sl_train_cuda *g, const sl_train_prune_config *pc, double s) {
    (void)g;
    (void)pc;
    (void)s;
    return -1;
}

size_t sl_train_cuda_nonzeros(sl_train_cuda *g) {
    (void)g;
    return 0;
}

size_t sl_train_cuda_embedding_nonzeros(sl_train_cuda *g) {
    (void)g;
    return 0;
}

int sl_train_cuda_download(sl_train_cuda *g, sl_train_model *host) {
    (void)g;
    (void)host;
    return -1;
}

int sl_train_cuda_upload(sl_train_cuda *g, const sl_train_model *host) {
    (void)g;
    (void)host;
    return -1;
}

const char *sl_train_cuda_error(const sl_train_cuda *g) {
    (void)g;
    return without;
}
