/* test_onnx_node.c: the ONNX 1.12 backend node tests from Debian's libonnx-testdata, run
 * through the reference interpreter (every op's eval) and through a session (oneDNN
 * primitives, eval where an op has none or declines). A test whose model fails to load with
 * "unsupported" (an op, opset or type ondine does not claim) is skipped; tests listed in
 * tests/node_skip.txt are skipped with the reason given there; every other test must match
 * its reference outputs (rtol 1e-3, atol 1e-5, as `ondine test`; a bfloat16 output within one
 * unit in its last place, as references round it in different ways) both ways. ONNX 1.12
 * stores bfloat16 data as UINT16: read as bfloat16 where the graph declares it. A session that
 * refuses (UNSUPPORTED) a model the loader took fails the test; so does a suite with fewer
 * passes than MIN_PASSED (a loader refusing everything). ONDINE_NODE_FILTER=substr
 * selects tests; ONDINE_NODE_VERBOSE=1 prints every result and which tests ran some node
 * on eval in the session. */
#include <dirent.h>
#include <math.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "tests/util.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"
/* Tests that pass today; fewer means something refuses what it took before. */
#define MIN_PASSED 567

static double bf16(const void *data, size_t i)
{
    uint32_t bits = (uint32_t)((const uint16_t *)data)[i] << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* UINT16 data where the graph declares bfloat16 is bfloat16 (same bits). */
static void as_declared(struct ond_value *v, int n, struct ond_tensor *const *decl, int n_decl)
{
    for (int i = 0; i < n && i < n_decl; i++)
        if (v[i].dtype == OND_DTYPE_UINT16 && decl[i]->info.dtype == OND_DTYPE_BFLOAT16)
            v[i].dtype = OND_DTYPE_BFLOAT16;
}

static bool skipped(const char *name)
{
    FILE *f = fopen(OND_SOURCE_DIR "/tests/node_skip.txt", "r");
    char line[512];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, " \t\n");
        found = line[0] != '#' && len == strlen(name) && strncmp(line, name, len) == 0;
    }
    if (f)
        fclose(f);
    return found;
}

static int compare(const char *test, const struct ond_value *got, const struct ond_value *want)
{
    if (got->dtype != want->dtype || got->rank != want->rank ||
        memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->rank) != 0) {
        print_message("FAIL %s: output '%s' is %s rank %d, expected %s rank %d\n", test,
                      want->name, ond_dtype_name(got->dtype), got->rank,
                      ond_dtype_name(want->dtype), want->rank);
        return 1;
    }
    size_t n = want->size / (ond_dtype_size(want->dtype) ? ond_dtype_size(want->dtype) : 1);
    for (size_t i = 0; i < n; i++) {
        double a, b, ulp = 0;
        switch (want->dtype) {
        case OND_DTYPE_BFLOAT16:
            a = bf16(got->data, i);
            b = bf16(want->data, i);
            ulp = b != 0 && isfinite(b) ? ldexp(1, ilogb(b) - 7) : 0;
            break;
        case OND_DTYPE_FLOAT: a = ((float *)got->data)[i]; b = ((float *)want->data)[i]; break;
        case OND_DTYPE_DOUBLE: a = ((double *)got->data)[i]; b = ((double *)want->data)[i]; break;
        case OND_DTYPE_INT64: a = (double)((int64_t *)got->data)[i]; b = (double)((int64_t *)want->data)[i]; break;
        case OND_DTYPE_INT32: a = ((int32_t *)got->data)[i]; b = ((int32_t *)want->data)[i]; break;
        case OND_DTYPE_INT8: a = ((int8_t *)got->data)[i]; b = ((int8_t *)want->data)[i]; break;
        case OND_DTYPE_UINT8: case OND_DTYPE_BOOL:
            a = ((uint8_t *)got->data)[i]; b = ((uint8_t *)want->data)[i]; break;
        default:
            if (memcmp(got->data, want->data, want->size) == 0)
                return 0;
            print_message("FAIL %s: output '%s' differs\n", test, want->name);
            return 1;
        }
        bool both_nan = a != a && b != b;
        if (!both_nan && a != b && !(fabs(a - b) <= fmax(1e-5 + 1e-3 * fabs(b), ulp))) {
            print_message("FAIL %s: output '%s' element %zu is %g, expected %g\n", test,
                          want->name, i, a, b);
            return 1;
        }
    }
    return 0;
}

enum { PASS, FAIL, SKIP };

/* Per test: outcome through the reference and through a session, whether the session
 * ran every node as a primitive or view, and for a SKIP whether an op it implements refused an
 * attribute, type or mode (the message names a node) rather than an op not implemented. */
struct outcome {
    int ref, sess;
    bool all_prim, feature;
};

static void free_values(struct ond_value *v, int n, bool with_names)
{
    for (int i = 0; i < n; i++) {
        if (with_names)
            free((void *)v[i].name);
        free(v[i].data);
    }
}

/* Runs the outputs of one data set through the session; PASS or FAIL. */
static int run_session(struct ond_session *s, const char *name, const struct ond_value *in,
                       int n_in, const struct ond_value *want, int n_out, bool verbose,
                       bool *all_prim)
{
    struct ond_error err = {0};
    struct ond_value *got = NULL;
    struct ond_plan_stats stats;
    size_t n_got = 0;
    enum ond_status st = ond_session_run_alloc(s, in, (size_t)n_in, &got, &n_got, &err);
    if (!st)
        st = ond_session_plan_stats(s, in, (size_t)n_in, &stats, &err);
    if (st) {
        print_message("FAIL %s (session): %s\n", name, err.message);
        return FAIL;
    }
    if (stats.evals) {
        *all_prim = false;
        if (verbose)
            print_message("EVAL %s: %d node(s) on eval, first %s\n", name, stats.evals,
                          stats.first_eval);
    }
    int failed = PASS;
    for (int i = 0; i < n_out && !failed; i++)
        if (compare(name, &got[i], &want[i]))
            failed = FAIL;
    if (failed)
        print_message("  (through a session)\n");
    ond_values_free(got, n_got);
    return failed;
}

