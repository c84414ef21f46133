/* mod.c: ONNX Mod, opsets 10 and 13 (13 adds bfloat16): the remainder of A divided by B,
 * numpy-broadcast, A and B of one type. Attribute fmod (default 0): 0 takes the sign of the
 * divisor (Python's %, numpy.mod) and is for integers only (a float type is refused, as the
 * spec requires fmod=1 there); 1 takes the sign of the dividend (C's fmod and %, numpy.fmod).
 * Types: every (u)int of 8 to 64 bits, float16, float, double, bfloat16. Floats are computed
 * in double with fmod (exact: the remainder is representable in the input type); x mod 0 is
 * NaN there. An integer divisor of zero is refused, an INVALID_INPUT error at evaluation as
 * Div's; MIN mod -1 is 0. Sessions run the eval (C). */
#include <math.h>

#include "ops/op.h"

struct mod {
    int64_t fmod;
};

static bool is_float(int32_t dt)
{
    return dt == OND_DTYPE_FLOAT || dt == OND_DTYPE_DOUBLE || dt == OND_DTYPE_FLOAT16 ||
           dt == OND_DTYPE_BFLOAT16;
}

static bool is_unsigned(int32_t dt)
{
    return dt == OND_DTYPE_UINT8 || dt == OND_DTYPE_UINT16 || dt == OND_DTYPE_UINT32 ||
           dt == OND_DTYPE_UINT64;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct mod *p = params;
    enum ond_status st = ond_attr_int(n, "fmod", 0, &p->fmod, err);
    if (!st && p->fmod != 0 && p->fmod != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute fmod is %lld, must be 0 or 1", (long long)p->fmod);
    return st;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct mod *p = n->params;
    int32_t dt = in[0]->dtype;
    if (!ond_num_dtype(dt) || dt == OND_DTYPE_BOOL || (dt == OND_DTYPE_BFLOAT16 && n->opset < 13))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "type %s is not supported",
                             ond_dtype_name(dt));
    if (in[1]->dtype != dt)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "A is %s and B %s",
                             ond_dtype_name(dt), ond_dtype_name(in[1]->dtype));
    if (is_float(dt) && p->fmod == 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute fmod must be 1 for %s inputs", ond_dtype_name(dt));
    enum ond_status st = ond_broadcast(n, in[0], in[1], &out[0], err);
    out[0].dtype = dt;
    out[0].data = NULL;
    return st;
}

struct mod_run {
    int32_t dt;
    size_t es;
    bool fmod, by_zero;
    const char *a, *b;
    char *o;
};

/* One element: a mod b in the run's type, from the bytes at a and b into o. */
static void mod1(struct mod_run *c, const void *a, const void *b, void *o)
{
    if (is_float(c->dt)) {
        double r = fmod(ond_num_double(a, c->dt), ond_num_double(b, c->dt));
        ond_convert(&r, OND_DTYPE_DOUBLE, o, c->dt, 1);
    } else if (is_unsigned(c->dt)) {
        uint64_t x, y, r = 0;
        ond_convert(a, c->dt, &x, OND_DTYPE_UINT64, 1);
        ond_convert(b, c->dt, &y, OND_DTYPE_UINT64, 1);
        if (y)
            r = x % y;
        c->by_zero |= !y;
        ond_convert(&r, OND_DTYPE_UINT64, o, c->dt, 1);
    } else {
        int64_t x, y, r = 0;
        ond_convert(a, c->dt, &x, OND_DTYPE_INT64, 1);
        ond_convert(b, c->dt, &y, OND_DTYPE_INT64, 1);
        if (y && y != -1) {
            r = x % y;   /* truncated: the dividend's sign */
            if (!c->fmod && r != 0 && (r < 0) != (y < 0))
                r += y;
        }
        c->by_zero |= !y;
        ond_convert(&r, OND_DTYPE_INT64, o, c->dt, 1);
    }
}

static void mod_run(void *ctx, uint64_t o, const int64_t *off, const int64_t *step, int64_t n)
{
    struct mod_run *c = ctx;
    for (int64_t j = 0; j < n; j++)
        mod1(c, c->a + (size_t)(off[0] + j * step[0]) * c->es,
             c->b + (size_t)(off[1] + j * step[1]) * c->es, c->o + (o + (uint64_t)j) * c->es);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct mod *p = n->params;
    struct mod_run c = {out[0].dtype, ond_dtype_size(out[0].dtype), p->fmod == 1, false,
                        in[0]->data, in[1]->data, out_data[0]};
    ond_bcast_runs(&out[0], 2, in, mod_run, &c);
    if (c.by_zero)
        return ond_node_fail(err, n, OND_STATUS_INVALID_INPUT, "integer modulo by zero");
    return OND_OK;
}

const struct ond_op ond_op_mod = {
    .domain = "", .name = "Mod", .since = 10,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct mod),
    .parse = parse, .infer = infer, .eval = eval,
};
