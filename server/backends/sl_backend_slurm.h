/*
 * sl_backend_slurm.h - the Slurm backend: each calibration run is a batch job
 * submitted through slurmrestd (REST API v0.0.38, JWT). The job runs
 * sparselaw-train with its JSON lines in a file under the backend's
 * directory, then posts the result event to the server's POST
 * /v1/runs/{id}/report with a per-attempt secret (made and kept by the
 * runner: this backend never touches the store). The run's reference is
 * the Slurm job id; the secret is never in the reference.
 */
#ifndef SL_BACKEND_SLURM_H
#define SL_BACKEND_SLURM_H

#include <stddef.h>

#include "sl_backend.h"

/* The REST API version: Slurm 22.05 serves v0.0.38 only; newer releases
 * serve newer versions with other job fields. The one place it is named. */
#define SL_SLURM_API "v0.0.38"

typedef struct sl_slurm_options {
    const char *url;            /* http://HOST:PORT of slurmrestd (a trailing '/' is dropped) */
    const char *user;           /* X-SLURM-USER-NAME: the user the jobs run as */
    const char *jwt;            /* the token itself, or NULL when jwt_file is given */
    const char *jwt_file;       /* read again before each request (tokens expire); or NULL */
    const char *trainer;        /* sparselaw-train, a path the Slurm node can run */
    const char *corpus;         /* its --corpus, or "" for the trainer's default */
    const char *dir;            /* where jobs write their files; created, shared with the node */
    const char *report_url;     /* http://HOST:PORT of this server as the jobs reach it, or ""
                                   until sl_backend_slurm_set_report_url */
    const char *path;           /* PATH of the jobs (their curl posts the result) */
    unsigned max_active;        /* jobs in Slurm at once */
    unsigned time_limit;        /* minutes a job may run (> 0) */
    double lost_after;          /* seconds (> 0) slurmrestd may stay unreachable (or answer
                                   nonsense) before a run's job counts as lost; until then a
                                   poll answers "cannot tell now" */
    const sl_profile *profiles; /* the operator's trainer profiles (outlive the backend) */
    size_t nprofiles;
    unsigned gpus;         /* GPUs a job may ask for (--gres=gpu:N); 0: none */
    const char *partition; /* "" or NULL: Slurm's default */
    const char *account;   /* "" or NULL: the user's default */
    double gflops;         /* configured GFLOP/s of one job; 0: none */
} sl_slurm_options;

/* The backend, or NULL with the reason in err. Every path and URL that goes
 * into a job script is checked here (absolute, no quote or control
 * character); the script holds nothing else but numbers and the secret.
 * Calls curl_global_init, so create it before other threads use libcurl. */
sl_backend *sl_backend_slurm_new(const sl_slurm_options *opts, char *err, size_t errcap);

/* Sets the URL jobs post their result to (once the server knows its port).
 * 0, or -1 when the URL is not http(s)://HOST[:PORT][/PATH] of safe
 * characters. Safe while the runner runs. */
int sl_backend_slurm_set_report_url(sl_backend *b, const char *url);

#endif
