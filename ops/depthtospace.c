/* depthtospace.c: ONNX DepthToSpace, opsets 1, 11 (attribute mode: DCR, the default, or
 * CRD) and 13 (types only), and its inverse SpaceToDepth, opsets 1 and 13 (types only).
 * Attribute blocksize b (required, positive). DepthToSpace: input [N, C, H, W] with C
 * divisible by b^2, output [N, C / b^2, H * b, W * b]; SpaceToDepth: H and W divisible by b,
 * output [N, C * b^2, H / b, W / b], block offsets becoming the leading channels (DCR's
 * order). Each is a reshape to 6-D, a transpose and a reshape back. All dtypes. Sessions:
 * float runs as one oneDNN reorder reading the input through a permuted 6-D view
 * (ond_prep_strided); other dtypes run the eval. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

enum kind { DCR, CRD, S2D };

struct d2s {
    int64_t b;
    enum kind kind;
};

static enum ond_status parse(struct ond_node *n, struct d2s *p, bool s2d,
                             struct ond_error *err)
{
    const char *mode;
    enum ond_status st;
    if (!ond_node_attr(n, "blocksize"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'blocksize' is required");
    if ((st = ond_attr_int(n, "blocksize", 0, &p->b, err)) ||
        (!s2d && (st = ond_attr_string(n, "mode", "DCR", &mode, err))))
        return st;
    if (p->b <= 0 || p->b > 1 << 20)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'blocksize' is %lld, not in 1..2^20", (long long)p->b);
    if (s2d) {
        p->kind = S2D;
        return OND_OK;
    }
    if (ond_node_attr(n, "mode") && n->opset < 11)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'mode' needs opset 11, the model has %lld",
                             (long long)n->opset);
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'mode' is '%s', not DCR or CRD", mode);
    p->kind = strcmp(mode, "CRD") == 0 ? CRD : DCR;
    return OND_OK;
}

static enum ond_status parse_d2s(struct ond_node *n, void *params, struct ond_error *err)
{
    return parse(n, params, false, err);
}

static enum ond_status parse_s2d(struct ond_node *n, void *params, struct ond_error *err)
{
    return parse(n, params, true, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct d2s *p = n->params;
    const struct ond_info *x = in[0];
    int64_t b = p->b, bb = b * b, c = x->dims[1];
    out[0].dtype = x->dtype;
    if (x->rank < 0)
        return OND_OK;
    if (x->rank != 4)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 0 must be 4-D [N, C, H, W], got rank %d", x->rank);
    out[0].rank = 4;
    out[0].dims[0] = x->dims[0];
    if (p->kind != S2D) {
        if (c >= 0 && c % bb)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "channels %lld are not divisible by blocksize^2 = %lld",
                                 (long long)c, (long long)bb);
        out[0].dims[1] = c < 0 ? OND_DIM_UNKNOWN : c / bb;
    } else {
        if (c > INT64_MAX / bb)
            return ond_node_fail(err, n, OND_STATUS_LIMIT, "channels times blocksize^2 overflow");
        out[0].dims[1] = c < 0 ? OND_DIM_UNKNOWN : c * bb;
    }
    for (int i = 2; i < 4; i++) {
        int64_t d = x->dims[i];
        if (p->kind == S2D && d >= 0 && d % b)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "dim %d (%lld) is not divisible by blocksize %lld", i,
                                 (long long)d, (long long)b);
        if (p->kind != S2D && d > INT64_MAX / b)
            return ond_node_fail(err, n, OND_STATUS_LIMIT, "dim %d times blocksize overflows", i);
        out[0].dims[i] = d < 0 ? OND_DIM_UNKNOWN : p->kind == S2D ? d / b : d * b;
    }
    return OND_OK;
}

/* The 6-D transposed view of the input: output dims and input strides. DCR reads
 * [N, b, b, C', H, W] as [N, C', H, b, W, b]; CRD reads [N, C', b, b, H, W] so; SpaceToDepth
 * reads [N, C, H', b, W', b] as [N, b, b, C, H', W']. */
static void view6(const struct d2s *p, const struct ond_info *x, int64_t *dims, int64_t *strides)
{
    static const int perm[3][6] = {{0, 3, 4, 1, 5, 2}, {0, 1, 4, 2, 5, 3}, {0, 3, 5, 1, 2, 4}};
    int64_t b = p->b, n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    int64_t d6[3][6] = {{n, b, b, c / (b * b), h, w},
                        {n, c / (b * b), b, b, h, w},
                        {n, c, h / b, b, w / b, b}};
    ond_permuted(6, d6[p->kind], perm[p->kind], dims, strides);
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
    .parse = parse_d2s, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_space_to_depth = {
    .domain = "", .name = "SpaceToDepth", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct d2s),
    .parse = parse_s2d, .infer = infer, .eval = eval, .prepare = prepare,
};
