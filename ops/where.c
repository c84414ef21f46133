/* where.c: ONNX Where, opsets 9, 16 (16 adds bfloat16): X where the bool condition holds, Y
 * elsewhere, the three numpy-broadcast; X and Y of one type, any type ondine holds. Sessions
 * run the eval (C). */
#include <string.h>

#include "ops/op.h"

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    if (in[0]->dtype != OND_DTYPE_BOOL)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "condition is %s, not bool",
                             ond_dtype_name(in[0]->dtype));
    if (in[1]->dtype != in[2]->dtype)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "X is %s and Y %s",
                             ond_dtype_name(in[1]->dtype), ond_dtype_name(in[2]->dtype));
    struct ond_info xy;
    enum ond_status st = ond_broadcast(n, in[1], in[2], &xy, err);
    if (st || (st = ond_broadcast(n, in[0], &xy, &out[0], err)))
        return st;
    out[0].dtype = in[1]->dtype;
    out[0].data = NULL;
    return OND_OK;
}

struct where_run {
    size_t es;
    const uint8_t *c;
    const char *x, *y;
    char *o;
};

static void where_run(void *ctx, uint64_t o, const int64_t *off, const int64_t *step, int64_t n)
{
    const struct where_run *w = ctx;
    for (int64_t j = 0; j < n; j++) {
        const char *src = w->c[off[0] + j * step[0]] ? w->x + (off[1] + j * step[1]) * w->es
                                                     : w->y + (off[2] + j * step[2]) * w->es;
        memcpy(w->o + (o + (uint64_t)j) * w->es, src, w->es);
    }
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)n;
    (void)err;
    struct where_run w = {ond_dtype_size(out[0].dtype), in[0]->data, in[1]->data, in[2]->data,
                          out_data[0]};
    ond_bcast_runs(&out[0], 3, in, where_run, &w);
    return OND_OK;
}

const struct ond_op ond_op_where = {
    .domain = "", .name = "Where", .since = 9,
    .min_in = 3, .max_in = 3, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval,
};
