/* exec.c: helpers ops' prepare functions share to build oneDNN primitives (see exec.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

static const dnnl_format_tag_t plain_tags[] = {
    dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef,
    dnnl_abcdefg, dnnl_abcdefgh, dnnl_abcdefghi, dnnl_abcdefghij, dnnl_abcdefghijk,
    dnnl_abcdefghijkl,
};

static enum ond_status md_dims(int rank, const int64_t *dims, dnnl_data_type_t dt, bool plain,
                               dnnl_memory_desc_t *md, struct ond_error *err)
{
    dnnl_dims_t d;
    if (rank < 1 || rank > 12)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "no oneDNN layout for rank %d", rank);
    for (int i = 0; i < rank; i++)
        d[i] = dims[i];
    return ond_dnnl(dnnl_memory_desc_init_by_tag(md, rank, d, dt,
                                                 plain ? plain_tags[rank] : dnnl_format_tag_any),
                    "memory_desc_init_by_tag", NULL, err);
}

/* oneDNN's type for a dtype, or undef. */
static dnnl_data_type_t dnnl_dt(int32_t dtype)
{
    return dtype == OND_DTYPE_FLOAT      ? dnnl_f32
           : dtype == OND_DTYPE_INT32    ? dnnl_s32
           : dtype == OND_DTYPE_INT8     ? dnnl_s8
           : dtype == OND_DTYPE_UINT8    ? dnnl_u8
           : dtype == OND_DTYPE_BFLOAT16 ? dnnl_bf16
           : dtype == OND_DTYPE_FLOAT16  ? dnnl_f16 : dnnl_data_type_undef;
}

enum ond_status ond_md(const struct ond_info *info, bool plain, dnnl_memory_desc_t *md,
                       struct ond_error *err)
{
    dnnl_data_type_t dt = dnnl_dt(info->dtype);
    if (info->rank < 0 || info->rank > 12)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "no oneDNN layout for rank %d", info->rank);
    if (dt == dnnl_data_type_undef) {
        uint64_t numel, n;
        size_t es = ond_dtype_size(info->dtype);
        if (!plain || !es || !ond_numel(info, 0, &numel) ||
            __builtin_mul_overflow(numel, (uint64_t)es, &n) || n > INT64_MAX)
            return ond_fail(err, OND_STATUS_UNSUPPORTED, "no oneDNN layout for %s",
                            ond_dtype_name(info->dtype));
        int64_t bytes = (int64_t)n;
        return md_dims(1, &bytes, dnnl_u8, true, md, err);
    }
    static const int64_t one = 1;
    return info->rank == 0 ? md_dims(1, &one, dt, plain, md, err)
                           : md_dims(info->rank, info->dims, dt, plain, md, err);
}

enum ond_status ond_md_float(int rank, const int64_t *dims, bool plain, dnnl_memory_desc_t *md,
                             struct ond_error *err)
{
    return md_dims(rank, dims, dnnl_f32, plain, md, err);
}

enum ond_status ond_md_any(const struct ond_info *info, dnnl_data_type_t dt,
                           dnnl_memory_desc_t *md, struct ond_error *err)
{
    static const int64_t one = 1;
    if (info->dtype != OND_DTYPE_FLOAT)
        return ond_md(info, false, md, err);
    if (info->rank < 0 || info->rank > 12)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "no oneDNN layout for rank %d", info->rank);
    return info->rank == 0 ? md_dims(1, &one, dt, false, md, err)
                           : md_dims(info->rank, info->dims, dt, false, md, err);
}

enum ond_status ond_prep_md(const struct ond_prep *p, const struct ond_info *info,
                            dnnl_memory_desc_t *md, struct ond_error *err)
{
    return ond_md_any(info, p->act_dt, md, err);
}

enum ond_status ond_prep_md_dims(const struct ond_prep *p, int rank, const int64_t *dims,
                                 dnnl_memory_desc_t *md, struct ond_error *err)
{
    return md_dims(rank, dims, p->act_dt, false, md, err);
}

bool ond_pd_is_reference(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    return dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
           impl && strncmp(impl, "ref", 3) == 0;
}

