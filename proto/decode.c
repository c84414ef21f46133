/* decode.c: ONNX messages -> IR pieces (proto/load.h): tensors (every encoding: raw_data,
 * float/int32/int64/double/uint64_data, and external data confined to the model's folder), value
 * infos (static and symbolic dims; types ondine cannot hold are flagged for the loader to name
 * with a node), and attributes of every type (graph attributes are recorded by type only: no op
 * ondine runs takes a subgraph). Payload sizes are checked against the dims before anything is
 * allocated from them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/load.h"
#include "proto/loader.h"

/* ---- tensors ---- */
static enum ond_status tensor_type(struct ond_error *err, const char *what, const char *name,
                                   int32_t dtype)
{
    if (dtype <= 0 || dtype > OND_DTYPE_LAST_ONNX)
        return ond_fail(err, OND_STATUS_INVALID_MODEL, "%s '%s': data type %d is not an ONNX type",
                        what, name, dtype);
    if (!ond_dtype_supported(dtype))
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "%s '%s': data type %s is not supported",
                        what, name, ond_dtype_name(dtype));
    return OND_OK;
}

/* Reads external data for t: keys location/offset/length, location relative to the model
 * folder and resolving inside it, a regular file with one link. */
static enum ond_status read_external(struct ond_load_ctx *c, const Onnx__TensorProto *tp, void *dst,
                                     size_t nbytes, struct ond_error *err)
{
    const char *loc = NULL;
    long long off = 0, len = -1;
    enum ond_status st = OND_OK;
    int fd = -1;
    if (!c->dir)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "tensor '%s' references external data, but the model was loaded from "
                        "memory without a folder", tp->name);
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key ? tp->external_data[i]->key : "";
        const char *v = tp->external_data[i]->value ? tp->external_data[i]->value : "";
        if (strcmp(k, "location") == 0 && !loc) {
            loc = v;
        } else if ((strcmp(k, "offset") == 0 && off == 0) ||
                   (strcmp(k, "length") == 0 && len == -1)) {
            char *end;
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (!*v || *end || errno || x < 0)
                return ond_fail(err, OND_STATUS_INVALID_MODEL,
                                "tensor '%s': external data %s '%s' is not a non-negative number",
                                tp->name, k, v);
            *(strcmp(k, "offset") == 0 ? &off : &len) = x;
        } else if (strcmp(k, "checksum") != 0) {
            return ond_fail(err, OND_STATUS_INVALID_MODEL,
                            "tensor '%s': external data key '%s' is unknown or repeated",
                            tp->name, k);
        }
    }
    if (!loc || !*loc)
        return ond_fail(err, OND_STATUS_INVALID_MODEL, "tensor '%s': external data has no location",
                        tp->name);
    if (loc[0] == '/' || strstr(loc, "..") || strchr(loc, '\\'))
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "tensor '%s': external data location '%s' resolves outside the model "
                        "directory", tp->name, loc);
    char path[PATH_MAX], real_dir[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", c->dir, loc) >= sizeof path ||
        !realpath(c->dir, real_dir))
        return ond_fail(err, OND_STATUS_IO, "tensor '%s': cannot resolve external data '%s'",
                        tp->name, loc);
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return ond_fail(err, OND_STATUS_IO, "tensor '%s': external data file '%s': %s", tp->name,
                        loc, strerror(errno));
    size_t rd = strlen(real_dir);
    if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1 || !realpath(path, real) ||
        strncmp(real, real_dir, rd) != 0 || real[rd] != '/')
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "tensor '%s': external data location '%s' resolves outside the model "
                        "directory or is not a plain file", tp->name, loc);
    uint64_t size = (uint64_t)sb.st_size;
    if (len < 0)
        len = off <= (long long)size ? (long long)(size - (uint64_t)off) : -1;
    if (len < 0 || (uint64_t)len > size || (uint64_t)off > size - (uint64_t)len)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "tensor '%s': external data offset %lld length %lld is past the end of "
                        "'%s' (%llu bytes)", tp->name, off, len, loc, (unsigned long long)size);
    if ((uint64_t)len != nbytes)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "tensor '%s': external data length %lld, expected %zu bytes", tp->name,
                        len, nbytes);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return ond_fail(err, OND_STATUS_IO, "tensor '%s': cannot open '%s': %s", tp->name, loc,
                        strerror(errno));
    for (size_t got = 0; got < nbytes;) {
        ssize_t r = pread(fd, (char *)dst + got, nbytes - got, off + (off_t)got);
        if (r <= 0) {
            st = ond_fail(err, OND_STATUS_IO, "tensor '%s': cannot read '%s'", tp->name, loc);
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    return st;
}

enum ond_status ond_load_tensor_proto(struct ond_graph *g, const struct Onnx__TensorProto *tp,
                                      struct ond_tensor *t, struct ond_error *err)
{
    struct ond_load_ctx c = {g, NULL, NULL, false, NULL};
    return ond_load_tensor(&c, tp, NULL, t, err);
}

enum ond_status ond_load_tensor(struct ond_load_ctx *c, const Onnx__TensorProto *tp,
                                const struct ond_span *span, struct ond_tensor *t,
                                struct ond_error *err)
{
    struct ond_graph *g = c->g;
    const char *name = t->name;
    enum ond_status st = tensor_type(err, "tensor", name, tp->data_type);
    if (st)
        return st;
    if (tp->n_dims > OND_MAX_RANK)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "tensor '%s': rank %zu is over the maximum %d",
                        name, tp->n_dims, OND_MAX_RANK);
    t->info.dtype = tp->data_type;
    t->info.rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "tensor '%s': dim %zu is negative (%lld)",
                            name, i, (long long)tp->dims[i]);
        t->info.dims[i] = tp->dims[i];
    }
    uint64_t numel;
    if (!ond_numel(&t->info, g->opts.max_tensor_elements, &numel))
        return ond_fail(err, OND_STATUS_LIMIT,
                        "tensor '%s': element count overflows or is over the limit of %llu",
                        name, (unsigned long long)g->opts.max_tensor_elements);
    size_t esize = ond_dtype_size(tp->data_type), nbytes = (size_t)numel * esize;
    bool external = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (tp->has_data_location && tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL &&
        tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT)
        return ond_fail(err, OND_STATUS_INVALID_MODEL, "tensor '%s': data_location %d is invalid",
                        name, (int)tp->data_location);
    int sources = (tp->has_raw_data ? 1 : 0) + (tp->n_float_data > 0) + (tp->n_int32_data > 0) +
                  (tp->n_int64_data > 0) + (tp->n_double_data > 0) + (tp->n_uint64_data > 0) +
                  (tp->n_string_data > 0) + external;
    if (sources > 1)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "tensor '%s': has more than one data field%s", name,
                        external ? " (external location with inline data)" : "");
    if (tp->segment)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "tensor '%s': segmented tensors are not supported",
                        name);
    /* The payload must match before anything is allocated from the dims. */
    size_t have = 0, wide = 0;
    const char *field = "no data field";
    const uint8_t *raw = span ? c->file + span->off : tp->raw_data.data;
    if (tp->has_raw_data) {
        field = "raw_data";
        have = span ? span->len : tp->raw_data.len;
        if (have != nbytes)
            return ond_fail(err, OND_STATUS_INVALID_MODEL,
                            "tensor '%s': raw_data has %zu bytes, expected %llu elements x %zu = %zu",
                            name, have, (unsigned long long)numel, esize, nbytes);
    } else if (!external) {
        switch (tp->data_type) {
        case OND_DTYPE_FLOAT: field = "float_data"; have = tp->n_float_data; break;
        case OND_DTYPE_INT64: field = "int64_data"; have = tp->n_int64_data; break;
        case OND_DTYPE_DOUBLE: field = "double_data"; have = tp->n_double_data; break;
        case OND_DTYPE_UINT32: case OND_DTYPE_UINT64:
            field = "uint64_data"; have = tp->n_uint64_data; break;
        default: /* int32 and the narrow types, stored widened in int32_data */
            field = "int32_data"; have = tp->n_int32_data; wide = esize < 4; break;
        }
        if (have != numel)
            return ond_fail(err, OND_STATUS_INVALID_MODEL,
                            "tensor '%s': %s holds %zu values, expected %llu for %s", name,
                            sources ? field : "no data field", have, (unsigned long long)numel,
                            ond_dtype_name(tp->data_type));
    }
    if (span && nbytes)
        return ond_tensor_defer(g, t, raw, nbytes, err);
    if (c->adopt && tp->has_raw_data && nbytes)
        return ond_adopt_raw(g, &tp->raw_data, t, err);
    unsigned char *dst = ond_tensor_alloc_data(g, t, nbytes, err);
    if (!dst)
        return err ? err->status : OND_STATUS_NO_MEMORY;
    if (external)
        return read_external(c, tp, dst, nbytes, err);
    if (!nbytes)
        return OND_OK;
    if (tp->has_raw_data)
        memcpy(dst, raw, nbytes);
    else if (tp->data_type == OND_DTYPE_FLOAT)
        memcpy(dst, tp->float_data, nbytes);
    else if (tp->data_type == OND_DTYPE_INT64)
        memcpy(dst, tp->int64_data, nbytes);
    else if (tp->data_type == OND_DTYPE_DOUBLE)
        memcpy(dst, tp->double_data, nbytes);
    else if (tp->data_type == OND_DTYPE_UINT64)
        memcpy(dst, tp->uint64_data, nbytes);
    else if (tp->data_type == OND_DTYPE_UINT32)
        for (size_t i = 0; i < numel; i++)
            ((uint32_t *)(void *)dst)[i] = (uint32_t)tp->uint64_data[i];
    else if (!wide)
        memcpy(dst, tp->int32_data, nbytes);
    else
        for (size_t i = 0; i < numel; i++) {
            if (esize == 1)
                dst[i] = (unsigned char)tp->int32_data[i];
            else
                ((uint16_t *)(void *)dst)[i] = (uint16_t)tp->int32_data[i];
        }
    return OND_OK;
}

