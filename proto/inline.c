/* inline.c: model-local functions (ModelProto.functions, IR 8 and later; torch.onnx's dynamo
 * exporter writes them) expanded at load, so the rest of ondine sees one flat graph.
 *
 * A node whose (domain, op_type, overload) names a local function is replaced by the
 * function's body: formal inputs and outputs become the call's actual names (an input the
 * call omits stays omitted; an output it omits gets an internal name), every other name in
 * the body becomes "<call>/<name>" with <call> unique per call, body attributes that refer to
 * a function attribute (ref_attr_name) take the call's value, or the function's default
 * (attribute_proto, IR 9), or are dropped when neither exists. Body nodes bind against the
 * function's own opset imports. Calls inside bodies expand the same way. Refused: recursion,
 * nesting deeper than max_depth, more than max_nodes nodes in all. The fields newer than
 * the ONNX 1.12 schema ondine compiles (attribute_proto, overload) are read from protobuf-c's
 * unknown fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/inline.h"
#include "proto/loader.h"

#define FN_ATTR_DEFAULTS 11  /* FunctionProto.attribute_proto */
#define FN_OVERLOAD 13       /* FunctionProto.overload */
#define NODE_OVERLOAD 8      /* NodeProto.overload */

struct fn {
    const Onnx__FunctionProto *fp;
    const char *overload;
    size_t overload_len;
    Onnx__AttributeProto **defaults;  /* into ond_flat.defaults */
    size_t n_defaults;
    bool active;  /* being expanded: a call to it now is recursion */
};

struct inliner {
    struct ond_graph *g;
    struct ond_flat *f;
    ProtobufCAllocator *alloc;
    struct fn *fns;
    size_t n_fns;
    size_t max_nodes;
    int max_depth;
    unsigned long calls;
    size_t visits;  /* body nodes rewritten, calls included: bounds time and memory */
};

/* The value of unknown field u, a length-delimited one: protobuf-c keeps its length prefix. */
static const uint8_t *unknown_value(const ProtobufCMessageUnknownField *u, size_t *len)
{
    uint64_t n = 0;
    size_t i = 0;
    if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
        return NULL;
    for (int shift = 0; i < u->len && shift < 64; shift += 7) {
        n |= (uint64_t)(u->data[i] & 0x7f) << shift;
        if (!(u->data[i++] & 0x80)) {
            if (n != u->len - i)
                return NULL;
            *len = (size_t)n;
            return u->data + i;
        }
    }
    return NULL;
}

/* The length-delimited unknown field `tag` of m (the last one, as protobuf reads scalars). */
static const uint8_t *unknown_bytes(const ProtobufCMessage *m, uint32_t tag, size_t *len)
{
    const uint8_t *v = NULL;
    *len = 0;
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        size_t n;
        const uint8_t *p = m->unknown_fields[i].tag == tag
                               ? unknown_value(&m->unknown_fields[i], &n) : NULL;
        if (p) {
            v = p;
            *len = n;
        }
    }
    return v;
}

static const char *str(const char *s)
{
    return s ? s : "";
}

static struct fn *find_fn(struct inliner *in, const Onnx__NodeProto *np)
{
    size_t olen;
    const uint8_t *ov = unknown_bytes(&np->base, NODE_OVERLOAD, &olen);
    for (size_t i = 0; i < in->n_fns; i++) {
        struct fn *fn = &in->fns[i];
        if (strcmp(str(fn->fp->name), str(np->op_type)) == 0 &&
            strcmp(str(fn->fp->domain), str(np->domain)) == 0 && fn->overload_len == olen &&
            (!olen || memcmp(fn->overload, ov, olen) == 0))
            return fn;
    }
    return NULL;
}

static enum ond_status push(struct inliner *in, const Onnx__NodeProto *np, int64_t opset,
                            struct ond_error *err)
{
    struct ond_flat *f = in->f;
    if (f->n >= in->max_nodes)
        return ond_fail(err, OND_STATUS_LIMIT,
                        "the graph has more than %zu nodes once its functions are inlined",
                        in->max_nodes);
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        struct ond_flat_node *v = realloc(f->nodes, cap * sizeof *v);
        if (!v)
            return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate the node list");
        f->nodes = v;
        f->cap = cap;
    }
    f->nodes[f->n++] = (struct ond_flat_node){np, opset};
    return OND_OK;
}

/* "<prefix>/<name>" in the graph arena. */
static char *join(struct ond_graph *g, const char *prefix, const char *name,
                  struct ond_error *err)
{
    size_t a = strlen(prefix), b = strlen(name);
    char *s = ond_alloc(g, a + b + 2, err);
    if (s) {
        memcpy(s, prefix, a);
        s[a] = '/';
        memcpy(s + a + 1, name, b + 1);
    }
    return s;
}

/* The actual name for body name `v` of a call: a formal input or output maps to the call's,
 * any other (internal) name is prefixed. */
