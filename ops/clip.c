/* clip.c: ONNX Clip. Opsets 1 and 6: float only, attributes min and max (defaults -FLT_MAX and
 * FLT_MAX; consumed_inputs of opset 1 ignored). Opsets 11, 12, 13: optional scalar inputs min
 * and max (absent: unbounded) of the input's type: float, double, int8, uint8, int32, int64.
 * min above max gives max everywhere (numpy's order: lower bound, then upper); NaN passes.
 * Sessions: float runs as oneDNN eltwise clip (same order of bounds) when min and max are
 * constant; other dtypes and run-time bounds run the eval. */
#include <float.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct clip_attrs {
    float min, max;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct clip_attrs *p = params;
    enum ond_status st = ond_attr_float(n, "min", -FLT_MAX, &p->min, err);
    return st ? st : ond_attr_float(n, "max", FLT_MAX, &p->max, err);
}

#define CLIP(T)                                     \
    do {                                            \
        const T *xs = x, *l = lo, *h = hi;          \
        T *ys = y;                                  \
        for (uint64_t i = 0; i < numel; i++) {      \
            T v = xs[i];                            \
            if (l && v < *l)                        \
                v = *l;                             \
            if (h && v > *h)                        \
                v = *h;                             \
            ys[i] = v;                              \
        }                                           \
    } while (0)

/* lo or hi NULL: no bound on that side. */
static void clip(int32_t dtype, const void *x, void *y, uint64_t numel, const void *lo,
                 const void *hi)
{
    switch (dtype) {
    case OND_DTYPE_FLOAT: CLIP(float); break;
    case OND_DTYPE_DOUBLE: CLIP(double); break;
    case OND_DTYPE_INT8: CLIP(int8_t); break;
    case OND_DTYPE_UINT8: CLIP(uint8_t); break;
    case OND_DTYPE_INT32: CLIP(int32_t); break;
    case OND_DTYPE_INT64: CLIP(int64_t); break;
    }
}

static enum ond_status eval_1(const struct ond_node *n, const struct ond_info *const *in,
                              const struct ond_info *out, void *const *out_data,
                              struct ond_error *err)
{
    (void)err;
    const struct clip_attrs *p = n->params;
    uint64_t numel = 0;
    ond_numel(&out[0], 0, &numel);
    clip(OND_DTYPE_FLOAT, in[0]->data, out_data[0], numel, &p->min, &p->max);
    return OND_OK;
}

static enum ond_status prepare_1(struct ond_prep *p, struct ond_error *err)
{
    const struct clip_attrs *q = p->node->params;
    return ond_prep_eltwise(p, dnnl_eltwise_clip, q->min, q->max, err);
}

static const struct ond_info *bound(const struct ond_node *n, const struct ond_info *const *in,
                                    int k)
{
    return k < n->n_in ? in[k] : NULL;
}

static enum ond_status infer_11(const struct ond_node *n, const struct ond_info *const *in,
                                struct ond_info *out, struct ond_error *err)
{
    int32_t dt = in[0]->dtype;
    if (dt != OND_DTYPE_FLOAT && dt != OND_DTYPE_DOUBLE && dt != OND_DTYPE_INT8 &&
        dt != OND_DTYPE_UINT8 && dt != OND_DTYPE_INT32 && dt != OND_DTYPE_INT64)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "type %s is not supported",
                             ond_dtype_name(dt));
    for (int k = 1; k <= 2; k++) {
        const struct ond_info *b = bound(n, in, k);
        if (!b)
            continue;
        const char *what = k == 1 ? "min" : "max";
        if (b->dtype != dt)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "%s is %s, input is %s",
                                 what, ond_dtype_name(b->dtype), ond_dtype_name(dt));
        for (int i = 0; i < b->rank; i++)
            if (b->dims[i] >= 0 && b->dims[i] != 1)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "%s must be a scalar, has dim %d of %lld", what, i,
                                     (long long)b->dims[i]);
    }
    out[0] = *in[0];
    out[0].data = NULL;
    return OND_OK;
}

static enum ond_status eval_11(const struct ond_node *n, const struct ond_info *const *in,
                               const struct ond_info *out, void *const *out_data,
                               struct ond_error *err)
{
    (void)err;
    const struct ond_info *lo = bound(n, in, 1), *hi = bound(n, in, 2);
    uint64_t numel = 0;
    ond_numel(&out[0], 0, &numel);
    clip(out[0].dtype, in[0]->data, out_data[0], numel, lo ? lo->data : NULL,
         hi ? hi->data : NULL);
    return OND_OK;
}

static enum ond_status prepare_11(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_info *lo = bound(p->node, p->in, 1), *hi = bound(p->node, p->in, 2);
    if ((lo && !lo->data) || (hi && !hi->data))
        return ond_prep_decline(p, "min or max is not constant");
    if (p->in[0]->dtype != OND_DTYPE_FLOAT)
        return ond_prep_decline(p, "input is %s", ond_dtype_name(p->in[0]->dtype));
    return ond_prep_eltwise(p, dnnl_eltwise_clip, lo ? *(const float *)lo->data : -FLT_MAX,
                            hi ? *(const float *)hi->data : FLT_MAX, err);
}

const struct ond_op ond_op_clip_1 = {
    .domain = "", .name = "Clip", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct clip_attrs),
    .parse = parse, .infer = ond_infer_same, .eval = eval_1, .prepare = prepare_1,
};

const struct ond_op ond_op_clip_11 = {
    .domain = "", .name = "Clip", .since = 11,
    .min_in = 1, .max_in = 3, .min_out = 1, .max_out = 1,
    .infer = infer_11, .eval = eval_11, .prepare = prepare_11,
};
