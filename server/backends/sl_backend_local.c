/*
 * sl_backend_local.c - the local backend: sparselaw-train as a child process.
 *
 * The command line is built from the run spec's numbers and the configured
 * paths only, and started with posix_spawn (no shell). The child writes its
 * JSON lines to DIR/run-<id>-<attempt>.jsonl, so progress and the result are
 * read from a file that outlives the server: a restarted server finds the
 * process again by pid and start time (the reference "pid:<pid>:<start>"),
 * or learns from the file how it ended while the server was away.
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np: a profile's working directory */
#include "sl_backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sl_text.h"

extern char **environ;

/* A child this server started: exited once reaped. */
typedef struct child {
    pid_t pid;
    int exited, status;
    int forget; /* cancelled: drop the entry once reaped */
} child;

typedef struct local {
    sl_backend base;
    char trainer[1024], corpus[1024], dir[1024];
    const sl_profile *profiles; /* the config's */
    size_t nprofiles;
    unsigned cores;
    child *children;
    size_t nchildren, cap;
} local;

static void log_path(const local *l, long long id, long attempt, const char *ext, char *buf,
                     size_t cap) {
    snprintf(buf, cap, "%s/run-%lld-%ld.%s", l->dir, id, attempt, ext);
}

static child *find_child(local *l, pid_t pid) {
    for (size_t i = 0; i < l->nchildren; i++)
        if (l->children[i].pid == pid) return &l->children[i];
    return NULL;
}

static void drop_child(local *l, pid_t pid) {
    child *c = find_child(l, pid);
    if (c) *c = l->children[--l->nchildren];
}

/* Collects every child that has exited, so none stays a zombie. */
static void reap(local *l) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        child *c = find_child(l, pid);
        if (!c) continue;
        if (c->forget) {
            drop_child(l, pid);
        } else {
            c->exited = 1;
            c->status = status;
        }
    }
}

/* The process's state letter and start time (clock ticks after boot) from
 * /proc; -1 when there is no such process. */
static int proc_stat(pid_t pid, char *state, unsigned long long *start) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ') return -1;
    *state = p[2];
    p += 2;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    if (!p) return -1;
    *start = strtoull(p, NULL, 10);
    return 0;
}

static int parse_ref(const char *ref, pid_t *pid, unsigned long long *start) {
    long long p;
    unsigned long long s;
    char tail;
    if (!ref || sscanf(ref, "pid:%lld:%llu%c", &p, &s, &tail) != 2 || p < 2) return -1;
    *pid = (pid_t)p;
    *start = s;
    return 0;
}

/* Whether the referenced process is still running: a pid alone could have
 * been reused since, so the start time must match too. */
static int alive(local *l, pid_t pid, unsigned long long start, child **mine) {
    *mine = find_child(l, pid);
    if (*mine) return !(*mine)->exited;
    char state;
    unsigned long long t;
    if (proc_stat(pid, &state, &t) != 0 || t != start) return 0;
    return state != 'Z' && state != 'X';
}

/* The trainer process whose stdout is the file at path, if one is running:
 * finds the run of a server that stopped between starting the process and
 * storing its reference. */
static pid_t find_by_log(const char *path) {
    DIR *d = opendir("/proc");
    pid_t found = 0;
    if (!d) return 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char link[64], target[1100];
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        snprintf(link, sizeof link, "/proc/%.16s/fd/1", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        if (strcmp(target, path) == 0) found = (pid_t)atol(e->d_name);
    }
    closedir(d);
    return found;
}

/* The trainer's command line: the run spec by the protocol, with the
 * server's share of its cores and its own paths. */
static void build_argv(local *l, const sl_run_spec *spec, sl_proto_command *c) {
    sl_proto_spec full;
    sl_run_spec_proto(spec, &full);
    sl_proto_command_build(&full, l->trainer, l->cores / l->base.max_active, l->corpus, c);
}

/* A profile's command line, environment (the server's and the profile's
 * lines, which win) and working directory. 0, or -1 with the reason. */
typedef struct profile_cmd {
    char *argv[SL_PROFILE_MAX_ARGS + 1];
    char words[SL_PROFILE_ARGV_MAX + 1024];
    char **envp;
} profile_cmd;

static int profile_command(local *l, const sl_profile *p, const sl_run_spec *spec, profile_cmd *c,
                           char *reason, size_t cap) {
    sl_profile_value vals[SL_PROFILE_MAX_VALUES];
    size_t nv = sl_backend_profile_values(spec, l->cores / l->base.max_active, vals);
    if (sl_profile_argv(p, vals, nv, c->argv, c->words, sizeof c->words, reason, cap) < 0)
        return -1;
    size_t n = 0;
    while (environ[n])
        n++;
    c->envp = calloc(n + p->nenv + 1, sizeof *c->envp);
    if (!c->envp) abort();
    sl_profile_env(p, environ, c->envp, n + p->nenv);
    return 0;
}

