/* scatternd.c: ONNX ScatterND, opsets 11, 13 (bfloat16), 16 (attribute reduction: none, add,
 * mul) and 18 (reduction max, min). Output = data, then for each index tuple of indices
 * [..., k] (k <= rank of data) the slice data[tuple] (dims data.shape[k:]) is replaced by, or
 * reduced with, the matching slice of updates (shape indices.shape[:-1] + data.shape[k:]), in
 * the order of indices (duplicates with reduction none: the last one wins, as ONNX's
 * reference). Data and updates of one type, any type ondine holds; add, mul, max and min take
 * the numeric types (integers wrap; max and min let NaN through, as numpy.maximum). Indices
 * int64 (int32 taken too), negative ones counting from the end. An index outside
 * [-dim, dim) is an error naming the node and the position: INVALID_MODEL for constant
 * indices (found at load), else INVALID_INPUT at evaluation, before anything is written.
 * A reduction attribute above the node's opset is refused. Sessions run the eval (C). */
#include <string.h>

#include "ops/op.h"

enum red { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

struct scatternd {
    enum red red;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    static const struct {
        const char *name;
        int since;
    } reds[] = {{"none", 11}, {"add", 16}, {"mul", 16}, {"max", 18}, {"min", 18}};
    struct scatternd *p = params;
    const char *s;
    enum ond_status st = ond_attr_string(n, "reduction", "none", &s, err);
    if (st)
        return st;
    for (int i = 0; i < 5; i++)
        if (strcmp(s, reds[i].name) == 0) {
            if (n->opset < reds[i].since)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "attribute reduction '%s' needs opset %d, the model has %lld",
                                     s, reds[i].since, (long long)n->opset);
            p->red = (enum red)i;
            return OND_OK;
        }
    return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                         "attribute reduction '%s' is not none, add, mul, max or min", s);
}

/* Index j of a dim of dim, at position `at` of indices, made non-negative. */
static enum ond_status check_index(const struct ond_node *n, int64_t *j, int64_t dim,
                                   uint64_t at, struct ond_error *err)
{
    if (*j >= -dim && *j < dim) {
        *j += *j < 0 ? dim : 0;
        return OND_OK;
    }
    bool constant = n->in[1] && (n->in[1]->flags & OND_TENSOR_CONST);
    return ond_node_fail(err, n, constant ? OND_STATUS_INVALID_MODEL : OND_STATUS_INVALID_INPUT,
                         "index %lld at %llu of indices is out of range for a dim of %lld",
                         (long long)*j, (unsigned long long)at, (long long)dim);
}

/* Index tuples in indices (known dims): the product of its dims but the last, which can
 * overflow where the last is 0. */
static bool tuples_of(const struct ond_info *ind, uint64_t *t)
{
    *t = 1;
    for (int d = 0; d < ind->rank - 1; d++)
        if (__builtin_mul_overflow(*t, (uint64_t)ind->dims[d], t))
            return false;
    return true;
}

/* The element offset into x (known dims) of index tuple t; an index out of range fails. */
static enum ond_status tuple_offset(const struct ond_node *n, const struct ond_info *x,
                                    const struct ond_info *ind, uint64_t t, uint64_t *off,
                                    struct ond_error *err)
{
    uint64_t k = (uint64_t)ind->dims[ind->rank - 1], o = 0;
    for (int d = 0; d < x->rank; d++) {
        int64_t j = 0;
        if ((uint64_t)d < k) {
            j = ond_int_at(ind, t * k + (uint64_t)d);
            enum ond_status st = check_index(n, &j, x->dims[d], t * k + (uint64_t)d, err);
            if (st)
                return st;
        }
        o = o * (uint64_t)x->dims[d] + (uint64_t)j;
    }
    *off = o;
    return OND_OK;
}

