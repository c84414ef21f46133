/* reduce.c: the ONNX reductions ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare, float.
 * Opsets 1, 11, 13 (negative axes from 11; only types change otherwise): attribute `axes`
 * (absent: every axis), `keepdims` (1). ReduceSum from 13 and the others from 18: `axes` is
 * optional input 1 (int64, constant or a shape operand) and `noop_with_empty_axes` (0) makes
 * an absent or empty axes an identity instead of a reduction over every axis.
 * Over no elements: Sum, L1, L2, SumSquare give 0, Prod 1, Max -inf, Min +inf, Mean NaN,
 * LogSum and LogSumExp -inf. Repeated axes are an error naming the node.
 * Sessions: Mean and Max over exactly the spatial dims of [N, C, D...] (rank 3 to 5) as one
 * oneDNN pooling window (oneDNN 2.6's reduction has only a reference kernel for the blocked
 * and channels-last layouts convolutions leave); otherwise oneDNN reduction (mean, sum, max,
 * min, mul; L1 and L2 as norm_lp_sum p = 1, 2; SumSquare as norm_lp_power_p_sum p = 2) on the
 * input in the layout it arrives in (plain if oneDNN has no kernel for it). keepdims 0 writes
 * a plain view with the reduced dims kept as 1. LogSum and LogSumExp, and reductions with nothing to reduce, run the eval. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

enum kind { MEAN, SUM, MAX, MIN, PROD, L1, L2, LOG_SUM, LOG_SUM_EXP, SUM_SQUARE };

static const char *const names[] = {
    [MEAN] = "ReduceMean", [SUM] = "ReduceSum", [MAX] = "ReduceMax", [MIN] = "ReduceMin",
    [PROD] = "ReduceProd", [L1] = "ReduceL1", [L2] = "ReduceL2", [LOG_SUM] = "ReduceLogSum",
    [LOG_SUM_EXP] = "ReduceLogSumExp", [SUM_SQUARE] = "ReduceSumSquare",
};

struct reduce {
    enum kind kind;
    int64_t keepdims, noop;
    int n_axes;                       /* attribute form; -1: absent */
    int64_t axes[OND_MAX_RANK];
};

static bool axes_input(const struct ond_node *n)
{
    return n->op->min_in != n->op->max_in;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct reduce *p = params;
    enum ond_status st;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(n->op->name, names[k]) == 0)
            p->kind = (enum kind)k;
    p->n_axes = -1;
    if ((st = ond_attr_int(n, "keepdims", 1, &p->keepdims, err)))
        return st;
    if (axes_input(n)) {
        if (ond_node_attr(n, "axes"))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'axes' is an input (1) from opset %d", n->op->since);
        st = ond_attr_int(n, "noop_with_empty_axes", 0, &p->noop, err);
    } else {
        st = ond_attr_ints(n, "axes", p->axes, OND_MAX_RANK, &p->n_axes, err);
    }
    if (st)
        return st;
    if (p->keepdims != 0 && p->keepdims != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'keepdims' must be 0 or 1, got %lld",
                             (long long)p->keepdims);
    if (p->noop != 0 && p->noop != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'noop_with_empty_axes' must be 0 or 1, got %lld",
                             (long long)p->noop);
    return OND_OK;
}

/* The reduced axes of x into red[]; *known false when the axes input's value is not known.
 * *noop: nothing is reduced (empty axes with noop_with_empty_axes). */
