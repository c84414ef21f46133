/* writer.c: IR graph -> ONNX ModelProto bytes, for `ondine optimize` (see writer.h).
 *
 * Every message is built with protobuf-c's init functions in memory the writer tracks and frees
 * after packing; constant data is not copied (raw_data points at the graph's buffers). Nodes
 * are written in the graph's (topological) order. A standard op that carries post-ops is
 * written as the ai.ondine fused op of ops/fused.c (Conv -> FusedConv), with the attributes
 * post_ops and post_params and one input per sum or add post-op after the base op's inputs
 * (an omitted optional input is ""); ai.ondine ops (ScaleShift, InnerProduct) carry the same
 * attributes. The ai.ondine domain is imported at version 1 when a node uses it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx/onnx.pb-c.h"
#include "ops/op.h"
#include "proto/writer.h"

/* Allocations of one write, freed together. */
struct pool {
    void **ptrs;
    size_t n, cap;
    bool failed;
};

static void *palloc(struct pool *p, size_t size)
{
    if (p->failed)
        return NULL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        void **np = realloc(p->ptrs, sizeof *np * cap);
        if (!np) {
            p->failed = true;
            return NULL;
        }
        p->ptrs = np;
        p->cap = cap;
    }
    void *m = calloc(1, size ? size : 1);
    if (!m) {
        p->failed = true;
        return NULL;
    }
    p->ptrs[p->n++] = m;
    return m;
}

static void pool_free(struct pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->ptrs[i]);
    free(p->ptrs);
}

/* const-stripping for protobuf-c's char * fields, which packing only reads. */
static char *str(const char *s)
{
    return (char *)(uintptr_t)s;
}

static Onnx__TensorProto *tensor(struct pool *p, const char *name, const struct ond_info *info)
{
    Onnx__TensorProto *t = palloc(p, sizeof *t);
    int64_t *dims = palloc(p, sizeof *dims * (size_t)(info->rank + 1));
    if (!t || !dims)
        return NULL;
    onnx__tensor_proto__init(t);
    t->name = str(name);
    t->has_data_type = 1;
    t->data_type = info->dtype;
    memcpy(dims, info->dims, sizeof *dims * (size_t)info->rank);
    t->dims = dims;
    t->n_dims = (size_t)info->rank;
    t->has_raw_data = 1;
    t->raw_data.len = ond_info_bytes(info);
    t->raw_data.data = (uint8_t *)(uintptr_t)info->data;
    return t;
}

static Onnx__ValueInfoProto *value_info(struct pool *p, const struct ond_graph *g,
                                        const struct ond_tensor *t)
{
    Onnx__ValueInfoProto *vi = palloc(p, sizeof *vi);
    Onnx__TypeProto *tp = palloc(p, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = palloc(p, sizeof *tt);
    if (!vi || !tp || !tt)
        return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = str(t->name);
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = t->info.dtype;
    if (t->info.rank < 0)
        return vi;
    Onnx__TensorShapeProto *sh = palloc(p, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims =
        palloc(p, sizeof *dims * (size_t)(t->info.rank + 1));
    if (!sh || !dims)
        return NULL;
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < t->info.rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = palloc(p, sizeof *d);
        int64_t v = t->info.dims[i];
        if (!d)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (v >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = v;
        } else if (v <= -2 && -2 - v < g->n_syms) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = str(g->syms[-2 - v]);
        }
        dims[i] = d;
    }
    sh->dim = dims;
    sh->n_dim = (size_t)t->info.rank;
    tt->shape = sh;
    return vi;
}