/* Checks every index against x's known dims (tuples of none when the last dim is 0). */
static enum ond_status check_indices(const struct ond_node *n, const struct ond_info *x,
                                     const struct ond_info *ind, struct ond_error *err)
{
    enum ond_status st = OND_OK;
    uint64_t off, tuples = 0;
    if (ind->dims[ind->rank - 1] > 0)
        tuples_of(ind, &tuples);   /* times the last dim: indices' elements, no overflow */
    for (uint64_t t = 0; !st && t < tuples; t++)
        st = tuple_offset(n, x, ind, t, &off, err);
    return st;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct scatternd *p = n->params;
    const struct ond_info *x = in[0], *ind = in[1], *u = in[2];
    if (ind->dtype != OND_DTYPE_INT64 && ind->dtype != OND_DTYPE_INT32)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "indices must be int64 (or int32), got %s",
                             ond_dtype_name(ind->dtype));
    if (u->dtype != x->dtype)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "data is %s and updates %s",
                             ond_dtype_name(x->dtype), ond_dtype_name(u->dtype));
    if (p->red != RED_NONE && (!ond_num_dtype(x->dtype) || x->dtype == OND_DTYPE_BOOL))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "a reduction of %s data is not supported", ond_dtype_name(x->dtype));
    out[0] = *x;
    out[0].data = NULL;
    if (x->rank < 0 || ind->rank < 0)
        return OND_OK;
    if (x->rank < 1 || ind->rank < 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "data and indices must have rank 1 or more, have %d and %d",
                             x->rank, ind->rank);
    int64_t k = ind->dims[ind->rank - 1];
    if (k < 0)
        return OND_OK;
    if (k > x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "indices' last dim %lld is over data's rank %d", (long long)k,
                             x->rank);
    /* updates: indices.shape[:-1] + data.shape[k:] */
    int want = ind->rank - 1 + x->rank - (int)k;
    if (u->rank >= 0 && u->rank != want)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "updates have rank %d, not the %d of indices.shape[:-1] + "
                             "data.shape[%lld:]", u->rank, want, (long long)k);
    for (int d = 0; u->rank >= 0 && d < want; d++) {
        int64_t e = d < ind->rank - 1 ? ind->dims[d] : x->dims[k + d - (ind->rank - 1)];
        if (u->dims[d] >= 0 && e >= 0 && u->dims[d] != e)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "updates' dim %d is %lld, indices.shape[:-1] + "
                                 "data.shape[%lld:] has %lld",
                                 d, (long long)u->dims[d], (long long)k, (long long)e);
    }
    if (ind->data && ond_info_known(x) && ond_info_known(ind))
        return check_indices(n, x, ind, err);
    return OND_OK;
}

/* dst = dst red src over n elements of dtype. */
static void reduce(enum red red, int32_t dt, char *dst, const char *src, uint64_t n)
{
    size_t es = ond_dtype_size(dt);
    bool fl = dt == OND_DTYPE_FLOAT || dt == OND_DTYPE_DOUBLE || dt == OND_DTYPE_FLOAT16 ||
              dt == OND_DTYPE_BFLOAT16;
    for (uint64_t i = 0; i < n; i++, dst += es, src += es) {
        if (red == RED_MAX || red == RED_MIN) {
            int c = ond_num_cmp(src, dst, dt);
            if (c == 2 || c == (red == RED_MAX ? 1 : -1))
                memcpy(dst, src, es);
        } else if (fl) {
            double a = ond_num_double(dst, dt), b = ond_num_double(src, dt);
            double r = red == RED_ADD ? a + b : a * b;
            ond_convert(&r, OND_DTYPE_DOUBLE, dst, dt, 1);
        } else {
            /* modulo 2^64, then truncated to the type: the wrapped sum or product */
            uint64_t a, b;
            ond_convert(dst, dt, &a, OND_DTYPE_UINT64, 1);
            ond_convert(src, dt, &b, OND_DTYPE_UINT64, 1);
            uint64_t r = red == RED_ADD ? a + b : a * b;
            ond_convert(&r, OND_DTYPE_UINT64, dst, dt, 1);
        }
    }
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    const struct scatternd *p = n->params;
    const struct ond_info *x = in[0], *ind = in[1], *u = in[2];
    size_t es = ond_dtype_size(x->dtype);
    uint64_t nx = 0, nu = 0, slice = 1, tuples, need, off;
    ond_numel(x, 0, &nx);
    for (int d = (int)ind->dims[ind->rank - 1]; d < x->rank; d++)
        slice *= (uint64_t)x->dims[d];
    if (!ond_numel(u, 0, &nu) || !tuples_of(ind, &tuples) ||
        __builtin_mul_overflow(tuples, slice, &need) || nu != need)
        return ond_node_fail(err, n, OND_STATUS_INVALID_INPUT,
                             "updates do not have the elements of indices.shape[:-1] + "
                             "data.shape[k:]");
    /* every index first, so a bad one writes nothing */
    enum ond_status st = check_indices(n, x, ind, err);
    if (st)
        return st;
    if (nx) /* an empty tensor has no data pointer */
        memcpy(out_data[0], x->data, nx * es);
    if (!nu)   /* nothing to write; else tuples <= nu, a bound the data sets */
        return OND_OK;
    for (uint64_t t = 0; t < tuples; t++) {
        tuple_offset(n, x, ind, t, &off, err);
        char *dst = (char *)out_data[0] + off * es;
        const char *src = (const char *)u->data + t * slice * es;
        if (p->red == RED_NONE)
            memcpy(dst, src, slice * es);
        else
            reduce(p->red, x->dtype, dst, src, slice);
    }
    return OND_OK;
}

const struct ond_op ond_op_scatternd = {
    .domain = "", .name = "ScatterND", .since = 11,
    .min_in = 3, .max_in = 3, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct scatternd),
    .parse = parse, .infer = infer, .eval = eval,
};
