/* reshape.c: ONNX Reshape, opset 1 (`shape` attribute) and opsets 5, 13, 14, 19, 21, 23, 24, 25
 * (`shape` input, int64; allowzero from 14; 19 and later only add types). A 0 copies the input dim
 * at its index (an explicit zero with allowzero=1); one -1 takes the remaining elements. When the
 * shape input is not constant, inference follows its producers (Shape -> Gather -> Concat chains)
 * so that symbolic dims such as the batch survive a dynamic flatten. All dtypes. In a session the
 * output is a view of the input's buffer (plain row-major; a blocked input is reordered first). */
#include "ops/op.h"
#include "runtime/exec.h"

struct reshape {
    int n_shape;             /* opset 1 only */
    int64_t shape[OND_MAX_RANK];
    int64_t allowzero;
};

static enum ond_status parse_v1(struct ond_node *n, void *params, struct ond_error *err)
{
    struct reshape *p = params;
    enum ond_status st = ond_attr_ints(n, "shape", p->shape, OND_MAX_RANK, &p->n_shape, err);
    if (!st && p->n_shape < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "attribute 'shape' is required");
    return st;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct reshape *p = params;
    enum ond_status st = ond_attr_int(n, "allowzero", 0, &p->allowzero, err);
    if (!st && p->allowzero != 0 && p->allowzero != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'allowzero' must be 0 or 1, got %lld",
                             (long long)p->allowzero);
    return st;
}

/* Symbolic dims of x left over once the known dims of out cancel: the -1 dim of out is
 * the product of what remains, kept symbolic when exactly one symbol remains. */
static int64_t infer_rest(const struct ond_info *x, const int64_t *out, int rank, int skip)
{
    int64_t left[OND_MAX_RANK];
    int n_left = 0;
    int64_t num = 1, den = 1;
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] >= 0) {
            if (__builtin_mul_overflow(num, x->dims[i], &num))
                return OND_DIM_UNKNOWN;
        } else
            left[n_left++] = x->dims[i];
    }
    for (int i = 0; i < rank; i++) {
        if (i == skip)
            continue;
        if (out[i] >= 0) {
            if (__builtin_mul_overflow(den, out[i], &den))
                return OND_DIM_UNKNOWN;
            continue;
        }
        int j = 0;
        while (j < n_left && (out[i] == OND_DIM_UNKNOWN || left[j] != out[i]))
            j++;
        if (j == n_left)
            return OND_DIM_UNKNOWN;
        left[j] = left[--n_left];
    }
    if (n_left > 1 || (n_left == 1 && (left[0] == OND_DIM_UNKNOWN || den == 0 || num != den)))
        return OND_DIM_UNKNOWN;
    if (n_left == 1)
        return left[0];
    return den ? num / den : OND_DIM_UNKNOWN;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct reshape *p = n->params;
    const struct ond_info *x = in[0];
    int64_t v[OND_MAX_RANK];
    bool dim[OND_MAX_RANK] = {false};
    int count = p->n_shape;
    bool known = true;
    out[0].dtype = x->dtype;
    if (n->n_in > 1) {
        if (in[1]->dtype != OND_DTYPE_INT64)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "input 1 (shape) must be int64, got %s",
                                 ond_dtype_name(in[1]->dtype));
        enum ond_status st = ond_input_ints(n, in[1], 1, "shape", v, OND_MAX_RANK, &count,
                                            &known, err);
        if (st)
            return st;
        if (!known)
            known = ond_shape_value(n->in[1], v, dim, OND_MAX_RANK, &count);
    } else {
        for (int i = 0; i < count; i++)
            v[i] = p->shape[i];
    }
    if (count < 0)
        return OND_OK;
    out[0].rank = count;
    if (!known) {
        for (int i = 0; i < count; i++)
            out[0].dims[i] = OND_DIM_UNKNOWN;
        return OND_OK;
    }
    int infer_at = -1;
    bool has_zero = false;
    for (int i = 0; i < count; i++) {
        int64_t d = v[i];
        out[0].dims[i] = d;
        if (dim[i])
            continue;
        if (d == -1) {
            if (infer_at >= 0)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "shape has more than one -1");
            infer_at = i;
        } else if (d < -1) {
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "shape value %lld at %d is invalid", (long long)d, i);
        } else if (d == 0 && !p->allowzero) {
            if (x->rank >= 0 && i >= x->rank)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "shape value 0 at %d copies a dim the rank-%d input lacks",
                                     i, x->rank);
            out[0].dims[i] = x->rank >= 0 ? x->dims[i] : OND_DIM_UNKNOWN;
        } else if (d == 0) {
            has_zero = true;
        }
    }
    if (has_zero && infer_at >= 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "shape has both -1 and 0 with allowzero=1");
    if (x->rank < 0) {
        if (infer_at >= 0)
            out[0].dims[infer_at] = OND_DIM_UNKNOWN;
        return OND_OK;
    }
    uint64_t in_numel, out_numel;
    bool in_known = ond_numel(x, 0, &in_numel);
    if (infer_at >= 0) {
        out[0].dims[infer_at] = OND_DIM_UNKNOWN;
        uint64_t rest = 1;
        bool rest_known = true;
        for (int i = 0; i < count; i++)
            if (i != infer_at)
                rest_known = rest_known && out[0].dims[i] >= 0 &&
                             !__builtin_mul_overflow(rest, (uint64_t)out[0].dims[i], &rest);
        if (in_known && rest_known && (rest == 0 || in_numel % rest))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "cannot infer -1: %llu elements do not divide by %llu",
                                 (unsigned long long)in_numel, (unsigned long long)rest);
        out[0].dims[infer_at] = infer_rest(x, out[0].dims, count, infer_at);
    }
    if (in_known && ond_numel(&out[0], 0, &out_numel) && in_numel != out_numel)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "cannot reshape %llu elements into %llu",
                             (unsigned long long)in_numel, (unsigned long long)out_numel);
    return OND_OK;
}

const struct ond_op ond_op_reshape_v1 = {
    .domain = "", .name = "Reshape", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct reshape),
    .parse = parse_v1, .infer = infer, .eval = ond_eval_copy, .prepare = ond_prep_view,
    .quant = OND_QUANT_KEEP,
};

const struct ond_op ond_op_reshape = {
    .domain = "", .name = "Reshape", .since = 5,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct reshape),
    .parse = parse, .infer = infer, .eval = ond_eval_copy, .prepare = ond_prep_view,
    .quant = OND_QUANT_KEEP,
};
