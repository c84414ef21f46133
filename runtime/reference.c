/* reference.c: see reference.h. Buffers are kept until the end of the run (no reuse): this
 * path is for correctness, not speed. */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/reference.h"

enum ond_status ond_check_input(const struct ond_graph *g, const struct ond_tensor *t,
                                const struct ond_value *v, struct ond_error *err)
{
    char want[256], got[256];
    struct ond_info vi = {v->dtype, v->rank, {0}, NULL};
    if (v->rank < 0 || v->rank > OND_MAX_RANK)
        return ond_fail(err, OND_STATUS_INVALID_INPUT, "input '%s': rank %d is out of range",
                        t->name, v->rank);
    memcpy(vi.dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    bool ok = v->dtype == t->info.dtype && (t->info.rank < 0 || v->rank == t->info.rank);
    for (int i = 0; ok && i < v->rank; i++)
        ok = v->dims[i] >= 0 && (t->info.rank < 0 || t->info.dims[i] < 0 ||
                                 t->info.dims[i] == v->dims[i]);
    if (!ok)
        return ond_fail(err, OND_STATUS_INVALID_INPUT, "input '%s': expected %s, got %s", t->name,
                        ond_info_str(g, &t->info, want, sizeof want),
                        ond_info_str(g, &vi, got, sizeof got));
    uint64_t numel;
    if (!ond_numel(&vi, g->opts.max_tensor_elements, &numel))
        return ond_fail(err, OND_STATUS_LIMIT, "input '%s': %s has too many elements", t->name,
                        ond_info_str(g, &vi, got, sizeof got));
    uint64_t bytes = numel * ond_dtype_size(v->dtype);
    if ((!v->data && bytes) || v->size < bytes)
        return ond_fail(err, OND_STATUS_INVALID_INPUT,
                        "input '%s': buffer of %zu bytes, %s needs %llu", t->name,
                        v->data ? v->size : 0, ond_info_str(g, &vi, got, sizeof got),
                        (unsigned long long)bytes);
    return OND_OK;
}

enum ond_status ond_reference_run(const struct ond_graph *g, const struct ond_value *inputs,
                                  size_t n_inputs, struct ond_value *outputs, ond_trace_fn trace,
                                  void *trace_ctx, struct ond_error *err)
{
    enum ond_status st = OND_OK;
    int nt = g->n_tensors;
    struct ond_info *info = calloc((size_t)nt + 1, sizeof *info);
    void **owned = calloc((size_t)nt + 1, sizeof *owned);
    const struct ond_info **in = NULL;
    struct ond_info *out = NULL;
    void **out_data = NULL;
    if (!info || !owned) {
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate the reference run");
        goto done;
    }
    for (int i = 0; i < nt; i++) {
        info[i] = g->tensors[i]->info;
        if (g->tensors[i]->flags & OND_TENSOR_DEFAULT)
            info[i].data = g->tensors[i]->dflt; /* the reference runs on defaults only */
    }
    if (n_inputs != (size_t)g->n_inputs) {
        st = ond_fail(err, OND_STATUS_INVALID_INPUT, "expected %d inputs, got %zu", g->n_inputs,
                      n_inputs);
        goto done;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const struct ond_tensor *t = g->inputs[i];
        const struct ond_value *v = NULL;
        for (size_t k = 0; k < n_inputs; k++)
            if (inputs[k].name && strcmp(inputs[k].name, t->name) == 0)
                v = &inputs[k];
        if (!v) {
            st = ond_fail(err, OND_STATUS_INVALID_INPUT, "input '%s' is missing", t->name);
            goto done;
        }
        if ((st = ond_check_input(g, t, v, err)))
            goto done;
        info[t->id].rank = v->rank;
        memcpy(info[t->id].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
        info[t->id].data = v->data;
    }
    for (int i = 0; i < g->n_nodes && !st; i++) {
        const struct ond_node *n = g->nodes[i];
        if (!n->op || !n->op->eval) {
            st = ond_fail(err, OND_STATUS_UNSUPPORTED,
                          "node '%s' (%s) has no reference implementation", n->name, n->op_type);
            break;
        }
        free(in);
        free(out);
        free(out_data);
        in = calloc((size_t)n->n_in + 1, sizeof *in);
        out = calloc((size_t)n->n_out + 1, sizeof *out);
        out_data = calloc((size_t)n->n_out + 1, sizeof *out_data);
        if (!in || !out || !out_data) {
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
            break;
        }
        for (int k = 0; k < n->n_in; k++)
            in[k] = n->in[k] ? &info[n->in[k]->id] : NULL;
        for (int k = 0; k < n->n_out; k++)
            out[k].rank = -1;
        if ((st = n->op->infer(n, in, out, err)))
            break;
        for (int k = 0; k < n->n_out && !st; k++) {
            uint64_t numel;
            if (!ond_numel(&out[k], g->opts.max_tensor_elements, &numel)) {
                st = ond_fail(err, OND_STATUS_LIMIT,
                              "node '%s': output %d has an unknown or too large shape", n->name, k);
                break;
            }
            size_t bytes = (size_t)numel * ond_dtype_size(out[k].dtype);
            if (!(out_data[k] = ond_aligned_alloc(bytes)))
                st = ond_fail(err, OND_STATUS_NO_MEMORY, "node '%s': cannot allocate %zu bytes",
                              n->name, bytes);
        }
        if (!st)
            st = n->op->eval(n, in, out, out_data, err);
        for (int k = 0; k < n->n_out; k++) {
            if (st || !n->out[k]) {
                free(out_data[k]);
                out[k].data = NULL;
                continue;
            }
            int id = n->out[k]->id;
            free(owned[id]);
            owned[id] = out_data[k];
            out[k].data = out_data[k];
            info[id] = out[k];
        }
        if (!st && trace)
            trace(trace_ctx, n, out);
    }
    for (int i = 0; i < g->n_outputs; i++)
        memset(&outputs[i], 0, sizeof outputs[i]);
    for (int i = 0; i < g->n_outputs && !st; i++) {
        const struct ond_info *o = &info[g->outputs[i]->id];
        uint64_t numel = 0;
        ond_numel(o, 0, &numel);
        size_t bytes = (size_t)numel * ond_dtype_size(o->dtype);
        struct ond_value *v = &outputs[i];
        v->name = strdup(g->outputs[i]->name);
        v->dtype = o->dtype;
        v->rank = o->rank;
        memcpy(v->dims, o->dims, sizeof(int64_t) * (size_t)(o->rank > 0 ? o->rank : 0));
        v->size = bytes;
        v->data = malloc(bytes ? bytes : 1);
        if (!v->name || !v->data)
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate outputs");
        else if (bytes)
            memcpy(v->data, o->data, bytes);
    }
    if (st)
        for (int i = 0; i < g->n_outputs; i++) {
            free((void *)outputs[i].name);
            free(outputs[i].data);
            outputs[i].name = NULL;
            outputs[i].data = NULL;
        }
done:
    if (owned)
        for (int i = 0; i < nt; i++)
            free(owned[i]);
    free(owned);
    free(info);
    free(in);
    free(out);
    free(out_data);
    return st;
}
