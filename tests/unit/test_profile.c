/*
 * test_profile.c - trainer profiles (protocol/sl_profile.h): parsing a
 * profile's keys, the placeholders a template may hold, building a run's
 * command line from one, and devices.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sl_profile.h"
#include "sl_proto.h"

static sl_profile make(const char *argv) {
    sl_profile p;
    char err[400];
    cr_assert_eq(sl_profile_begin(&p, "t", err, sizeof err), 0, "%s", err);
    cr_assert_eq(sl_profile_set(&p, "argv", argv, err, sizeof err), 0, "%s", err);
    return p;
}

Test(profile, placeholders_are_the_tables_numbers) {
    const char *known[] = {"width", "layers",  "heads",     "sparsity",  "tokens",
                           "seed",  "threads", "pattern_n", "pattern_m", "devices"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        cr_assert(sl_profile_placeholder_known(known[i], strlen(known[i])), "%s", known[i]);
    /* text options, sweep options other than threads, and names that are none */
    const char *unknown[] = {"pattern", "lr", "context", "corpus", "device", "argv", "", "Width"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        cr_assert(!sl_profile_placeholder_known(unknown[i], strlen(unknown[i])), "%s", unknown[i]);
    char list[200];
    cr_assert(strstr(sl_profile_placeholder_list(list, sizeof list), "{width}"));
    cr_assert(strstr(list, "{devices}"));
}

Test(profile, argv_is_built_from_numbers_only) {
    sl_profile p = make("/bin/echo  --w={width} x{layers}y{seed} {sparsity}   plain");
    sl_proto_spec spec;
    sl_proto_spec_init(&spec);
    char err[200];
    cr_assert_eq(sl_proto_set(&spec, SL_PROTO_WIDTH, 64, NULL, err, sizeof err), 0);
    cr_assert_eq(sl_proto_set(&spec, SL_PROTO_SPARSITY, 0.75, NULL, err, sizeof err), 0);
    cr_assert_eq(sl_proto_set(&spec, SL_PROTO_SEED, 4294967295.0, NULL, err, sizeof err), 0);
    sl_profile_value vals[SL_PROFILE_MAX_VALUES];
    size_t n = sl_profile_values(&spec, 2, vals);
    char *argv[SL_PROFILE_MAX_ARGS + 1], words[4096];
    int argc = sl_profile_argv(&p, vals, n, argv, words, sizeof words, err, sizeof err);
    cr_assert_eq(argc, 5, "%s", err);
    cr_assert_str_eq(argv[0], "/bin/echo");
    cr_assert_str_eq(argv[1], "--w=64");
    cr_assert_str_eq(argv[2], "x2y4294967295"); /* layers at its default, 2 */
    cr_assert_str_eq(argv[3], "0.75");
    cr_assert_str_eq(argv[4], "plain");
    cr_assert_null(argv[5]);
    /* a value the caller does not give is an error, not an empty word */
    cr_assert_eq(sl_profile_argv(&p, vals, 1, argv, words, sizeof words, err, sizeof err), -1);
    cr_assert(strstr(err, "no value for {"), "%s", err);
    /* no room: refused, never cut */
    cr_assert_eq(sl_profile_argv(&p, vals, n, argv, words, 12, err, sizeof err), -1);
}