bool ond_md_is_plain(const dnnl_memory_desc_t *md)
{
    dnnl_memory_desc_t plain;
    return md->ndims >= 1 && md->ndims <= 12 &&
           dnnl_memory_desc_init_by_tag(&plain, md->ndims, md->dims, md->data_type,
                                        plain_tags[md->ndims]) == dnnl_success &&
           dnnl_memory_desc_equal(&plain, md);
}

enum ond_status ond_prep_decline(struct ond_prep *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->impl, sizeof p->impl, fmt, ap);
    va_end(ap);
    p->declined = true;
    return OND_OK;
}

bool ond_prep_float_activation(struct ond_prep *p, int k, const char *what)
{
    if (!p->in_md[k]) {
        ond_prep_decline(p, "%s is not an activation", what);
        return false;
    }
    if (p->in[k]->dtype != OND_DTYPE_FLOAT) {
        ond_prep_decline(p, "%s is %s", what, ond_dtype_name(p->in[k]->dtype));
        return false;
    }
    return true;
}

void ond_prep_arg(struct ond_prep *p, int dnnl_arg, enum ond_arg_kind kind, int index)
{
    p->args[p->n_args++] = (struct ond_arg){dnnl_arg, kind, index};
}


enum ond_status ond_prep_const_data(struct ond_prep *p, int k, const void **data,
                                    struct ond_error *err)
{
    const struct ond_tensor *t = p->node->in[k];
    *data = p->in[k]->data;
    if (!t || !(t->flags & OND_TENSOR_DEFERRED) || *data != t->info.data)
        return OND_OK;
    if (p->stage->size < t->nbytes) {
        free(p->stage->buf);
        p->stage->size = 0;
        if (!(p->stage->buf = ond_aligned_alloc(t->nbytes)))
            return ond_node_fail(err, p->node, OND_STATUS_NO_MEMORY,
                                 "cannot allocate %zu bytes", t->nbytes);
        p->stage->size = t->nbytes;
    }
    ond_tensor_read(t, p->stage->buf);
    ond_tensor_release(t);
    *data = p->stage->buf;
    return OND_OK;
}

/* Reorders data (laid out as from) into new memory in layout want, through output scales
 * when n_scales > 0; the memory becomes p->mem[*mem_index]. */
