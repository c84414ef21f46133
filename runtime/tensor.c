/* tensor.c: dtype sizes, element counts with overflow checks, shape formatting, and
 * constant data buffers. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/ir.h"

size_t ond_dtype_size(int32_t dtype)
{
    switch (dtype) {
    case OND_DTYPE_FLOAT: case OND_DTYPE_INT32: case OND_DTYPE_UINT32: return 4;
    case OND_DTYPE_UINT8: case OND_DTYPE_INT8: case OND_DTYPE_BOOL: return 1;
    case OND_DTYPE_INT64: case OND_DTYPE_DOUBLE: case OND_DTYPE_UINT64: return 8;
    case OND_DTYPE_FLOAT16: case OND_DTYPE_BFLOAT16: case OND_DTYPE_UINT16: case OND_DTYPE_INT16:
        return 2;
    }
    return 0;
}

bool ond_dtype_supported(int32_t dtype)
{
    return ond_dtype_size(dtype) != 0;
}

bool ond_info_known(const struct ond_info *info)
{
    if (info->rank < 0)
        return false;
    for (int i = 0; i < info->rank; i++)
        if (info->dims[i] < 0)
            return false;
    return true;
}

bool ond_numel(const struct ond_info *info, uint64_t limit, uint64_t *n)
{
    uint64_t p = 1;
    if (!ond_info_known(info))
        return false;
    for (int i = 0; i < info->rank; i++)
        if (__builtin_mul_overflow(p, (uint64_t)info->dims[i], &p))
            return false;
    if (limit && p > limit)
        return false;
    *n = p;
    return true;
}

int64_t ond_dim_mul(int64_t a, int64_t b)
{
    int64_t p;
    if (a >= 0 && b >= 0)
        return __builtin_mul_overflow(a, b, &p) ? OND_DIM_UNKNOWN : p;
    if (a == 1)
        return b;
    if (b == 1)
        return a;
    if (a == 0 || b == 0)
        return 0;
    return OND_DIM_UNKNOWN;
}

const char *ond_info_str(const struct ond_graph *g, const struct ond_info *info, char *buf,
                         size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "%s", ond_dtype_name(info->dtype));
    if (info->rank < 0) {
        snprintf(buf + (at < len ? at : len), at < len ? len - at : 0, "[?]");
        return buf;
    }
    for (int i = 0; i <= info->rank && at < len; i++) {
        const char *sep = i == 0 ? "[" : ",";
        if (i == info->rank) {
            at += (size_t)snprintf(buf + at, len - at, "%s]", i == 0 ? "[" : "");
            break;
        }
        int64_t d = info->dims[i];
        if (d >= 0)
            at += (size_t)snprintf(buf + at, len - at, "%s%lld", sep, (long long)d);
        else if (d <= -2 && g && -2 - d < g->n_syms)
            at += (size_t)snprintf(buf + at, len - at, "%s%s", sep, g->syms[-2 - d]);
        else
            at += (size_t)snprintf(buf + at, len - at, "%s?", sep);
    }
    return buf;
}

void *ond_aligned_alloc(size_t nbytes)
{
    size_t n = (nbytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64);
    if (p)
        memset(p, 0, n ? n : 64);
    return p;
}

/* The graph's constant bytes once t holds nbytes instead of what it holds now, checked
 * against max_total_bytes. */
static enum ond_status const_total(const struct ond_graph *g, const struct ond_tensor *t,
                                   size_t nbytes, uint64_t *total, struct ond_error *err)
{
    uint64_t kept = g->const_bytes - (t->own || (t->flags & OND_TENSOR_DEFERRED) ? t->nbytes : 0);
    if (__builtin_add_overflow(kept, (uint64_t)nbytes, total) ||
        (g->opts.max_total_bytes && *total > g->opts.max_total_bytes))
        return ond_fail(err, OND_STATUS_LIMIT,
                        "tensor '%s': constant data would reach %llu bytes, over the limit of %llu",
                        t->name, (unsigned long long)kept + nbytes,
                        (unsigned long long)g->opts.max_total_bytes);
    return OND_OK;
}

static void set_data(struct ond_graph *g, struct ond_tensor *t, void *own, const void *data,
                     size_t nbytes, uint64_t total)
{
    free(t->own);
    g->const_bytes = total;
    t->own = own;
    t->nbytes = nbytes;
    t->info.data = data;
    t->flags &= ~(unsigned)OND_TENSOR_DEFERRED;
    t->scale = NULL;
}

