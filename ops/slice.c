/* slice.c: ONNX Slice. Opset 1: attributes starts and ends (required) and axes; opsets 10,
 * 11 and 13: inputs starts, ends, axes (optional) and steps (optional), int32 or int64. 13
 * only adds bfloat16; every opset runs the same code, all dtypes.
 *
 * Indices follow opset 11's rules for every opset (1 and 10 say less but mean the same): a
 * negative start or end counts from the end of its axis, then starts and ends are clamped,
 * to [0, dim] for a positive step, to [0, dim - 1] (start) and [-1, dim - 1] (end) for a
 * negative one. Negative axes count from the back; axes must be unique; steps must not be 0.
 *
 * The output's shape needs the values of starts, ends, axes and steps: a session plans
 * shapes once, so they must be constants or computable at planning (graph inputs included);
 * a Slice reading run-time data fails to plan ("depends on run-time data"). An axis of
 * unknown size keeps its dim only when sliced [0, INT64_MAX) with step 1 (PyTorch's `:`).
 *
 * Sessions: a float activation sliced with positive steps is one oneDNN reorder from a view
 * of the input (a sub-memory descriptor, its strides multiplied by the steps) to the plain
 * output, read in the layout it arrives in when that layout has the view (no blocked axis
 * cut inside a block or subsampled), else plain. Negative steps and other dtypes run the
 * eval.
 */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct slice {
    int n_starts, n_ends, n_axes; /* opset 1's attributes; -1: absent or another opset */
    int64_t starts[OND_MAX_RANK], ends[OND_MAX_RANK], axes[OND_MAX_RANK];
};

/* What a Slice does to each axis of its input: output element i of the axis reads input
 * element start + i * step; dims is the output's shape (OND_DIM_UNKNOWN where not known). */
struct plan {
    int64_t start[OND_MAX_RANK], step[OND_MAX_RANK], dims[OND_MAX_RANK];
};

static enum ond_status parse_v1(struct ond_node *n, void *params, struct ond_error *err)
{
    struct slice *p = params;
    enum ond_status st = ond_attr_ints(n, "starts", p->starts, OND_MAX_RANK, &p->n_starts, err);
    if (!st)
        st = ond_attr_ints(n, "ends", p->ends, OND_MAX_RANK, &p->n_ends, err);
    if (!st)
        st = ond_attr_ints(n, "axes", p->axes, OND_MAX_RANK, &p->n_axes, err);
    if (st)
        return st;
    if (p->n_starts < 0 || p->n_ends < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute '%s' is required", p->n_starts < 0 ? "starts" : "ends");
    return OND_OK;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct slice *p = params;
    (void)n;
    (void)err;
    p->n_starts = p->n_ends = p->n_axes = -1;
    return OND_OK;
}

/* Clamps v to [lo, hi]. */
static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* One axis of size d (known, >= 0): normalized start and the output's length. */
static void slice_axis(int64_t d, int64_t s, int64_t e, int64_t step, int64_t *start,
                       int64_t *len)
{
    s = s < 0 ? s + d : s;
    e = e < 0 ? e + d : e;
    if (d == 0) {
        *len = 0;
    } else if (step > 0) {
        s = clamp(s, 0, d);
        e = clamp(e, 0, d);
        *len = e > s ? (e - s - 1) / step + 1 : 0;
    } else {
        s = clamp(s, 0, d - 1);
        e = clamp(e, -1, d - 1);
        *len = s > e ? (s - e - 1) / -step + 1 : 0;
    }
    *start = *len ? s : 0;
}

/* The slicing values: opset 1's attributes, or inputs 1 to 4 (absent axes: 0, 1, ...;
 * absent steps: 1). *known false when an input's value is not known. */
static enum ond_status values(const struct ond_node *n, const struct ond_info *const *in,
                              int64_t v[4][OND_MAX_RANK], int count[4], bool *known,
                              struct ond_error *err)
{
    static const char *const what[4] = {"starts", "ends", "axes", "steps"};
    const struct slice *p = n->params;
    enum ond_status st;
    *known = true;
    if (p->n_starts >= 0) {
        count[0] = p->n_starts;
        count[1] = p->n_ends;
        count[2] = p->n_axes;
        count[3] = -1;
        memcpy(v[0], p->starts, sizeof p->starts);
        memcpy(v[1], p->ends, sizeof p->ends);
        memcpy(v[2], p->axes, sizeof p->axes);
    } else {
        for (int k = 0; k < 4; k++) {
            bool k_known = true;
            count[k] = -1;
            if (k < 2 && !in[k + 1])
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "input %d (%s) is required", k + 1, what[k]);
            if (k + 1 < n->n_in && in[k + 1] &&
                (st = ond_input_ints(n, in[k + 1], k + 1, what[k], v[k], OND_MAX_RANK,
                                     &count[k], &k_known, err)))
                return st;
            *known = *known && k_known;
        }
    }
    if (!*known)
        return OND_OK;
    for (int k = 1; k < 4; k++)
        if (count[k] >= 0 && count[k] != count[0])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "%s has %d values, starts %d: they must have one per axis",
                                 what[k], count[k], count[0]);
    for (int i = 0; i < count[0]; i++) {
        if (count[2] < 0)
            v[2][i] = i;
        if (count[3] < 0)
            v[3][i] = 1;
        else if (v[3][i] == 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "steps[%d] is 0", i);
        else if (v[3][i] < -INT64_MAX)
            v[3][i] = -INT64_MAX; /* the same slice (one element at most), and negatable */
    }
    return OND_OK;
}