static enum ond_status const_mem(struct ond_prep *p, const void *data,
                                 const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *want,
                                 int n_scales, int mask, const float *scales, int *mem_index,
                                 struct ond_error *err)
{
    const struct ond_node *n = p->node;
    enum ond_status st = OND_OK;
    dnnl_memory_t src = NULL, dst = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_primitive_attr_t attr = NULL;
    if (p->n_mem >= OND_PREP_MAX_MEM)
        return ond_node_fail(err, n, OND_STATUS_BACKEND, "too many constant buffers");
    /* Same layout and type (biases, mostly): a copy, not a reorder primitive to create and
     * run on every thread. */
    if (!n_scales && dnnl_memory_desc_equal(from, want)) {
        void *h = NULL;
        if ((st = ond_dnnl(dnnl_memory_create(&dst, want, p->engine, DNNL_MEMORY_ALLOCATE),
                           "memory_create", n, err)) ||
            (st = ond_dnnl(dnnl_memory_get_data_handle(dst, &h), "memory_get_data_handle", n,
                           err))) {
            if (dst)
                dnnl_memory_destroy(dst);
            return st;
        }
        memcpy(h, data, dnnl_memory_desc_get_size(want));
        *mem_index = p->n_mem;
        p->mem[p->n_mem++] = dst;
        return OND_OK;
    }
    if ((st = ond_dnnl(dnnl_primitive_attr_create(&attr), "primitive_attr_create", n, err)) ||
        (n_scales && (st = ond_dnnl(dnnl_primitive_attr_set_output_scales(attr, n_scales, mask,
                                                                          scales),
                                    "set_output_scales", n, err))) ||
        (st = ond_dnnl(dnnl_memory_create(&src, from, p->engine, (void *)data),
                       "memory_create", n, err)) ||
        (st = ond_dnnl(dnnl_memory_create(&dst, want, p->engine, DNNL_MEMORY_ALLOCATE),
                       "memory_create", n, err)) ||
        (st = ond_dnnl(dnnl_reorder_primitive_desc_create(&pd, from, p->engine, want,
                                                          p->engine, attr),
                       "reorder_primitive_desc_create", n, err)) ||
        (st = ond_dnnl(dnnl_primitive_create(&r, pd), "primitive_create", n, err)))
        goto done;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    if ((st = ond_dnnl(dnnl_primitive_execute(r, p->stream, 2, args), "reorder", n, err)) ||
        (st = ond_dnnl(dnnl_stream_wait(p->stream), "stream_wait", n, err)))
        goto done;
    *mem_index = p->n_mem;
    p->mem[p->n_mem++] = dst;
    dst = NULL;
done:
    if (attr)
        dnnl_primitive_attr_destroy(attr);
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

enum ond_status ond_prep_const_from(struct ond_prep *p, int k, const dnnl_memory_desc_t *from,
                                    const dnnl_memory_desc_t *want, int *mem_index,
                                    struct ond_error *err)
{
    if (dnnl_memory_desc_get_size(from) != ond_info_bytes(p->in[k]))
        return ond_node_fail(err, p->node, OND_STATUS_BACKEND,
                             "input %d: a %zu-byte layout for %zu bytes of constant data", k,
                             dnnl_memory_desc_get_size(from), ond_info_bytes(p->in[k]));
    const void *data;
    enum ond_status st = ond_prep_const_data(p, k, &data, err);
    return st ? st : const_mem(p, data, from, want, 0, 0, NULL, mem_index, err);
}

enum ond_status ond_prep_const_scaled(struct ond_prep *p, int k, const dnnl_memory_desc_t *want,
                                      int n_scales, int mask, const float *scales,
                                      int *mem_index, struct ond_error *err)
{
    dnnl_memory_desc_t plain;
    if (want->ndims < 1 || want->ndims > 12)
        return ond_node_fail(err, p->node, OND_STATUS_UNSUPPORTED, "constant of rank %d",
                             want->ndims);
    /* The bytes are in the constant's type; the reorder converts them to want's. */
    dnnl_data_type_t dt = dnnl_dt(p->in[k]->dtype);
    enum ond_status st = ond_dnnl(dnnl_memory_desc_init_by_tag(&plain, want->ndims, want->dims,
                                                               dt != dnnl_data_type_undef
                                                                   ? dt : want->data_type,
                                                               plain_tags[want->ndims]),
                                  "memory_desc_init_by_tag", p->node, err);
    if (!st && dnnl_memory_desc_get_size(&plain) != ond_info_bytes(p->in[k]))
        st = ond_node_fail(err, p->node, OND_STATUS_BACKEND,
                           "input %d: a %zu-byte layout for %zu bytes of constant data", k,
                           dnnl_memory_desc_get_size(&plain), ond_info_bytes(p->in[k]));
    const void *data;
    if (!st)
        st = ond_prep_const_data(p, k, &data, err);
    return st ? st : const_mem(p, data, &plain, want, n_scales, mask, scales, mem_index, err);
}

enum ond_status ond_prep_const(struct ond_prep *p, int k, const dnnl_memory_desc_t *want,
                               int *mem_index, struct ond_error *err)
{
    return ond_prep_const_scaled(p, k, want, 0, 0, NULL, mem_index, err);
}

enum ond_status ond_prep_floats(struct ond_prep *p, const float *data,
                                const dnnl_memory_desc_t *want, int *mem_index,
                                struct ond_error *err)
{
    dnnl_memory_desc_t plain;
    enum ond_status st = md_dims(want->ndims, want->dims, dnnl_f32, true, &plain, err);
    return st ? st : const_mem(p, data, &plain, want, 0, 0, NULL, mem_index, err);
}

enum ond_status ond_prep_scale_mem(struct ond_prep *p, int mem_index, float factor,
                                   struct ond_error *err)
{
    void *h = NULL;
    enum ond_status st = ond_dnnl(dnnl_memory_get_data_handle(p->mem[mem_index], &h),
                                  "memory_get_data_handle", p->node, err);
    const dnnl_memory_desc_t *md = NULL;
    if (!st)
        st = ond_dnnl(dnnl_memory_get_memory_desc(p->mem[mem_index], &md),
                      "memory_get_memory_desc", p->node, err);
    if (st)
        return st;
    if (md->data_type == dnnl_bf16) {
        /* bf16 is the upper half of an f32; round to nearest even going back. */
        uint16_t *b = h;
        for (size_t i = 0, n = dnnl_memory_desc_get_size(md) / sizeof *b; i < n; i++) {
            uint32_t u = (uint32_t)b[i] << 16;
            float f;
            memcpy(&f, &u, sizeof f);
            f *= factor;
            memcpy(&u, &f, sizeof u);
            b[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        }
        return OND_OK;
    }
    float *f = h;
    for (size_t i = 0, n = dnnl_memory_desc_get_size(md) / sizeof(float); i < n; i++)
        f[i] *= factor;
    return OND_OK;
}

/* Appends post-op q. In an int8 primitive (see ond_prep_pd_q) an eltwise post-op gets output
 * scale `scale` and its bounds scaled by `bound`; a sum reads the addend with sum_scale as
 * sum_dt. */
static enum ond_status append_post(const struct ond_node *n, dnnl_post_ops_t po,
                                   const struct ond_postop *q, float scale, float bound,
                                   float sum_scale, dnnl_data_type_t sum_dt, int *sum_input,
                                   struct ond_error *err)
{
    switch (q->kind) {
    case OND_POST_RELU:
        return ond_dnnl(dnnl_post_ops_append_eltwise(po, scale, dnnl_eltwise_relu, 0.f, 0.f),
                        "append_eltwise", n, err);
    case OND_POST_LEAKY_RELU:
        return ond_dnnl(dnnl_post_ops_append_eltwise(po, scale, dnnl_eltwise_relu, q->alpha,
                                                     0.f), "append_eltwise", n, err);
    case OND_POST_CLIP:
        return ond_dnnl(dnnl_post_ops_append_eltwise(po, scale, dnnl_eltwise_clip,
                                                     q->alpha * bound, q->beta * bound),
                        "append_eltwise", n, err);
    case OND_POST_SIGMOID:
        return ond_dnnl(dnnl_post_ops_append_eltwise(po, scale, dnnl_eltwise_logistic, 0.f, 0.f),
                        "append_eltwise", n, err);
    case OND_POST_HARD_SWISH:
        return ond_dnnl(dnnl_post_ops_append_eltwise(po, scale, dnnl_eltwise_hardswish, 0.f,
                                                     0.f), "append_eltwise", n, err);
    case OND_POST_SUM:
        *sum_input = q->input;
        return ond_dnnl(dnnl_post_ops_append_sum_v2(po, sum_scale, sum_dt), "append_sum", n,
                        err);
    case OND_POST_ADD:
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "binary post-op not supported");
    default:
        break;
    }
    dnnl_alg_kind_t alg = (dnnl_alg_kind_t)ond_postop_alg(q->kind);
    return ond_dnnl(dnnl_post_ops_append_eltwise(po, scale, alg, q->alpha, q->beta),
                    "append_eltwise", n, err);
}

/* User scratchpad; the op's own leading post-op (or NULL), then the node's; with q, the
 * int8 requantization of ond_prep_pd_q (*declined when it cannot be expressed). */
static enum ond_status make_attr(struct ond_prep *p, const struct ond_postop *lead,
                                 const struct ond_requant *q, dnnl_primitive_attr_t *attr,
                                 bool *declined, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_postop *post[OND_MAX_POSTOPS + 1];
    int np = 0;
    dnnl_post_ops_t po = NULL;
    enum ond_status st;
    *attr = NULL;
    *declined = false;
    p->sum_input = -1;
    if (lead)
        post[np++] = lead;
    for (int i = 0; i < n->n_post; i++)
        post[np++] = &n->post[i];
    if ((st = ond_dnnl(dnnl_primitive_attr_create(attr), "primitive_attr_create", n, err)) ||
        (st = ond_dnnl(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user),
                       "set_scratchpad_mode", n, err)))
        return st;
    /* The primitive computes in the real domain when its last post-op is an eltwise (which
     * then scales into the output's), else in the output's domain throughout, where only
     * eltwises that commute with scaling may come before the last post-op. */
    bool real = np && post[np - 1]->kind != OND_POST_SUM;
    float dom = q && !real ? q->dst_scale : 1.f;
    if (q) {
        for (int i = 0; i < np - 1 && !real; i++)
            if (post[i]->kind != OND_POST_RELU && post[i]->kind != OND_POST_LEAKY_RELU &&
                post[i]->kind != OND_POST_CLIP && post[i]->kind != OND_POST_SUM) {
                *declined = true;
                return ond_prep_decline(p, "int8: a post-op before the sum does not commute "
                                           "with scaling");
            }
        int count = q->n < 1 ? 1 : q->n;
        float *os = malloc(sizeof *os * (size_t)count);
        if (!os)
            return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate output scales");
        for (int c = 0; c < count; c++)
            os[c] = q->acc_scale[c] * dom;
        st = ond_dnnl(dnnl_primitive_attr_set_output_scales(*attr, count, q->n < 1 ? 0 : q->mask,
                                                            os), "set_output_scales", n, err);
        free(os);
        if (st)
            return st;
    }
    if (!np)
        return OND_OK;
    if ((st = ond_dnnl(dnnl_post_ops_create(&po), "post_ops_create", n, err)))
        return st;
    for (int i = 0; i < np && !st; i++) {
        float scale = q && i == np - 1 && real ? q->dst_scale : 1.f;
        st = append_post(n, po, post[i], scale, dom, q ? q->sum_scale * dom : 1.f,
                         q ? q->sum_dt : dnnl_data_type_undef, &p->sum_input, err);
    }
    if (!st)
        st = ond_dnnl(dnnl_primitive_attr_set_post_ops(*attr, po), "set_post_ops", n, err);
    dnnl_post_ops_destroy(po);
    return st;
}

