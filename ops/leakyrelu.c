/* leakyrelu.c: ONNX LeakyRelu, opsets 1, 6, 16 (same float semantics): attribute alpha
 * (default 0.01); consumed_inputs of opset 1 ignored. float only. Sessions: oneDNN eltwise
 * relu with negative slope alpha. */
#include "ops/op.h"
#include "runtime/exec.h"

struct leaky {
    float alpha;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct leaky *p = params;
    return ond_attr_float(n, "alpha", 0.01f, &p->alpha, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct leaky *q = p->node->params;
    return ond_prep_eltwise(p, dnnl_eltwise_relu, q->alpha, 0.f, err);
}

static float leaky(float x, const void *params)
{
    const struct leaky *p = params;
    return x >= 0 ? x : p->alpha * x;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    (void)err;
    return ond_unary_float_eval(n, in, out_data, leaky);
}

const struct ond_op ond_op_leakyrelu = {
    .domain = "", .name = "LeakyRelu", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct leaky),
    .parse = parse, .infer = ond_infer_same, .eval = eval, .prepare = prepare,
};
