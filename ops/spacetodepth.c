/* spacetodepth.c: ONNX SpaceToDepth, opsets 1 and 13 (types only). Attribute blocksize
 * (required, positive). Input [N, C, H, W] with H and W divisible by blocksize; output
 * [N, C * b^2, H / b, W / b], the inverse of DepthToSpace's DCR mode: block offsets become
 * the leading channels. All dtypes. Sessions: float runs as one oneDNN reorder reading the
 * input through a permuted 6-D view (ond_prep_strided); other dtypes run the eval. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct s2d {
    int64_t b;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct s2d *p = params;
    if (!ond_node_attr(n, "blocksize"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'blocksize' is required");
    enum ond_status st = ond_attr_int(n, "blocksize", 0, &p->b, err);
    if (!st && (p->b <= 0 || p->b > 1 << 20))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'blocksize' is %lld, not in 1..2^20", (long long)p->b);
    return st;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct s2d *p = n->params;
    const struct ond_info *x = in[0];
    out[0].dtype = x->dtype;
    if (x->rank < 0)
        return OND_OK;
    if (x->rank != 4)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 0 must be 4-D [N, C, H, W], got rank %d", x->rank);
    out[0].rank = 4;
    out[0].dims[0] = x->dims[0];
    if (x->dims[1] > INT64_MAX / (p->b * p->b))
        return ond_node_fail(err, n, OND_STATUS_LIMIT, "channels times blocksize^2 overflow");
    out[0].dims[1] = x->dims[1] < 0 ? OND_DIM_UNKNOWN : x->dims[1] * p->b * p->b;
    for (int i = 2; i < 4; i++) {
        if (x->dims[i] >= 0 && x->dims[i] % p->b)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "dim %d (%lld) is not divisible by blocksize %lld", i,
                                 (long long)x->dims[i], (long long)p->b);
        out[0].dims[i] = x->dims[i] < 0 ? OND_DIM_UNKNOWN : x->dims[i] / p->b;
    }
    return OND_OK;
}

/* [N, C, H/b, b, W/b, b] read as [N, b, b, C, H/b, W/b]: output dims and input strides. */
static void view6(const struct s2d *p, const struct ond_info *x, int64_t *dims, int64_t *strides)
{
    static const int perm[6] = {0, 3, 5, 1, 2, 4};
    int64_t b = p->b;
    int64_t d6[6] = {x->dims[0], x->dims[1], x->dims[2] / b, b, x->dims[3] / b, b};
    ond_permuted(6, d6, perm, dims, strides);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    (void)err;
    int64_t dims[6], strides[6];
    view6(n->params, in[0], dims, strides);
    if (out_data[0])
        ond_strided_copy(out_data[0], in[0]->data, 6, dims, strides,
                         ond_dtype_size(in[0]->dtype));
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    int64_t dims[6], strides[6];
    view6(p->node->params, p->in[0], dims, strides);
    return ond_prep_strided(p, 6, dims, strides, err);
}

const struct ond_op ond_op_space_to_depth = {
    .domain = "", .name = "SpaceToDepth", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct s2d),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
