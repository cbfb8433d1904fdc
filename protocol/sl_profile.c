/*
 * sl_profile.c - parsing trainer profiles and building a run's command line
 * from one (sl_profile.h).
 */
#include "sl_profile.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_proto.h"
#include "sl_text.h"

/* Placeholders beside the table's grid options: the pattern's two numbers
 * (the table's pattern is text) and the run's CUDA device count. */
static const char *const extra_placeholders[] = {"pattern_n", "pattern_m", "devices", NULL};

/* The numbers a placeholder may stand for: the run protocol's grid options
 * (every number but the pattern), its threads, and the extras above. */
static int placeholder_option(const sl_proto_option *o) {
    return o && o->type != SL_PROTO_T_PATTERN &&
           ((o->who & SL_PROTO_GRID) || o->id == SL_PROTO_THREADS);
}

int sl_profile_placeholder_known(const char *name, size_t len) {
    if (placeholder_option(sl_proto_find(name, len, 0))) return 1;
    for (size_t i = 0; extra_placeholders[i]; i++)
        if (strlen(extra_placeholders[i]) == len && !strncmp(extra_placeholders[i], name, len))
            return 1;
    return 0;
}

const char *sl_profile_placeholder_list(char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int id = 0; id < SL_PROTO_COUNT && used < cap; id++) {
        const sl_proto_option *o = sl_proto_option_at((sl_proto_id)id);
        if (placeholder_option(o))
            used += (size_t)snprintf(buf + used, cap - used, "%s{%s}", used ? " " : "", o->name);
    }
    for (size_t i = 0; extra_placeholders[i] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, " {%s}", extra_placeholders[i]);
    return buf;
}

enum { KEY_ARGV = 1, KEY_DIR = 2, KEY_BACKENDS = 4, KEY_DEVICE = 8 };

int sl_device_parse(const char *text, sl_device *out) {
    if (!text) return -1;
    if (!strcmp(text, "cpu")) {
        *out = (sl_device){SL_DEVICE_CPU, 0};
        return 0;
    }
    if (!strcmp(text, "cuda")) {
        *out = (sl_device){SL_DEVICE_CUDA, 1};
        return 0;
    }
    if (strncmp(text, "cuda:", 5) != 0) return -1;
    const char *d = text + 5;
    size_t n = strspn(d, "0123456789");
    if (n == 0 || n > 2 || d[n] || d[0] == '0') return -1;
    unsigned long c = strtoul(d, NULL, 10);
    if (c > SL_PROFILE_MAX_DEVICES) return -1;
    *out = (sl_device){SL_DEVICE_CUDA, (unsigned)c};
    return 0;
}

const char *sl_device_format(const sl_device *d, char *buf, size_t cap) {
    if (d->kind == SL_DEVICE_CUDA)
        snprintf(buf, cap, "cuda:%u", d->count);
    else
        snprintf(buf, cap, "cpu");
    return buf;
}

int sl_device_satisfies(const sl_device *has, const sl_device *needs) {
    if (needs->kind == SL_DEVICE_CPU) return 1;
    return has->kind == SL_DEVICE_CUDA && has->count >= needs->count;
}

int sl_profile_name_valid(const char *name) {
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= SL_PROFILE_NAME_MAX && name[0] >= 'a' && name[0] <= 'z' &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Text that goes into a command line, an environment or a job script: no
 * control character, quote or backslash, so that it is one single-quoted
 * shell word wherever a backend puts it. */
static int plain_text(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\'' || *p == '\\' || *p == '"') return 0;
    return sl_text_utf8_valid(s, strlen(s));
}

/* Every {name} in the template is a known placeholder, braces pair up, and
 * the program (the first word) has none. */
