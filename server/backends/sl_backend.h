/*
 * sl_backend.h - where calibration runs train. A backend starts a run from
 * its spec (numbers only), says how it stands when polled, and stops it. The
 * reference it gives back is stored with the run, so that a restarted
 * server finds the run again. One thread (the runner) calls a backend.
 */
#ifndef SL_BACKEND_H
#define SL_BACKEND_H

#include <jansson.h>
#include <stddef.h>

#include "sl_profile.h"
#include "sl_proto.h"
#include "sl_run_spec.h"

#define SL_BACKEND_REF_MAX 128

typedef enum sl_backend_state {
    SL_BACKEND_STARTING = 0, /* submitted; no training step yet */
    SL_BACKEND_RUNNING,
    SL_BACKEND_SUCCEEDED, /* result holds the trainer's result */
    SL_BACKEND_FAILED,    /* the attempt ended without one; failure says how */
} sl_backend_state;

typedef struct sl_backend_status {
    sl_backend_state state;
    sl_proto_failure failure; /* when FAILED: its class; the runner decides on a retry */
    json_t *progress;         /* {step, steps, tokens, train_loss, val_loss?, sparsity, nonzeros,
                                 tokens_per_s, evaluations: [{step, tokens, val_loss}]}; or NULL */
    json_t *result;           /* the trainer's result, when SUCCEEDED */
    char ref[SL_BACKEND_REF_MAX]; /* "" or a new reference to store (the run was found anew) */
    char reason[320];             /* why, when FAILED */
} sl_backend_status;

void sl_backend_status_free(sl_backend_status *st);

/* Shared by the backends whose trainer writes its JSON lines to a file they
 * can read: reads them into log (sl_proto_log_read) and the progress into
 * st->progress. A missing file leaves both as they were. */
void sl_backend_read_log(const char *path, sl_proto_log *log, sl_backend_status *st);
/* How an ended attempt stands from its log (sl_proto_outcome): SUCCEEDED
 * with out->result, or FAILED with the class and reason. exit_status as
 * sl_proto_outcome takes it (-1 unknown); how says how the process ended. */
void sl_backend_outcome(const sl_proto_log *log, int exit_status, const char *how,
                        sl_backend_status *out);
/* FAILED with class f and the reason. */
void sl_backend_fail(sl_backend_status *out, sl_proto_failure f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A poll the backend did not answer: its silence counts from *since (set
 * on the first one; the caller zeroes it on an answer). -1 while it is
 * shorter than lost_after (the runs stay as they are), else 0 with out
 * failed as backend_unavailable, naming who and the last problem. */
int sl_backend_unanswered(double *since, double lost_after, const char *who, const char *problem,
                          sl_backend_status *out);

typedef struct sl_backend sl_backend;
struct sl_backend {
    const char *name;    /* as in the sweep's "backend" */
    unsigned max_active; /* runs it takes at once */
    /* Its runs post their result to POST /v1/runs/{id}/report with a secret
     * the runner makes for each attempt and keeps in the store. */
    int reports;
    /* Starts attempt `attempt` of run `id` (secret: the attempt's, when the
     * backend reports, else NULL); writes the reference into ref. 0, or -1
     * with the failure class (BACKEND_UNAVAILABLE when the backend could not
     * take it: the attempt does not count) and the reason. */
    int (*submit)(sl_backend *b, long long id, long attempt, const sl_run_spec *spec,
                  const char *secret, char *ref, size_t refcap, sl_proto_failure *failure,
                  char *reason, size_t reasoncap);
    /* How the run stands; 0, or -1 when that cannot be told now. */
    int (*poll)(sl_backend *b, long long id, long attempt, const char *ref, sl_backend_status *out);
    /* Asks the run to stop; 0 once asked or when it had ended. */
    int (*cancel)(sl_backend *b, long long id, long attempt, const char *ref);
    /* Called every tick of the runner, or NULL (the local backend reaps its
     * children there, so that none stays a zombie). */
    void (*tick)(sl_backend *b);
    void (*close)(sl_backend *b);
    /* What a run can have here: the local backend's --local-device, the
     * worker's reported devices, Slurm's --slurm-gpus. */
    sl_device device;
    double gflops; /* configured GFLOP/s of one run (--*-gflops); 0: none */
    /* 1 when the backend can run profile ("" for sparselaw-train) with at
     * least *needs, which it raises to what the profile itself needs; else
     * with why 0 (it has no such profile, or the profile may not run here)
     * or -1 (it has too little device). Called from HTTP threads, beside
     * the runner. */
    int (*can_run)(sl_backend *b, const char *profile, sl_device *needs, char *why, size_t cap);
    /* What can_run goes by now, for GET /v1/backends: *has gets the device,
     * out[0..cap) the trainer profiles that may run here (their name and
     * device), problem why the backend cannot say all it has ("" when it
     * can); returns how many profiles. Called from HTTP threads too. */
    size_t (*offers)(sl_backend *b, sl_device *has, sl_profile *out, size_t cap, char *problem,
                     size_t pcap);
};

/* can_run over a list of the operator's profiles: profile must be in it
 * (or "") and allow the backend (bit, SL_PROFILE_*), and has must satisfy
 * the run's needs raised to the profile's. Answers as can_run. */
int sl_backend_profiles_can_run(const sl_profile *list, size_t n, unsigned bit, const char *name,
                                const sl_device *has, const char *profile, sl_device *needs,
                                char *why, size_t cap);

/* offers over a list of the operator's profiles: copies those that allow
 * the backend (bit, SL_PROFILE_*) into out[0..cap) and returns how many. */
size_t sl_backend_profiles_offered(const sl_profile *list, size_t n, unsigned bit, sl_profile *out,
                                   size_t cap);

/* The placeholder values of a run (sl_profile_values of its protocol spec),
 * threads being this many when the sweep gave none. Fills vals (room for
 * SL_PROFILE_MAX_VALUES) and returns how many. */
size_t sl_backend_profile_values(const sl_run_spec *spec, unsigned threads, sl_profile_value *vals);

/* sparselaw-train as a child process of the server: trainer is its path,
 * corpus the --corpus path ("" for the trainer's default), dir where each
 * attempt's JSON lines go (created if absent), max_active the concurrency
 * limit. NULL with the reason in err. */
sl_backend *sl_backend_local_new(const char *trainer, const char *corpus, const char *dir,
                                 unsigned max_active, char *err, size_t errcap);
/* The local backend's trainer profiles (the config's; they outlive it), the
 * device its runs may use and its configured GFLOP/s of one run. */
void sl_backend_local_set_profiles(sl_backend *b, const sl_profile *profiles, size_t n,
                                   const sl_device *device, double gflops);

/* 0 when the trainer can read corpus as it does: a readable file that is not
 * empty, or a directory with a readable *.txt file. -1 with the reason in why. Checked
 * before a local sweep is accepted, so that its runs do not all fail. */
int sl_backend_local_corpus_check(const char *corpus, char *why, size_t cap);

#endif