static int local_submit(sl_backend *b, long long id, long attempt, const sl_run_spec *spec,
                        const char *secret, char *ref, size_t refcap, sl_proto_failure *failure,
                        char *reason, size_t reasoncap) {
    local *l = (local *)b;
    (void)secret;
    sl_proto_command cmd;
    char **argv = cmd.argv, **envp = environ;
    char out_path[1200], err_path[1200];
    const sl_profile *profile = NULL;
    profile_cmd *pc = NULL;
    *failure = SL_PROTO_REFUSED; /* a profile this server cannot run: a retry repeats it */
    if (spec->profile[0]) {
        profile = sl_profile_find(l->profiles, l->nprofiles, spec->profile);
        if (!profile) {
            snprintf(reason, reasoncap, "this server has no trainer profile '%s'", spec->profile);
            return -1;
        }
        pc = calloc(1, sizeof *pc);
        if (!pc) abort();
        if (profile_command(l, profile, spec, pc, reason, reasoncap) != 0) {
            free(pc);
            return -1;
        }
        argv = pc->argv;
        envp = pc->envp;
    } else {
        build_argv(l, spec, &cmd);
    }
    *failure = SL_PROTO_LOST;
    log_path(l, id, attempt, "jsonl", out_path, sizeof out_path);
    log_path(l, id, attempt, "stderr", err_path, sizeof err_path);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = out >= 0 ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    if (out < 0 || err < 0) {
        snprintf(reason, reasoncap, "cannot create the run's log %s: %s", out_path,
                 strerror(errno));
        if (out >= 0) close(out);
        if (pc) free(pc->envp);
        free(pc);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    if (profile && profile->dir[0]) posix_spawn_file_actions_addchdir_np(&fa, profile->dir);
    posix_spawnattr_init(&attr);
    /* The server blocks SIGTERM in every thread and ignores SIGPIPE; the
     * trainer needs both back (SIGTERM is how a cancel stops it). Its own
     * process group keeps a signal to the server's group off it: it runs
     * on when the server stops, and a restarted server finds it again. */
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(out);
    close(err);
    if (rc != 0) { /* a retry would not find it either */
        *failure = SL_PROTO_REFUSED;
        snprintf(reason, reasoncap, "cannot start the trainer %.200s: %s", argv[0], strerror(rc));
    }
    if (pc) free(pc->envp);
    free(pc);
    if (rc != 0) return -1;
    if (l->nchildren == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->children = realloc(l->children, l->cap * sizeof *l->children);
        if (!l->children) abort();
    }
    l->children[l->nchildren++] = (child){pid, 0, 0, 0};
    char state;
    unsigned long long start = 0;
    proc_stat(pid, &state, &start); /* not reaped yet: /proc has it */
    snprintf(ref, refcap, "pid:%d:%llu", (int)pid, start);
    return 0;
}

/* The child's exit code as a shell reports it (128 + n for signal n), or -1. */
static int exit_code(const child *c) {
    if (!c) return -1;
    if (WIFSIGNALED(c->status)) return 128 + WTERMSIG(c->status);
    return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
}

static void describe_exit(const child *c, char *buf, size_t cap) {
    if (!c)
        snprintf(buf, cap, "while the server was away");
    else if (WIFSIGNALED(c->status))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(c->status));
    else
        snprintf(buf, cap, "exit status %d", WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1);
}

static int local_poll(sl_backend *b, long long id, long attempt, const char *ref,
                      sl_backend_status *out) {
    local *l = (local *)b;
    char path[1200];
    memset(out, 0, sizeof *out);
    reap(l);
    log_path(l, id, attempt, "jsonl", path, sizeof path);
    pid_t pid = 0;
    unsigned long long start = 0;
    child *mine = NULL;
    int running;
    if (parse_ref(ref, &pid, &start) == 0) {
        running = alive(l, pid, start, &mine);
    } else {
        char state;
        pid = find_by_log(path);
        running = pid > 0 && proc_stat(pid, &state, &start) == 0;
        if (running) snprintf(out->ref, sizeof out->ref, "pid:%d:%llu", (int)pid, start);
    }
    sl_proto_log log;
    sl_proto_log_init(&log);
    sl_backend_read_log(path, &log, out);
    if (running) {
        out->state = out->progress || log.started ? SL_BACKEND_RUNNING : SL_BACKEND_STARTING;
    } else {
        char how[64];
        describe_exit(mine, how, sizeof how);
        sl_backend_outcome(&log, exit_code(mine), how, out);
        if (mine) drop_child(l, mine->pid);
    }
    sl_proto_log_free(&log);
    return 0;
}