static Onnx__AttributeProto *attr_new(struct pool *p, const char *name, int type)
{
    Onnx__AttributeProto *a = palloc(p, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = str(name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    return a;
}

static enum ond_status attr(struct pool *p, const struct ond_node *n, const struct ond_attr *in,
                            Onnx__AttributeProto **out, struct ond_error *err)
{
    Onnx__AttributeProto *a = attr_new(p, in->name, in->type);
    *out = a;
    if (!a)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot write node '%s'", n->name);
    switch (in->type) {
    case OND_ATTR_FLOAT: a->has_f = 1; a->f = in->f; break;
    case OND_ATTR_INT: a->has_i = 1; a->i = in->i; break;
    case OND_ATTR_STRING:
        a->has_s = 1;
        a->s.data = (uint8_t *)(uintptr_t)in->s;
        a->s.len = in->s_len;
        break;
    case OND_ATTR_TENSOR:
        if (!(a->t = tensor(p, "", &in->t->info)))
            return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot write node '%s'", n->name);
        break;
    case OND_ATTR_FLOATS:
        a->floats = (float *)(uintptr_t)in->floats;
        a->n_floats = in->n;
        break;
    case OND_ATTR_INTS:
        a->ints = (int64_t *)(uintptr_t)in->ints;
        a->n_ints = in->n;
        break;
    case OND_ATTR_STRINGS:
        if (!(a->strings = palloc(p, sizeof *a->strings * (in->n + 1))))
            return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot write node '%s'", n->name);
        for (size_t i = 0; i < in->n; i++) {
            a->strings[i].data = (uint8_t *)(uintptr_t)in->strings[i];
            a->strings[i].len = strlen(in->strings[i]);
        }
        a->n_strings = in->n;
        break;
    default:
        return ond_fail(err, OND_STATUS_UNSUPPORTED,
                        "node '%s': attribute '%s' (type %d) is not kept after loading and "
                        "cannot be written", n->name, in->name, in->type);
    }
    return OND_OK;
}

/* post_ops and post_params from n->post; false when out of memory or a kind is unknown. */
static bool post_attrs(struct pool *p, const struct ond_node *n, Onnx__AttributeProto **kinds,
                       Onnx__AttributeProto **params)
{
    *kinds = attr_new(p, "post_ops", OND_ATTR_STRINGS);
    *params = attr_new(p, "post_params", OND_ATTR_FLOATS);
    ProtobufCBinaryData *s = palloc(p, sizeof *s * (size_t)n->n_post);
    float *f = palloc(p, sizeof *f * (size_t)(2 * n->n_post));
    if (!*kinds || !*params || !s || !f)
        return false;
    for (int i = 0; i < n->n_post; i++) {
        const char *name = ond_postop_name(n->post[i].kind);
        if (!name)
            return false;
        s[i].data = (uint8_t *)(uintptr_t)name;
        s[i].len = strlen(name);
        f[2 * i] = n->post[i].alpha;
        f[2 * i + 1] = n->post[i].beta;
    }
    (*kinds)->strings = s;
    (*kinds)->n_strings = (size_t)n->n_post;
    (*params)->floats = f;
    (*params)->n_floats = (size_t)(2 * n->n_post);
    return true;
}

/* The model's opset of the ONNX domain. */
static int64_t onnx_opset(const struct ond_graph *g)
{
    for (size_t i = 0; i < g->n_opsets; i++)
        if (!*g->opsets[i].domain || strcmp(g->opsets[i].domain, "ai.onnx") == 0)
            return g->opsets[i].version;
    return 0;
}

static enum ond_status node(struct pool *p, const struct ond_graph *g, const struct ond_node *n,
                            Onnx__NodeProto **out, bool *ondine_domain, struct ond_error *err)
{
    Onnx__NodeProto *np = palloc(p, sizeof *np);
    char **in = palloc(p, sizeof *in * (size_t)(n->n_in + 1));
    char **outs = palloc(p, sizeof *outs * (size_t)(n->n_out + 1));
    Onnx__AttributeProto **attrs = palloc(p, sizeof *attrs * (n->n_attrs + 2));
    enum ond_status st = OND_OK;
    *out = np;
    if (!np || !in || !outs || !attrs)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot write node '%s'", n->name);
    onnx__node_proto__init(np);
    np->name = str(n->name);
    np->op_type = str(n->op_type);
    np->domain = str(n->domain);
    if (n->n_post && !*n->domain) {
        char *fused = palloc(p, strlen(n->op_type) + 6);
        if (!fused)
            return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot write node '%s'", n->name);
        sprintf(fused, "Fused%s", n->op_type);
        np->op_type = fused;
        np->domain = "ai.ondine";
    } else if (!*n->domain && n->opset > onnx_opset(g) &&
               ond_op_find("ai.ondine", n->op_type, 1)) {
        /* A pass's Swish or Gelu in an older model: ai.ondine's (ops/fused.c). */
        np->domain = "ai.ondine";
    }
    *ondine_domain |= strcmp(np->domain, "ai.ondine") == 0;
    /* Trailing omitted inputs are left out; inner ones are "". */
    int n_in = n->n_in;
    while (n_in > 0 && !n->in[n_in - 1])
        n_in--;
    for (int k = 0; k < n_in; k++)
        in[k] = n->in[k] ? str(n->in[k]->name) : "";
    np->input = in;
    np->n_input = (size_t)n_in;
    for (int k = 0; k < n->n_out; k++)
        outs[k] = n->out[k] ? str(n->out[k]->name) : "";
    np->output = outs;
    np->n_output = (size_t)n->n_out;
    for (size_t k = 0; k < n->n_attrs && !st; k++) {
        const char *name = n->attrs[k].name;
        if (strcmp(name, "post_ops") != 0 && strcmp(name, "post_params") != 0)
            st = attr(p, n, &n->attrs[k], &attrs[np->n_attribute++], err);
    }
    if (!st && n->n_post) {
        if (!post_attrs(p, n, &attrs[np->n_attribute], &attrs[np->n_attribute + 1]))
            return ond_fail(err, p->failed ? OND_STATUS_NO_MEMORY : OND_STATUS_INVALID_ARGUMENT,
                            "cannot write the post-ops of node '%s'", n->name);
        np->n_attribute += 2;
    }
    np->attribute = attrs;
    return st;
}

/* The model message of g, in p's memory. */
static enum ond_status model(struct pool *p, const struct ond_graph *g, Onnx__ModelProto **out,
                             struct ond_error *err)
{
    Onnx__ModelProto *mp = palloc(p, sizeof *mp);
    Onnx__GraphProto *gp = palloc(p, sizeof *gp);
    Onnx__NodeProto **nodes = palloc(p, sizeof *nodes * (size_t)(g->n_nodes + 1));
    Onnx__TensorProto **inits = palloc(p, sizeof *inits * (size_t)(g->n_tensors + 1));
    Onnx__ValueInfoProto **inputs =
        palloc(p, sizeof *inputs * (size_t)(g->n_inputs + g->n_tensors + 1));
    Onnx__ValueInfoProto **outputs = palloc(p, sizeof *outputs * (size_t)(g->n_outputs + 1));
    Onnx__OperatorSetIdProto **opsets = palloc(p, sizeof *opsets * (g->n_opsets + 1));
    bool ondine = false;
    enum ond_status st = OND_OK;
    if (!mp || !gp || !nodes || !inits || !inputs || !outputs || !opsets)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot build the model message");
    onnx__model_proto__init(mp);
    onnx__graph_proto__init(gp);
    mp->has_ir_version = 1;
    mp->ir_version = g->ir_version;
    mp->producer_name = "ondine";
    mp->producer_version = str(OND_VERSION_STRING);
    mp->graph = gp;
    gp->name = str(g->name);
    for (int i = 0; i < g->n_nodes && !st; i++)
        st = node(p, g, g->nodes[i], &nodes[gp->n_node++], &ondine, err);
    gp->node = nodes;
    for (int i = 0; i < g->n_inputs; i++)
        inputs[gp->n_input++] = value_info(p, g, g->inputs[i]);
    for (int i = 0; i < g->n_tensors; i++) {
        const struct ond_tensor *t = g->tensors[i];
        if (!(t->flags & (OND_TENSOR_CONST | OND_TENSOR_DEFAULT)) ||
            (!t->uses && !(t->flags & OND_TENSOR_OUTPUT)))
            continue;
        struct ond_info value = t->info;
        if (t->flags & OND_TENSOR_DEFAULT)
            value.data = t->dflt;
        if (t->scale) { /* a deferred W with a folded BatchNormalization's scale */
            void *w = palloc(p, t->nbytes);
            if (w)
                ond_tensor_read(t, w);
            value.data = w;
        }
        inits[gp->n_initializer++] = tensor(p, t->name, &value);
        /* Before IR version 4 every initializer is also a graph input. */
        if (g->ir_version < 4)
            inputs[gp->n_input++] = value_info(p, g, t);
    }
    gp->initializer = inits;
    gp->input = inputs;
    for (int i = 0; i < g->n_outputs; i++)
        outputs[gp->n_output++] = value_info(p, g, g->outputs[i]);
    gp->output = outputs;
    for (size_t i = 0; i < g->n_opsets; i++) {
        Onnx__OperatorSetIdProto *o = palloc(p, sizeof *o);
        if (!o)
            break;
        onnx__operator_set_id_proto__init(o);
        o->domain = str(g->opsets[i].domain);
        o->has_version = 1;
        o->version = g->opsets[i].version;
        opsets[mp->n_opset_import++] = o;
        ondine &= strcmp(o->domain, "ai.ondine") != 0;
    }
    if (ondine) {
        Onnx__OperatorSetIdProto *o = palloc(p, sizeof *o);
        if (o) {
            onnx__operator_set_id_proto__init(o);
            o->domain = "ai.ondine";
            o->has_version = 1;
            o->version = 1;
            opsets[mp->n_opset_import++] = o;
        }
    }
    mp->opset_import = opsets;
    *out = mp;
    if (!st && p->failed)
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot build the model message");
    return st;
}

enum ond_status ond_write_model_buffer(const struct ond_graph *g, uint8_t **buf, size_t *len,
                                       struct ond_error *err)
{
    struct pool p = {0};
    Onnx__ModelProto *mp = NULL;
    enum ond_status st = model(&p, g, &mp, err);
    *buf = NULL;
    *len = 0;
    if (!st) {
        size_t n = onnx__model_proto__get_packed_size(mp);
        if (!(*buf = malloc(n ? n : 1)))
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate %zu bytes for the model", n);
        else
            *len = onnx__model_proto__pack(mp, *buf);
    }
    pool_free(&p);
    return st;
}

enum ond_status ond_write_model(const struct ond_graph *g, const char *path,
                                struct ond_error *err)
{
    uint8_t *buf;
    size_t len;
    enum ond_status st = ond_write_model_buffer(g, &buf, &len, err);
    if (st)
        return st;
    /* A new file renamed over path: a model loaded from path keeps reading its weights from
     * the old file's mapping (ond_model_load_file), which truncating it would break. */
    static _Atomic unsigned serial;
    char tmp[4096];
    int fd = (size_t)snprintf(tmp, sizeof tmp, "%s.%d-%u", path, (int)getpid(), serial++) <
                     sizeof tmp
                 ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)
                 : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    bool ok = f && fwrite(buf, 1, len, f) == len;
    if (f ? fclose(f) != 0 : fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        st = ond_fail(err, OND_STATUS_IO, "cannot write '%s': %s", path, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
    }
    free(buf);
    return st;
}