static char *actual_name(struct inliner *in, const Onnx__FunctionProto *fp,
                    const Onnx__NodeProto *call, const char *prefix, const char *v,
                    struct ond_error *err)
{
    if (!*v)
        return (char *)v;
    for (size_t i = 0; i < fp->n_input; i++)
        if (strcmp(str(fp->input[i]), v) == 0)
            return i < call->n_input ? call->input[i] : (char *)"";
    for (size_t i = 0; i < fp->n_output; i++)
        if (strcmp(str(fp->output[i]), v) == 0 && i < call->n_output && *str(call->output[i]))
            return call->output[i];
    return join(in->g, prefix, v, err);
}

/* Attribute `name` of a call, else the function's default, else NULL. */
static const Onnx__AttributeProto *attr_value(const struct fn *fn, const Onnx__NodeProto *call,
                                              const char *name)
{
    for (size_t i = 0; i < call->n_attribute; i++)
        if (strcmp(str(call->attribute[i]->name), name) == 0)
            return call->attribute[i];
    for (size_t i = 0; i < fn->n_defaults; i++)
        if (strcmp(str(fn->defaults[i]->name), name) == 0)
            return fn->defaults[i];
    return NULL;
}

/* The opset fp imports for domain d (the ai.onnx spellings are one domain), or -1. */
static int64_t fn_opset(const Onnx__FunctionProto *fp, const char *d)
{
    if (strcmp(d, "ai.onnx") == 0)
        d = "";
    for (size_t i = 0; i < fp->n_opset_import; i++) {
        const char *id = str(fp->opset_import[i]->domain);
        if (strcmp(strcmp(id, "ai.onnx") == 0 ? "" : id, d) == 0)
            return fp->opset_import[i]->version;
    }
    return -1;
}

static enum ond_status call_fn(struct inliner *in, struct fn *fn, const Onnx__NodeProto *call,
                               int depth, struct ond_error *err)
{
    const Onnx__FunctionProto *fp = fn->fp;
    struct ond_graph *g = in->g;
    if (fn->active)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "function '%s' calls itself (node '%s'): recursion is not allowed",
                        str(fp->name), str(call->name));
    if (depth >= in->max_depth)
        return ond_fail(err, OND_STATUS_LIMIT,
                        "function calls nest deeper than %d levels (node '%s')", in->max_depth,
                        str(call->name));
    if (call->n_input > fp->n_input || call->n_output > fp->n_output)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "node '%s' calls function '%s' with %zu inputs and %zu outputs; it "
                        "declares %zu and %zu", str(call->name), str(fp->name), call->n_input,
                        call->n_output, fp->n_input, fp->n_output);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%.40s#%lu", str(fp->name), ++in->calls);
    char *pre = ond_strdup(g, prefix, strlen(prefix), err);
    if (!pre)
        return err->status;
    fn->active = true;
    enum ond_status st = OND_OK;
    for (size_t k = 0; k < fp->n_node && !st; k++) {
        const Onnx__NodeProto *b = fp->node[k];
        if (++in->visits > in->max_nodes) {
            st = ond_fail(err, OND_STATUS_LIMIT,
                          "inlining the functions takes more than %zu nodes", in->max_nodes);
            break;
        }
        Onnx__NodeProto *n = ond_alloc(g, sizeof *n, err);
        char **ins = n ? ond_alloc(g, sizeof *ins * (b->n_input + 1), err) : NULL;
        char **outs = ins ? ond_alloc(g, sizeof *outs * (b->n_output + 1), err) : NULL;
        Onnx__AttributeProto **attrs =
            outs ? ond_alloc(g, sizeof *attrs * (b->n_attribute + 1), err) : NULL;
        if (!attrs) {
            st = err->status;
            break;
        }
        *n = *b;
        n->base.n_unknown_fields = 0;  /* the body's overload stays on b, read below */
        n->input = ins;
        n->output = outs;
        n->attribute = attrs;
        n->n_attribute = 0;
        char nm[32];
        snprintf(nm, sizeof nm, "%zu", k);
        if (!(n->name = join(g, pre, *str(b->name) ? b->name : nm, err)))
            st = err->status;
        for (size_t i = 0; i < b->n_input && !st; i++)
            if (!(ins[i] = actual_name(in, fp, call, pre, str(b->input[i]), err)))
                st = err->status;
        for (size_t i = 0; i < b->n_output && !st; i++)
            if (!(outs[i] = actual_name(in, fp, call, pre, str(b->output[i]), err)))
                st = err->status;
        for (size_t i = 0; i < b->n_attribute && !st; i++) {
            const Onnx__AttributeProto *a = b->attribute[i];
            if (!a->ref_attr_name) {
                attrs[n->n_attribute++] = (Onnx__AttributeProto *)a;
                continue;
            }
            const Onnx__AttributeProto *v = attr_value(fn, call, a->ref_attr_name);
            if (!v)
                continue;
            Onnx__AttributeProto *c = ond_alloc(g, sizeof *c, err);
            if (!c) {
                st = err->status;
                break;
            }
            *c = *v;
            c->name = a->name;
            c->ref_attr_name = NULL;
            attrs[n->n_attribute++] = c;
        }
        if (!st) {
            /* A nested call is found by b's own overload; n carries no unknown fields. */
            struct fn *inner = find_fn(in, b);
            if (inner)
                st = call_fn(in, inner, n, depth + 1, err);
            else
                st = push(in, n, fn_opset(fp, str(b->domain)), err);
        }
    }
    fn->active = false;
    return st;
}