Test(profile, bad_templates_and_keys) {
    struct {
        const char *key, *value, *why;
    } bad[] = {
        {"argv", "python3 x.py", "absolute path"},
        {"argv", "/bin/{width}", "cannot hold a placeholder"},
        {"argv", "/bin/x {width", "without its '}'"},
        {"argv", "/bin/x width}", "without its '{'"},
        {"argv", "/bin/x {lr}", "unknown placeholder {lr}"},
        {"argv", "/bin/x 'a b'", "without quotes"},
        {"argv", "/bin/x a\\ b", "without quotes"},
        {"argv", "/bin/x \"a\"", "without quotes"},
        {"argv", "/bin/x \x01", "control"},
        {"argv", "", "argv is empty"},
        {"dir", "relative/dir", "absolute path"},
        {"env", "NOEQUALS", "NAME=VALUE"},
        {"env", "=x", "NAME=VALUE"},
        {"env", "A-B=1", "NAME=VALUE"},
        {"backends", "local,gpu", "backends must list"},
        {"backends", "", "backends must list"},
        {"device", "cuda:0", "device must be"},
        {"device", "cuda:65", "device must be"},
        {"device", "rocm", "device must be"},
        {"program", "/bin/x", "unknown key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_profile p;
        char err[400];
        cr_assert_eq(sl_profile_begin(&p, "t", err, sizeof err), 0);
        cr_assert_eq(sl_profile_set(&p, bad[i].key, bad[i].value, err, sizeof err), -1, "%s = %s",
                     bad[i].key, bad[i].value);
        cr_assert(strstr(err, bad[i].why), "%s = %s: %s", bad[i].key, bad[i].value, err);
    }
    sl_profile p;
    char err[400];
    cr_assert_eq(sl_profile_begin(&p, "Bad", err, sizeof err), -1);
    cr_assert_eq(sl_profile_begin(&p, "9x", err, sizeof err), -1);
    cr_assert_eq(sl_profile_begin(&p, "ok-name_2", err, sizeof err), 0);
    cr_assert_eq(sl_profile_end(&p, err, sizeof err), -1); /* no argv */
    cr_assert_eq(sl_profile_set(&p, "argv", "/nonexistent/x", err, sizeof err), 0);
    cr_assert_eq(sl_profile_end(&p, err, sizeof err), -1); /* cannot be run */
    cr_assert(strstr(err, "cannot be run"), "%s", err);
}

Test(profile, keys_and_sections) {
    sl_profile p = make("/bin/true {seed}");
    char err[400], name[64];
    cr_assert_eq(sl_profile_set(&p, "env", "A=1", err, sizeof err), 0);
    cr_assert_eq(sl_profile_set(&p, "env", "B=x=y", err, sizeof err), 0);
    cr_assert_eq(sl_profile_set(&p, "backends", "worker slurm", err, sizeof err), 0);
    cr_assert_eq(sl_profile_set(&p, "device", "cuda:4", err, sizeof err), 0);
    cr_assert_eq(sl_profile_set(&p, "device", "cpu", err, sizeof err), -1); /* twice */
    cr_assert_eq(p.nenv, 2);
    cr_assert_eq(p.backends, SL_PROFILE_WORKER | SL_PROFILE_SLURM);
    cr_assert_eq(p.device.kind, SL_DEVICE_CUDA);
    cr_assert_eq(p.device.count, 4);
    cr_assert_eq(sl_profile_end(&p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sl_profile_header("[profile  gpu ]", name, sizeof name, err, sizeof err), 1);
    cr_assert_str_eq(name, "gpu");
    cr_assert_eq(sl_profile_header("port = 1", name, sizeof name, err, sizeof err), 0);
    cr_assert_eq(sl_profile_header("[server]", name, sizeof name, err, sizeof err), -1);
}

Test(profile, load_file) {
    char path[] = "/tmp/sl-profile-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# trainers\n\n[profile a]\nargv = /bin/true {width}  # a comment\n"
               "[profile b]\nargv = /bin/true\ndevice = cuda\n");
    fclose(f);
    sl_profile list[SL_PROFILE_MAX];
    size_t n;
    char err[600];
    cr_assert_eq(sl_profile_load_file(path, list, SL_PROFILE_MAX, &n, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(list[0].argv, "/bin/true {width}");
    cr_assert_eq(sl_profile_find(list, n, "b")->device.count, 1);
    cr_assert_null(sl_profile_find(list, n, "c"));
    f = fopen(path, "w");
    fprintf(f, "[profile a]\nargv = /bin/true\nargv = /bin/false\n");
    fclose(f);
    cr_assert_eq(sl_profile_load_file(path, list, SL_PROFILE_MAX, &n, err, sizeof err), -1);
    cr_assert(strstr(err, ":3: profile a: argv is set twice"), "%s", err);
    f = fopen(path, "w");
    fprintf(f, "argv = /bin/true\n");
    fclose(f);
    cr_assert_eq(sl_profile_load_file(path, list, SL_PROFILE_MAX, &n, err, sizeof err), -1);
    cr_assert(strstr(err, "outside a [profile NAME] section"), "%s", err);
    unlink(path);
}

Test(profile, devices) {
    sl_device cpu = {SL_DEVICE_CPU, 0}, one, two;
    cr_assert_eq(sl_device_parse("cuda", &one), 0);
    cr_assert_eq(sl_device_parse("cuda:2", &two), 0);
    cr_assert(sl_device_satisfies(&cpu, &cpu));
    cr_assert(sl_device_satisfies(&two, &cpu));
    cr_assert(sl_device_satisfies(&two, &one));
    cr_assert(!sl_device_satisfies(&one, &two));
    cr_assert(!sl_device_satisfies(&cpu, &one));
    char buf[16];
    cr_assert_str_eq(sl_device_format(&two, buf, sizeof buf), "cuda:2");
    cr_assert_str_eq(sl_device_format(&cpu, buf, sizeof buf), "cpu");
    cr_assert_eq(sl_device_parse("cuda:02", &one), -1);
    cr_assert_eq(sl_device_parse(NULL, &one), -1);
}

Test(profile, environment) {
    sl_profile p = make("/bin/true");
    char err[200];
    cr_assert_eq(sl_profile_set(&p, "env", "HOME=/srv", err, sizeof err), 0);
    cr_assert_eq(sl_profile_set(&p, "env", "X=1", err, sizeof err), 0);
    char a[] = "HOME=/root", b[] = "PATH=/bin", c[] = "HOMER=simpson";
    char *base[] = {a, b, c, NULL}, *out[8];
    cr_assert_eq(sl_profile_env(&p, base, out, 7), 4);
    cr_assert_str_eq(out[0], "PATH=/bin"); /* HOME is the profile's */
    cr_assert_str_eq(out[1], "HOMER=simpson");
    cr_assert_str_eq(out[2], "HOME=/srv");
    cr_assert_str_eq(out[3], "X=1");
    cr_assert_null(out[4]);
    /* no room: the profile's lines still come, the base's are cut */
    cr_assert_eq(sl_profile_env(&p, base, out, 3), 3);
    cr_assert_str_eq(out[2], "X=1");
}
