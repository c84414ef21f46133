/* integer.c: ONNX ConvInteger and MatMulInteger, opset 10: uint8 or int8 inputs less their
 * zero points, products summed into int32 outputs. Plain C only (sessions run the eval).
 * ConvInteger: X [N, C, D...] (1 to 3 spatial dims), W [M, C/group, k...], Conv's attributes
 * (auto_pad, dilations, group, kernel_shape, pads, strides); x_zero_point a scalar,
 * w_zero_point a scalar or one per output channel [M]; padding reads x_zero_point (adds
 * nothing). MatMulInteger: numpy.matmul shapes and batch broadcasting, a_zero_point a scalar
 * or one per row of A [M], b_zero_point a scalar or one per column of B [N]. Zero points
 * are optional (0) and must have their tensor's type. Sums are exact in int64 and wrap to
 * int32 like the int32 accumulator ONNX specifies (only over ~33000 products of extremes). */
#include "ops/op.h"

static enum ond_status conv_parse(struct ond_node *n, void *params, struct ond_error *err)
{
    return ond_conv_parse(n, params, err);
}

static enum ond_status conv_infer(const struct ond_node *n, const struct ond_info *const *in,
                                  struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0], *w = in[1];
    int64_t per = w->rank >= 1 ? w->dims[0] : OND_DIM_UNKNOWN;
    enum ond_status st;
    if ((st = ond_require_q8(n, x, 0, "x", err)) || (st = ond_require_q8(n, w, 1, "w", err)) ||
        (st = ond_qzp_check(n, ond_opt_in(n, in, 2), 2, "x_zero_point", x->dtype, 0, -1,
                            err)) ||
        (st = ond_qzp_check(n, ond_opt_in(n, in, 3), 3, "w_zero_point", w->dtype, per, -1,
                            err)))
        return st;
    out[0].dtype = OND_DTYPE_INT32;
    return ond_conv_shape(n, n->params, x, w, NULL, &out[0], err);
}

static enum ond_status conv_eval(const struct ond_node *n, const struct ond_info *const *in,
                                 const struct ond_info *out, void *const *out_data,
                                 struct ond_error *err)
{
    (void)out;
    return ond_conv_integer(n, n->params, in[0], ond_opt_in(n, in, 2), in[1],
                            ond_opt_in(n, in, 3), out_data[0], err);
}

static enum ond_status matmul_infer(const struct ond_node *n, const struct ond_info *const *in,
                                    struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *a = in[0], *b = in[1];
    enum ond_status st;
    if ((st = ond_require_q8(n, a, 0, "A", err)) || (st = ond_require_q8(n, b, 1, "B", err)) ||
        (st = ond_qzp_check(n, ond_opt_in(n, in, 2), 2, "a_zero_point", a->dtype,
                            ond_mm_rows(a), -1, err)) ||
        (st = ond_qzp_check(n, ond_opt_in(n, in, 3), 3, "b_zero_point", b->dtype,
                            ond_mm_cols(b), -1, err)))
        return st;
    out[0].dtype = OND_DTYPE_INT32;
    return ond_matmul_shape(n, a, b, &out[0], err);
}

static enum ond_status matmul_eval(const struct ond_node *n, const struct ond_info *const *in,
                                   const struct ond_info *out, void *const *out_data,
                                   struct ond_error *err)
{
    (void)out;
    (void)err;
    ond_matmul_integer(in[0], ond_opt_in(n, in, 2), in[1], ond_opt_in(n, in, 3), out_data[0]);
    return OND_OK;
}

const struct ond_op ond_op_conv_integer = {
    .domain = "", .name = "ConvInteger", .since = 10,
    .min_in = 2, .max_in = 4, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_conv_attrs),
    .parse = conv_parse, .infer = conv_infer, .eval = conv_eval,
};

const struct ond_op ond_op_matmul_integer = {
    .domain = "", .name = "MatMulInteger", .since = 10,
    .min_in = 2, .max_in = 4, .min_out = 1, .max_out = 1,
    .infer = matmul_infer, .eval = matmul_eval,
};
