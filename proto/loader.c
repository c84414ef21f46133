/* loader.c: ONNX ModelProto bytes -> IR graph.
 *
 * Handles IR versions 3..11, opset imports per domain (default domain 1..26), initializers
 * also listed as graph inputs (before IR 4: defaults a run may override, kept out of folding
 * unless fold_initializer_inputs; else constants), model-local functions (inlined by
 * proto/inline.c), and nodes without names. Before protobuf-c unpacks anything, a wire-format
 * scan bounds message nesting, and unpacking runs through an allocator with a byte budget
 * (proto/wire.c), so hostile bytes cannot exhaust the stack or memory; proto/decode.c turns
 * tensors, value infos and attributes into IR. The protobuf message is freed as soon as the IR
 * is built. From a mapped file, protobuf-c unpacks a copy without the initializers' large
 * raw_data (ond_wire_strip) and those tensors point into the mapping, which the graph keeps
 * while Conv weights are left there (OND_TENSOR_DEFERRED, ond_graph_settle).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "proto/inline.h"
#include "proto/load.h"
#include "proto/loader.h"

/* ---- graph ---- */
static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Attribute names of a node are unique. Sorted, not compared pairwise: a hostile node with
 * 50000 attributes took seconds, 200000 minutes. */
static enum ond_status unique_attrs(const struct ond_node *n, struct ond_error *err)
{
    if (n->n_attrs < 2)
        return OND_OK;
    const char **names = malloc(sizeof *names * n->n_attrs);
    if (!names)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "node '%s': cannot allocate", n->name);
    for (size_t i = 0; i < n->n_attrs; i++)
        names[i] = n->attrs[i].name;
    qsort(names, n->n_attrs, sizeof *names, by_name);
    enum ond_status st = OND_OK;
    for (size_t i = 1; i < n->n_attrs && !st; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            st = ond_fail(err, OND_STATUS_INVALID_MODEL, "node '%s': attribute '%s' appears twice",
                          n->name, names[i]);
    free(names);
    return st;
}

static enum ond_status load_nodes(struct ond_load_ctx *c, const struct ond_flat *f,
                                  struct ond_error *err)
{
    struct ond_graph *g = c->g;
    /* First every output, so inputs can refer to nodes later in the file. */
    for (size_t i = 0; i < f->n; i++) {
        const Onnx__NodeProto *np = f->nodes[i].np;
        if (np->n_input > INT_MAX / 2 || np->n_output > INT_MAX / 2)
            return ond_fail(err, OND_STATUS_LIMIT, "node %zu has too many inputs or outputs", i);
        struct ond_node *n = ond_graph_add_node(g, (int)np->n_input, (int)np->n_output, err);
        if (!n)
            return err->status;
        const char *op = np->op_type ? np->op_type : "";
        const char *dom = np->domain ? np->domain : "";
        if (!*op)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "node %zu has no op_type", i);
        char gen[300];
        const char *name = np->name;
        if (!name || !*name) {
            snprintf(gen, sizeof gen, "%s_%zu", op, i);
            name = gen;
        }
        if (!(n->name = ond_strdup(g, name, strlen(name), err)) ||
            !(n->op_type = ond_strdup(g, op, strlen(op), err)) ||
            !(n->domain = ond_strdup(g, dom, strlen(dom), err)))
            return err->status;
        n->opset = f->nodes[i].opset >= 0 ? f->nodes[i].opset : ond_graph_opset(g, dom);
        if (n->opset < 0)
            return ond_fail(err, OND_STATUS_INVALID_MODEL,
                            "node '%s' (%s) uses domain '%s', which the model does not import "
                            "(opset_import)", n->name, op, *dom ? dom : "ai.onnx");
        for (size_t k = 0; k < np->n_output; k++) {
            const char *on = np->output[k] ? np->output[k] : "";
            if (!*on)
                continue;
            struct ond_tensor *t = ond_graph_find_tensor(g, on);
            if (t)
                return ond_fail(err, OND_STATUS_INVALID_MODEL,
                                "tensor '%s' (output of node '%s') is also %s", on, n->name,
                                t->flags & OND_TENSOR_CONST ? "an initializer"
                                : t->flags & OND_TENSOR_INPUT ? "a graph input"
                                                              : "produced by another node");
            if (!(t = ond_graph_add_tensor(g, on, err)))
                return err->status;
            t->producer = n;
            n->out[k] = t;
        }
        if (np->n_attribute) {
            if (!(n->attrs = ond_alloc(g, sizeof *n->attrs * np->n_attribute, err)))
                return err->status;
            n->n_attrs = np->n_attribute;
            for (size_t k = 0; k < np->n_attribute; k++) {
                enum ond_status st = ond_load_attr(c, n, np->attribute[k], &n->attrs[k], err);
                if (st)
                    return st;
            }
            enum ond_status st = unique_attrs(n, err);
            if (st)
                return st;
        }
    }
    for (size_t i = 0; i < f->n; i++) {
        const Onnx__NodeProto *np = f->nodes[i].np;
        struct ond_node *n = g->nodes[i];
        for (size_t k = 0; k < np->n_input; k++) {
            const char *in = np->input[k] ? np->input[k] : "";
            if (!*in)
                continue;
            struct ond_tensor *t = ond_graph_find_tensor(g, in);
            if (!t)
                return ond_fail(err, OND_STATUS_INVALID_MODEL,
                                "node '%s' reads tensor '%s', which no node produces and is not "
                                "a graph input or initializer", n->name, in);
            n->in[k] = t;
            t->uses++;
        }
    }
    return OND_OK;
}