void *ond_tensor_alloc_data(struct ond_graph *g, struct ond_tensor *t, size_t nbytes,
                            struct ond_error *err)
{
    uint64_t total;
    if (const_total(g, t, nbytes, &total, err))
        return NULL;
    void *p = ond_aligned_alloc(nbytes);
    if (!p) {
        ond_fail(err, OND_STATUS_NO_MEMORY, "tensor '%s': cannot allocate %zu bytes", t->name,
                 nbytes);
        return NULL;
    }
    set_data(g, t, p, p, nbytes, total);
    return p;
}

enum ond_status ond_tensor_adopt_data(struct ond_graph *g, struct ond_tensor *t, void *own,
                                      void *data, size_t nbytes, struct ond_error *err)
{
    uint64_t total;
    enum ond_status st = const_total(g, t, nbytes, &total, err);
    if (!st)
        set_data(g, t, own, data, nbytes, total);
    return st;
}

enum ond_status ond_tensor_defer(struct ond_graph *g, struct ond_tensor *t, const void *data,
                                 size_t nbytes, struct ond_error *err)
{
    uint64_t total;
    enum ond_status st = const_total(g, t, nbytes, &total, err);
    if (!st) {
        set_data(g, t, NULL, data, nbytes, total);
        t->flags |= OND_TENSOR_DEFERRED;
    }
    return st;
}

void ond_tensor_read(const struct ond_tensor *t, void *dst)
{
    uint64_t numel;
    if (!t->scale || !ond_numel(&t->info, 0, &numel) || t->info.rank < 1 || !t->info.dims[0]) {
        memcpy(dst, t->info.data, t->nbytes);
        return;
    }
    /* A channel at a time, scaled while it is in cache; rounded as fold_batchnorm rounds a
     * weight it owns: (float)(w * (double)s). */
    float *w = dst;
    const char *src = t->info.data;
    uint64_t per = numel / (uint64_t)t->info.dims[0];
    for (int64_t c = 0; c < t->info.dims[0]; c++, w += per, src += per * sizeof *w) {
        memcpy(w, src, per * sizeof *w);
        double s = t->scale[c];
        for (uint64_t i = 0; i < per; i++)
            w[i] = (float)(w[i] * s);
    }
}

enum ond_status ond_input_value(const struct ond_tensor *t, const void *data,
                                const void **value, void **copy, struct ond_error *err)
{
    *value = data;
    *copy = NULL;
    if (!t || !(t->flags & OND_TENSOR_DEFERRED) || data != t->info.data)
        return OND_OK;
    if (!(*copy = ond_aligned_alloc(t->nbytes)))
        return ond_fail(err, OND_STATUS_NO_MEMORY, "tensor '%s': cannot allocate %zu bytes",
                        t->name, t->nbytes);
    ond_tensor_read(t, *copy);
    *value = *copy;
    return OND_OK;
}

void ond_tensor_release(const struct ond_tensor *t)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)t->info.data + page - 1) / page * page;
    uintptr_t b = ((uintptr_t)t->info.data + t->nbytes) / page * page;
    if ((t->flags & OND_TENSOR_DEFERRED) && b > a)
        madvise((void *)a, b - a, MADV_DONTNEED);
}

enum ond_status ond_tensor_materialize(struct ond_graph *g, struct ond_tensor *t,
                                       struct ond_error *err)
{
    if (!(t->flags & OND_TENSOR_DEFERRED))
        return OND_OK;
    void *p = ond_aligned_alloc(t->nbytes);
    if (!p)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "tensor '%s': cannot allocate %zu bytes",
                        t->name, t->nbytes);
    ond_tensor_read(t, p);
    set_data(g, t, p, p, t->nbytes, g->const_bytes);
    return OND_OK;
}

int64_t ond_int_at(const struct ond_info *info, size_t i)
{
    if (info->dtype == OND_DTYPE_INT32)
        return ((const int32_t *)info->data)[i];
    return ((const int64_t *)info->data)[i];
}

float ond_int8_channel_scale(const float *w, size_t per)
{
    float mx = 0;
    for (size_t i = 0; i < per; i++)
        mx = fmaxf(mx, fabsf(w[i]));
    return mx > 0 ? mx / 127.f : 1.f;
}