static enum ond_status expand(struct inliner *in, const Onnx__NodeProto *np, int64_t opset,
                              int depth, struct ond_error *err)
{
    struct fn *fn = find_fn(in, np);
    return fn ? call_fn(in, fn, np, depth, err) : push(in, np, opset, err);
}

/* The functions of mp, with their overloads and unpacked default attributes. */
static enum ond_status load_fns(struct inliner *in, const Onnx__ModelProto *mp,
                                struct ond_error *err)
{
    struct ond_flat *f = in->f;
    size_t n_defaults = 0;
    for (size_t i = 0; i < mp->n_functions; i++) {
        const ProtobufCMessage *m = &mp->functions[i]->base;
        for (unsigned k = 0; k < m->n_unknown_fields; k++)
            n_defaults += m->unknown_fields[k].tag == FN_ATTR_DEFAULTS;
    }
    in->fns = ond_alloc(in->g, sizeof *in->fns * (mp->n_functions + 1), err);
    f->defaults = calloc(n_defaults + 1, sizeof *f->defaults);
    if (!in->fns || !f->defaults)
        return in->fns ? ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate") : err->status;
    for (size_t i = 0; i < mp->n_functions; i++) {
        const Onnx__FunctionProto *fp = mp->functions[i];
        struct fn *fn = &in->fns[in->n_fns++];
        fn->fp = fp;
        if (!fp->name || !*fp->name)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "function %zu has no name", i);
        fn->overload = (const char *)unknown_bytes(&fp->base, FN_OVERLOAD, &fn->overload_len);
        int64_t v = fn_opset(fp, "");
        if (v > OND_MAX_OPSET)
            return ond_fail(err, OND_STATUS_UNSUPPORTED,
                            "function '%s' imports opset %lld of the default domain, beyond the "
                            "supported 1..%d", fp->name, (long long)v, OND_MAX_OPSET);
        fn->defaults = f->defaults + f->n_defaults;
        for (unsigned k = 0; k < fp->base.n_unknown_fields; k++) {
            const ProtobufCMessageUnknownField *u = &fp->base.unknown_fields[k];
            if (u->tag != FN_ATTR_DEFAULTS)
                continue;
            size_t len;
            const uint8_t *v = unknown_value(u, &len);
            Onnx__AttributeProto *a = v ? onnx__attribute_proto__unpack(in->alloc, len, v) : NULL;
            if (!a)
                return ond_fail(err, OND_STATUS_INVALID_MODEL,
                                "function '%s': a default attribute does not parse", fp->name);
            f->defaults[f->n_defaults++] = a;
            fn->n_defaults++;
        }
        for (size_t k = 0; k + 1 < in->n_fns; k++)
            if (strcmp(str(in->fns[k].fp->name), fp->name) == 0 &&
                strcmp(str(in->fns[k].fp->domain), str(fp->domain)) == 0 &&
                in->fns[k].overload_len == fn->overload_len &&
                (!fn->overload_len ||
                 memcmp(in->fns[k].overload, fn->overload, fn->overload_len) == 0))
                return ond_fail(err, OND_STATUS_INVALID_MODEL,
                                "function '%s' (domain '%s') is defined twice", fp->name,
                                str(fp->domain));
    }
    return OND_OK;
}

enum ond_status ond_inline_functions(struct ond_graph *g, const Onnx__ModelProto *mp,
                                     ProtobufCAllocator *alloc, struct ond_flat *f,
                                     struct ond_error *err)
{
    const Onnx__GraphProto *gp = mp->graph;
    struct inliner in = {g, f, alloc, NULL, 0,
                         g->opts.max_nodes > 0 ? (size_t)g->opts.max_nodes
                         : mp->n_functions     ? (size_t)1 << 20 : SIZE_MAX,
                         g->opts.max_depth > 0 ? g->opts.max_depth : 64, 0, 0};
    enum ond_status st = load_fns(&in, mp, err);
    for (size_t i = 0; i < gp->n_node && !st; i++) {
        const struct fn *fn = find_fn(&in, gp->node[i]);
        f->inlined |= fn != NULL;
        st = expand(&in, gp->node[i], -1, 0, err);
        if (st && fn)
            ond_error_prefix(err, "function '%s' (called by node %zu '%s'): ", fn->fp->name, i,
                             str(gp->node[i]->name));
    }
    return st;
}

void ond_flat_free(struct ond_flat *f, ProtobufCAllocator *alloc)
{
    for (size_t i = 0; i < f->n_defaults; i++)
        onnx__attribute_proto__free_unpacked(f->defaults[i], alloc);
    free(f->defaults);
    free(f->nodes);
    *f = (struct ond_flat){0};
}