enum ond_status ond_prep_attr(struct ond_prep *p, dnnl_primitive_attr_t *attr,
                              struct ond_error *err)
{
    bool declined;
    return make_attr(p, NULL, NULL, attr, &declined, err);
}

/* oneDNN's first implementation that it can also build. Some accept a descriptor and then
 * fail to generate their kernel: oneDNN 2.6's jit_bf16 and int8 grouped convolutions with a
 * Sigmoid post-op (12 channels a group) answer runtime_error at primitive_create (graph
 * fuzzer, seed 469779917); the next implementation takes over. The trial primitive stays in
 * oneDNN's primitive cache, where ond_prep_finish finds it again. */
static enum ond_status create_pd(struct ond_prep *p, const_dnnl_op_desc_t op_desc,
                                 dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd,
                                 struct ond_error *err)
{
    dnnl_primitive_desc_iterator_t it = NULL;
    dnnl_status_t s = dnnl_primitive_desc_iterator_create(&it, op_desc, attr, p->engine, NULL);
    dnnl_status_t built = dnnl_unimplemented;
    dnnl_primitive_attr_destroy(attr);
    *pd = NULL;
    for (; s == dnnl_success && !*pd; s = dnnl_primitive_desc_iterator_next(it)) {
        dnnl_primitive_desc_t c = dnnl_primitive_desc_iterator_fetch(it);
        dnnl_primitive_t prim = NULL;
        if (c && (built = dnnl_primitive_create(&prim, c)) == dnnl_success)
            *pd = c;
        else if (c)
            dnnl_primitive_desc_destroy(c);
        if (prim)
            dnnl_primitive_destroy(prim);
    }
    if (it)
        dnnl_primitive_desc_iterator_destroy(it);
    if (*pd)
        return OND_OK;
    if (s != dnnl_success && s != dnnl_iterator_ends && s != dnnl_unimplemented)
        return ond_dnnl(s, "primitive_desc_iterator_create", p->node, err);
    if (built != dnnl_unimplemented)
        return ond_dnnl(built, "primitive_create", p->node, err);
    return ond_prep_decline(p, "oneDNN has no implementation");
}