static int check_template(const char *t, char *err, size_t cap) {
    size_t words = 0;
    const char *p = t;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        words++;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t') {
            if (*p == '}') {
                snprintf(err, cap, "a '}' without its '{' in word %zu", words);
                return -1;
            }
            if (*p != '{') {
                p++;
                continue;
            }
            const char *close = strchr(p, '}');
            const char *blank = strpbrk(p, " \t");
            if (!close || (blank && blank < close)) {
                snprintf(err, cap, "a '{' without its '}' in word %zu", words);
                return -1;
            }
            if (!sl_profile_placeholder_known(p + 1, (size_t)(close - p - 1))) {
                char known[200];
                snprintf(err, cap, "unknown placeholder {%.*s} (known: %s)",
                         (int)(close - p - 1) > 40 ? 40 : (int)(close - p - 1), p + 1,
                         sl_profile_placeholder_list(known, sizeof known));
                return -1;
            }
            if (words == 1) {
                snprintf(err, cap, "the program (the first word) cannot hold a placeholder");
                return -1;
            }
            p = close + 1;
        }
        if (words == 1 && start[0] != '/') {
            snprintf(err, cap, "the program (the first word) must be an absolute path");
            return -1;
        }
    }
    if (words == 0) {
        snprintf(err, cap, "argv is empty");
        return -1;
    }
    if (words > SL_PROFILE_MAX_ARGS) {
        snprintf(err, cap, "argv has %zu words; at most %d", words, SL_PROFILE_MAX_ARGS);
        return -1;
    }
    return 0;
}

int sl_profile_begin(sl_profile *p, const char *name, char *err, size_t cap) {
    memset(p, 0, sizeof *p);
    if (!sl_profile_name_valid(name)) {
        snprintf(err, cap,
                 "profile name '%.40s' must be 1 to %d of a-z, 0-9, '_' and '-', starting with a "
                 "letter",
                 name, SL_PROFILE_NAME_MAX);
        return -1;
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    p->backends = SL_PROFILE_ALL;
    p->device = (sl_device){SL_DEVICE_CPU, 0};
    return 0;
}

static int set_once(sl_profile *p, unsigned bit, const char *key, char *err, size_t cap) {
    if (p->set & bit) {
        snprintf(err, cap, "profile %s: %s is set twice", p->name, key);
        return -1;
    }
    p->set |= bit;
    return 0;
}

static int parse_backends(const char *v, unsigned *out) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v);
    *out = 0;
    for (char *save = NULL, *w = strtok_r(buf, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save))
        if (!strcmp(w, "local"))
            *out |= SL_PROFILE_LOCAL;
        else if (!strcmp(w, "worker"))
            *out |= SL_PROFILE_WORKER;
        else if (!strcmp(w, "slurm"))
            *out |= SL_PROFILE_SLURM;
        else
            return -1;
    return *out ? 0 : -1;
}

int sl_profile_set(sl_profile *p, const char *key, const char *value, char *err, size_t cap) {
    if (!plain_text(value)) {
        snprintf(err, cap,
                 "profile %s: %s must be UTF-8 text without quotes, backslashes or control "
                 "characters",
                 p->name, key);
        return -1;
    }
    if (!strcmp(key, "argv")) {
        if (set_once(p, KEY_ARGV, key, err, cap)) return -1;
        if (strlen(value) >= sizeof p->argv) {
            snprintf(err, cap, "profile %s: argv is longer than %zu bytes", p->name,
                     sizeof p->argv - 1);
            return -1;
        }
        char why[200];
        if (check_template(value, why, sizeof why) != 0) {
            snprintf(err, cap, "profile %s: argv: %s", p->name, why);
            return -1;
        }
        snprintf(p->argv, sizeof p->argv, "%s", value);
    } else if (!strcmp(key, "dir")) {
        if (set_once(p, KEY_DIR, key, err, cap)) return -1;
        if (value[0] != '/' || strlen(value) >= sizeof p->dir) {
            snprintf(err, cap, "profile %s: dir must be an absolute path under %zu bytes", p->name,
                     sizeof p->dir);
            return -1;
        }
        snprintf(p->dir, sizeof p->dir, "%s", value);
    } else if (!strcmp(key, "env")) {
        const char *eq = strchr(value, '=');
        size_t klen = eq ? (size_t)(eq - value) : 0;
        if (!eq || klen == 0 ||
            strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
                klen ||
            (value[0] >= '0' && value[0] <= '9') || strlen(value) >= SL_PROFILE_ENV_MAX) {
            snprintf(err, cap,
                     "profile %s: env must be NAME=VALUE (NAME of A-Z, a-z, 0-9, '_'), "
                     "under %d bytes",
                     p->name, SL_PROFILE_ENV_MAX);
            return -1;
        }
        if (p->nenv == SL_PROFILE_MAX_ENV) {
            snprintf(err, cap, "profile %s: at most %d env lines", p->name, SL_PROFILE_MAX_ENV);
            return -1;
        }
        snprintf(p->env[p->nenv++], SL_PROFILE_ENV_MAX, "%s", value);
    } else if (!strcmp(key, "backends")) {
        if (set_once(p, KEY_BACKENDS, key, err, cap)) return -1;
        if (parse_backends(value, &p->backends) != 0) {
            snprintf(err, cap, "profile %s: backends must list local, worker and/or slurm",
                     p->name);
            return -1;
        }
    } else if (!strcmp(key, "device")) {
        if (set_once(p, KEY_DEVICE, key, err, cap)) return -1;
        if (sl_device_parse(value, &p->device) != 0) {
            snprintf(err, cap, "profile %s: device must be cpu, cuda or cuda:N (N in 1..%d)",
                     p->name, SL_PROFILE_MAX_DEVICES);
            return -1;
        }
    } else {
        snprintf(err, cap,
                 "profile %s: unknown key '%.40s' (a profile has argv, dir, env, backends, "
                 "device)",
                 p->name, key);
        return -1;
    }
    return 0;
}