static int local_cancel(sl_backend *b, long long id, long attempt, const char *ref) {
    local *l = (local *)b;
    (void)id;
    (void)attempt;
    pid_t pid;
    unsigned long long start;
    child *mine = NULL;
    reap(l);
    if (parse_ref(ref, &pid, &start) != 0) return 0;
    if (alive(l, pid, start, &mine)) {
        /* The trainer stops after the current step and writes its result. */
        if (kill(pid, SIGTERM) != 0 && errno != ESRCH) return -1;
        if (mine) mine->forget = 1;
    } else if (mine) {
        drop_child(l, pid);
    }
    return 0;
}

static int local_can_run(sl_backend *b, const char *profile, sl_device *needs, char *why,
                         size_t cap) {
    local *l = (local *)b;
    return sl_backend_profiles_can_run(l->profiles, l->nprofiles, SL_PROFILE_LOCAL, b->name,
                                       &b->device, profile, needs, why, cap);
}

static size_t local_offers(sl_backend *b, sl_device *has, sl_profile *out, size_t cap,
                           char *problem, size_t pcap) {
    local *l = (local *)b;
    *has = b->device;
    if (pcap) problem[0] = '\0';
    return sl_backend_profiles_offered(l->profiles, l->nprofiles, SL_PROFILE_LOCAL, out, cap);
}

void sl_backend_local_set_profiles(sl_backend *b, const sl_profile *profiles, size_t n,
                                   const sl_device *device, double gflops) {
    local *l = (local *)b;
    l->profiles = profiles;
    l->nprofiles = n;
    b->device = *device;
    b->gflops = gflops;
}

static void local_tick(sl_backend *b) {
    reap((local *)b);
}

static void local_close(sl_backend *b) {
    local *l = (local *)b;
    free(l->children);
    free(l);
}

int sl_backend_local_corpus_check(const char *corpus, char *why, size_t cap) {
    struct stat st;
    if (!corpus[0] || stat(corpus, &st) != 0) {
        snprintf(why, cap, "the corpus %s does not exist", corpus[0] ? corpus : "(none set)");
        return -1;
    }
    if (S_ISREG(st.st_mode)) {
        if (st.st_size == 0) {
            snprintf(why, cap, "the corpus %s is empty", corpus);
            return -1;
        }
        if (access(corpus, R_OK) == 0) return 0;
        snprintf(why, cap, "the corpus %s cannot be read: %s", corpus, strerror(errno));
        return -1;
    }
    DIR *d = S_ISDIR(st.st_mode) ? opendir(corpus) : NULL;
    if (!d) {
        snprintf(why, cap, "the corpus %s is neither a readable file nor a readable directory",
                 corpus);
        return -1;
    }
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d)) != NULL;) {
        if (!sl_text_ends_with(e->d_name, ".txt")) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", corpus, e->d_name);
        found = access(path, R_OK) == 0;
    }
    closedir(d);
    if (!found) snprintf(why, cap, "the corpus directory %s holds no readable .txt file", corpus);
    return found ? 0 : -1;
}

sl_backend *sl_backend_local_new(const char *trainer, const char *corpus, const char *dir,
                                 unsigned max_active, char *err, size_t errcap) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create the run directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    local *l = calloc(1, sizeof *l);
    if (!l) abort();
    /* Absolute, as /proc/PID/fd/1 names it (find_by_log compares them). */
    char *abs_dir = realpath(dir, NULL);
    if (!abs_dir || strlen(abs_dir) >= sizeof l->dir || strlen(trainer) >= sizeof l->trainer ||
        strlen(corpus) >= sizeof l->corpus) {
        snprintf(err, errcap, "cannot resolve the run directory %s", dir);
        free(abs_dir);
        free(l);
        return NULL;
    }
    snprintf(l->dir, sizeof l->dir, "%s", abs_dir);
    free(abs_dir);
    snprintf(l->trainer, sizeof l->trainer, "%s", trainer);
    snprintf(l->corpus, sizeof l->corpus, "%s", corpus);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    l->cores = cores > 0 ? (unsigned)cores : 1;
    l->base.name = sl_backend_kind_name(SL_BACKEND_LOCAL);
    l->base.max_active = max_active ? max_active : 1;
    l->base.submit = local_submit;
    l->base.poll = local_poll;
    l->base.cancel = local_cancel;
    l->base.tick = local_tick;
    l->base.close = local_close;
    l->base.can_run = local_can_run;
    l->base.offers = local_offers;
    return &l->base;
}
