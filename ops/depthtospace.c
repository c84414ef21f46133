/* depthtospace.c: ONNX DepthToSpace, opsets 1, 11 (attribute mode: DCR, the default, or
 * CRD) and 13 (types only). Attribute blocksize (required, positive). Input [N, C, H, W]
 * with C divisible by blocksize^2; output [N, C / b^2, H * b, W * b]: a reshape to 6-D, a
 * transpose and a reshape back. All dtypes. Sessions: float runs as one oneDNN reorder
 * reading the input through a permuted 6-D view (ond_prep_strided); other dtypes run the
 * eval. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct d2s {
    int64_t b;
    bool crd;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct d2s *p = params;
    const char *mode;
    enum ond_status st;
    if (!ond_node_attr(n, "blocksize"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'blocksize' is required");
    if ((st = ond_attr_int(n, "blocksize", 0, &p->b, err)) ||
        (st = ond_attr_string(n, "mode", "DCR", &mode, err)))
        return st;
    if (p->b <= 0 || p->b > 1 << 20)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'blocksize' is %lld, not in 1..2^20", (long long)p->b);
    if (ond_node_attr(n, "mode") && n->opset < 11)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'mode' needs opset 11, the model has %lld",
                             (long long)n->opset);
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'mode' is '%s', not DCR or CRD", mode);
    p->crd = strcmp(mode, "CRD") == 0;
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct d2s *p = n->params;
    const struct ond_info *x = in[0];
    out[0].dtype = x->dtype;
    if (x->rank < 0)
        return OND_OK;
    if (x->rank != 4)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 0 must be 4-D [N, C, H, W], got rank %d", x->rank);
    int64_t bb = p->b * p->b;
    if (x->dims[1] >= 0 && x->dims[1] % bb)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "channels %lld are not divisible by blocksize^2 = %lld",
                             (long long)x->dims[1], (long long)bb);
    out[0].rank = 4;
    out[0].dims[0] = x->dims[0];
    out[0].dims[1] = x->dims[1] < 0 ? OND_DIM_UNKNOWN : x->dims[1] / bb;
    for (int i = 2; i < 4; i++) {
        if (x->dims[i] > INT64_MAX / p->b)
            return ond_node_fail(err, n, OND_STATUS_LIMIT, "dim %d times blocksize overflows", i);
        out[0].dims[i] = x->dims[i] < 0 ? OND_DIM_UNKNOWN : x->dims[i] * p->b;
    }
    return OND_OK;
}

/* The 6-D transposed view of the input: output dims and input strides. */
static void view6(const struct d2s *p, const struct ond_info *x, int64_t *dims, int64_t *strides)
{
    static const int dcr[6] = {0, 3, 4, 1, 5, 2}, crd[6] = {0, 1, 4, 2, 5, 3};
    int64_t b = p->b, c = x->dims[1] / (b * b);
    int64_t d6_dcr[6] = {x->dims[0], b, b, c, x->dims[2], x->dims[3]};
    int64_t d6_crd[6] = {x->dims[0], c, b, b, x->dims[2], x->dims[3]};
    ond_permuted(6, p->crd ? d6_crd : d6_dcr, p->crd ? crd : dcr, dims, strides);
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

const struct ond_op ond_op_depth_to_space = {
    .domain = "", .name = "DepthToSpace", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct d2s),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
