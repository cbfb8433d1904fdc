/*
 * sl_profile.h - trainer profiles: a trainer an operator declares in a
 * config file, so that calibration runs can train with the operator's own
 * code; the process speaks the run protocol's JSON lines (sl_proto.h,
 * docs/trainer-protocol.md). Shared by sparselawd (its --config) and
 * `sparselaw-train serve` (its --profiles).
 *
 *     [profile torch]
 *     argv = /usr/bin/python3 examples/torch_trainer.py --width={width} --seed={seed}
 *     dir = /srv/sparselaw          # working directory (optional)
 *     env = OMP_NUM_THREADS=2       # one variable a line (optional, repeatable)
 *     backends = local worker slurm # which backends may run it (default: all)
 *     device = cuda:1               # what a run needs: cpu (default) or cuda:N
 *
 * The argv template is words split at blanks; a word may hold placeholders
 * {name} from the fixed list below, each replaced by a number the server
 * validated. Nothing a client sends is ever text in a command line: a
 * client names a profile, and the operator's file says what it runs.
 */
#ifndef SL_PROFILE_H
#define SL_PROFILE_H

#include <stddef.h>

#define SL_PROFILE_NAME_MAX    32 /* [a-z0-9_-], starting with a letter */
#define SL_PROFILE_MAX         8  /* profiles in one file */
#define SL_PROFILE_ARGV_MAX    2048
#define SL_PROFILE_MAX_ARGS    64
#define SL_PROFILE_MAX_ENV     16
#define SL_PROFILE_ENV_MAX     256
#define SL_PROFILE_MAX_DEVICES 64

/* The backends a profile may name in `backends`, as bits. */
#define SL_PROFILE_LOCAL  1u
#define SL_PROFILE_WORKER 2u
#define SL_PROFILE_SLURM  4u
#define SL_PROFILE_ALL    7u

/* What a run needs, or what a backend has: CPU only, or count CUDA devices. */
typedef enum sl_device_kind { SL_DEVICE_CPU = 0, SL_DEVICE_CUDA = 1 } sl_device_kind;
typedef struct sl_device {
    sl_device_kind kind;
    unsigned count; /* CUDA devices; 0 for cpu */
} sl_device;

/* "cpu", "cuda" (one device) or "cuda:N" (N in 1..SL_PROFILE_MAX_DEVICES;
 * "cuda:0" is refused: it is no CUDA device at all). 0, or -1. */
int sl_device_parse(const char *text, sl_device *out);
/* "cpu" or "cuda:N" into buf. */
const char *sl_device_format(const sl_device *d, char *buf, size_t cap);
/* 1 when what has can run what needs asks for. */
int sl_device_satisfies(const sl_device *has, const sl_device *needs);

typedef struct sl_profile {
    char name[SL_PROFILE_NAME_MAX + 1];
    char argv[SL_PROFILE_ARGV_MAX]; /* the template, as written */
    char dir[1024];                 /* "" for the caller's own */
    char env[SL_PROFILE_MAX_ENV][SL_PROFILE_ENV_MAX];
    size_t nenv;
    unsigned backends; /* SL_PROFILE_* bits */
    sl_device device;
    unsigned set; /* which keys a file line set, to refuse one set twice */
} sl_profile;

/* Whether the len bytes at name are a placeholder a template may use: the
 * run protocol's grid options that are numbers (layers, width, heads,
 * sparsity, tokens, seed), its threads, the pattern's pattern_n and
 * pattern_m (0 and 0 when unstructured) and devices (the run's CUDA device
 * count, 0 on a CPU). */
int sl_profile_placeholder_known(const char *name, size_t len);
/* Those names as "{layers} {width} ..." into buf, for messages and docs. */
const char *sl_profile_placeholder_list(char *buf, size_t cap);

/* 1 when name is a valid profile name. */
int sl_profile_name_valid(const char *name);

/* Starts a profile from a section header's name; 0, or -1 with why. */
int sl_profile_begin(sl_profile *p, const char *name, char *err, size_t cap);
/* Applies one `key = value` line of a profile section (argv, dir, env,
 * backends, device); 0, or -1 with why (unknown key, bad value, a key other
 * than env set twice, an unknown placeholder). */
int sl_profile_set(sl_profile *p, const char *key, const char *value, char *err, size_t cap);
/* Checks a finished section (it has an argv); 0, or -1 with why. */
int sl_profile_end(const sl_profile *p, char *err, size_t cap);

/* "[profile NAME]" (blanks trimmed): 1 with the name copied, 0 when line is
 * no section header, -1 when it is a malformed one (why in err). */
int sl_profile_header(const char *line, char *name, size_t namecap, char *err, size_t cap);

/* Reads a file of profile sections alone (blank lines and `#` comments
 * allowed) into out[0..cap); *n gets how many. 0, or -1 with FILE:LINE and
 * why in err. */
int sl_profile_load_file(const char *path, sl_profile *out, size_t cap, size_t *n, char *err,
                         size_t errcap);

/* One placeholder's value, already formatted (a number). */
typedef struct sl_profile_value {
    const char *name;
    char text[40];
} sl_profile_value;

/* The command line of one run: the template's words with each placeholder
 * replaced by its value in vals. Words go into buf (cap bytes), argv gets
 * pointers into it and a final NULL (room for SL_PROFILE_MAX_ARGS + 1).
 * Returns argc, or -1 with why (a placeholder without a value, no room). */
int sl_profile_argv(const sl_profile *p, const sl_profile_value *vals, size_t nvals, char **argv,
                    char *buf, size_t cap, char *err, size_t errcap);

struct sl_proto_spec;
/* The placeholder values of a run from its protocol spec (every grid number,
 * threads, the pattern's n and m) and its CUDA device count; fills vals
 * (room for SL_PROFILE_MAX_VALUES) and returns how many. */
#define SL_PROFILE_MAX_VALUES 16
size_t sl_profile_values(const struct sl_proto_spec *spec, unsigned devices,
                         sl_profile_value *vals);

/* A run's environment: base (the caller's environ) without the variables
 * the profile sets, then the profile's env lines. out has room for cap
 * pointers and a final NULL; the entries point into base and p. Returns how
 * many (base entries past the room are left out). */
size_t sl_profile_env(const sl_profile *p, char *const *base, char **out, size_t cap);

/* The profile of that name in list[0..n), or NULL. */
const sl_profile *sl_profile_find(const sl_profile *list, size_t n, const char *name);

#endif