static enum ond_status load_model(struct ond_load_ctx *c, const Onnx__ModelProto *mp,
                                  ProtobufCAllocator *alloc, const struct ond_stripped *strip,
                                  struct ond_error *err)
{
    struct ond_graph *g = c->g;
    enum ond_status st;
    if (!mp->has_ir_version || !mp->graph)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "not a valid ONNX model (no ir_version or no graph)");
    if (mp->ir_version < OND_MIN_IR_VERSION ||
        mp->ir_version > OND_MAX_IR_VERSION)
        return ond_fail(err, OND_STATUS_UNSUPPORTED,
                        "IR version %lld is not supported (ondine reads %d to %d)",
                        (long long)mp->ir_version, OND_MIN_IR_VERSION, OND_MAX_IR_VERSION);
    g->ir_version = mp->ir_version;
    if (!(g->opsets = ond_alloc(g, sizeof *g->opsets * (mp->n_opset_import + 1), err)))
        return err->status;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        const char *d = o->domain ? o->domain : "";
        if (!o->has_version || o->version < 1)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "opset import of domain '%s' has version %lld",
                            d, (long long)o->version);
        if (ond_graph_opset(g, d) >= 0)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "domain '%s' is imported twice", d);
        if (!(g->opsets[i].domain = ond_strdup(g, d, strlen(d), err)))
            return err->status;
        g->opsets[i].version = o->version;
        g->n_opsets = i + 1;
    }
    /* A model without the default domain (training-only ops, say) may still load; its nodes
     * in that domain are refused one by one. */
    int64_t onnx_opset = ond_graph_opset(g, "");
    if (onnx_opset > OND_MAX_OPSET)
        return ond_fail(err, OND_STATUS_UNSUPPORTED,
                        "opset %lld of the default domain is beyond the supported 1..%d",
                        (long long)onnx_opset, OND_MAX_OPSET);
    const char *pn = mp->producer_name ? mp->producer_name : "";
    const char *pv = mp->producer_version ? mp->producer_version : "";
    const Onnx__GraphProto *gp = mp->graph;
    const char *gn = gp->name ? gp->name : "";
    if (!(g->producer_name = ond_strdup(g, pn, strlen(pn), err)) ||
        !(g->producer_version = ond_strdup(g, pv, strlen(pv), err)) ||
        !(g->name = ond_strdup(g, gn, strlen(gn), err)))
        return err->status;
    if (gp->n_sparse_initializer)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "sparse initializers are not supported");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "initializer %zu has no name", i);
        struct ond_tensor *t = ond_graph_find_tensor(g, tp->name);
        if (t)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "initializer '%s' is defined twice",
                            tp->name);
        if (!(t = ond_graph_add_tensor(g, tp->name, err)))
            return err->status;
        t->flags = OND_TENSOR_CONST;
        if (tp->data_type > OND_DTYPE_BFLOAT16 && tp->data_type <= OND_DTYPE_LAST_ONNX &&
            !ond_dtype_supported(tp->data_type)) {
            /* float8, int4...: refused once the ops are bound, naming a node that reads it
             * (check_types); its data is never read. */
            t->info.dtype = tp->data_type;
            t->flags |= OND_TENSOR_BADTYPE;
            continue;
        }
        const struct ond_span *span = i < strip->n_spans && strip->spans[i].len
                                          ? &strip->spans[i] : NULL;
        if ((st = ond_load_tensor(c, tp, span, t, err)))
            return st;
    }
    if (!(g->inputs = ond_alloc(g, sizeof *g->inputs * (gp->n_input + 1), err)) ||
        !(g->defaults = ond_alloc(g, sizeof *g->defaults * (gp->n_input + 1), err)) ||
        !(g->outputs = ond_alloc(g, sizeof *g->outputs * (gp->n_output + 1), err)))
        return err->status;
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *nm = gp->input[i]->name ? gp->input[i]->name : "";
        if (!*nm)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "graph input %zu has no name", i);
        struct ond_tensor *t = ond_graph_find_tensor(g, nm);
        if (t && (t->flags & ~(unsigned)OND_TENSOR_DEFERRED) == OND_TENSOR_CONST &&
            g->ir_version < 4 && !g->opts.fold_initializer_inputs) {
            /* IR < 4 lists initializers as inputs: a default the caller may override, kept
             * out of folding (as ONNX Runtime does) unless asked. */
            if ((st = ond_tensor_materialize(g, t, err)))
                return st;
            t->flags = OND_TENSOR_INPUT | OND_TENSOR_DEFAULT;
            t->dflt = t->info.data;
            t->info.data = NULL;
            g->defaults[g->n_defaults++] = t;
            continue;
        }
        if (t && (t->flags & OND_TENSOR_CONST))
            continue; /* a constant with a default (folded on request) */
        if (t)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "graph input '%s' is listed twice", nm);
        if (!(t = ond_graph_add_tensor(g, nm, err)))
            return err->status;
        t->flags = OND_TENSOR_INPUT;
        if ((st = ond_load_type(c, gp->input[i], t, err)))
            return st;
        g->inputs[g->n_inputs++] = t;
    }
    if (g->opts.max_nodes && gp->n_node > (size_t)g->opts.max_nodes)
        return ond_fail(err, OND_STATUS_LIMIT, "the graph has %zu nodes, over the limit of %lld",
                        gp->n_node, (long long)g->opts.max_nodes);
    struct ond_flat f = {0};
    st = ond_inline_functions(g, mp, alloc, &f, err);
    /* Inlined calls share the body's attribute messages: none may give its buffer away. */
    c->adopt = c->adopt && !f.inlined && !f.n_defaults;
    if (!st)
        st = load_nodes(c, &f, err);
    ond_flat_free(&f, alloc);
    if (st)
        return st;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *nm = gp->output[i]->name ? gp->output[i]->name : "";
        struct ond_tensor *t = *nm ? ond_graph_find_tensor(g, nm) : NULL;
        if (!t)
            return ond_fail(err, OND_STATUS_INVALID_MODEL,
                            "graph output '%s' is not produced by any node", nm);
        if (t->flags & OND_TENSOR_OUTPUT)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "graph output '%s' is listed twice", nm);
        t->flags |= OND_TENSOR_OUTPUT;
        g->outputs[g->n_outputs++] = t;
        /* The declared type seeds inference; inference checks it. */
        if (gp->output[i]->type && t->producer && (st = ond_load_type(c, gp->output[i], t, err)))
            return st;
    }
    return OND_OK;
}

