/*
 * GPU tests of sparselaw-train (ctest label gpu): the --device cuda model
 * against finite differences and against the CPU trainer, bf16 against
 * fp32, and a clean stop on SIGTERM.
 *
 *   test_trainer_gpu CHECK [TRAINER]
 *
 * CHECK is gradients, matches_cpu, bf16 or sigterm (which runs TRAINER, the
 * sparselaw-train binary). Where no GPU can be used (a build without CUDA,
 * no driver, no device) it prints the reason and exits 77, which ctest
 * reports as skipped (SKIP_RETURN_CODE). Exit 0 passed, 1 failed.
 *
 * The corpus is read from SL_DATA_DIR.
 */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sl_train_cuda.h"
#include "sl_train_model.h"
#include "sl_train_prune.h"
#include "sl_train_rng.h"
#include "sl_train_run.h"
#include "sl_test_trainer.h"

#ifndef SL_DATA_DIR
#error "SL_DATA_DIR must name the project's data/ folder"
#endif
#define SHAKESPEARE SL_DATA_DIR "/tinyshakespeare.txt"
#define SKIP        77

static int failures = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (failures++ < 20) {                                                                 \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fputc('\n', stderr);                                                               \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static sl_train_options small_options(void) {
    sl_train_options o;
    sl_train_options_default(&o);
    o.model =
        (sl_train_model_config){.n_layer = 2, .n_embd = 32, .n_head = 2, .seq_len = 32, .batch = 4};
    o.corpus = SHAKESPEARE;
    o.val_tokens = 1024;
    o.threads = 1;
    o.progress = 0;
    return o;
}

/* ---- every gradient of the GPU model against finite differences ---- */

typedef struct fd_ctx {
    sl_train_cuda *g;
    sl_train_model *host;
    const int *in, *tg;
} fd_ctx;

/* The GPU's loss at the host's weights. */
static double gpu_loss(void *vctx) {
    fd_ctx *c = vctx;
    sl_train_cuda_upload(c->g, c->host);
    return (double)sl_train_cuda_forward(c->g, c->in, c->tg);
}

static int check_gradients(void) {
    sl_train_model_config c = {.n_layer = 2, .n_embd = 8, .n_head = 2, .seq_len = 5, .batch = 2};
    sl_train_model *m = sl_train_model_new_params(&c, 7);
    sl_train_model *cpu = sl_train_model_new(&c, 7);
    if (!m || !cpu) return fprintf(stderr, "out of memory\n"), 1;
    int in[10], tg[10];
    sl_test_trainer_gradcheck_init(m, in, tg, 10);
    memcpy(cpu->params, m->params, m->num_params * sizeof(float));
    char err[512];
    sl_train_cuda *g = sl_train_cuda_new(m, SL_TRAIN_CUDA_FP32, err, sizeof err);
    if (!g) return fprintf(stderr, "FAIL: %s\n", err), 1;
    float lg = sl_train_cuda_forward(g, in, tg), lc = sl_train_model_forward(cpu, in, tg);
    CHECK(fabsf(lg - lc) <= 1e-5f * fabsf(lc), "loss: GPU %.8g, CPU %.8g", (double)lg, (double)lc);
    sl_train_cuda_backward(g);
    sl_train_model_backward(cpu);
    CHECK(sl_train_cuda_download(g, m) == 0, "download: %s", sl_train_cuda_error(g));
    float *an = malloc(m->num_params * sizeof(float));
    if (!an) return 1;
    memcpy(an, m->grads, m->num_params * sizeof(float));

    fd_ctx ctx = {g, m, in, tg};
    for (int t = 0; t < SL_P_COUNT; t++) {
        double num = 0.0, den = 0.0, vs_cpu = 0.0;
        size_t n = m->param_sizes[t], off = m->param_offsets[t];
        for (size_t i = 0; i < n; i++) {
            double fd = sl_test_trainer_central_difference(m, off + i, 1e-2f, gpu_loss, &ctx);
            double gi = (double)an[off + i];
            CHECK(fabs(fd - gi) <= 5e-4 + 2e-2 * fabs(gi), "%s[%zu]: analytic %.6g, numeric %.6g",
                  sl_train_param_names[t], i, gi, fd);
            num += (fd - gi) * (fd - gi);
            den += gi * gi;
            double d = gi - (double)cpu->grads[off + i];
            vs_cpu += d * d;
        }
        CHECK(den > 1e-4, "%s: gradient too small to check", sl_train_param_names[t]);
        CHECK(sqrt(num / den) < 5e-3, "%s: relative error %.3g against finite differences",
              sl_train_param_names[t], sqrt(num / den));
        CHECK(sqrt(vs_cpu / den) < 1e-4, "%s: relative difference %.3g from the CPU's gradient",
              sl_train_param_names[t], sqrt(vs_cpu / den));
    }
    CHECK(sl_train_cuda_error(g) == NULL, "CUDA: %s", sl_train_cuda_error(g));
    free(an);
    sl_train_cuda_free(g);
    sl_train_model_free(m);
    sl_train_model_free(cpu);
    return failures != 0;
}

/* ---- the CPU and GPU trainers from one seed ---- */

#define MATCH_STEPS 50

typedef struct trace {
    double loss[MATCH_STEPS + 1];
    uint8_t *masks[MATCH_STEPS + 1]; /* the block matrices' masks after each step */
    size_t mask_n;
} trace;

static void record(void *ctx, const sl_train_model *m, long step, long steps) {
    (void)steps;
    trace *t = ctx;
    if (step > MATCH_STEPS) return;
    t->loss[step] = (double)m->loss;
    size_t lo = m->param_offsets[SL_P_QKVW];
    size_t hi = m->param_offsets[SL_P_FCPROJW] + m->param_sizes[SL_P_FCPROJW];
    t->mask_n = hi - lo;
    t->masks[step] = malloc(t->mask_n);
    if (t->masks[step]) memcpy(t->masks[step], m->mask + lo, t->mask_n);
}

static int run_traced(sl_train_options *o, trace *t, sl_train_result *res) {
    sl_train_hooks h = {.on_step = record, .ctx = t};
    char err[512] = "";
    FILE *f = fopen("/dev/null", "w");
    sl_train_status st = sl_train_run(o, f, NULL, &h, res, err, sizeof err);
    if (f) fclose(f);
    if (st != SL_TRAIN_COMPLETED) fprintf(stderr, "FAIL: run: status %d: %s\n", (int)st, err);
    return st == SL_TRAIN_COMPLETED ? 0 : -1;
}

static int check_matches_cpu(void) {
    sl_train_options o = small_options();
    /* narrow, so a magnitude threshold between two kept weights is far
     * wider (~2e-5) than the CPU and GPU drift apart in 50 steps (~1e-8) */
    o.model.n_embd = 16;
    o.steps = MATCH_STEPS;
    o.prune.sparsity = 0.5;
    o.prune.start = 0.2;
    o.prune.end = 0.8;
    o.prune.every = 5;
    static trace cpu, gpu;
    sl_train_result rc, rg;
    if (run_traced(&o, &cpu, &rc) != 0) return 1;
    o.device = SL_TRAIN_DEVICE_CUDA;
    o.precision = SL_TRAIN_PRECISION_FP32;
    if (run_traced(&o, &gpu, &rg) != 0) return 1;
    long updates = 0;
    for (long s = 1; s <= MATCH_STEPS; s++) {
        double a = cpu.loss[s], b = gpu.loss[s];
        CHECK(fabs(a - b) <= 1e-4 * fabs(a), "step %ld: loss CPU %.8g, GPU %.8g", s, a, b);
        CHECK(cpu.masks[s] && gpu.masks[s], "step %ld: no mask recorded", s);
        if (cpu.masks[s] && gpu.masks[s]) {
            size_t differ = 0;
            for (size_t i = 0; i < cpu.mask_n; i++)
                differ += cpu.masks[s][i] != gpu.masks[s][i];
            CHECK(differ == 0, "step %ld: %zu of %zu mask entries differ", s, differ, cpu.mask_n);
        }
        updates += sl_train_prune_due(&o.prune, s, MATCH_STEPS);
        free(cpu.masks[s]);
        free(gpu.masks[s]);
    }
    CHECK(updates >= 3, "only %ld mask updates", updates);
    CHECK(rc.nonzeros == rg.nonzeros, "N: CPU %zu, GPU %zu", rc.nonzeros, rg.nonzeros);
    CHECK(fabs(rc.val_loss - rg.val_loss) <= 1e-4 * rc.val_loss, "val loss: CPU %.8g, GPU %.8g",
          rc.val_loss, rg.val_loss);
    fprintf(stderr, "CPU val %.6f, GPU val %.6f, N %zu / %zu\n", rc.val_loss, rg.val_loss,
            rg.nonzeros, rc.nonzeros);
    return failures != 0;
}

/* ---- bf16 against fp32 ---- */

static int check_bf16(void) {
    sl_train_options o = small_options();
    o.model = (sl_train_model_config){
        .n_layer = 2, .n_embd = 128, .n_head = 4, .seq_len = 64, .batch = 8};
    o.steps = 300;
    o.prune.sparsity = 0.5;
    o.device = SL_TRAIN_DEVICE_CUDA;
    o.val_tokens = 8192;
    double val[2];
    int prec[2] = {SL_TRAIN_PRECISION_FP32, SL_TRAIN_PRECISION_BF16};
    for (int i = 0; i < 2; i++) {
        o.precision = prec[i];
        sl_train_result res;
        char err[512] = "";
        FILE *f = fopen("/dev/null", "w");
        sl_train_status st = sl_train_run(&o, f, NULL, NULL, &res, err, sizeof err);
        if (f) fclose(f);
        if (st != SL_TRAIN_COMPLETED) return fprintf(stderr, "FAIL: run: %s\n", err), 1;
        val[i] = res.val_loss;
    }
    fprintf(stderr, "after 300 steps: fp32 %.5f, bf16 %.5f nats/byte\n", val[0], val[1]);
    CHECK(fabs(val[1] - val[0]) <= 0.02 * val[0], "bf16 %.5f is not within 2 %% of fp32 %.5f",
          val[1], val[0]);
    CHECK(val[0] < 2.6, "fp32 did not learn: %.5f", val[0]);
    return failures != 0;
}

/* ---- SIGTERM ---- */

static int check_sigterm(const char *trainer) {
    int out[2];
    if (pipe(out) != 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(trainer, trainer, "--device", "cuda", "--corpus", SHAKESPEARE, "--layers", "2",
              "--width", "64", "--steps", "1000000", "--log-every", "10", "--progress", "off",
              (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[16384], last[16384] = "";
    int progress = 0, sent = 0;
    while (fgets(line, sizeof line, f)) {
        snprintf(last, sizeof last, "%s", line);
        if (!sent && strstr(line, "\"event\":\"progress\"") && ++progress == 2) {
            kill(pid, SIGTERM);
            sent = 1;
        }
    }
    fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(sent, "no progress events before the end: %s", last);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM,
          "exit status %d (want exit %d)", status, 128 + SIGTERM);
    CHECK(strstr(last, "\"event\":\"result\"") && strstr(last, "\"status\":\"interrupted\"") &&
              strstr(last, "\"signal\":\"SIGTERM\"") && strstr(last, "\"device\":\"cuda\""),
          "last line: %s", last);
    return failures != 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s gradients|matches_cpu|bf16|sigterm [TRAINER]\n", argv[0]);
        return 2;
    }
    sl_train_cuda_info info;
    char why[512];
    if (sl_train_cuda_probe(&info, why, sizeof why) != 0) {
        printf("SKIP: no usable GPU: %s\n", why);
        return SKIP;
    }
    printf("GPU: %s, %.1f GiB, compute capability %d.%d\n", info.name,
           info.memory_bytes / (1024.0 * 1024.0 * 1024.0), info.cc_major, info.cc_minor);
    const char *check = argv[1];
    int rc;
    if (strcmp(check, "gradients") == 0)
        rc = check_gradients();
    else if (strcmp(check, "matches_cpu") == 0)
        rc = check_matches_cpu();
    else if (strcmp(check, "bf16") == 0)
        rc = check_bf16();
    else if (strcmp(check, "sigterm") == 0 && argc > 2)
        rc = check_sigterm(argv[2]);
    else {
        fprintf(stderr, "unknown check %s\n", check);
        return 2;
    }
    printf("%s: %s (%d failures)\n", check, rc ? "FAILED" : "passed", failures);
    return rc ? 1 : 0;
}