enum ond_status ond_prep_pd_q(struct ond_prep *p, const_dnnl_op_desc_t op_desc,
                              const struct ond_requant *q, dnnl_primitive_desc_t *pd,
                              struct ond_error *err)
{
    dnnl_primitive_attr_t attr;
    bool declined;
    enum ond_status st = make_attr(p, NULL, q, &attr, &declined, err);
    *pd = NULL;
    if (st || declined) {
        dnnl_primitive_attr_destroy(attr);
        return st;
    }
    return create_pd(p, op_desc, attr, pd, err);
}

static bool is_int8(dnnl_data_type_t dt)
{
    return dt == dnnl_s8 || dt == dnnl_u8;
}

enum ond_status ond_prep_int8_begin(struct ond_prep *p, struct ond_int8 *s,
                                    struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_info *w = p->in[1], *b = n->n_in > 2 ? p->in[2] : NULL;
    int64_t m = w->dims[0];
    uint64_t numel = 0;
    ond_numel(w, 0, &numel);
    size_t per = m > 0 ? (size_t)(numel / (uint64_t)m) : 0;
    memset(s, 0, sizeof *s);
    s->src_dt = is_int8(p->in_md[0]->data_type) ? p->in_md[0]->data_type
                : p->in_unsigned[0]              ? dnnl_u8
                                                 : dnnl_s8;
    s->dst_dt = p->out_scale[0] > 0 ? (p->out_unsigned[0] ? dnnl_u8 : dnnl_s8) : dnnl_f32;
    s->q = (struct ond_requant){.n = (int)m, .mask = 1 << 1, .sum_scale = 1.f,
                                .sum_dt = dnnl_data_type_undef};
    for (int i = 0; i < n->n_post; i++) {
        int k = n->post[i].input;
        if (n->post[i].kind != OND_POST_SUM || s->dst_dt == dnnl_f32 || !p->in_md[k])
            continue;
        if (is_int8(p->in_md[k]->data_type))
            s->q.sum_dt = p->in_md[k]->data_type;
        else if (p->in_scale[k] > 0) /* its own sign: a u8 scale in s8 saturates at half */
            s->q.sum_dt = p->in_unsigned[k] ? dnnl_u8 : dnnl_s8;
        else
            s->dst_dt = dnnl_f32; /* an addend without a scale adds in f32 */
        if (s->dst_dt != dnnl_f32)
            s->q.sum_scale = p->in_scale[k];
    }
    s->q.dst_scale = s->dst_dt == dnnl_f32 ? 1.f : 1.f / p->out_scale[0];
    const void *wv;
    enum ond_status st = ond_prep_const_data(p, 1, &wv, err);
    if (st)
        return st;
    if (!(s->buf = malloc(sizeof(float) * (size_t)(3 * m + 1))))
        return ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate weight scales");
    float *acc = s->buf, *inv_w = acc + m, *bias_q = acc + 2 * m;
    const float *wd = wv, *bd = b ? b->data : NULL;
    for (int64_t oc = 0; oc < m; oc++) {
        float sw = ond_int8_channel_scale(wd + (size_t)oc * per, per);
        inv_w[oc] = 1.f / sw;
        acc[oc] = p->in_scale[0] * sw;
        bias_q[oc] = bd ? bd[oc] / acc[oc] : 0.f;
    }
    s->q.acc_scale = acc;
    return OND_OK;
}

