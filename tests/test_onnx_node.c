/* test_onnx_node.c: the ONNX 1.12 backend node tests from Debian's libonnx-testdata, run
 * through the reference interpreter (every op's eval). ctest suite_node runs the same tests
 * through sessions (`ondine test`); this one keeps every op's eval checked on its own, the
 * tests sessions cannot take (tests/node_session_skip.txt) included. A test whose model fails
 * to load with "unsupported" (an op, opset or type ondine does not claim) is skipped; tests
 * listed in tests/node_skip.txt are skipped with the reason given there; every other test must
 * match its reference outputs (rtol 1e-3, atol 1e-5, as `ondine test`).
 * ONDINE_NODE_FILTER=substr selects tests; ONDINE_NODE_VERBOSE=1 prints every result. */
#include <dirent.h>
#include <math.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "proto/loader.h"
#include "runtime/reference.h"
#include "tests/util.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"

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
        double a, b;
        switch (want->dtype) {
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
        if (!both_nan && !(fabs(a - b) <= 1e-5 + 1e-3 * fabs(b))) {
            print_message("FAIL %s: output '%s' element %zu is %g, expected %g\n", test,
                          want->name, i, a, b);
            return 1;
        }
    }
    return 0;
}

/* Runs one test folder; returns 0 pass, 1 fail, 2 skip. */
static int run_case(const char *dir, const char *name, bool verbose)
{
    char path[1024];
    struct ond_error err = {0};
    struct ond_model_ref { struct ond_graph *g; } m = {NULL};
    void *buf = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    enum ond_status st = ond_read_file(path, 0, &buf, &len, &err);
    if (!st)
        st = ond_load_graph(buf, len, dir, name, NULL, false, &m.g, &err);
    free(buf);
    if (st == OND_STATUS_UNSUPPORTED) {
        if (verbose)
            print_message("SKIP %s: %s\n", name, err.message);
        return 2;
    }
    if (st) {
        print_message("FAIL %s: %s\n", name, err.message);
        return 1;
    }
    int failed = 0;
    for (int set = 0; !failed; set++) {
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
        /* Test files may name inputs differently from the graph: bind by position. */
        for (int i = 0; i < n_in && i < m.g->n_inputs; i++) {
            free((void *)in[i].name);
            in[i].name = strdup(m.g->inputs[i]->name);
        }
        st = ond_reference_run(m.g, in, (size_t)n_in, got, NULL, NULL, &err);
        if (st == OND_STATUS_UNSUPPORTED) {
            if (verbose)
                print_message("SKIP %s: %s\n", name, err.message);
            failed = 2;
        } else if (st) {
            print_message("FAIL %s: %s\n", name, err.message);
            failed = 1;
        } else if (n_out != m.g->n_outputs) {
            print_message("FAIL %s: %d reference outputs, the graph has %d\n", name, n_out,
                          m.g->n_outputs);
            failed = 1;
        } else {
            for (int i = 0; i < n_out && !failed; i++)
                failed = compare(name, &got[i], &want[i]);
        }
        for (int i = 0; i < n_in; i++) {
            free((void *)in[i].name);
            free(in[i].data);
        }
        for (int i = 0; i < n_out; i++) {
            free((void *)want[i].name);
            free(want[i].data);
            if (!st) {
                free((void *)got[i].name);
                free(got[i].data);
            }
        }
    }
    ond_graph_free(m.g);
    if (!failed && verbose)
        print_message("PASS %s\n", name);
    return failed;
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
    int counts[3] = {0, 0, 0}, listed = 0;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (name[0] != '.' && (!filter || strstr(name, filter))) {
            if (skipped(name)) {
                listed++;
            } else {
                char dir[1024];
                snprintf(dir, sizeof dir, "%s/%s", NODE_DIR, name);
                counts[run_case(dir, name, verbose)]++;
            }
        }
        free(list[i]);
    }
    free(list);
    print_message("node tests: %d passed, %d failed, %d skipped (unsupported), %d skipped "
                  "(tests/node_skip.txt)\n", counts[0], counts[1], counts[2], listed);
    assert_int_equal(counts[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
