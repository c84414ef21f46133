/* transpose.c: ONNX Transpose, opsets 1, 13, 21, 23, 24 and 25 (same semantics; 21 and later only
 * add types). Attribute perm, a permutation of the input's axes; default reverses them. All
 * dtypes. */
#include <string.h>

#include "ops/op.h"

struct transpose {
    int n_perm;              /* -1: absent */
    int64_t perm[OND_MAX_RANK];
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct transpose *p = params;
    enum ond_status st = ond_attr_ints(n, "perm", p->perm, OND_MAX_RANK, &p->n_perm, err);
    bool seen[OND_MAX_RANK] = {false};
    for (int i = 0; !st && i < p->n_perm; i++) {
        if (p->perm[i] < 0 || p->perm[i] >= p->n_perm || seen[p->perm[i]])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'perm' is not a permutation of 0..%d (value %lld "
                                 "at %d)", p->n_perm - 1, (long long)p->perm[i], i);
        seen[p->perm[i]] = true;
    }
    return st;
}

static void get_perm(const struct transpose *p, int rank, int *perm)
{
    for (int i = 0; i < rank; i++)
        perm[i] = p->n_perm >= 0 ? (int)p->perm[i] : rank - 1 - i;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct transpose *p = n->params;
    const struct ond_info *x = in[0];
    out[0].dtype = x->dtype;
    if (x->rank < 0) {
        out[0].rank = p->n_perm;
        for (int i = 0; i < p->n_perm; i++)
            out[0].dims[i] = OND_DIM_UNKNOWN;
        return OND_OK;
    }
    if (p->n_perm >= 0 && p->n_perm != x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'perm' has %d values for an input of rank %d",
                             p->n_perm, x->rank);
    int perm[OND_MAX_RANK];
    get_perm(p, x->rank, perm);
    out[0].rank = x->rank;
    for (int i = 0; i < x->rank; i++)
        out[0].dims[i] = x->dims[perm[i]];
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)err;
    const struct ond_info *x = in[0];
    int rank = x->rank, perm[OND_MAX_RANK];
    size_t es = ond_dtype_size(x->dtype);
    uint64_t numel;
    if (!ond_numel(&out[0], 0, &numel) || numel == 0)
        return OND_OK;
    get_perm(n->params, rank, perm);
    /* Input stride of each output axis; walk the output in order with an odometer. */
    size_t in_stride[OND_MAX_RANK], stride[OND_MAX_RANK], idx[OND_MAX_RANK] = {0};
    size_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        in_stride[i] = s;
        s *= (size_t)x->dims[i];
    }
    for (int i = 0; i < rank; i++)
        stride[i] = in_stride[perm[i]];
    const char *src = x->data;
    char *dst = out_data[0];
    size_t off = 0;
    for (uint64_t k = 0; k < numel; k++) {
        memcpy(dst + k * es, src + off * es, es);
        for (int i = rank - 1; i >= 0; i--) {
            off += stride[i];
            if (++idx[i] < (size_t)out[0].dims[i])
                break;
            off -= stride[i] * idx[i];
            idx[i] = 0;
        }
    }
    return OND_OK;
}

const struct ond_op ond_op_transpose = {
    .domain = "", .name = "Transpose", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct transpose),
    .parse = parse, .infer = infer, .eval = eval,
};
