/* qlinear.c: ONNX QLinearConv, opset 10, and QLinearMatMul, opsets 10 and 21 (21 adds float8 and
 * float16 types, refused): the integer convolution or matrix product of uint8/int8 inputs less
 * their zero points (ops/quant_util.c), scaled by x_scale * w_scale / y_scale and requantized to
 * y's type (y_zero_point's, uint8 or int8) with rounding half to even and saturation. Plain C only
 * (sessions run the eval). QLinearConv: Conv's attributes (auto_pad, dilations, group,
 * kernel_shape, pads, strides) and 1 to 3 spatial dims; x and y parameters per tensor, w_scale and
 * w_zero_point per tensor or per output channel [M]; optional int32 bias B [M] added to the int32
 * sums. QLinearMatMul: numpy.matmul shapes and batch broadcasting; a's parameters per tensor or
 * per row of A [M], b's per tensor or per column of B [N], y's per tensor. Every zero point is
 * required and must have its tensor's type; scales must be positive and finite. */
#include <stdlib.h>

#include "ops/op.h"

/* The inputs both ops share, in ONNX order: a (x), a_scale, a_zero_point, b (w), b_scale,
 * b_zero_point, y_scale, y_zero_point. */
static const char *const conv_names[] = {"x", "x_scale", "x_zero_point", "w", "w_scale",
                                         "w_zero_point", "y_scale", "y_zero_point"};
static const char *const mm_names[] = {"a", "a_scale", "a_zero_point", "b", "b_scale",
                                       "b_zero_point", "y_scale", "y_zero_point"};

/* Checks the eight inputs, a's parameters having per_a values, b's per_b (0: scalars). */
static enum ond_status check(const struct ond_node *n, const struct ond_info *const *in,
                             const char *const *names, int64_t per_a, int64_t per_b,
                             struct ond_error *err)
{
    /* Each quantized tensor (y: its zero point, whose type y takes), its scale and zero point. */
    const struct { int t, s, z; int64_t per; } q[] = {
        {0, 1, 2, per_a}, {3, 4, 5, per_b}, {7, 6, 7, 0},
    };
    enum ond_status st;
    for (int i = 0; i < 3; i++) {
        int64_t count;
        if ((st = ond_require_q8(n, in[q[i].t], q[i].t, names[q[i].t], err)) ||
            (st = ond_qscale_check(n, in[q[i].s], q[i].s, names[q[i].s], q[i].per, &count,
                                   err)) ||
            (st = ond_qzp_check(n, in[q[i].z], q[i].z, names[q[i].z], in[q[i].t]->dtype,
                                q[i].per, count, err)))
            return st;
    }
    return OND_OK;
}

static enum ond_status conv_parse(struct ond_node *n, void *params, struct ond_error *err)
{
    return ond_conv_parse(n, params, err);
}

static enum ond_status conv_infer(const struct ond_node *n, const struct ond_info *const *in,
                                  struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *w = in[3], *b = ond_opt_in(n, in, 8);
    enum ond_status st = check(n, in, conv_names, 0, w->rank >= 1 ? w->dims[0] : -1, err);
    if (st)
        return st;
    if (b && b->dtype != OND_DTYPE_INT32)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 8 (B) is %s; it must be int32", ond_dtype_name(b->dtype));
    out[0].dtype = in[7]->dtype;
    return ond_conv_shape(n, n->params, in[0], w, b, &out[0], err);
}

/* The int32 sums, before requantizing into y (*numel elements, out's). */
static enum ond_status scratch(const struct ond_node *n, const struct ond_info *out,
                               int32_t **acc, uint64_t *numel, struct ond_error *err)
{
    if (!ond_numel(out, 0, numel))
        return ond_node_fail(err, n, OND_STATUS_INVALID_ARGUMENT,
                             "output shape unknown when computing");
    if (!(*acc = malloc(*numel ? (size_t)*numel * sizeof **acc : 1)))
        return ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate %llu int32 sums",
                             (unsigned long long)*numel);
    return OND_OK;
}

static enum ond_status conv_eval(const struct ond_node *n, const struct ond_info *const *in,
                                 const struct ond_info *out, void *const *out_data,
                                 struct ond_error *err)
{
    const struct ond_info *w = in[3], *b = ond_opt_in(n, in, 8);
    uint64_t numel;
    int32_t *acc;
    enum ond_status st = check(n, in, conv_names, 0, w->dims[0], err);
    if (st || (st = scratch(n, &out[0], &acc, &numel, err)))
        return st;
    if (!(st = ond_conv_integer(n, n->params, in[0], in[2], w, in[5], acc, err))) {
        int64_t m = w->dims[0], out_sp = 1;
        for (int i = 2; i < out[0].rank; i++)
            out_sp *= out[0].dims[i];
        float xs = ond_qscale_at(in[1], 0), ys = ond_qscale_at(in[6], 0);
        int32_t yz = ond_qzp_at(in[7], 0);
        for (int64_t i = 0; i < (int64_t)numel; i++) {
            int64_t oc = i / out_sp % m;
            int64_t sum = (int64_t)acc[i] + (b ? ((const int32_t *)b->data)[oc] : 0);
            ond_q_store(out_data[0], out[0].dtype, i,
                        (float)sum * (xs * ond_qscale_at(in[4], oc) / ys), yz);
        }
    }
    free(acc);
    return st;
}

static enum ond_status matmul_infer(const struct ond_node *n, const struct ond_info *const *in,
                                    struct ond_info *out, struct ond_error *err)
{
    enum ond_status st = check(n, in, mm_names, ond_mm_rows(in[0]), ond_mm_cols(in[3]),
                               err);
    if (st)
        return st;
    out[0].dtype = in[7]->dtype;
    return ond_matmul_shape(n, in[0], in[3], &out[0], err);
}

static enum ond_status matmul_eval(const struct ond_node *n, const struct ond_info *const *in,
                                   const struct ond_info *out, void *const *out_data,
                                   struct ond_error *err)
{
    uint64_t numel;
    int32_t *acc;
    enum ond_status st = check(n, in, mm_names, ond_mm_rows(in[0]), ond_mm_cols(in[3]),
                               err);
    if (st || (st = scratch(n, &out[0], &acc, &numel, err)))
        return st;
    ond_matmul_integer(in[0], in[2], in[3], in[5], acc);
    int64_t m = ond_mm_rows(in[0]), nn = ond_mm_cols(in[3]);
    float ys = ond_qscale_at(in[6], 0);
    int32_t yz = ond_qzp_at(in[7], 0);
    for (int64_t i = 0; i < (int64_t)numel; i++) {
        int64_t r = i / nn % m, c = i % nn;
        float scale = ond_qscale_at(in[1], r) * ond_qscale_at(in[4], c) / ys;
        ond_q_store(out_data[0], out[0].dtype, i, (float)acc[i] * scale, yz);
    }
    free(acc);
    return OND_OK;
}

const struct ond_op ond_op_qlinear_conv = {
    .domain = "", .name = "QLinearConv", .since = 10,
    .min_in = 8, .max_in = 9, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_conv_attrs),
    .parse = conv_parse, .infer = conv_infer, .eval = conv_eval,
};

const struct ond_op ond_op_qlinear_matmul = {
    .domain = "", .name = "QLinearMatMul", .since = 10,
    .min_in = 8, .max_in = 8, .min_out = 1, .max_out = 1,
    .infer = matmul_infer, .eval = matmul_eval,
};
