/* test.h: the pieces of `ondine test` shared by its files: test.c (folders, cases, the verb),
 * test_compare.c (values against references), test_bisect.c and test_json.c. */
#ifndef OND_TOOLS_TEST_H
#define OND_TOOLS_TEST_H

#include <stdbool.h>
#include <stdio.h>

#include "ondine.h"

struct ond_model;
struct ond_session;

#define MAX_IO 64
#define MAX_DEPTH 3

enum status { PASS, FAIL, ERROR, SKIP };
/* Why a case was skipped: the model uses an op (or opset) ondine does not implement; an op it
 * implements refused an attribute, type or mode (training-mode BatchNormalization, MaxPool's
 * indices, a string Cast); a --skip-list names it. */
enum skip_kind { SKIP_NOT_IMPLEMENTED, SKIP_UNSUPPORTED_FEATURE, SKIP_LISTED };
extern const char *const test_skip_kind_name[3];

/* Cases by status, skips by kind. */
struct totals {
    int status[4], skip[3];
};

enum metric { METRIC_ELEMENTWISE, METRIC_COSINE, METRIC_TOPK };

struct skip {
    char *name, *reason;
};

struct cfg {
    double rtol, atol;
    bool rtol_given, atol_given;   /* on the command line: data.json does not override */
    const char *filter, *json_path, *bisect_dir, *calibrate;
    bool compare_levels, bisect, tty, quiet, allow_empty;
    long long min_passed;
    enum metric metric;
    double min_cosine;
    long long topk;
    struct ond_options opts;
    struct skip *skips;
    size_t n_skips;
};

/* One element of an output against its reference. */
struct worst {
    bool bad;
    double ratio;        /* |got - ref| / (atol + rtol |ref|) */
    double diff;         /* |got - ref| */
    int set;
    size_t index;        /* flat */
    double got, want;
};

#define N_WORST 3

/* One output held to its reference, merged over the data sets. */
struct cmp {
    char name[256];
    bool bad;
    char problem[256];   /* a dtype, shape or size mismatch; empty when values were compared */
    char match[300];     /* a failing output: the other reference file its values match */
    double max_abs, max_rel;
    int rank;
    int64_t dims[OND_MAX_RANK];
    uint64_t n_elems, n_bad;       /* elements compared, and out of the elementwise tolerance */
    struct worst worst[N_WORST];   /* worst first */
    int n_worst;
    /* --metric cosine: the lowest similarity (has_metric); topk: rows checked and failing. */
    bool has_metric;
    double metric, metric_limit;
    int metric_set;
    uint64_t metric_rows, metric_bad;
    size_t metric_row, metric_class;
};

struct report {
    enum status status;
    char reason[2048];
    char ops[2048];       /* op types of the -O0 graph, space separated */
    enum skip_kind skip_kind;
    char skip_ops[512];   /* ops a SKIP's message names, space separated */
    int n_sets;
    struct cmp out[MAX_IO], lvl[MAX_IO];
    int n_out, n_lvl;
    char bisect[4096];    /* lines of the bisection, newline separated */
    char bisect_node[512], bisect_dir_node[512];
    /* The bisection's conclusion: reference_disagrees, pass_diverges, session_differs,
     * not_reproduced or cannot_run, and its sentence. */
    const char *verdict;
    char verdict_text[1024];
    double seconds;
    double rtol, atol;     /* the tolerance the case was held to */
    char tol_from[64];     /* "data.json" when a data.json set it */
};

struct set {
    struct ond_value in[MAX_IO], want[MAX_IO];
    int n_in, n_want;
    bool outputs_by_name;  /* the output files' names bound them, else their position */
};

/* Holds got to want (data set `set`), merging into c what earlier sets left there. */
void test_compare(const struct cfg *cfg, int set, const struct ond_value *got,
                  const struct ond_value *want, struct cmp *c);
/* The index of flat element i of c's output, one entry per dim. */
void test_unflatten(const struct cmp *c, size_t i, int64_t *idx);
/* "output 'y': 1 of 12 elements (8.33%) out of tolerance; worst [2,0] (set 0) is 0.51,
 * expected 0.6 (max abs error 0.09, max rel 0.15)" */
size_t test_describe(const struct cmp *c, const char *what, char *buf, size_t len);
/* Compares a list of outputs; fills buf with the first difference, or leaves it empty. */
void test_compare_outputs(const struct cfg *cfg, int set, const struct ond_value *got,
                          const struct ond_value *want, int n, char *buf, size_t len);
/* Appends s to buf, after sep unless buf is empty; truncates silently. */
void test_append(char *buf, size_t len, const char *sep, const char *s);

struct cases {
    char **dirs;
    size_t n, cap;
};

bool test_is_dir(const char *path);
/* Adds path if it is a test folder (model.onnx), else the test folders below it (by name,
 * depth levels); false when out of memory. */
bool test_collect(const char *path, int depth, struct cases *l);
/* Whether dir directly holds .pb files (a --bisect reference folder, not a test folder). */
bool test_holds_pb(const char *dir);
/* Adds the cases file names ('name reason...' a line, # comments) to cfg's skips. */
bool test_read_skip_list(struct cfg *cfg, const char *file);
/* The skip list's reason for the case, or NULL. */
const char *test_skip_reason(const struct cfg *cfg, const char *name);
/* c's tolerance for the case in dir: a data.json's unless the command line gave one; noted in
 * r (rtol, atol, tol_from). */
void test_case_tolerance(const char *dir, struct cfg *c, struct report *r);
/* "suite/case" -> "case". */
const char *test_base_name(const char *dir);
/* Reads test_data_set_<k> of dir into s, in the order of m's inputs and outputs (free with
 * test_free_set, also after a failure). */
enum ond_status test_read_set(const struct ond_model *m, const char *dir, int k, struct set *s,
                              struct ond_error *err);
void test_free_set(struct set *s);
/* The set's inputs bound to the graph's inputs (names from the graph). */
void test_bind(const struct ond_model *m, const struct set *s, struct ond_value *bound);

/* Explains why data set `set` of the case in dir fails: lines into r->bisect. */
void test_bisect(const struct cfg *cfg, const struct ond_model *m0, const struct ond_model *opt,
                 struct ond_session *s, const char *dir, int set, struct report *r);

void test_json_head(FILE *f, const struct cfg *cfg);
void test_json_case(FILE *f, const struct cfg *cfg, const char *dir, const struct report *r,
                    bool first);
void test_json_tail(FILE *f, const struct totals *t);

#endif