static enum ond_status resolve(const struct ond_node *n, const struct ond_info *const *in,
                               bool *red, bool *known, bool *noop, struct ond_error *err)
{
    const struct reduce *p = n->params;
    const struct ond_info *x = in[0];
    int64_t axes[OND_MAX_RANK];
    int count = p->n_axes;
    enum ond_status st;
    *known = true;
    *noop = false;
    if (p->n_axes > 0)
        memcpy(axes, p->axes, sizeof(int64_t) * (size_t)count);
    if (axes_input(n) && n->n_in > 1 && in[1] &&
        (st = ond_input_ints(n, in[1], 1, "axes", axes, OND_MAX_RANK, &count, known, err)))
        return st;
    if (!*known && count != 0)
        return OND_OK;
    *known = true;
    if (count <= 0) {
        *noop = axes_input(n) && p->noop;
        for (int i = 0; i < x->rank; i++)
            red[i] = !*noop;
        return OND_OK;
    }
    for (int i = 0; i < x->rank; i++)
        red[i] = false;
    for (int i = 0; i < count; i++) {
        int a;
        if ((st = ond_axis(n, axes[i], x->rank, &a, err)))
            return st;
        if (red[a])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "axis %lld is repeated",
                                 (long long)axes[i]);
        red[a] = true;
    }
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct reduce *p = n->params;
    const struct ond_info *x = in[0];
    enum ond_status st;
    bool red[OND_MAX_RANK], known, noop;
    if (x->dtype != OND_DTYPE_DOUBLE && (st = ond_require_float(n, x, 0, err)))
        return st;
    out[0].dtype = x->dtype;
    if (x->rank < 0 || (st = resolve(n, in, red, &known, &noop, err)))
        return st;
    if (!known) {
        if (p->keepdims) {
            out[0].rank = x->rank;
            for (int i = 0; i < x->rank; i++)
                out[0].dims[i] = x->dims[i] == 1 ? 1 : OND_DIM_UNKNOWN;
        }
        return OND_OK;
    }
    out[0].rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (!red[i])
            out[0].dims[out[0].rank++] = x->dims[i];
        else if (p->keepdims)
            out[0].dims[out[0].rank++] = 1;
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct reduce *p = n->params;
    const struct ond_info *x = in[0];
    bool red[OND_MAX_RANK], known, noop;
    uint64_t xn, yn;
    enum ond_status st = resolve(n, in, red, &known, &noop, err);
    if (st || !ond_numel(x, 0, &xn) || !ond_numel(&out[0], 0, &yn))
        return st;
    if (noop)
        return ond_copy_eval(n, in, out, out_data, err);
    /* ostride: where a step along each input axis moves in the output (0: reduced). */
    int64_t ostride[OND_MAX_RANK], idx[OND_MAX_RANK] = {0}, s = 1, count = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        ostride[i] = red[i] ? 0 : s;
        s *= red[i] ? 1 : x->dims[i];
        count *= red[i] ? x->dims[i] : 1;
    }
    double *acc = malloc(sizeof(double) * (yn ? yn : 1)), *max = NULL;
    if (!acc)
        return ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate %llu sums",
                             (unsigned long long)yn);
    double init = p->kind == PROD ? 1 : p->kind == MAX ? -INFINITY
                                        : p->kind == MIN ? INFINITY : 0;
    for (uint64_t o = 0; o < yn; o++)
        acc[o] = init;
    bool dbl = x->dtype == OND_DTYPE_DOUBLE;
    /* LogSumExp: a first pass finds each output's max, so exp cannot overflow. */
    for (int pass = p->kind == LOG_SUM_EXP ? 0 : 1; pass < 2; pass++) {
        int64_t o = 0;
        for (uint64_t k = 0; k < xn; k++) {
            double v = dbl ? ((const double *)x->data)[k] : ((const float *)x->data)[k];
            switch (pass ? p->kind : MAX) {
            case MEAN: case SUM: case LOG_SUM: acc[o] += v; break;
            case L1: acc[o] += fabs(v); break;
            case L2: case SUM_SQUARE: acc[o] += v * v; break;
            case PROD: acc[o] *= v; break;
            case MAX: acc[o] = v > acc[o] ? v : acc[o]; break;
            case MIN: acc[o] = v < acc[o] ? v : acc[o]; break;
            case LOG_SUM_EXP: acc[o] += isinf(max[o]) ? exp(v) : exp(v - max[o]); break;
            }
            for (int i = x->rank - 1; i >= 0; i--) {
                o += ostride[i];
                if (++idx[i] < x->dims[i])
                    break;
                o -= ostride[i] * x->dims[i];
                idx[i] = 0;
            }
        }
        if (pass == 0) {
            max = acc;
            if (!(acc = calloc(yn ? yn : 1, sizeof(double)))) {
                free(max);
                return ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate %llu sums",
                                     (unsigned long long)yn);
            }
        }
    }
    for (uint64_t o = 0; o < yn; o++) {
        double v = acc[o];
        switch (p->kind) {
        case MEAN: v /= (double)count; break;
        case L2: v = sqrt(v); break;
        case LOG_SUM: v = log(v); break;
        case LOG_SUM_EXP: v = isinf(max[o]) ? log(v) : max[o] + log(v); break;
        default: break;
        }
        if (dbl)
            ((double *)out_data[0])[o] = v;
        else
            ((float *)out_data[0])[o] = (float)v;
    }
    free(acc);
    free(max);
    return OND_OK;
}

