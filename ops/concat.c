/* concat.c: ONNX Concat, opsets 1 (axis optional, default 1), 4 (axis required) and 11, 13
 * (negative axis). Any number of inputs of one dtype; all dtypes.
 * Sessions: float runs as one oneDNN concat, first with the inputs in the layouts they
 * arrive in (converted to one data type) and the output layout oneDNN picks, else all plain;
 * constants are plain memory.
 * Empty inputs and other dtypes run the eval. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct concat {
    int64_t axis;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct concat *p = params;
    if (n->opset >= 4 && !ond_node_attr(n, "axis"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "attribute 'axis' is required");
    return ond_attr_int(n, "axis", 1, &p->axis, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct concat *p = n->params;
    const struct ond_info *ref = NULL;
    out[0].dtype = in[0]->dtype;
    for (int k = 0; k < n->n_in; k++) {
        if (!in[k])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input %d is empty", k);
        if (in[k]->dtype != in[0]->dtype)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "input %d is %s, input 0 is %s", k,
                                 ond_dtype_name(in[k]->dtype), ond_dtype_name(in[0]->dtype));
        if (!ref && in[k]->rank >= 0)
            ref = in[k];
    }
    if (!ref)
        return OND_OK;
    int axis;
    enum ond_status st = ond_axis(n, p->axis, ref->rank, &axis, err);
    if (st)
        return st;
    out[0] = *ref;
    out[0].data = NULL;
    out[0].dims[axis] = 0;
    for (int k = 0; k < n->n_in; k++) {
        const struct ond_info *x = in[k];
        if (x->rank < 0) {
            out[0].dims[axis] = OND_DIM_UNKNOWN;
            continue;
        }
        if (x->rank != ref->rank)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "input %d has rank %d, another input rank %d", k, x->rank,
                                 ref->rank);
        for (int i = 0; i < x->rank; i++) {
            int64_t a = out[0].dims[i], b = x->dims[i];
            if (i == axis)
                out[0].dims[i] = a >= 0 && b >= 0 ? a + b : OND_DIM_UNKNOWN;
            else if (a >= 0 && b >= 0 && a != b)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "input %d has %lld at dim %d, another input %lld", k,
                                     (long long)b, i, (long long)a);
            else if (a < 0 && b != OND_DIM_UNKNOWN)
                out[0].dims[i] = b;
        }
    }
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct concat *p = n->params;
    const struct ond_info *y = &out[0];
    int axis;
    enum ond_status st = ond_axis(n, p->axis, y->rank, &axis, err);
    if (st)
        return st;
    size_t es = ond_dtype_size(y->dtype), outer = 1, inner = es;
    for (int i = 0; i < axis; i++)
        outer *= (size_t)y->dims[i];
    for (int i = axis + 1; i < y->rank; i++)
        inner *= (size_t)y->dims[i];
    char *dst = out_data[0];
    for (size_t o = 0; o < outer; o++)
        for (int k = 0; k < n->n_in; k++) {
            size_t len = (size_t)in[k]->dims[axis] * inner;
            if (len)
                memcpy(dst, (const char *)in[k]->data + o * len, len);
            dst += len;
        }
    return OND_OK;
}

/* A concat primitive over the activations as they arrive (plain: all plain) and constants
 * plain, or NULL when oneDNN has none; src gets the sources' layouts. oneDNN's concat takes
 * one data type for all sources (a mix is invalid_arguments: graph fuzzer finding C, a graph
 * input beside a bf16 conv output): in a blocked layout, the first activation's (bf16 in a
 * bf16 session), plain f32 like every plain tensor; the planner converts the others. */
static enum ond_status concat_pd(struct ond_prep *p, int axis, bool plain, dnnl_memory_desc_t *src,
                                 dnnl_primitive_desc_t *pd, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    dnnl_memory_desc_t dst;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_data_type_t dt = dnnl_f32;
    for (int k = n->n_in - 1; k >= 0 && !plain; k--)
        if (p->in_md[k])
            dt = p->in_md[k]->data_type;
    enum ond_status st = plain ? ond_md(&p->out[0], true, &dst, err)
                               : ond_md_any(&p->out[0], dt, &dst, err);
    *pd = NULL;
    for (int k = 0; k < n->n_in && !st; k++) {
        if ((st = ond_md(p->in[k], true, &src[k], err)))
            break;
        if (!plain && p->in_md[k])
            src[k] = *p->in_md[k];
        src[k].data_type = dt;
        memset(&p->want_md[k], 0, sizeof p->want_md[k]);
        if (p->in_md[k] && !dnnl_memory_desc_equal(&src[k], p->in_md[k]))
            p->want_md[k] = src[k];
    }
    if (!st && !(st = ond_prep_attr(p, &attr, err))) {
        dnnl_status_t ds = dnnl_concat_primitive_desc_create(pd, &dst, n->n_in, axis, src, attr,
                                                             p->engine);
        if (ds == dnnl_unimplemented)
            *pd = NULL;
        else
            st = ond_dnnl(ds, "concat_primitive_desc_create", n, err);
    }
    dnnl_primitive_attr_destroy(attr);
    return st;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct concat *q = n->params;
    if (p->out[0].dtype != OND_DTYPE_FLOAT)
        return ond_prep_decline(p, "%s inputs", ond_dtype_name(p->out[0].dtype));
    int axis;
    enum ond_status st = ond_axis(n, q->axis, p->out[0].rank, &axis, err);
    for (int k = 0; k < n->n_in && !st; k++)
        if (!ond_info_bytes(p->in[k]))
            return ond_prep_decline(p, "input %d is empty", k);
    dnnl_memory_desc_t src[OND_PREP_MAX_IN];
    dnnl_primitive_desc_t pd;
    if (st || (st = concat_pd(p, axis, false, src, &pd, err)))
        return st;
    if (!pd && ((st = concat_pd(p, axis, true, src, &pd, err)) || !pd))
        return st ? st : ond_prep_decline(p, "oneDNN has no implementation");
    for (int k = 0; k < n->n_in && !st; k++) {
        int m;
        if (p->in_md[k])
            ond_prep_arg(p, DNNL_ARG_MULTIPLE_SRC + k, OND_ARG_IN, k);
        else if (!(st = ond_prep_const(p, k, &src[k], &m, err)))
            ond_prep_arg(p, DNNL_ARG_MULTIPLE_SRC + k, OND_ARG_MEM, m);
    }
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

const struct ond_op ond_op_concat = {
    .domain = "", .name = "Concat", .since = 1,
    .min_in = 1, .max_in = 1 << 20, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct concat),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