int sl_profile_end(const sl_profile *p, char *err, size_t cap) {
    if (!p->argv[0]) {
        snprintf(err, cap, "profile %s has no argv", p->name);
        return -1;
    }
    char prog[SL_PROFILE_ARGV_MAX];
    snprintf(prog, sizeof prog, "%.*s", (int)strcspn(p->argv, " \t"), p->argv);
    if (access(prog, X_OK) != 0) { /* better now than in every run */
        snprintf(err, cap, "profile %s: the program %.200s cannot be run: %s", p->name, prog,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int sl_profile_header(const char *line, char *name, size_t namecap, char *err, size_t cap) {
    if (line[0] != '[') return 0;
    size_t n = strlen(line);
    if (n < 2 || line[n - 1] != ']' || strncmp(line, "[profile ", 9) != 0) {
        snprintf(err, cap, "'%.60s' is not a section header [profile NAME]", line);
        return -1;
    }
    const char *s = line + 9;
    while (*s == ' ')
        s++;
    size_t len = (size_t)(line + n - 1 - s);
    while (len && s[len - 1] == ' ')
        len--;
    snprintf(name, namecap, "%.*s", (int)len, s);
    return 1;
}

const sl_profile *sl_profile_find(const sl_profile *list, size_t n, const char *name) {
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(list[i].name, name)) return &list[i];
    return NULL;
}

int sl_profile_load_file(const char *path, sl_profile *out, size_t cap, size_t *n, char *err,
                         size_t errcap) {
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL, why[400];
    size_t lcap = 0;
    unsigned lineno = 0;
    int rc = 0, open = 0;
    while (rc == 0 && getline(&line, &lcap, f) >= 0) {
        lineno++;
        char *hash = line;
        for (; *hash; hash++) /* a comment starts a line or follows a blank */
            if (*hash == '#' && (hash == line || hash[-1] == ' ' || hash[-1] == '\t')) break;
        *hash = '\0';
        sl_text_trim_end(line);
        char *s = line + strspn(line, " \t"), name[64];
        if (!*s) continue;
        int h = sl_profile_header(s, name, sizeof name, why, sizeof why);
        if (h == 1) {
            if (open && sl_profile_end(&out[*n - 1], why, sizeof why) != 0) {
                rc = -1;
            } else if (*n == cap) {
                snprintf(why, sizeof why, "more than %zu profiles", cap);
                rc = -1;
            } else if (sl_profile_find(out, *n, name)) {
                snprintf(why, sizeof why, "profile %s is declared twice", name);
                rc = -1;
            } else {
                rc = sl_profile_begin(&out[(*n)++], name, why, sizeof why);
                open = 1;
            }
        } else if (h < 0) {
            rc = -1;
        } else {
            char *eq = strchr(s, '=');
            if (!eq || !open) {
                snprintf(why, sizeof why,
                         open ? "'%.60s' is not `key = value`"
                              : "'%.60s' is outside a [profile NAME] section",
                         s);
                rc = -1;
                continue;
            }
            *eq = '\0';
            sl_text_trim_end(s);
            rc = sl_profile_set(&out[*n - 1], s, eq + 1 + strspn(eq + 1, " \t"), why, sizeof why);
        }
    }
    if (rc == 0 && open && sl_profile_end(&out[*n - 1], why, sizeof why) != 0) rc = -1;
    if (rc != 0) snprintf(err, errcap, "%s:%u: %s", path, lineno, why);
    free(line);
    fclose(f);
    return rc;
}

int sl_profile_argv(const sl_profile *p, const sl_profile_value *vals, size_t nvals, char **argv,
                    char *buf, size_t cap, char *err, size_t errcap) {
    size_t used = 0;
    int argc = 0;
    const char *t = p->argv;
    while (*t) {
        while (*t == ' ' || *t == '\t')
            t++;
        if (!*t) break;
        if (argc == SL_PROFILE_MAX_ARGS) {
            snprintf(err, errcap, "profile %s: too many words", p->name);
            return -1;
        }
        argv[argc++] = buf + used;
        while (*t && *t != ' ' && *t != '\t') {
            const char *piece = t;
            size_t len = 1;
            if (*t == '{') {
                const char *close = strchr(t, '}');
                size_t nlen = close ? (size_t)(close - t - 1) : 0;
                const sl_profile_value *v = NULL;
                for (size_t i = 0; close && i < nvals && !v; i++)
                    if (strlen(vals[i].name) == nlen && !strncmp(vals[i].name, t + 1, nlen))
                        v = &vals[i];
                if (!v) {
                    snprintf(err, errcap, "profile %s: no value for {%.*s}", p->name,
                             (int)(nlen > 40 ? 40 : nlen), t + 1);
                    return -1;
                }
                piece = v->text;
                len = strlen(v->text);
                t = close + 1;
            } else {
                t++;
            }
            if (used + len + 1 >= cap) {
                snprintf(err, errcap, "profile %s: the command line does not fit", p->name);
                return -1;
            }
            memcpy(buf + used, piece, len);
            used += len;
        }
        buf[used++] = '\0';
    }
    argv[argc] = NULL;
    return argc;
}

size_t sl_profile_values(const sl_proto_spec *spec, unsigned devices, sl_profile_value *vals) {
    size_t n = 0;
    for (int id = 0; id < SL_PROTO_COUNT && n < SL_PROFILE_MAX_VALUES - 3; id++) {
        const sl_proto_option *o = sl_proto_option_at((sl_proto_id)id);
        if (!placeholder_option(o)) continue;
        vals[n].name = o->name;
        if (o->type == SL_PROTO_T_INT)
            snprintf(vals[n].text, sizeof vals[n].text, "%.0f", spec->value[id]);
        else
            snprintf(vals[n].text, sizeof vals[n].text, "%.17g", spec->value[id]);
        n++;
    }
    const unsigned extra[] = {spec->pattern_n, spec->pattern_m, devices};
    for (size_t i = 0; extra_placeholders[i]; i++) {
        vals[n].name = extra_placeholders[i];
        snprintf(vals[n].text, sizeof vals[n].text, "%u", extra[i]);
        n++;
    }
    return n;
}

size_t sl_profile_env(const sl_profile *p, char *const *base, char **out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; base && base[i] && k + p->nenv < cap; i++) {
        int overridden = 0;
        for (size_t e = 0; e < p->nenv && !overridden; e++)
            overridden = !strncmp(base[i], p->env[e], strcspn(p->env[e], "=") + 1);
        if (!overridden) out[k++] = base[i];
    }
    for (size_t e = 0; e < p->nenv && k < cap; e++)
        out[k++] = (char *)(uintptr_t)p->env[e]; /* execve takes char *const[] */
    out[k] = NULL;
    return k;
}