/* ---- value infos ---- */
enum ond_status ond_load_type(struct ond_load_ctx *c, const Onnx__ValueInfoProto *vi,
                              struct ond_tensor *t, struct ond_error *err)
{
    const Onnx__TypeProto *tp = vi->type;
    /* A type ondine cannot hold is an error only once the ops are known: the op that
     * uses it is then named (see check_types). */
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        t->flags |= OND_TENSOR_BADTYPE;
        return OND_OK;
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->elem_type <= 0 || tt->elem_type > OND_DTYPE_LAST_ONNX)
        return tensor_type(err, "value", t->name, tt->elem_type);
    if (!ond_dtype_supported(tt->elem_type)) {
        t->info.dtype = tt->elem_type;
        t->flags |= OND_TENSOR_BADTYPE;
        return OND_OK;
    }
    t->info.dtype = tt->elem_type;
    t->info.rank = -1;
    if (!tt->shape)
        return OND_OK;
    if (tt->shape->n_dim > OND_MAX_RANK)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "value '%s': rank %zu is over the maximum %d",
                        t->name, tt->shape->n_dim, OND_MAX_RANK);
    t->info.rank = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        int64_t v = OND_DIM_UNKNOWN;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return ond_fail(err, OND_STATUS_INVALID_MODEL,
                                "value '%s': dim %zu is negative (%lld)", t->name, i,
                                (long long)d->dim_value);
            v = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   d->dim_param && *d->dim_param) {
            int s = ond_graph_symbol(c->g, d->dim_param, err);
            if (s < 0)
                return err ? err->status : OND_STATUS_NO_MEMORY;
            v = -2 - s;
        }
        t->info.dims[i] = v;
    }
    return OND_OK;
}

