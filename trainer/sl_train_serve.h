/*
 * sl_train_serve.h - `sparselaw-train serve`: the trainer as an HTTP worker,
 * the way a GPU machine takes calibration runs from the server.
 *
 *   sparselaw-train serve --port P [--bind ADDR] [--token-file F]
 *                         [--max-active N] [--corpus PATH] [--dir DIR]
 *                         [--profiles FILE] [--device cpu|cuda:N]
 *
 *   POST   /v1/train       {layers?, width?, ..., pattern?: "n:m"} -> 201 {id, state}
 *                           (the run protocol's options, docs/trainer-protocol.md)
 *   GET    /v1/train/{id}  {id, state: running|succeeded|failed|cancelled, started,
 *                           progress, evaluations, result, reason, failure?, retryable?}
 *                           (failure: the protocol's class of a failed run)
 *   DELETE /v1/train/{id}  stops the run (SIGTERM); state cancelled
 *   GET    /v1/info        {device, devices, cores, memory_bytes, max_active, active,
 *                           profiles: [{name, device}]}
 *   GET    /healthz        {status, active, max_active} (no token)
 *
 * Every /v1 request needs `Authorization: Bearer <token>` (the token from
 * --token-file or SPARSELAW_WORKER_TOKEN; the worker refuses to start
 * without one). The body holds numbers and the pattern only: no client text
 * reaches the command line, and the corpus is the worker's own; with
 * "profile" the run is one of --profiles' trainers (sl_profile.h), its
 * argv template filled with the body's numbers. Each run is
 * a child process of this binary writing its JSON lines to DIR/<id>.jsonl.
 * The worker keeps its runs in memory: a restarted worker answers 404 for
 * the runs of the one before. SIGTERM stops the worker: new runs are
 * refused, running ones are asked to stop and waited for, then it exits 0.
 */
#ifndef SL_TRAIN_SERVE_H
#define SL_TRAIN_SERVE_H

/* argv[0] is "serve". Returns the process exit status: 0 after a clean
 * stop, 2 for bad flags or a missing token, 1 when it cannot listen. */
int sl_train_serve_main(int argc, char **argv);

#endif
