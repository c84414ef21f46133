/* transpose.c: ONNX Transpose, opsets 1, 13, 21, 23, 24 and 25 (same semantics; 21 and later only
 * add types). Attribute perm, a permutation of the input's axes; default reverses them. All
 * dtypes.
 * Sessions: a float (f32, bf16, int8 form) transpose is a view (exec.h): output 0 is the input's
 * bytes read with permuted strides. Where the input arrives plain and perm moves the last axis
 * to 1 (NHWC -> NCHW, ConvNeXt's permute back after its LayerNorm) the output is that input
 * seen channels-last (acdb), which the convolutions read as they are; otherwise the input is
 * wanted in the strided layout whose permutation is the plain output: the NCHW -> NHWC permute
 * of a channels-last conv output reads it as it is, and any other arrival costs one oneDNN
 * reorder, not the C loop. Other dtypes run the eval. */
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

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

/* Whether perm moves the last axis to 1 and keeps the others in order (0, r-1, 1, ..., r-2). */
static bool to_channels_first(const int *perm, int rank)
{
    bool moves = rank >= 3 && perm[0] == 0 && perm[1] == rank - 1;
    for (int i = 2; moves && i < rank; i++)
        moves = perm[i] == i - 1;
    return moves;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_info *x = p->in[0];
    const dnnl_memory_desc_t *in = p->in_md[0];
    int rank = x->rank, perm[OND_MAX_RANK];
    if (!in)
        return ond_prep_decline(p, "a constant");
    if (x->dtype != OND_DTYPE_FLOAT || rank < 2)
        return ond_prep_decline(p, "%s of rank %d", ond_dtype_name(x->dtype), rank);
    get_perm(p->node->params, rank, perm);
    /* Dims and plain strides (in elements) of the input and of the output. */
    dnnl_dims_t xd, yd, xs, ys, s;
    int64_t a = 1, b = 1;
    for (int i = rank - 1; i >= 0; i--) {
        xd[i] = x->dims[i];
        yd[i] = x->dims[perm[i]];
        xs[i] = a;
        ys[i] = b;
        a *= xd[i];
        b *= yd[i];
    }
    dnnl_data_type_t dt = in->data_type;
    const struct ond_node *n = p->node;
    if (to_channels_first(perm, rank) && ond_md_is_plain(in)) {
        /* Output dim i is input dim perm[i]: it steps as that one does in the input. */
        for (int i = 0; i < rank; i++)
            s[i] = xs[perm[i]];
        p->want_md[0] = *in;
        OND_DNNL(dnnl_memory_desc_init_by_strides(&p->out_md[0], rank, yd, dt, s), n, err);
    } else {
        /* Input dim perm[i] steps as output dim i does in the plain output. */
        for (int i = 0; i < rank; i++)
            s[perm[i]] = ys[i];
        OND_DNNL(dnnl_memory_desc_init_by_strides(&p->want_md[0], rank, xd, dt, s), n, err);
        OND_DNNL(dnnl_memory_desc_init_by_strides(&p->out_md[0], rank, yd, dt, ys), n, err);
    }
    p->view = true;
    snprintf(p->impl, sizeof p->impl, "view");
    return OND_OK;
}

const struct ond_op ond_op_transpose = {
    .domain = "", .name = "Transpose", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct transpose),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
