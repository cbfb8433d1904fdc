/*
 * fuzz_events.c - libFuzzer harness of the server's reading of the
 * trainer's JSON-lines events (server/backends/sl_backend.c): the log of a
 * run as sl_backend_read_log reads it (the local and Slurm backends), then
 * how the run stands from its result or error (sl_backend_outcome).
 *
 * Input: the log file, as the trainer (or anything that writes to its file)
 * left it; its last line may be cut. It is read from an unlinked temporary
 * file through /proc/self/fd, since the reader takes a path.
 *
 * Properties: the progress, when there is one, holds only the fields kept
 * and an array of evaluations, each with a numeric val_loss; the result has
 * no "event" member and a status; the error has a code and a message; the
 * outcome is a failure class with a reason, or the result itself when the
 * run completed.
 */
#include "sl_fuzz.h"

#include <string.h>
#include <unistd.h>

#include "sl_backend.h"

static FILE *log_file;
static char log_path[64];

static void write_log(const uint8_t *data, size_t size) {
    if (!log_file) {
        log_file = tmpfile(); /* already unlinked: nothing is left behind */
        SL_FUZZ_CHECK(log_file != NULL, "no temporary file");
        snprintf(log_path, sizeof log_path, "/proc/self/fd/%d", fileno(log_file));
    }
    int fd = fileno(log_file);
    SL_FUZZ_CHECK(ftruncate(fd, 0) == 0, "cannot truncate the log");
    for (size_t off = 0; off < size;) {
        ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);
        SL_FUZZ_CHECK(n > 0, "cannot write the log");
        off += (size_t)n;
    }
}

/* A member the reader keeps: a progress field of the protocol's table, or
 * the evaluations it adds. */
static int kept(const char *key) {
    size_t n;
    const sl_proto_field *f = sl_proto_fields(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].event, "progress") && !strcmp(f[i].name, key)) return 1;
    return !strcmp(key, "evaluations");
}

static void check_progress(json_t *progress) {
    SL_FUZZ_CHECK(json_is_object(progress), "the progress is not an object");
    const char *key;
    json_t *v;
    json_object_foreach(progress, key, v) {
        SL_FUZZ_CHECK(kept(key), "the progress keeps '%s'", key);
        SL_FUZZ_CHECK(!strcmp(key, "evaluations") || json_is_number(v), "%s is not a number", key);
    }
    json_t *evals = json_object_get(progress, "evaluations");
    SL_FUZZ_CHECK(json_is_array(evals), "the progress has no evaluations");
    size_t i;
    json_array_foreach(evals, i, v) {
        SL_FUZZ_CHECK(json_is_object(v) && json_is_number(json_object_get(v, "val_loss")),
                      "evaluation %zu", i);
    }
    json_t *val = json_object_get(progress, "val_loss");
    SL_FUZZ_CHECK(!val || json_is_number(val), "val_loss is not a number");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    write_log(data, size);
    sl_backend_status st;
    memset(&st, 0, sizeof st);
    sl_proto_log log;
    sl_proto_log_init(&log);
    sl_backend_read_log(log_path, &log, &st);

    SL_FUZZ_CHECK(log.started == 0 || log.started == 1, "started %d", log.started);
    SL_FUZZ_CHECK(st.result == NULL, "the reader set a result in the status");
    if (st.progress) check_progress(st.progress);
    if (log.result)
        SL_FUZZ_CHECK(json_is_object(log.result) && !json_object_get(log.result, "event") &&
                          json_is_string(json_object_get(log.result, "status")),
                      "the result keeps its event, or has no status");
    if (log.error)
        SL_FUZZ_CHECK(json_is_string(json_object_get(log.error, "code")) &&
                          json_is_string(json_object_get(log.error, "message")),
                      "the error has no code or message");

    sl_backend_status out;
    memset(&out, 0, sizeof out);
    sl_backend_outcome(&log, 1, "exit status 1", &out);
    SL_FUZZ_CHECK(out.state == SL_BACKEND_SUCCEEDED || out.state == SL_BACKEND_FAILED, "state %d",
                  out.state);
    SL_FUZZ_CHECK((unsigned)out.failure < SL_PROTO_FAILURE_COUNT, "failure %d", out.failure);
    if (out.state == SL_BACKEND_SUCCEEDED)
        SL_FUZZ_CHECK(out.result == log.result && out.reason[0] == '\0' &&
                          out.failure == SL_PROTO_SUCCEEDED,
                      "completed, but no result");
    else
        SL_FUZZ_CHECK(out.result == NULL && out.reason[0] != '\0', "ended without a reason");
    SL_FUZZ_CHECK(memchr(out.reason, '\0', sizeof out.reason) != NULL, "reason not terminated");
    /* The reason is stored with the run and shown in its answers. */
    json_t *reason = json_string(out.reason);
    SL_FUZZ_CHECK(reason != NULL, "the reason is not UTF-8: %s", out.reason);
    json_decref(reason);

    sl_backend_status_free(&out);
    sl_backend_status_free(&st);
    sl_proto_log_free(&log);
    return 0;
}
