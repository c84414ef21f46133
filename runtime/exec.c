/* exec.c: helpers ops' prepare functions share to build oneDNN primitives (see exec.h). */
#include <stdio.h>
#include <string.h>

#include "oneapi/dnnl/dnnl_debug.h"
#include "runtime/exec.h"

enum ond_status ond_dnnl(dnnl_status_t s, const char *call, const struct ond_node *n,
                         struct ond_error *err)
{
    if (s == dnnl_success)
        return OND_OK;
    if (n)
        return ond_fail(err, OND_STATUS_BACKEND, "node '%s' (%s): oneDNN %s failed: %s", n->name,
                        n->op_type, call, dnnl_status2str(s));
    return ond_fail(err, OND_STATUS_BACKEND, "oneDNN %s failed: %s", call, dnnl_status2str(s));
}

enum ond_status ond_md(const struct ond_info *info, bool plain, dnnl_memory_desc_t *md,
                       struct ond_error *err)
{
    static const dnnl_format_tag_t tags[] = {
        dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef,
        dnnl_abcdefg, dnnl_abcdefgh, dnnl_abcdefghi, dnnl_abcdefghij, dnnl_abcdefghijk,
        dnnl_abcdefghijkl,
    };
    dnnl_dims_t dims;
    dnnl_data_type_t dt = info->dtype == OND_DTYPE_FLOAT ? dnnl_f32
                          : info->dtype == OND_DTYPE_INT32 ? dnnl_s32
                          : info->dtype == OND_DTYPE_INT8 ? dnnl_s8
                          : info->dtype == OND_DTYPE_UINT8 ? dnnl_u8
                          : info->dtype == OND_DTYPE_BFLOAT16 ? dnnl_bf16
                          : info->dtype == OND_DTYPE_FLOAT16 ? dnnl_f16 : dnnl_data_type_undef;
    int rank = info->rank == 0 ? 1 : info->rank;
    uint64_t numel, bytes;
    if (dt == dnnl_data_type_undef && plain && ond_numel(info, 0, &numel) &&
        !__builtin_mul_overflow(numel, (uint64_t)ond_dtype_size(info->dtype), &bytes) &&
        bytes <= INT64_MAX) {
        /* Types oneDNN has no kernels for (int64 indices and shapes, double, bool) only move
         * between plain-C kernels, in plain layout: their buffers are described as bytes. */
        dims[0] = (dnnl_dim_t)bytes;
        return ond_dnnl(dnnl_memory_desc_init_by_tag(md, 1, dims, dnnl_u8, dnnl_a),
                        "memory_desc_init_by_tag", NULL, err);
    }
    if (dt == dnnl_data_type_undef || rank < 0 || rank > 12)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "no oneDNN layout for %s rank %d",
                        ond_dtype_name(info->dtype), info->rank);
    for (int i = 0; i < rank; i++)
        dims[i] = info->rank == 0 ? 1 : info->dims[i];
    return ond_dnnl(dnnl_memory_desc_init_by_tag(md, rank, dims, dt,
                                                 plain ? tags[rank] : dnnl_format_tag_any),
                    "memory_desc_init_by_tag", NULL, err);
}

void ond_prep_arg(struct ond_prep *p, int dnnl_arg, enum ond_arg_kind kind, int index)
{
    p->args[p->n_args++] = (struct ond_arg){dnnl_arg, kind, index};
}

enum ond_status ond_prep_const(struct ond_prep *p, int k, const dnnl_memory_desc_t *want,
                               int *mem_index, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    enum ond_status st = OND_OK;
    dnnl_memory_desc_t plain;
    dnnl_memory_t src = NULL, dst = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_stream_t stream = NULL;
    if (p->n_mem >= OND_PREP_MAX_MEM)
        return ond_node_fail(err, n, OND_STATUS_BACKEND, "too many constant buffers");
    /* The constant viewed with want's dims, row-major. */
    const int rank = want->ndims;
    static const dnnl_format_tag_t tags[] = {
        dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef,
    };
    if (rank < 1 || rank > 6)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "constant of rank %d", rank);
    if ((st = ond_dnnl(dnnl_memory_desc_init_by_tag(&plain, rank, want->dims, want->data_type,
                                                    tags[rank]), "memory_desc_init_by_tag", n, err)))
        return st;
    if ((st = ond_dnnl(dnnl_memory_create(&src, &plain, p->engine, (void *)p->in[k]->data),
                       "memory_create", n, err)) ||
        (st = ond_dnnl(dnnl_memory_create(&dst, want, p->engine, DNNL_MEMORY_ALLOCATE),
                       "memory_create", n, err)) ||
        (st = ond_dnnl(dnnl_reorder_primitive_desc_create(&pd, &plain, p->engine, want,
                                                          p->engine, NULL),
                       "reorder_primitive_desc_create", n, err)) ||
        (st = ond_dnnl(dnnl_primitive_create(&r, pd), "primitive_create", n, err)) ||
        (st = ond_dnnl(dnnl_stream_create(&stream, p->engine, dnnl_stream_default_flags),
                       "stream_create", n, err)))
        goto done;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    if ((st = ond_dnnl(dnnl_primitive_execute(r, stream, 2, args), "reorder", n, err)) ||
        (st = ond_dnnl(dnnl_stream_wait(stream), "stream_wait", n, err)))
        goto done;
    *mem_index = p->n_mem;
    p->mem[p->n_mem++] = dst;
    dst = NULL;