enum ond_status ond_prep_int8_end(struct ond_prep *p, struct ond_int8 *s, enum ond_status st,
                                  dnnl_primitive_desc_t pd, int wmask,
                                  const dnnl_memory_desc_t *bias, struct ond_error *err)
{
    int m = s->q.n, wm = -1, bm = -1;
    if (!st && pd) {
        p->want_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        if (s->q.sum_dt != dnnl_data_type_undef && s->q.sum_dt != s->dst_dt) {
            p->sum_md = p->out_md[0];
            p->sum_md.data_type = s->q.sum_dt;
        }
        st = ond_prep_const_scaled(p, 1, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md,
                                                                       0),
                                   m, wmask, s->buf + m, &wm, err);
        if (!st && bias)
            st = ond_prep_floats(p, s->buf + 2 * m, bias, &bm, err);
    }
    free(s->buf);
    s->buf = NULL;
    if (!pd)
        return st;
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return ond_prep_finish_weighted(p, pd, wm, bm, err);
}

enum ond_status ond_prep_pd_within(struct ond_prep *p, const_dnnl_op_desc_t op_desc,
                                   size_t max_scratch, dnnl_primitive_desc_t *pd,
                                   struct ond_error *err)
{
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_iterator_t it = NULL;
    bool declined;
    enum ond_status st = make_attr(p, NULL, NULL, &attr, &declined, err);
    *pd = NULL;
    if (!st) {
        dnnl_status_t s = dnnl_primitive_desc_iterator_create(&it, op_desc, attr, p->engine, NULL);
        if (s != dnnl_unimplemented)
            st = ond_dnnl(s, "primitive_desc_iterator_create", p->node, err);
    }
    dnnl_primitive_attr_destroy(attr);
    for (dnnl_status_t s = dnnl_success; !st && it && s == dnnl_success;
         s = dnnl_primitive_desc_iterator_next(it)) {
        dnnl_primitive_desc_t c = dnnl_primitive_desc_iterator_fetch(it);
        const dnnl_memory_desc_t *md = c ? dnnl_primitive_desc_query_md(c, dnnl_query_scratchpad_md,
                                                                         0) : NULL;
        if (c && (!md || dnnl_memory_desc_get_size(md) <= max_scratch)) {
            *pd = c;
            break;
        }
        if (c)
            dnnl_primitive_desc_destroy(c);
    }
    if (it)
        dnnl_primitive_desc_iterator_destroy(it);
    if (!st && !*pd)
        return ond_prep_decline(p, "no implementation within %zu bytes of scratchpad",
                                max_scratch);
    return st;
}