static enum ond_status reduction_pd(struct ond_prep *p, dnnl_alg_kind_t alg, float power,
                                    const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                                    dnnl_primitive_desc_t *pd, struct ond_error *err)
{
    dnnl_reduction_desc_t desc;
    OND_DNNL(dnnl_reduction_desc_init(&desc, alg, src, dst, power, 0.f), p->node, err);
    return ond_prep_pd(p, &desc, pd, err);
}

/* Whether md, over [N, C, 1...], holds element (n, c) at n * C + c, as plain [N, C] does
 * (channels-last, or C blocked without padding). */
static bool flat_nc(const dnnl_memory_desc_t *md)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (md->format_kind != dnnl_blocked || md->padded_dims[1] != md->dims[1] ||
        b->strides[0] != md->dims[1])
        return false;
    if (b->inner_nblks == 0)
        return b->strides[1] == 1;
    return b->inner_nblks == 1 && b->inner_idxs[0] == 1 && b->strides[1] == b->inner_blks[0];
}

static enum ond_status pool_pd(struct ond_prep *p, const dnnl_memory_desc_t *dst,
                               dnnl_primitive_desc_t *pd, struct ond_error *err)
{
    const struct reduce *q = p->node->params;
    const struct ond_info *x = p->in[0];
    dnnl_dims_t kernel, ones, zeros;
    for (int i = 0; i < x->rank - 2; i++) {
        kernel[i] = x->dims[2 + i];
        ones[i] = 1;
        zeros[i] = 0;
    }
    dnnl_pooling_v2_desc_t desc;
    OND_DNNL(dnnl_pooling_v2_forward_desc_init(
                 &desc, dnnl_forward_inference,
                 q->kind == MAX ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding,
                 p->in_md[0], dst, ones, kernel, zeros, zeros, zeros), p->node, err);
    return ond_prep_pd(p, &desc, pd, err);
}

/* ReduceMean or ReduceMax over exactly the spatial dims of [N, C, D...] (rank 3 to 5; the
 * squeeze-and-excitation, MnasNet and ShuffleNet case): one pooling window over them, which
 * has kernels for blocked and channels-last layouts where the reduction has only its
 * reference one. dst has the keepdims shape, in the layout pooling picks; with keepdims 0 the
 * output tensor reads it as plain [N, C], so a layout that is not byte-for-byte that is
 * replaced by plain. */