/* Graph inputs and outputs declared with types ondine cannot hold, named with a node that
 * uses them (after unsupported ops have been reported, which explain most of them). */
static enum ond_status check_types(const struct ond_graph *g, struct ond_error *err)
{
    for (int i = 0; i < g->n_tensors; i++) {
        const struct ond_tensor *t = g->tensors[i];
        if (!(t->flags & OND_TENSOR_BADTYPE))
            continue;
        const struct ond_node *user = t->producer;
        for (int k = 0; !user && k < g->n_nodes; k++)
            for (int j = 0; j < g->nodes[k]->n_in; j++)
                if (g->nodes[k]->in[j] == t)
                    user = g->nodes[k];
        const char *type = t->info.dtype ? ond_dtype_name(t->info.dtype) : "a non-tensor type";
        if (user)
            return ond_fail(err, OND_STATUS_UNSUPPORTED,
                            "node '%s' (%s): value '%s' has type %s, which ondine does not "
                            "support", user->name, user->op_type, t->name, type);
        return ond_fail(err, OND_STATUS_UNSUPPORTED,
                        "value '%s' has type %s, which ondine does not support", t->name, type);
    }
    return OND_OK;
}

enum ond_status ond_parse_graph(const void *buf, size_t len, const char *dir, const char *label,
                               const struct ond_options *opts, bool partial, bool mapped,
                               struct ond_graph **out, struct ond_error *err)
{
    struct ond_error local;
    if (!err)
        err = &local;
    struct ond_graph *g = NULL;
    Onnx__ModelProto *mp = NULL;
    struct ond_stripped strip = {0};
    enum ond_status st = ond_graph_create(opts, &g, err);
    if (st) {
        if (mapped)
            ond_unmap_file((void *)(uintptr_t)buf, len);
        return st;
    }
    if (mapped) {
        g->map = (void *)(uintptr_t)buf;
        g->map_len = len;
    }
    if (g->opts.max_file_bytes && len > g->opts.max_file_bytes) {
        st = ond_fail(err, OND_STATUS_LIMIT, "the model is %zu bytes, over the limit of %llu",
                      len, (unsigned long long)g->opts.max_file_bytes);
        goto done;
    }
    int depth = g->opts.max_depth > 0 ? g->opts.max_depth : 64;
    int r = ond_wire_scan(buf, len, depth);
    if (r != 0) {
        st = r < 0 ? ond_fail(err, OND_STATUS_INVALID_MODEL,
                              "not a valid ONNX model (protobuf parse failed)")
                   : ond_fail(err, OND_STATUS_LIMIT,
                              "messages nest deeper than %d levels (nested graphs or types)",
                              depth);
        goto done;
    }
    /* protobuf-c needs about the file's size again plus per-message overhead for a real
     * model; a budget well above that stops amplification by empty repeated messages, and
     * parsing never takes more than max_total_bytes. */
    size_t limit = len > (SIZE_MAX - (64u << 20)) / 4 ? SIZE_MAX : len * 4 + (64u << 20);
    if (g->opts.max_total_bytes && g->opts.max_total_bytes < limit)
        limit = (size_t)g->opts.max_total_bytes;
    if (mapped && (st = ond_wire_strip(buf, len, &strip, err)))
        goto done;
    struct ond_budget b = {0, limit, false};
    ProtobufCAllocator alloc = ond_budget_allocator(&b);
    mp = strip.buf ? onnx__model_proto__unpack(&alloc, strip.len, strip.buf)
                   : onnx__model_proto__unpack(&alloc, len, buf);
    if (!mp) {
        st = b.exceeded ? ond_fail(err, OND_STATUS_LIMIT,
                                   "parsing needs more than %zu bytes (a %zu-byte file)", b.limit,
                                   len)
                        : ond_fail(err, OND_STATUS_INVALID_MODEL,
                                   "not a valid ONNX model (protobuf parse failed)");
        goto done;
    }
    ond_trace("parse");
    struct ond_load_ctx c = {g, dir, label, true, buf};
    st = load_model(&c, mp, &alloc, &strip, err);
    onnx__model_proto__free_unpacked(mp, &alloc);
    mp = NULL;
    if (st)
        goto done;
    if ((st = ond_graph_sort(g, err)) || (st = ond_graph_bind_ops(g, partial, err)) ||
        (st = check_types(g, err)) || (st = ond_graph_settle(g, err)))
        goto done;
    ond_trace("ir");
    *out = g;
    g = NULL;
done:
    ond_stripped_free(&strip);
    if (st && label)
        ond_error_prefix(err, "%s: ", label);
    ond_graph_free(g);
    return st;
}
