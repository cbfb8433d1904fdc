/*
 * sl_train_cuda.h - the trainer's model on one CUDA GPU, behind a small C
 * interface, so sl_train_run.c reads the same for both devices.
 *
 * The device model is the CPU model's twin: the same parameter offsets, the
 * same activation layout (sl_train_model_layout_acts over device memory),
 * forward and backward of the same ops in the same order, the same AdamW
 * with masks, and pruning by the same rule (exactly k per matrix, the
 * smallest |w| among kept weights, ties by index; n:m groups along the
 * input dimension), computed on the GPU. Matmuls go to cuBLAS
 * (cublasGemmEx) in fp32, tf32 or bf16 inputs with fp32 accumulation;
 * weights, moments and every other op stay fp32.
 *
 * Built without CUDA (sl_train_cuda_none.c) every call reports "built
 * without CUDA". After a CUDA error every call is a no-op and
 * sl_train_cuda_error says what failed.
 */
#ifndef SL_TRAIN_CUDA_H
#define SL_TRAIN_CUDA_H

#include <stddef.h>

#include "sl_train_model.h"
#include "sl_train_prune.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_train_cuda sl_train_cuda;

typedef struct sl_train_cuda_info {
    int device;          /* CUDA device ordinal, 0 */
    char name[256];      /* as the driver names it, e.g. "NVIDIA H200" */
    double memory_bytes; /* total device memory */
    int cc_major, cc_minor;
} sl_train_cuda_info;

/* Matmul precision, as SL_TRAIN_PRECISION_* less AUTO. */
enum { SL_TRAIN_CUDA_FP32 = 1, SL_TRAIN_CUDA_TF32 = 2, SL_TRAIN_CUDA_BF16 = 3 };

/* 0 when device 0 can be used (info filled), else -1 with the reason in
 * why: "built without CUDA", or the CUDA runtime's own words. */
int sl_train_cuda_probe(sl_train_cuda_info *info, char *why, size_t whylen);

/* A device copy of host (its shape, weights, moments, mask and step count).
 * NULL with the reason in err when the device or its memory fails. */
sl_train_cuda *sl_train_cuda_new(const sl_train_model *host, int precision, char *err,
                                 size_t errlen);
void sl_train_cuda_free(sl_train_cuda *g);

/* As sl_train_model_forward / _backward / _adamw (inputs and targets are
 * host arrays of batch x seq_len). */
float sl_train_cuda_forward(sl_train_cuda *g, const int *inputs, const int *targets);
void sl_train_cuda_backward(sl_train_cuda *g);
float sl_train_cuda_adamw(sl_train_cuda *g, const sl_train_adamw *opt);
/* As sl_train_prune_model; 0 or -1. */
int sl_train_cuda_prune(sl_train_cuda *g, const sl_train_prune_config *pc, double s);
/* As sl_train_model_nonzeros / _embedding_nonzeros, counted on the device. */
size_t sl_train_cuda_nonzeros(sl_train_cuda *g);
size_t sl_train_cuda_embedding_nonzeros(sl_train_cuda *g);

/* Copies weights, gradients, moments, mask and the step count to host (of
 * the same shape), or from it; 0 or -1. */
int sl_train_cuda_download(sl_train_cuda *g, sl_train_model *host);
int sl_train_cuda_upload(sl_train_cuda *g, const sl_train_model *host);

/* NULL, or the first CUDA failure since sl_train_cuda_new. */
const char *sl_train_cuda_error(const sl_train_cuda *g);

#ifdef __cplusplus
}
#endif

#endif