/* Runs one test folder. */
static struct outcome run_case(const char *dir, const char *name, bool verbose)
{
    char path[1024];
    struct ond_error err = {0};
    struct ond_model model = {NULL};
    struct ond_session *sess = NULL;
    struct outcome r = {PASS, PASS, true, false};
    void *buf = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    enum ond_status st = ond_read_file(path, 0, &buf, &len, &err);
    if (!st)
        st = ond_load_graph(buf, len, dir, name, NULL, false, &model.graph, &err);
    free(buf);
    if (st == OND_STATUS_UNSUPPORTED) {
        if (verbose)
            print_message("SKIP %s: %s\n", name, err.message);
        bool feature = strstr(err.message, "(domain.op-opset)") == NULL;
        return (struct outcome){SKIP, SKIP, false, feature};
    }
    if (st) {
        print_message("FAIL %s: %s\n", name, err.message);
        return (struct outcome){FAIL, FAIL, false, false};
    }
    st = ond_session_create(&model, NULL, &sess, &err);
    if (st) {
        print_message("FAIL %s (session): %s\n", name, err.message);
        r.sess = FAIL;
    }
    for (int set = 0; r.ref == PASS; set++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, set);
        DIR *d = opendir(path);
        if (!d)
            break;
        closedir(d);
        struct ond_value in[16], want[16], got[16];
        int n_in = 0, n_out = 0;
        memset(got, 0, sizeof got);
        for (; n_in < 16; n_in++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, set, n_in);
            if (access(path, R_OK) != 0 || ond_tensor_proto_read(path, &in[n_in], &err))
                break;
        }
        for (; n_out < 16; n_out++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/output_%d.pb", dir, set, n_out);
            if (access(path, R_OK) != 0 || ond_tensor_proto_read(path, &want[n_out], &err))
                break;
        }
        as_declared(in, n_in, model.graph->inputs, model.graph->n_inputs);
        as_declared(want, n_out, model.graph->outputs, model.graph->n_outputs);
        /* Test files may name inputs differently from the graph: bind by position. */
        for (int i = 0; i < n_in && i < model.graph->n_inputs; i++) {
            free((void *)in[i].name);
            in[i].name = strdup(model.graph->inputs[i]->name);
        }
        st = ond_reference_run(model.graph, in, (size_t)n_in, got, NULL, NULL, &err);
        if (st == OND_STATUS_UNSUPPORTED) {
            if (verbose)
                print_message("SKIP %s: %s\n", name, err.message);
            r.ref = SKIP;
        } else if (st) {
            print_message("FAIL %s: %s\n", name, err.message);
            r.ref = FAIL;
        } else if (n_out != model.graph->n_outputs) {
            print_message("FAIL %s: %d reference outputs, the graph has %d\n", name, n_out,
                          model.graph->n_outputs);
            r.ref = FAIL;
        } else {
            for (int i = 0; i < n_out && r.ref == PASS; i++)
                r.ref = compare(name, &got[i], &want[i]) ? FAIL : PASS;
        }
        if (sess && r.sess == PASS && r.ref == PASS)
            r.sess = run_session(sess, name, in, n_in, want, n_out, verbose, &r.all_prim);
        free_values(in, n_in, true);
        free_values(want, n_out, true);
        if (!st)
            free_values(got, n_out, true);
    }
    if (r.ref != PASS)
        r.sess = r.ref;
    ond_session_free(sess);
    ond_graph_free(model.graph);
    if (r.ref == PASS && r.sess == PASS && verbose)
        print_message("PASS %s\n", name);
    return r;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void test_node_suite(void **state)
{
    (void)state;
    const char *filter = getenv("ONDINE_NODE_FILTER");
    bool verbose = getenv("ONDINE_NODE_VERBOSE") != NULL;
    struct dirent **list;
    int n = scandir(NODE_DIR, &list, NULL, by_name);
    if (n < 0) {
        print_message("%s is missing (install libonnx-testdata)\n", NODE_DIR);
        fail();
    }
    int counts[3] = {0, 0, 0}, sess[3] = {0, 0, 0}, listed = 0, all_prim = 0, feature = 0;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (name[0] != '.' && (!filter || strstr(name, filter))) {
            if (skipped(name)) {
                listed++;
            } else {
                char dir[1024];
                snprintf(dir, sizeof dir, "%s/%s", NODE_DIR, name);
                struct outcome r = run_case(dir, name, verbose);
                counts[r.ref]++;
                sess[r.sess]++;
                all_prim += r.sess == PASS && r.all_prim;
                feature += r.ref == SKIP && r.feature;
            }
        }
        free(list[i]);
    }
    free(list);
    print_message("node tests: %d passed, %d failed, %d skipped (op not implemented), %d "
                  "skipped (unsupported attribute/type/mode of a claimed op), %d skipped "
                  "(tests/node_skip.txt)\n", counts[PASS], counts[FAIL], counts[SKIP] - feature,
                  feature, listed);
    print_message("through sessions: %d passed (%d with every node a primitive or view), "
                  "%d failed\n", sess[PASS], all_prim, sess[FAIL]);
    assert_int_equal(counts[FAIL], 0);
    assert_int_equal(sess[FAIL], 0);
    if (!filter)
        assert_true(sess[PASS] >= MIN_PASSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
