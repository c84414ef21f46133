/* registry.c: the table of ops, built from ops.def, lookup by (domain, name, opset), and the
 * binding of a loaded graph's nodes to their ops (the loader calls it).
 *
 * An entry covers its `since` version and every later opset up to the next entry of the same
 * op, and the newest entry covers every opset the loader accepts (OND_MAX_OPSET, 26). That is
 * right only while each ONNX version after an op's newest entry adds nothing but types: the
 * op files were checked against ONNX's operator sets through opset 25 (ONNX 1.20); opset 26
 * (ONNX 1.21) adds the new ops BitCast and CumProd and changes none of ondine's. Where a version changed semantics (Pad-19 wrap, AveragePool-19 dilations,
 * Cast-19 saturate, QuantizeLinear/DequantizeLinear 19-25), the op reads it by the node's
 * opset. Added types ondine does not hold (float8, int4/uint4, float4, int2/uint2) are refused
 * at load, naming type and node (proto/loader.c); an op refuses the held types it does not
 * compute in its infer. */
#include <stdio.h>
#include <string.h>

#include "ops/op.h"

#define OND_OP(sym) extern const struct ond_op sym;
#include "ops/ops.def"
#undef OND_OP

static const struct ond_op *const table[] = {
#define OND_OP(sym) &sym,
#include "ops/ops.def"
#undef OND_OP
};

static bool same_domain(const char *a, const char *b)
{
    if (strcmp(a, "ai.onnx") == 0)
        a = "";
    if (strcmp(b, "ai.onnx") == 0)
        b = "";
    return strcmp(a, b) == 0;
}

const struct ond_op *ond_op_find(const char *domain, const char *name, int64_t opset)
{
    const struct ond_op *best = NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const struct ond_op *op = table[i];
        if (op->since <= opset && strcmp(op->name, name) == 0 &&
            same_domain(op->domain, domain) && (!best || op->since > best->since))
            best = op;
    }
    return best;
}

bool ond_op_known(const char *domain, const char *name)
{
    return ond_op_find(domain, name, INT64_MAX) != NULL;
}

size_t ond_op_count(void)
{
    return sizeof table / sizeof table[0];
}

const struct ond_op *ond_op_at(size_t i)
{
    return i < ond_op_count() ? table[i] : NULL;
}

enum ond_status ond_graph_bind_ops(struct ond_graph *g, bool partial, struct ond_error *err)
{
    char list[700] = "";
    size_t at = 0;
    int missing = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        n->op = ond_op_find(n->domain, n->op_type, n->opset);
        if (n->op)
            continue;
        /* List each unsupported (domain, op, version) once. */
        char item[200];
        snprintf(item, sizeof item, "%s%s%s-%lld", n->domain, *n->domain ? "." : "",
                 n->op_type, (long long)n->opset);
        if (strstr(list, item))
            continue;
        missing++;
        if (at < sizeof list - 1)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", missing > 1 ? ", " : "",
                                   item);
    }
    if (missing && partial)
        g->unsupported = ond_strdup(g, list, strlen(list), err);
    else if (missing)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "unsupported op%s (domain.op-opset): %s",
                        missing > 1 ? "s" : "", list);
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        const struct ond_op *op = n->op;
        if (!op)
            continue;
        if (n->n_in < op->min_in || n->n_in > op->max_in || n->n_out < op->min_out ||
            n->n_out > op->max_out)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "takes %d to %d inputs and %d to %d outputs, got %d and %d",
                                 op->min_in, op->max_in, op->min_out, op->max_out, n->n_in,
                                 n->n_out);
        for (int k = 0; k < op->min_in; k++)
            if (!n->in[k])
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "required input %d is empty", k);
        if (op->params_size && !(n->params = ond_alloc(g, op->params_size, err)))
            return err ? err->status : OND_STATUS_NO_MEMORY;
        if (op->parse) {
            enum ond_status st = op->parse(n, n->params, err);
            if (st)
                return st;
        }
    }
    return OND_OK;
}