/* The plan of a Slice of x (known rank); *known false when the slicing values are not. */
static enum ond_status resolve(const struct ond_node *n, const struct ond_info *const *in,
                               struct plan *pl, bool *known, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    int64_t v[4][OND_MAX_RANK];
    int count[4];
    bool seen[OND_MAX_RANK] = {false};
    enum ond_status st = values(n, in, v, count, known, err);
    if (st || !*known)
        return st;
    if (count[0] > x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "%d axes sliced in an input of rank %d", count[0], x->rank);
    for (int a = 0; a < x->rank; a++) {
        pl->start[a] = 0;
        pl->step[a] = 1;
        pl->dims[a] = x->dims[a];
    }
    for (int i = 0; i < count[0]; i++) {
        int a;
        if ((st = ond_axis(n, v[2][i], x->rank, &a, err)))
            return st;
        if (seen[a])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "axes: axis %lld appears twice", (long long)v[2][i]);
        seen[a] = true;
        pl->step[a] = v[3][i];
        if (x->dims[a] >= 0) {
            slice_axis(x->dims[a], v[0][i], v[1][i], v[3][i], &pl->start[a], &pl->dims[a]);
            /* The step of an axis with one output element moves nothing: 1 keeps the
             * strides it scales (step times the input's stride) from overflowing. */
            if (pl->dims[a] <= 1)
                pl->step[a] = 1;
        } else if (!(v[0][i] == 0 && v[1][i] == INT64_MAX && v[3][i] == 1))
            pl->dims[a] = OND_DIM_UNKNOWN;
    }
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    struct plan pl;
    bool known;
    out[0].dtype = x->dtype;
    if (x->rank < 0)
        return OND_OK;
    enum ond_status st = resolve(n, in, &pl, &known, err);
    if (st)
        return st;
    out[0].rank = x->rank;
    for (int a = 0; a < x->rank; a++)
        out[0].dims[a] = known ? pl.dims[a] : OND_DIM_UNKNOWN;
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct ond_info *x = in[0], *y = &out[0];
    struct plan pl;
    bool known;
    uint64_t numel;
    enum ond_status st = resolve(n, in, &pl, &known, err);
    if (st || !ond_numel(y, 0, &numel) || numel == 0)
        return st;
    if (!known)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "starts, ends, axes and steps are not known");
    size_t es = ond_dtype_size(x->dtype);
    int rank = x->rank;
    /* Walk the output in order; off is the input element it reads, moved by step * stride
     * per output step along an axis (the strides are in elements). */
    int64_t stride[OND_MAX_RANK], idx[OND_MAX_RANK] = {0}, off = 0, s = 1;
    for (int a = rank - 1; a >= 0; a--) {
        stride[a] = s * pl.step[a];
        off += pl.start[a] * s;
        s *= x->dims[a];
    }
    const char *src = x->data;
    char *dst = out_data[0];
    for (uint64_t k = 0; k < numel; k++) {
        memcpy(dst + k * es, src + (size_t)off * es, es);
        for (int a = rank - 1; a >= 0; a--) {
            off += stride[a];
            if (++idx[a] < y->dims[a])
                break;
            off -= stride[a] * idx[a];
            idx[a] = 0;
        }
    }
    return OND_OK;
}

