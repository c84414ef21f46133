/* topk.c: ONNX TopK, opsets 1 (attribute k), 10 (K as input 1: int64, one element), 11
 * (negative axis, taken at every opset; attributes largest, default 1, and sorted, default
 * 1) and 24 (types only). Attribute axis (default -1). Outputs Values (the input's dtype)
 * and Indices (int64) along the axis, the k largest (or smallest) in order, equal values by
 * lower index first; an unsorted request gets them sorted too. NaN counts as larger than
 * any number. Numeric input, values compared as doubles. K must lie in [0, dim]. Sessions
 * run the eval: oneDNN 2.6 has no top-k. */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

struct topk {
    int64_t k, axis, largest, sorted; /* k -1: from input 1 */
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct topk *p = params;
    enum ond_status st;
    p->k = -1;
    if ((n->opset < 10 && (st = ond_attr_int(n, "k", -1, &p->k, err))) ||
        (st = ond_attr_int(n, "axis", -1, &p->axis, err)) ||
        (st = ond_attr_int(n, "largest", 1, &p->largest, err)) ||
        (st = ond_attr_int(n, "sorted", 1, &p->sorted, err)))
        return st;
    if (n->opset < 10 && p->k < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             ond_node_attr(n, "k") ? "attribute 'k' is negative"
                                                   : "attribute 'k' is required");
    if (n->opset < 11 && (ond_node_attr(n, "largest") || ond_node_attr(n, "sorted")))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attributes 'largest' and 'sorted' need opset 11, the model has "
                             "%lld", (long long)n->opset);
    if ((p->largest != 0 && p->largest != 1) || (p->sorted != 0 && p->sorted != 1))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attributes 'largest' and 'sorted' must be 0 or 1");
    return OND_OK;
}

/* k, once known (-1 otherwise). */
static enum ond_status get_k(const struct ond_node *n, const struct ond_info *const *in,
                             int64_t *k, struct ond_error *err)
{
    const struct topk *p = n->params;
    int64_t v[1];
    int count;
    bool known;
    *k = p->k;
    if (p->k >= 0)
        return OND_OK;
    if (in[1]->dtype != OND_DTYPE_INT64)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input 1 (K) must be int64, got %s",
                             ond_dtype_name(in[1]->dtype));
    enum ond_status st = ond_input_ints(n, in[1], 1, "K", v, 1, &count, &known, err);
    if (st)
        return st;
    if (count == 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input 1 (K) is empty");
    if (known && v[0] < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "K is negative (%lld)",
                             (long long)v[0]);
    *k = known ? v[0] : -1;
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct topk *p = n->params;
    const struct ond_info *x = in[0];
    int64_t k;
    int axis;
    out[0].dtype = x->dtype;
    out[1].dtype = OND_DTYPE_INT64;
    if (x->dtype == OND_DTYPE_BOOL)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input 0 must be numeric, got bool");
    enum ond_status st = get_k(n, in, &k, err);
    if (st || x->rank < 0)
        return st;
    if ((st = ond_axis(n, p->axis, x->rank, &axis, err)))
        return st;
    if (k >= 0 && x->dims[axis] >= 0 && k > x->dims[axis])
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "K is %lld, the axis has only %lld", (long long)k,
                             (long long)x->dims[axis]);
    for (int j = 0; j < 2; j++) {
        out[j].rank = x->rank;
        memcpy(out[j].dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        out[j].dims[axis] = k;
    }
    return OND_OK;
}

struct entry {
    double v;
    int64_t i;
};

/* Largest first, NaN above everything, ties by index. */
static int by_largest(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    bool xn = x->v != x->v, yn = y->v != y->v;
    if (xn != yn)
        return xn ? -1 : 1;
    if (!xn && x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : 1;
}

static int by_smallest(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    bool xn = x->v != x->v, yn = y->v != y->v;
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : 1;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct topk *p = n->params;
    const struct ond_info *x = in[0];
    int axis;
    enum ond_status st = ond_axis(n, p->axis, x->rank, &axis, err);
    int64_t k = out[0].dims[axis], outer = 1, inner = 1, dim = x->dims[axis];
    if (st || k == 0 || !out_data[0])
        return st;
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    struct entry *row = malloc(sizeof *row * (size_t)dim);
    if (!row)
        return ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate a row of %lld",
                             (long long)dim);
    size_t es = ond_dtype_size(x->dtype);
    const char *src = x->data;
    char *values = out_data[0];
    int64_t *indices = out_data[1];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < dim; j++) {
                ond_convert(src + (size_t)((o * dim + j) * inner + i) * es, x->dtype, &row[j].v,
                            OND_DTYPE_DOUBLE, 1);
                row[j].i = j;
            }
            qsort(row, (size_t)dim, sizeof *row, p->largest ? by_largest : by_smallest);
            for (int64_t j = 0; j < k; j++) {
                size_t at = (size_t)((o * k + j) * inner + i);
                memcpy(values + at * es, src + (size_t)((o * dim + row[j].i) * inner + i) * es,
                       es);
                if (indices)
                    indices[at] = row[j].i;
            }
        }
    free(row);
    return OND_OK;
}

const struct ond_op ond_op_topk_1 = {
    .domain = "", .name = "TopK", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 2, .max_out = 2,
    .params_size = sizeof(struct topk),
    .parse = parse, .infer = infer, .eval = eval,
};

const struct ond_op ond_op_topk_10 = {
    .domain = "", .name = "TopK", .since = 10,
    .min_in = 2, .max_in = 2, .min_out = 2, .max_out = 2,
    .params_size = sizeof(struct topk),
    .parse = parse, .infer = infer, .eval = eval,
};
