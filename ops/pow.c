/* pow.c: ONNX Pow. Opset 1: float, B broadcast onto A only with attribute broadcast 1 (from
 * attribute axis, as Add-1). Opsets 7, 12, 13, 15: numpy broadcasting; from 12 the exponent may
 * have another type (any integer or float) than the base (float, double, float16, int32, int64;
 * 13 and 15 add bfloat16). Mixed types are accepted at every opset. The output has the base's
 * type: computed in double, an integer result truncated and saturated as Cast does (exact below
 * 2^53). Sessions: a float base with a constant one-element exponent that does not grow the
 * shape runs as oneDNN eltwise pow (alpha 1, beta the exponent); the rest runs the eval. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

static bool base_type(int32_t dt)
{
    return dt == OND_DTYPE_FLOAT || dt == OND_DTYPE_DOUBLE || dt == OND_DTYPE_FLOAT16 ||
           dt == OND_DTYPE_BFLOAT16 || dt == OND_DTYPE_INT32 || dt == OND_DTYPE_INT64;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    int32_t dt = in[0]->dtype;
    if (!base_type(dt) || !ond_num_dtype(in[1]->dtype) || in[1]->dtype == OND_DTYPE_BOOL)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "types %s ^ %s are not supported",
                             ond_dtype_name(dt), ond_dtype_name(in[1]->dtype));
    struct ond_info pb = *in[1];
    enum ond_status st = n->params ? ond_arith_legacy_b(n, in[0], in[1], &pb, err) : OND_OK;
    if (st || (st = ond_broadcast(n, in[0], &pb, &out[0], err)))
        return st;
    out[0].dtype = dt;
    out[0].data = NULL;
    return OND_OK;
}

struct pow_run {
    int32_t xt, yt, ot;
    size_t xs, ys, os;
    const char *x, *y;
    char *o;
};

static void pow_run(void *ctx, uint64_t o, const int64_t *off, const int64_t *step, int64_t n)
{
    const struct pow_run *c = ctx;
    for (int64_t j = 0; j < n; j++) {
        double r = pow(ond_num_double(c->x + (size_t)(off[0] + j * step[0]) * c->xs, c->xt),
                       ond_num_double(c->y + (size_t)(off[1] + j * step[1]) * c->ys, c->yt));
        ond_convert(&r, OND_DTYPE_DOUBLE, c->o + (o + (uint64_t)j) * c->os, c->ot, 1);
    }
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    struct ond_info pb = *in[1];
    enum ond_status st = n->params ? ond_arith_legacy_b(n, in[0], in[1], &pb, err) : OND_OK;
    if (st)
        return st;
    const struct ond_info *x[2] = {in[0], &pb};
    struct pow_run c = {in[0]->dtype, pb.dtype, out[0].dtype, ond_dtype_size(in[0]->dtype),
                        ond_dtype_size(pb.dtype), ond_dtype_size(out[0].dtype), in[0]->data,
                        pb.data, out_data[0]};
    ond_bcast_runs(&out[0], 2, x, pow_run, &c);
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_info *x = p->in[0], *y = p->in[1];
    uint64_t count = 0;
    if (!y->data || !ond_numel(y, 0, &count) || count != 1 || y->rank > x->rank)
        return ond_prep_decline(p, "the exponent is not a constant scalar");
    return ond_prep_eltwise(p, dnnl_eltwise_pow, 1.f, (float)ond_num_double(y->data, y->dtype),
                            err);
}

const struct ond_op ond_op_pow_1 = {
    .domain = "", .name = "Pow", .since = 1,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_arith_legacy),
    .parse = ond_arith_legacy_parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_pow_7 = {
    .domain = "", .name = "Pow", .since = 7,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval, .prepare = prepare,
};
