/* model.c: the public model API: loading from a file or a buffer (proto, then shape inference
 * and validation, then the optimization passes, runtime/passes/), queries, the version, and
 * session creation (int8 calibration, runtime/calibrate.c, then the session, session.c). */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "runtime/session.h"

const char *ond_version(void)
{
    return OND_VERSION_STRING;
}

/* ond_load_graph; mapped: buf is the file's mapping, which ond_parse_graph takes over. */
static enum ond_status load_graph(const void *buf, size_t len, const char *dir,
                                  const char *label, const struct ond_options *opts,
                                  bool partial, bool mapped, struct ond_graph **out,
                                  struct ond_error *err)
{
    struct ond_graph *g = NULL;
    enum ond_status st = ond_parse_graph(buf, len, dir, label, opts, partial, mapped, &g, err);
    if (!st && ((st = ond_graph_infer(g, err)) || (st = ond_graph_validate(g, err)))) {
        if (label)
            ond_error_prefix(err, "%s: ", label);
        ond_graph_free(g);
        return st;
    }
    ond_trace("infer");
    *out = g;
    return st;
}

enum ond_status ond_load_graph(const void *buf, size_t len, const char *dir, const char *label,
                               const struct ond_options *opts, bool partial,
                               struct ond_graph **out, struct ond_error *err)
{
    return load_graph(buf, len, dir, label, opts, partial, false, out, err);
}

/* Runs the optimization passes on a loaded graph and wraps it in a model; frees g on
 * failure. label names the source in messages. */
static enum ond_status finish(struct ond_graph *g, const struct ond_options *opts,
                              const char *label, struct ond_model **model, struct ond_error *err)
{
    struct ond_model *m = calloc(1, sizeof *m);
    enum ond_status st = m ? ond_passes_run(g, opts, &m->passes, err)
                           : ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate a model");
    if (!st) /* passes may have given a deferred weight another reader */
        st = ond_graph_settle(g, err);
    if (st) {
        ond_error_prefix(err, "%s: ", label);
        free(m);
        ond_graph_free(g);
        return st;
    }
    m->graph = g;
    *model = m;
    ond_trace("passes");
    return OND_OK;
}

enum ond_status ond_model_load_file_ex(const char *path, const struct ond_options *opts,
                                       bool partial, struct ond_model **model,
                                       struct ond_error *err)
{
    struct ond_options defaults;
    if (!opts) {
        ond_options_init(&defaults);
        opts = &defaults;
    }
    if (!path || !model)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_model_load_file: NULL argument");
    *model = NULL;
    void *buf = NULL;
    size_t len = 0;
    ond_trace(NULL);
    enum ond_status st = ond_map_file(path, opts->max_file_bytes, &buf, &len, err);
    if (st)
        return st;
    ond_trace("read");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    struct ond_graph *g = NULL;
    st = load_graph(buf, len, dirname(dir), path, opts, partial, true, &g, err);
    return st ? st : finish(g, opts, path, model, err);
}

enum ond_status ond_model_load_file(const char *path, const struct ond_options *opts,
                                    struct ond_model **model, struct ond_error *err)
{
    return ond_model_load_file_ex(path, opts, false, model, err);
}

enum ond_status ond_model_load_buffer(const void *data, size_t size, const struct ond_options *opts,
                                      struct ond_model **model, struct ond_error *err)
{
    if (!data || !model)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_model_load_buffer: NULL argument");
    *model = NULL;
    struct ond_graph *g = NULL;
    enum ond_status st = ond_load_graph(data, size, NULL, "<buffer>", opts, false, &g, err);
    return st ? st : finish(g, opts, "<buffer>", model, err);
}

void ond_model_free(struct ond_model *m)
{
    if (!m)
        return;
    ond_graph_free(m->graph);
    ond_pass_report_free(m->passes);
    free(m);
}

size_t ond_model_input_count(const struct ond_model *m)
{
    return m ? (size_t)m->graph->n_inputs : 0;
}

size_t ond_model_output_count(const struct ond_model *m)
{
    return m ? (size_t)m->graph->n_outputs : 0;
}

static enum ond_status describe(const struct ond_tensor *t, struct ond_value *v)
{
    memset(v, 0, sizeof *v);
    v->name = t->name;
    v->dtype = t->info.dtype;
    v->rank = t->info.rank;
    for (int i = 0; i < t->info.rank; i++)
        v->dims[i] = t->info.dims[i] < 0 ? -1 : t->info.dims[i];
    return OND_OK;
}

enum ond_status ond_model_input(const struct ond_model *m, size_t i, struct ond_value *info,
                                struct ond_error *err)
{
    if (!m || !info || i >= (size_t)m->graph->n_inputs)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_model_input: no input %zu", i);
    return describe(m->graph->inputs[i], info);
}

enum ond_status ond_model_output(const struct ond_model *m, size_t i, struct ond_value *info,
                                 struct ond_error *err)
{
    if (!m || !info || i >= (size_t)m->graph->n_outputs)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_model_output: no output %zu", i);
    return describe(m->graph->outputs[i], info);
}

size_t ond_model_default_count(const struct ond_model *m)
{
    return m ? (size_t)m->graph->n_defaults : 0;
}

enum ond_status ond_model_default(const struct ond_model *m, size_t i, struct ond_value *info,
                                  struct ond_error *err)
{
    if (!m || !info || i >= (size_t)m->graph->n_defaults)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_model_default: no default %zu", i);
    return describe(m->graph->defaults[i], info);
}

const char *ond_model_dim_name(const struct ond_model *m, int output, size_t i, int d)
{
    if (!m)
        return NULL;
    const struct ond_graph *g = m->graph;
    if (i >= (size_t)(output ? g->n_outputs : g->n_inputs))
        return NULL;
    const struct ond_info *info = &(output ? g->outputs[i] : g->inputs[i])->info;
    if (d < 0 || d >= info->rank)
        return NULL;
    /* A named dim is stored as -2 - (its index in the graph's symbol names). */
    int64_t v = info->dims[d];
    return v <= -2 && -2 - v < g->n_syms ? g->syms[-2 - v] : "";
}

enum ond_status ond_session_create(const struct ond_model *model, const struct ond_options *opts,
                                   struct ond_session **out, struct ond_error *err)
{
    float *qscale = NULL;
    bool *qunsigned = NULL;
    enum ond_status st = OND_OK;
    if (model && out && opts && opts->precision == OND_PRECISION_INT8 &&
        !model->graph->unsupported)
        st = ond_calibrate(model, opts, &qscale, &qunsigned, err);
    return st ? st : ond_session_create_scaled(model, opts, qscale, qunsigned, out, err);
}
