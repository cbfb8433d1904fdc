/*
 * sl_fit_design.h - what a set of (S, N, D) points can identify.
 *
 * The law has three terms, each with its own exponent: the sparse term needs
 * several sparsities, the size term several model sizes over a wide range,
 * the data term several data amounts over a wide range. The thresholds below
 * are the one statement of "enough" that the fit verdict and the sweep check
 * at submission both use, so a sweep that passes the check yields a fit
 * whose design earns no warning.
 */
#ifndef SL_FIT_DESIGN_H
#define SL_FIT_DESIGN_H
#include <stddef.h>

#define SL_FIT_DESIGN_MIN_SPARSITIES   3   /* distinct S levels */
#define SL_FIT_DESIGN_MIN_NONZEROS     3   /* distinct N levels */
#define SL_FIT_DESIGN_MIN_DATA         3   /* distinct D levels */
#define SL_FIT_DESIGN_MIN_NONZERO_SPAN 1.0 /* decades, log10(max N / min N) */
#define SL_FIT_DESIGN_MIN_DATA_SPAN    1.0 /* decades, log10(max D / min D) */

typedef struct sl_fit_design {
    size_t points;
    unsigned sparsities, nonzeros, data;  /* distinct levels */
    double nonzero_decades, data_decades; /* log10(max / min); 0 for one level */
} sl_fit_design;

/* One design problem: which term it leaves undetermined, in a sentence. */
typedef struct sl_fit_design_issue {
    const char *code;  /* "few_sparsities", "few_nonzeros", "narrow_nonzeros",
                          "few_data", "narrow_data" */
    char message[256]; /* e.g. "only 3 data amounts spanning 4.0x: ..." */
} sl_fit_design_issue;

#define SL_FIT_DESIGN_MAX_ISSUES 5

/* Summarises n points; levels are distinct values (S compared exactly, N and
 * D to 1e-9 relative, so 1e9 and 1.0000000001e9 are one level). */
void sl_fit_design_of(const double *sparsity, const double *nonzeros, const double *data, size_t n,
                      sl_fit_design *out);

/* Writes the design's problems against the thresholds above into
 * issues[0..SL_FIT_DESIGN_MAX_ISSUES) and returns how many. */
int sl_fit_design_issues(const sl_fit_design *d, sl_fit_design_issue *issues);

#endif