/* ---- attributes ---- */
enum ond_status ond_load_attr(struct ond_load_ctx *c, const struct ond_node *n,
                              const Onnx__AttributeProto *ap, struct ond_attr *a,
                              struct ond_error *err)
{
    struct ond_graph *g = c->g;
    const char *an = ap->name ? ap->name : "";
    if (!*an)
        return ond_fail(err, OND_STATUS_INVALID_MODEL, "node '%s': an attribute has no name",
                        n->name);
    if (!(a->name = ond_strdup(g, an, strlen(an), err)))
        return err->status;
    int type = ap->has_type ? (int)ap->type : 0;
    if (ap->ref_attr_name)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "node '%s': attribute '%s' refers to a function attribute outside a "
                        "function", n->name, an);
    if (type < 1 || type > 14)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "node '%s': attribute '%s' has invalid type %d", n->name, an, type);
    /* The fields set must be the ones the type tag names. */
    unsigned present = (ap->has_f ? 1u << OND_ATTR_FLOAT : 0) | (ap->has_i ? 1u << OND_ATTR_INT : 0) |
                       (ap->has_s ? 1u << OND_ATTR_STRING : 0) | (ap->t ? 1u << OND_ATTR_TENSOR : 0) |
                       (ap->g ? 1u << OND_ATTR_GRAPH : 0) |
                       (ap->n_floats ? 1u << OND_ATTR_FLOATS : 0) |
                       (ap->n_ints ? 1u << OND_ATTR_INTS : 0) |
                       (ap->n_strings ? 1u << OND_ATTR_STRINGS : 0) |
                       (ap->n_tensors ? 1u << OND_ATTR_TENSORS : 0) |
                       (ap->n_graphs ? 1u << OND_ATTR_GRAPHS : 0) |
                       (ap->sparse_tensor ? 1u << OND_ATTR_SPARSE_TENSOR : 0) |
                       (ap->n_sparse_tensors ? 1u << OND_ATTR_SPARSE_TENSORS : 0) |
                       (ap->tp ? 1u << OND_ATTR_TYPE_PROTO : 0) |
                       (ap->n_type_protos ? 1u << OND_ATTR_TYPE_PROTOS : 0);
    if (present & ~(1u << type))
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "node '%s': attribute '%s' of type %d carries a field of another type",
                        n->name, an, type);
    if ((type == OND_ATTR_TENSOR && !ap->t) || (type == OND_ATTR_GRAPH && !ap->g))
        return ond_fail(err, OND_STATUS_INVALID_MODEL, "node '%s': attribute '%s' has no value",
                        n->name, an);
    a->type = type;
    a->i = ap->i;
    a->f = ap->f;
    if (type == OND_ATTR_STRING) {
        /* An absent s is the empty string (protobuf's default): ops get a string, never
         * NULL. */
        a->s_len = ap->has_s ? ap->s.len : 0;
        if (!(a->s = ond_strdup(g, (const char *)ap->s.data, a->s_len, err)))
            return err->status;
    }
    if (ap->n_ints) {
        int64_t *v = ond_alloc(g, sizeof *v * ap->n_ints, err);
        if (!v)
            return err->status;
        memcpy(v, ap->ints, sizeof *v * ap->n_ints);
        a->ints = v;
        a->n = ap->n_ints;
    }
    if (ap->n_floats) {
        float *v = ond_alloc(g, sizeof *v * ap->n_floats, err);
        if (!v)
            return err->status;
        memcpy(v, ap->floats, sizeof *v * ap->n_floats);
        a->floats = v;
        a->n = ap->n_floats;
    }
    if (ap->n_strings) {
        const char **v = ond_alloc(g, sizeof *v * ap->n_strings, err);
        if (!v)
            return err->status;
        for (size_t i = 0; i < ap->n_strings; i++)
            if (!(v[i] = ond_strdup(g, (const char *)ap->strings[i].data, ap->strings[i].len,
                                    err)))
                return err->status;
        a->strings = v;
        a->n = ap->n_strings;
    }
    a->n = a->n ? a->n : ap->n_tensors + ap->n_graphs + ap->n_type_protos + ap->n_sparse_tensors;
    if (ap->t) {
        int32_t dt = ap->t->data_type;
        if (dt > OND_DTYPE_BFLOAT16 && dt <= OND_DTYPE_LAST_ONNX)
            return ond_fail(err, OND_STATUS_UNSUPPORTED,
                            "node '%s' (%s): attribute '%s' has type %s, which ondine does not "
                            "support", n->name, n->op_type, an, ond_dtype_name(dt));
        struct ond_tensor *t = ond_alloc(g, sizeof *t, err);
        if (!t)
            return err->status;
        char nm[300];
        snprintf(nm, sizeof nm, "%s.%s", n->name, an);
        if (!(t->name = ond_strdup(g, nm, strlen(nm), err)))
            return err->status;
        t->flags = OND_TENSOR_CONST;
        t->id = -1;
        enum ond_status st = ond_load_tensor(c, ap->t, NULL, t, err);
        /* Owned by the attribute: freed with the graph through the node's attribute list. */
        a->t = t;
        if (st)
            return st;
    }
    return OND_OK;
}
