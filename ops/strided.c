/* strided.c: the copies under Split, Expand, Tile, DepthToSpace and SpaceToDepth: a dense
 * row-major box read from a strided source (stride 0 repeats an element; runs of the
 * innermost dim that are contiguous in the source go by memcpy), and the same as one oneDNN
 * reorder for sessions (positive strides only: oneDNN describes no broadcast). */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

void ond_strided_copy(void *dst, const void *src, int rank, const int64_t *dims,
                      const int64_t *strides, size_t es)
{
    uint64_t outer = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] <= 0)
            return;
        if (i < rank - 1)
            outer *= (uint64_t)dims[i];
    }
    if (rank == 0) {
        memcpy(dst, src, es);
        return;
    }
    int64_t idx[OND_STRIDED_MAX_RANK] = {0}, inner = dims[rank - 1], is = strides[rank - 1];
    const char *s = src;
    char *d = dst;
    int64_t off = 0;
    for (uint64_t o = 0; o < outer; o++) {
        if (is == 1) {
            memcpy(d, s + off * (int64_t)es, (size_t)inner * es);
            d += (size_t)inner * es;
        } else
            for (int64_t j = 0; j < inner; j++, d += es)
                memcpy(d, s + (off + j * is) * (int64_t)es, es);
        for (int i = rank - 2; i >= 0; i--) {
            off += strides[i];
            if (++idx[i] < dims[i])
                break;
            off -= strides[i] * idx[i];
            idx[i] = 0;
        }
    }
}

void ond_permuted(int rank, const int64_t *dims, const int *perm, int64_t *out_dims,
                  int64_t *strides)
{
    int64_t in_stride[OND_STRIDED_MAX_RANK], s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        in_stride[i] = s;
        s *= dims[i];
    }
    for (int i = 0; i < rank; i++) {
        out_dims[i] = dims[perm[i]];
        strides[i] = in_stride[perm[i]];
    }
}

enum ond_status ond_prep_strided(struct ond_prep *p, int rank, const int64_t *dims,
                                 const int64_t *strides, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    if (!ond_prep_float_activation(p, 0, "input 0"))
        return OND_OK;
    dnnl_dims_t d, s;
    for (int i = 0; i < rank; i++) {
        d[i] = dims[i];
        s[i] = strides[i];
    }
    dnnl_memory_desc_t src, dst;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    OND_DNNL(dnnl_memory_desc_init_by_strides(&src, rank, d, dnnl_f32, s), n, err);
    enum ond_status st = ond_md_float(rank, dims, true, &dst, err);
    if (!st && !(st = ond_prep_attr(p, &attr, err))) {
        dnnl_status_t ds = dnnl_reorder_primitive_desc_create(&pd, &src, p->engine, &dst,
                                                              p->engine, attr);
        if (ds == dnnl_unimplemented)
            st = ond_prep_decline(p, "oneDNN has no reorder for it");
        else
            st = ond_dnnl(ds, "reorder_primitive_desc_create", n, err);
    }
    dnnl_primitive_attr_destroy(attr);
    if (st || !pd)
        return st;
    p->want_md[0] = src;
    p->out_md[0] = dst;
    ond_prep_arg(p, DNNL_ARG_FROM, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_TO, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}
