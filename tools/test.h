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

struct skip {
    char *name, *reason;
};

struct cfg {
    double rtol, atol;
    const char *filter, *json_path, *bisect_dir, *calibrate;
    bool compare_levels, bisect, tty;
    struct ond_options opts;
    struct skip *skips;
    size_t n_skips;
};

/* One output held to its reference, merged over the data sets. */
struct cmp {
    char name[256];
    bool bad;
    char problem[256];   /* a dtype, shape or size mismatch; empty when values were compared */
    double max_abs, max_rel;
    bool has_worst, worst_bad;
    double worst_ratio;  /* |got - ref| / (atol + rtol |ref|) of the worst element */
    double worst_diff;   /* its |got - ref| */
    int worst_set;
    size_t worst_index;
    double worst_got, worst_want;
};

struct report {
    enum status status;
    char reason[2048];
    char ops[2048];       /* op types of the -O0 graph, space separated */
    char skip_ops[512];   /* ops a SKIP's message names, space separated */
    int n_sets;
    struct cmp out[MAX_IO], lvl[MAX_IO];
    int n_out, n_lvl;
    char bisect[4096];    /* lines of the bisection, newline separated */
    char bisect_node[512], bisect_dir_node[512];
    double seconds;
};

struct set {
    struct ond_value in[MAX_IO], want[MAX_IO];
    int n_in, n_want;
};

/* Holds got to want (data set `set`), merging into c what earlier sets left there. */
void test_compare(const struct cfg *cfg, int set, const struct ond_value *got,
                  const struct ond_value *want, struct cmp *c);
/* "output 'y': element 12 (set 0) is 0.51, expected 0.6 (max abs error 0.09, max rel 0.15)" */
size_t test_describe(const struct cmp *c, const char *what, char *buf, size_t len);
/* Compares a list of outputs; fills buf with the first difference, or leaves it empty. */
void test_compare_outputs(const struct cfg *cfg, int set, const struct ond_value *got,
                          const struct ond_value *want, int n, char *buf, size_t len);
/* Appends s to buf, after sep unless buf is empty; truncates silently. */
void test_append(char *buf, size_t len, const char *sep, const char *s);

bool test_is_dir(const char *path);
/* "suite/case" -> "case". */
const char *test_base_name(const char *dir);
/* Reads test_data_set_<k> of dir into s (free with test_free_set, also after a failure). */
enum ond_status test_read_set(const char *dir, int k, struct set *s, struct ond_error *err);
void test_free_set(struct set *s);
/* The set's inputs bound to the graph's inputs (names from the graph). */
void test_bind(const struct ond_model *m, const struct set *s, struct ond_value *bound);

/* Explains why data set `set` of the case in dir fails: lines into r->bisect. */
void test_bisect(const struct cfg *cfg, const struct ond_model *m0, const struct ond_model *opt,
                 struct ond_session *s, const char *dir, int set, struct report *r);

void test_json_head(FILE *f, const struct cfg *cfg);
void test_json_case(FILE *f, const struct cfg *cfg, const char *dir, const struct report *r,
                    bool first);

#endif
