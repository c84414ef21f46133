/* test_testdata_load.c: every model of Debian's libonnx-testdata (node, pytorch-converted,
 * pytorch-operator, simple) either loads, or fails as unsupported with a message that names
 * the node and op (or lists the unsupported ops): never any other failure. */
#include <dirent.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "tests/util.h"

#define DATA "/usr/share/libonnx-testdata/data"

static void test_all_models(void **state)
{
    (void)state;
    const char *suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    int loaded = 0, unsupported = 0, bad = 0;
    for (size_t s = 0; s < 4; s++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", DATA, suites[s]);
        DIR *d = opendir(dir);
        assert_non_null(d);
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            char folder[1024], path[1100];
            snprintf(folder, sizeof folder, "%s/%s", dir, e->d_name);
            snprintf(path, sizeof path, "%s/model.onnx", folder);
            void *buf;
            size_t len;
            struct ond_error err = {0};
            if (ond_read_file(path, 0, &buf, &len, &err))
                continue;
            struct ond_graph *g = NULL;
            enum ond_status st = ond_load_graph(buf, len, folder, e->d_name, NULL, false, &g,
                                                &err);
            free(buf);
            ond_graph_free(g);
            if (st == OND_OK)
                loaded++;
            else if (st == OND_STATUS_UNSUPPORTED &&
                     (strstr(err.message, "unsupported op") || strstr(err.message, "node '")))
                unsupported++;
            else {
                print_message("%s/%s: %s\n", suites[s], e->d_name, err.message);
                bad++;
            }
        }
        closedir(d);
    }
    print_message("testdata models: %d loaded, %d unsupported, %d other failures\n", loaded,
                  unsupported, bad);
    assert_int_equal(bad, 0);
    assert_true(loaded > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
