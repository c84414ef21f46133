/* refdrv.c: ondine's reference interpreter (runtime/reference.c) for the graph fuzzer, as a
 * shared library that fuzz.py calls through ctypes. It loads a model at an optimization level
 * and runs that graph node by node with each op's eval: no session, plan or oneDNN kernel.
 * The -O0 graph checks the ops' evals against the fuzzer's numpy reference; the -O2 graph
 * checks the passes apart from the planner and the executor. Only gf_* are exported (ondine's
 * objects are linked in with --exclude-libs), so it loads next to libondine.so. */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/model.h"
#include "runtime/reference.h"

#define GF_API __attribute__((visibility("default")))

/* Runs the model at path, loaded at opt_level, on inputs. outputs: room for max_out values,
 * filled with malloc'd names and data (free with gf_free); *n_out their count. Returns 0, or
 * the ond_status with the message in err. */
GF_API int gf_reference_run(const char *path, int opt_level, const struct ond_value *inputs,
                            size_t n_inputs, struct ond_value *outputs, size_t max_out,
                            size_t *n_out, char *err, size_t err_len)
{
    struct ond_options opts;
    struct ond_error e = {0};
    struct ond_model *m = NULL;
    ond_options_init(&opts);
    opts.opt_level = opt_level;
    *n_out = 0;
    enum ond_status st = ond_model_load_file(path, &opts, &m, &e);
    if (!st && (size_t)m->graph->n_outputs > max_out)
        st = ond_fail(&e, OND_STATUS_LIMIT, "%d outputs, room for %zu", m->graph->n_outputs,
                      max_out);
    if (!st)
        st = ond_reference_run(m->graph, inputs, n_inputs, outputs, NULL, NULL, &e);
    if (!st)
        *n_out = (size_t)m->graph->n_outputs;
    else
        snprintf(err, err_len, "%s", e.message);
    ond_model_free(m);
    return (int)st;
}

GF_API void gf_free(struct ond_value *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)values[i].name);
        free(values[i].data);
    }
}