done:
    if (stream)
        dnnl_stream_destroy(stream);
    if (r)
        dnnl_primitive_destroy(r);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (src)
        dnnl_memory_destroy(src);
    if (dst)
        dnnl_memory_destroy(dst);
    return st;
}

enum ond_status ond_prep_attr(struct ond_prep *p, dnnl_primitive_attr_t *attr,
                              struct ond_error *err)
{
    const struct ond_node *n = p->node;
    dnnl_post_ops_t po = NULL;
    enum ond_status st;
    *attr = NULL;
    p->sum_input = -1;
    if ((st = ond_dnnl(dnnl_primitive_attr_create(attr), "primitive_attr_create", n, err)) ||
        (st = ond_dnnl(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user),
                       "set_scratchpad_mode", n, err)))
        return st;
    if (!n->n_post)
        return OND_OK;
    if ((st = ond_dnnl(dnnl_post_ops_create(&po), "post_ops_create", n, err)))
        return st;
    for (int i = 0; i < n->n_post && !st; i++) {
        const struct ond_postop *q = &n->post[i];
        switch (q->kind) {
        case OND_POST_RELU:
            st = ond_dnnl(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f),
                          "append_eltwise", n, err);
            break;
        case OND_POST_LEAKY_RELU:
            st = ond_dnnl(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, q->alpha, 0.f),
                          "append_eltwise", n, err);
            break;
        case OND_POST_CLIP:
            st = ond_dnnl(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip, q->alpha,
                                                       q->beta), "append_eltwise", n, err);
            break;
        case OND_POST_SIGMOID:
            st = ond_dnnl(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_logistic, 0.f, 0.f),
                          "append_eltwise", n, err);
            break;
        case OND_POST_HARD_SWISH:
            st = ond_dnnl(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_hardswish, 0.f, 0.f),
                          "append_eltwise", n, err);
            break;
        case OND_POST_SUM:
            p->sum_input = q->input;
            st = ond_dnnl(dnnl_post_ops_append_sum(po, 1.f), "append_sum", n, err);
            break;
        case OND_POST_ADD:
            st = ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "binary post-op not supported");
            break;
        }
    }
    if (!st)
        st = ond_dnnl(dnnl_primitive_attr_set_post_ops(*attr, po), "set_post_ops", n, err);
    dnnl_post_ops_destroy(po);
    return st;
}

enum ond_status ond_prep_finish(struct ond_prep *p, dnnl_primitive_desc_t pd,
                                struct ond_error *err)
{
    const char *impl = NULL;
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    p->scratch_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(p->impl, sizeof p->impl, "%s", impl ? impl : "?");
    enum ond_status st = ond_dnnl(dnnl_primitive_create(&p->prim, pd), "primitive_create",
                                  p->node, err);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

enum ond_status ond_prep_eltwise(struct ond_prep *p, dnnl_alg_kind_t alg, float alpha,
                                 float beta, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    if (!p->in_md[0] || p->in[0]->dtype != OND_DTYPE_FLOAT)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "needs a float activation input");
    dnnl_eltwise_desc_t desc;
    OND_DNNL(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, alg, p->in_md[0],
                                            alpha, beta), n, err);
    dnnl_primitive_attr_t attr;
    enum ond_status st = ond_prep_attr(p, &attr, err);
    dnnl_primitive_desc_t pd = NULL;
    if (!st)
        st = ond_dnnl(dnnl_primitive_desc_create(&pd, &desc, attr, p->engine, NULL),
                      "primitive_desc_create", n, err);
    dnnl_primitive_attr_destroy(attr);
    if (st)
        return st;
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}
