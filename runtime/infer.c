/* infer.c: graph-level shape and dtype inference.
 *
 * Walks the sorted graph once, calling each op's infer on its inputs' infos. Where every
 * input's value is known and the output is small (shape arithmetic: Shape, Gather, Concat,
 * Constant...), the op's eval computes the value too, so later shape-consuming inputs (Reshape's
 * shape, Unsqueeze's axes) are known at load. Large constant subgraphs are left to the
 * constant-folding pass and to session planning. Nodes without an op (unsupported, kept only
 * for inspection) leave their outputs unknown.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/ir.h"

#define VALUE_ELEMENTS_MAX 65536

/* Computes n's outputs from known inputs when cheap; a failure here is an error in the model
 * (the same eval would fail at run time). */
static enum ond_status eval_small(struct ond_graph *g, struct ond_node *n,
                                  const struct ond_info *const *in, struct ond_info *out,
                                  struct ond_error *err)
{
    for (int k = 0; k < n->n_in; k++)
        if (in[k] && !in[k]->data)
            return OND_OK;
    void *data[n->n_out > 0 ? n->n_out : 1];
    for (int k = 0; k < n->n_out; k++) {
        uint64_t numel;
        if (!ond_numel(&out[k], VALUE_ELEMENTS_MAX, &numel) || !ond_dtype_size(out[k].dtype))
            return OND_OK;
        data[k] = NULL;
    }
    for (int k = 0; k < n->n_out; k++) {
        uint64_t numel;
        ond_numel(&out[k], 0, &numel);
        if (!n->out[k])
            return OND_OK;
        if (!(data[k] = ond_tensor_alloc_data(g, n->out[k], (size_t)numel * ond_dtype_size(out[k].dtype), err)))
            return err ? err->status : OND_STATUS_NO_MEMORY;
    }
    enum ond_status st = n->op->eval(n, in, out, data, err);
    for (int k = 0; k < n->n_out && !st; k++)
        out[k].data = data[k];
    return st;
}

/* A shape known at load must fit max_tensor_elements: a few bytes of constant shape
 * (ConstantOfShape, Reshape, Pad, Concat of constants) must not promise a tensor that
 * constant folding or a session would then try to allocate. */
static enum ond_status check_size(const struct ond_graph *g, const struct ond_node *n, int k,
                                  const struct ond_info *out, struct ond_error *err)
{
    uint64_t numel;
    if (!ond_info_known(out) || ond_numel(out, g->opts.max_tensor_elements, &numel))
        return OND_OK;
    char shape[256];
    ond_info_str(g, out, shape, sizeof shape);
    if (!g->opts.max_tensor_elements)
        return ond_node_fail(err, n, OND_STATUS_LIMIT, "output %d (%s): element count overflows",
                             k, shape);
    return ond_node_fail(err, n, OND_STATUS_LIMIT,
                         "output %d (%s) has more than %llu elements (max_tensor_elements)", k,
                         shape, (unsigned long long)g->opts.max_tensor_elements);
}

/* An input of unknown type comes from an unsupported node (partial loads): its consumers
 * stay unknown too rather than failing on it. */
static bool after_unsupported(const struct ond_node *n)
{
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] && n->in[k]->info.dtype == OND_DTYPE_UNDEFINED)
            return true;
    return false;
}

enum ond_status ond_graph_infer(struct ond_graph *g, struct ond_error *err)
{
    enum ond_status st = OND_OK;
    for (int i = 0; i < g->n_nodes && !st; i++) {
        struct ond_node *n = g->nodes[i];
        const struct ond_info **in = calloc((size_t)n->n_in + 1, sizeof *in);
        struct ond_info *out = calloc((size_t)n->n_out + 1, sizeof *out);
        if (!in || !out) {
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate for shape inference");
        } else if (n->op && !after_unsupported(n)) {
            for (int k = 0; k < n->n_in; k++)
                in[k] = n->in[k] ? &n->in[k]->info : NULL;
            for (int k = 0; k < n->n_out; k++)
                out[k].rank = -1;
            st = n->op->infer(n, in, out, err);
            for (int k = 0; k < n->n_out && !st; k++)
                st = check_size(g, n, k, &out[k], err);
            if (!st && n->op->eval)
                st = eval_small(g, n, in, out, err);
            for (int k = 0; k < n->n_out && !st; k++)
                if (n->out[k]) {
                    const void *d = n->out[k]->info.data;
                    n->out[k]->info = out[k];
                    n->out[k]->info.data = out[k].data ? out[k].data : d;
                }
        } else {
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k])
                    n->out[k]->info.rank = -1;
        }
        free(in);
        free(out);
    }
    return st;
}