static enum ond_status prepare_pool(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_info *x = p->in[0];
    int64_t dims[OND_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < 2 ? x->dims[i] : 1;
    dnnl_memory_desc_t dst;
    dnnl_primitive_desc_t pd;
    enum ond_status st = ond_prep_md_dims(p, x->rank, dims, &dst, err);
    dst.data_type = p->in_md[0]->data_type;
    if (st || (st = pool_pd(p, &dst, &pd, err)) || !pd)
        return st;
    const struct reduce *q = p->node->params;
    if (!q->keepdims && !flat_nc(dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0))) {
        dnnl_primitive_desc_destroy(pd);
        if ((st = ond_md_float(x->rank, dims, true, &dst, err)) ||
            (st = pool_pd(p, &dst, &pd, err)) || !pd)
            return st;
    }
    return ond_prep_finish_unary(p, pd, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    static const dnnl_alg_kind_t algs[] = {
        [MEAN] = dnnl_reduction_mean, [SUM] = dnnl_reduction_sum, [MAX] = dnnl_reduction_max,
        [MIN] = dnnl_reduction_min, [PROD] = dnnl_reduction_mul,
        [L1] = dnnl_reduction_norm_lp_sum, [L2] = dnnl_reduction_norm_lp_sum,
        [SUM_SQUARE] = dnnl_reduction_norm_lp_power_p_sum,
    };
    const struct ond_node *n = p->node;
    const struct reduce *q = n->params;
    const struct ond_info *x = p->in[0];
    bool red[OND_MAX_RANK], known, noop, any = false;
    if (!ond_prep_float_activation(p, 0, "data"))
        return OND_OK;
    if (q->kind == LOG_SUM || q->kind == LOG_SUM_EXP)
        return ond_prep_decline(p, "%s has no oneDNN reduction", names[q->kind]);
    enum ond_status st = resolve(n, p->in, red, &known, &noop, err);
    if (st)
        return st;
    int64_t dims[OND_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        dims[i] = red[i] ? 1 : x->dims[i];
        any = any || (red[i] && x->dims[i] != 1);
    }
    if (noop || !any || x->rank == 0)
        return ond_prep_decline(p, "nothing to reduce");
    float power = q->kind == L1 ? 1.f : 2.f;
    dnnl_memory_desc_t dst;
    if (q->keepdims)
        st = ond_md_any(&p->out[0], p->in_md[0]->data_type, &dst, err);
    else
        st = ond_md_float(x->rank, dims, true, &dst, err);
    bool spatial = x->rank >= 3 && x->rank <= 5 && !red[0] && !red[1];
    for (int i = 2; i < x->rank; i++)
        spatial = spatial && red[i];
    /* A keepdims 0 output is seen as plain f32, which pooling writes only from f32. */
    if (!st && spatial && (q->kind == MEAN || q->kind == MAX) &&
        (q->keepdims || p->in_md[0]->data_type == dnnl_f32))
        return prepare_pool(p, err);
    dnnl_primitive_desc_t pd = NULL;
    if (!st)
        st = reduction_pd(p, algs[q->kind], power, p->in_md[0], &dst, &pd, err);
    if (!st && !pd && !ond_md_is_plain(p->in_md[0])) {
        /* No kernel for the layout it arrives in: plain then. */
        p->declined = false;
        if (!(st = ond_md(x, true, &p->want_md[0], err)))
            st = reduction_pd(p, algs[q->kind], power, &p->want_md[0], &dst, &pd, err);
    }
    if (st || !pd)
        return st;
    return ond_prep_finish_unary(p, pd, err);
}

#define REDUCE(sym, op_name, since_, max_in_)                                     \
    const struct ond_op sym = {                                                   \
        .domain = "", .name = op_name, .since = since_,                           \
        .min_in = 1, .max_in = max_in_, .min_out = 1, .max_out = 1,               \
        .params_size = sizeof(struct reduce),                                     \
        .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,         \
    };

REDUCE(ond_op_reduce_mean_1, "ReduceMean", 1, 1)
REDUCE(ond_op_reduce_mean_18, "ReduceMean", 18, 2)
REDUCE(ond_op_reduce_sum_1, "ReduceSum", 1, 1)
REDUCE(ond_op_reduce_sum_13, "ReduceSum", 13, 2)
REDUCE(ond_op_reduce_max_1, "ReduceMax", 1, 1)
REDUCE(ond_op_reduce_max_18, "ReduceMax", 18, 2)
REDUCE(ond_op_reduce_min_1, "ReduceMin", 1, 1)
REDUCE(ond_op_reduce_min_18, "ReduceMin", 18, 2)
REDUCE(ond_op_reduce_prod_1, "ReduceProd", 1, 1)
REDUCE(ond_op_reduce_prod_18, "ReduceProd", 18, 2)
REDUCE(ond_op_reduce_l1_1, "ReduceL1", 1, 1)
REDUCE(ond_op_reduce_l1_18, "ReduceL1", 18, 2)
REDUCE(ond_op_reduce_l2_1, "ReduceL2", 1, 1)
REDUCE(ond_op_reduce_l2_18, "ReduceL2", 18, 2)
REDUCE(ond_op_reduce_log_sum_1, "ReduceLogSum", 1, 1)
REDUCE(ond_op_reduce_log_sum_18, "ReduceLogSum", 18, 2)
REDUCE(ond_op_reduce_log_sum_exp_1, "ReduceLogSumExp", 1, 1)
REDUCE(ond_op_reduce_log_sum_exp_18, "ReduceLogSumExp", 18, 2)
REDUCE(ond_op_reduce_sum_square_1, "ReduceSumSquare", 1, 1)
REDUCE(ond_op_reduce_sum_square_18, "ReduceSumSquare", 18, 2)
