/* instancenorm.c: ONNX InstanceNormalization, opsets 1 and 6 (consumed_inputs of opset 1
 * ignored), float. Each channel of each sample of X [N, C, D...] is normalized over its
 * spatial dims: y = (x - mean) / sqrt(var + epsilon) * scale[c] + B[c], var the biased
 * variance. Inputs input, scale [C], B [C]. Attribute: epsilon (1e-5).
 * Sessions: oneDNN batch normalization (statistics computed, not global) on a plain
 * [1, N * C, spatial, 1] view of X, whose channels are X's (sample, channel) pairs: scale and
 * B are constants repeated N times. Run-time scale or B runs the eval. */
#include <math.h>
#include <stdlib.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct instance_norm {
    float epsilon;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct instance_norm *p = params;
    return ond_norm_attrs(n, &p->epsilon, NULL, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    enum ond_status st = ond_infer_same(n, in, out, err);
    if (st || x->rank < 0)
        return st;
    if (x->rank < 3)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input has rank %d, at least 3 is needed", x->rank);
    return ond_norm_params(n, in, x->dims[1], err);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct instance_norm *p = n->params;
    (void)out;
    (void)err;
    ond_group_normalize(in[0], in[0]->dims[1], p->epsilon, in[1]->data, in[2]->data,
                        out_data[0]);
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct instance_norm *q = n->params;
    const struct ond_info *x = p->in[0];
    if (!ond_prep_float_activation(p, 0, "input"))
        return OND_OK;
    if (p->in_md[1] || p->in_md[2])
        return ond_prep_decline(p, "scale or B is a run-time input");
    int64_t dims[4] = {1, x->dims[0] * x->dims[1], 1, 1}, c = x->dims[1];
    for (int i = 2; i < x->rank; i++)
        dims[2] *= x->dims[i];
    if (!dims[1] || !dims[2])
        return ond_prep_decline(p, "empty");
    enum ond_status st = ond_md_float(4, dims, true, &p->want_md[0], err);
    if (st)
        return st;
    dnnl_batch_normalization_desc_t desc;
    OND_DNNL(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_inference,
                                                        &p->want_md[0], q->epsilon,
                                                        dnnl_use_scale | dnnl_use_shift),
             n, err);
    dnnl_primitive_desc_t pd;
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    p->out_md[0] = p->want_md[0];
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    dnnl_memory_desc_t param;
    float *tiled = malloc(sizeof(float) * (size_t)dims[1]);
    if (!tiled)
        st = ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate %lld parameters",
                           (long long)dims[1]);
    else
        st = ond_md_float(1, &dims[1], true, &param, err);
    for (int k = 1; k < 3 && !st; k++) {
        const float *v = p->in[k]->data;
        int m;
        for (int64_t i = 0; i < dims[1]; i++)
            tiled[i] = v[i % c];
        if (!(st = ond_prep_floats(p, tiled, &param, &m, err)))
            ond_prep_arg(p, k == 1 ? DNNL_ARG_SCALE : DNNL_ARG_SHIFT, OND_ARG_MEM, m);
    }
    free(tiled);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return ond_prep_finish(p, pd, err);
}

const struct ond_op ond_op_instance_norm_1 = {
    .domain = "", .name = "InstanceNormalization", .since = 1,
    .min_in = 3, .max_in = 3, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct instance_norm),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_instance_norm_6 = {
    .domain = "", .name = "InstanceNormalization", .since = 6,
    .min_in = 3, .max_in = 3, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct instance_norm),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
