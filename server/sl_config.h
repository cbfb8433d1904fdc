/*
 * sl_config.h - sparselawd's settings: each flag has an environment variable,
 * a `key = value` line of the --config file and a default, so the server
 * starts with no flags at all. The defaults, bounds and help live in one
 * place: the option table in sl_config.c.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>

#include "sl_profile.h"

typedef struct sl_config {
    char config_file[1024]; /* --config; "" when none was read */
    unsigned port;          /* 0: any free port (logged at start) */
    char bind[64];
    char data_dir[1024];
    unsigned threads;
    unsigned http_timeout;    /* seconds an idle connection stays open */
    unsigned max_connections; /* connections open at once */
    char token_file[1024];    /* "" when not given */
    char static_dir[1024];
    size_t max_body;              /* bytes */
    int print_routes;             /* --routes: print the route table as JSON and exit */
    unsigned fit_workers;         /* fits run at once */
    unsigned fit_attempts;        /* a fit the server stopped this often fails */
    unsigned fit_wait_ms;         /* longest ?wait=true of POST /v1/fits */
    char trainer[1024];           /* sparselaw-train of the local backend */
    char corpus[1024];            /* its --corpus; "" for the trainer's default */
    unsigned local_runs;          /* local training runs at once */
    char worker_url[1024];        /* a `sparselaw-train serve` worker; "" for none */
    char worker_token_file[1024]; /* its token; "" for SPARSELAW_WORKER_TOKEN */
    unsigned worker_runs;         /* runs sent to the worker at once (its --max-active) */
    unsigned worker_lost_after;   /* seconds a silent worker's runs wait before counting as lost */
    char slurm_url[1024];         /* slurmrestd; "" for no Slurm backend */
    char slurm_user[64];          /* the user Slurm jobs run as */
    char slurm_jwt_file[1024];    /* its JWT; "" for SPARSELAW_SLURM_JWT */
    unsigned slurm_runs;          /* jobs in Slurm at once */
    unsigned slurm_lost_after;    /* seconds an unreachable slurmrestd's runs wait before lost */
    unsigned slurm_time_limit;    /* minutes a Slurm job may run */
    char slurm_path[1024];        /* PATH of Slurm jobs */
    char report_url[1024];        /* this server as Slurm jobs reach it; "" for http://BIND:PORT */

    /* Trainers the operator declares ([profile NAME] sections of --config), what the local
     * backend and Slurm jobs have, and the throughput estimates of sweeps start from. */
    sl_profile profiles[SL_PROFILE_MAX];
    size_t nprofiles;
    char local_device[16];    /* "cpu" or "cuda:N": what local runs may use */
    sl_device local_dev;      /* local_device parsed */
    unsigned local_gflops;    /* GFLOP/s of one local run; 0: measured only */
    unsigned worker_gflops;   /* of one worker run */
    unsigned slurm_gflops;    /* of one Slurm job */
    unsigned slurm_gpus;      /* GPUs a Slurm job may ask for (--gres=gpu:N); 0: none */
    char slurm_partition[64]; /* "" for Slurm's default */
    char slurm_account[64];   /* "" for the user's default */

    /* Bounds on what one client holds: connections and the time to send a request. */
    unsigned max_connections_per_ip; /* from one client address; 0: no limit */
    unsigned header_timeout;         /* seconds to send a request's headers */
    unsigned body_timeout;           /* seconds to send its body once the headers are in */
} sl_config;

/* Defaults, then the --config file (or SPARSELAW_CONFIG), then the
 * environment, then the flags: flag > environment > file > default. Returns
 * 0, 1 after --help, --version or --options-json (exit 0), or -1 with the
 * problem printed, naming the file, line and key of a bad config line
 * (exit 2). */
int sl_config_load(sl_config *cfg, int argc, char **argv);

#endif
