/* sum.c: ONNX Sum, opsets 1, 6, 8, 13: n inputs (1 to 64), numpy broadcasting for all
 * opsets (opsets 1 and 6 require equal shapes, which broadcasting accepts too); consumed_inputs
 * of opset 1 ignored. float, double, int8, uint8, int32, int64.
 * Sessions: float inputs all of the output's shape run as one oneDNN sum, in the layout of
 * the first input that arrives blocked (the first activation's otherwise), constants
 * reordered into it once; broadcasting and other dtypes run the eval. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

#define SUM_MAX_INPUTS 64

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    enum ond_status st = ond_binary_infer(n, in[0], in[0], &out[0], err);
    for (int k = 1; k < n->n_in && !st; k++) {
        if (!in[k])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input %d is empty", k);
        struct ond_info acc = out[0];
        st = ond_binary_infer(n, &acc, in[k], &out[0], err);
    }
    return st;
}

/* Accumulates into the zeroed output, so every input broadcasts against the final shape. */
static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    struct ond_info acc = out[0];
    acc.data = out_data[0];
    enum ond_status st = OND_OK;
    for (int k = 0; k < n->n_in && !st; k++)
        st = ond_binary_eval(n, OND_BIN_ADD, &acc, in[k], &out[0], out_data[0], err);
    return st;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_info *y = &p->out[0];
    const dnnl_memory_desc_t *common = NULL;
    if (y->dtype != OND_DTYPE_FLOAT)
        return ond_prep_decline(p, "%s inputs", ond_dtype_name(y->dtype));
    for (int k = 0; k < n->n_in; k++) {
        const struct ond_info *x = p->in[k];
        if (x->rank != y->rank ||
            memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)y->rank) != 0)
            return ond_prep_decline(p, "input %d is broadcast", k);
        if (p->in_md[k] && (!common || (ond_md_is_plain(common) &&
                                        !ond_md_is_plain(p->in_md[k]))))
            common = p->in_md[k];
    }
    dnnl_memory_desc_t src[OND_PREP_MAX_IN];
    float scales[OND_PREP_MAX_IN];
    enum ond_status st = OND_OK;
    for (int k = 0; k < n->n_in && !st; k++) {
        int m;
        src[k] = *common;
        scales[k] = 1.f;
        if (p->in_md[k]) {
            if (!dnnl_memory_desc_equal(common, p->in_md[k]))
                p->want_md[k] = *common;
            ond_prep_arg(p, DNNL_ARG_MULTIPLE_SRC + k, OND_ARG_IN, k);
        } else if (!(st = ond_prep_const(p, k, common, &m, err))) {
            ond_prep_arg(p, DNNL_ARG_MULTIPLE_SRC + k, OND_ARG_MEM, m);
        }
    }
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if (!st && !(st = ond_prep_attr(p, &attr, err))) {
        dnnl_status_t ds = dnnl_sum_primitive_desc_create(&pd, common, n->n_in, scales, src,
                                                          attr, p->engine);
        if (ds == dnnl_unimplemented)
            st = ond_prep_decline(p, "oneDNN has no implementation");
        else
            st = ond_dnnl(ds, "sum_primitive_desc_create", n, err);
    }
    dnnl_primitive_attr_destroy(attr);
    if (st || !pd)
        return st;
    p->out_md[0] = *common;
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

const struct ond_op ond_op_sum = {
    .domain = "", .name = "Sum", .since = 1,
    .min_in = 1, .max_in = SUM_MAX_INPUTS, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval, .prepare = prepare,
};