/* src: base (a layout of the input) restricted to the slice; false when base cannot express
 * it (a sub-block offset of a blocked axis, or a blocked axis with a step). */
static bool view_of(const dnnl_memory_desc_t *base, const struct plan *pl, int rank,
                    dnnl_memory_desc_t *src)
{
    dnnl_dims_t extent, offset;
    for (int a = 0; a < rank; a++) {
        extent[a] = (pl->dims[a] - 1) * pl->step[a] + 1;
        offset[a] = pl->start[a];
    }
    if (base->format_kind != dnnl_blocked ||
        dnnl_memory_desc_init_submemory(src, base, extent, offset) != dnnl_success)
        return false;
    dnnl_blocking_desc_t *b = &src->format_desc.blocking;
    for (int a = 0; a < rank; a++) {
        if (pl->step[a] == 1)
            continue;
        for (int i = 0; i < b->inner_nblks; i++)
            if (b->inner_idxs[i] == a)
                return false;
        src->dims[a] = src->padded_dims[a] = pl->dims[a];
        b->strides[a] *= pl->step[a];
    }
    return true;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    struct plan pl;
    bool known;
    if (!ond_prep_float_activation(p, 0, "data"))
        return OND_OK;
    enum ond_status st = resolve(n, p->in, &pl, &known, err);
    if (st || !known)
        return st ? st : ond_prep_decline(p, "starts, ends, axes and steps are not known");
    int rank = p->in[0]->rank;
    for (int a = 0; a < rank; a++)
        if (pl.step[a] < 0)
            return ond_prep_decline(p, "negative steps");
    dnnl_memory_desc_t src, dst;
    if (!view_of(p->in_md[0], &pl, rank, &src)) {
        /* Read the input plain instead; a plain layout always has the view. */
        if ((st = ond_md(p->in[0], true, &p->want_md[0], err)))
            return st;
        if (!view_of(&p->want_md[0], &pl, rank, &src))
            return ond_node_fail(err, n, OND_STATUS_BACKEND, "no view of the plain input");
    }
    if ((st = ond_md(&p->out[0], true, &dst, err)))
        return st;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if ((st = ond_prep_attr(p, &attr, err))) {
        dnnl_primitive_attr_destroy(attr);
        return st;
    }
    dnnl_status_t ds = dnnl_reorder_primitive_desc_create(&pd, &src, p->engine, &dst, p->engine,
                                                          attr);
    dnnl_primitive_attr_destroy(attr);
    if (ds == dnnl_unimplemented)
        return ond_prep_decline(p, "oneDNN has no reorder for this view");
    if ((st = ond_dnnl(ds, "reorder_primitive_desc_create", n, err)))
        return st;
    p->out_md[0] = dst;
    ond_prep_arg(p, DNNL_ARG_FROM, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_TO, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

const struct ond_op ond_op_slice_1 = {
    .domain = "", .name = "Slice", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct slice),
    .parse = parse_v1, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_slice = {
    .domain = "", .name = "Slice", .since = 10,
    .min_in = 3, .max_in = 5, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct slice),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