enum ond_status ond_prep_pd(struct ond_prep *p, const_dnnl_op_desc_t op_desc,
                            dnnl_primitive_desc_t *pd, struct ond_error *err)
{
    return ond_prep_pd_q(p, op_desc, NULL, pd, err);
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

enum ond_status ond_prep_finish_unary(struct ond_prep *p, dnnl_primitive_desc_t pd,
                                      struct ond_error *err)
{
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

enum ond_status ond_prep_finish_weighted(struct ond_prep *p, dnnl_primitive_desc_t pd, int wm,
                                         int bm, struct ond_error *err)
{
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_WEIGHTS, OND_ARG_MEM, wm);
    if (bm >= 0)
        ond_prep_arg(p, DNNL_ARG_BIAS, OND_ARG_MEM, bm);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

enum ond_status ond_prep_eltwise_then(struct ond_prep *p, dnnl_alg_kind_t alg, float alpha,
                                      float beta, const struct ond_postop *then,
                                      struct ond_error *err)
{
    const struct ond_node *n = p->node;
    if (!ond_prep_float_activation(p, 0, "input"))
        return OND_OK;
    /* oneDNN 2.6's eltwise leaves a 1-D dst unwritten when it has post-ops: run those on a
     * [1, n] view. */
    const dnnl_memory_desc_t *src = p->in_md[0];
    enum ond_status st;
    if (src->ndims == 1 && (then || n->n_post)) {
        int64_t dims[2] = {1, src->dims[0]};
        if ((st = ond_md_float(2, dims, true, &p->want_md[0], err)))
            return st;
        src = &p->want_md[0];
    }
    dnnl_eltwise_desc_t desc;
    OND_DNNL(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, alg, src, alpha,
                                            beta), n, err);
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_t pd;
    bool declined;
    st = make_attr(p, then, NULL, &attr, &declined, err);
    if (st) {
        dnnl_primitive_attr_destroy(attr);
        return st;
    }
    if ((st = create_pd(p, &desc, attr, &pd, err)) || !pd)
        return st;
    return ond_prep_finish_unary(p, pd, err);
}

enum ond_status ond_prep_eltwise(struct ond_prep *p, dnnl_alg_kind_t alg, float alpha,
                                 float beta, struct ond_error *err)
{
    return ond_prep_eltwise_then(p, alg, alpha, beta, NULL, err);
}

enum ond_status ond_prep_view(struct ond_prep *p, struct ond_error *err)
{
    enum ond_status st;
    if (!p->in_md[0])
        return ond_prep_decline(p, "a view of a constant");
    if ((st = ond_md(p->in[0], true, &p->want_md[0], err)) ||
        (st = ond_md(&p->out[0], true, &p->out_md[0], err)))
        return st;
    /* A bf16 or int8 activation keeps its type through the view (plain, in its own type). */
    dnnl_data_type_t dt = p->in_md[0]->data_type;
    if (p->in[0]->dtype == OND_DTYPE_FLOAT && p->out[0].dtype == OND_DTYPE_FLOAT &&
        (dt == dnnl_bf16 || dt == dnnl_s8 || dt == dnnl_u8)) {
        if ((st = md_dims(p->want_md[0].ndims, p->want_md[0].dims, dt, true, &p->want_md[0],
                          err)) ||
            (st = md_dims(p->out_md[0].ndims, p->out_md[0].dims, dt, true, &p->out_md[0], err)))
            return st;
    }
    p->view = true;
    snprintf(p->impl, sizeof p->impl, "view");
    return OND_OK;
}
