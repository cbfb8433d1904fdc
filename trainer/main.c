/*
 * main.c - sparselaw-train, the reference sparse trainer.
 *
 * Parses the flags, installs SIGINT/SIGTERM handlers that ask the run to
 * stop after the current step (a second signal ends the process at once),
 * and maps the run's status to the exit code: 0 completed, 1 diverged or out
 * of memory, 2 bad flags, unreadable corpus or an unusable --device, 128 +
 * signal when stopped.
 * JSON lines go to stdout; messages and the human progress line to stderr.
 * `sparselaw-train serve ...` runs the HTTP worker instead (sl_train_serve.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sl_train_run.h"
#include "sl_train_serve.h"

#ifndef SL_VERSION
#define SL_VERSION "0.1.0"
#endif

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) {
    if (stop_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

int main(int argc, char **argv) {
    const char *prog = "sparselaw-train";
    if (argc > 1 && strcmp(argv[1], "serve") == 0) return sl_train_serve_main(argc - 1, argv + 1);
    sl_train_options o;
    char err[1024];
    sl_train_options_default(&o);
    if (sl_train_options_parse(&o, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        sl_train_json_error(stdout, "usage", err);
        return 2;
    }
    if (o.help) {
        sl_train_usage(stdout, prog);
        return 0;
    }
    if (o.version) {
        printf("%s %s\n", prog, SL_VERSION);
        return 0;
    }
    FILE *human = o.progress == 1 || (o.progress < 0 && isatty(STDERR_FILENO)) ? stderr : NULL;
    if (o.dry_run) {
        sl_train_dry_run(&o, stdout, human);
        return 0;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    sl_train_hooks hooks = {.stop = &stop_signal};
    sl_train_result res;
    switch (sl_train_run(&o, stdout, human, &hooks, &res, err, sizeof err)) {
    case SL_TRAIN_COMPLETED: return 0;
    case SL_TRAIN_INTERRUPTED: return 128 + (int)stop_signal;
    case SL_TRAIN_DIVERGED:
        fprintf(stderr, "%s: training diverged (non-finite loss) after step %ld\n", prog,
                res.steps);
        return 1;
    case SL_TRAIN_EUSAGE:
        fprintf(stderr, "%s: %s\n", prog, err);
        sl_train_json_error(stdout, "corpus", err);
        return 2;
    case SL_TRAIN_ENOMEM:
        fprintf(stderr, "%s: %s\n", prog, err);
        sl_train_json_error(stdout, "memory", err);
        return 1;
    case SL_TRAIN_EDEVICE:
        fprintf(stderr, "%s: %s\n", prog, err);
        sl_train_json_error(stdout, "device", err);
        return 2;
    }
    return 1;
}
