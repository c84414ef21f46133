/* loader.c: ONNX ModelProto bytes -> IR graph.
 *
 * Handles IR versions 3..10, opset imports per domain, initializers in every encoding
 * (raw_data, float/int32/int64/double_data) and external data confined to the model's folder,
 * initializers also listed as graph inputs (constants with defaults), value infos with static
 * and symbolic dims, every attribute type (graph attributes are recorded by type only: no op
 * ondine runs takes a subgraph), and nodes without names. Before protobuf-c unpacks anything,
 * a wire-format scan bounds message nesting, and unpacking runs through an allocator with a
 * byte budget, so hostile bytes cannot exhaust the stack or memory. The protobuf message is
 * freed as soon as the IR is built.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/onnx.pb-c.h"
#include "ops/op.h"
#include "proto/inline.h"
#include "proto/loader.h"

/* ---- nesting scan ----
 * protobuf-c recurses once per nested message without a limit. Graphs nest through
 * attributes and types through sequence/map/optional types, so a crafted file could recurse
 * deep enough to overflow the stack. This scan walks the wire format along exactly those
 * recursive paths and bounds the depth. */
enum msg { M_LEAF, M_MODEL, M_TRAINING, M_FUNCTION, M_GRAPH, M_NODE, M_ATTR, M_VALUEINFO,
           M_TYPE, M_TYPE_ONE };

static enum msg child_kind(enum msg m, uint32_t field)
{
    switch (m) {
    case M_MODEL: return field == 7 ? M_GRAPH : field == 20 ? M_TRAINING
                       : field == 25 ? M_FUNCTION : M_LEAF;
    case M_TRAINING: return field == 1 || field == 2 ? M_GRAPH : M_LEAF;
    case M_FUNCTION: return field == 7 ? M_NODE : field == 11 ? M_ATTR   /* attribute_proto */
                       : field == 12 ? M_VALUEINFO : M_LEAF;                  /* value_info */
    case M_GRAPH: return field == 1 ? M_NODE : field >= 11 && field <= 13 ? M_VALUEINFO : M_LEAF;
    case M_NODE: return field == 5 ? M_ATTR : M_LEAF;
    case M_ATTR: return field == 6 || field == 11 ? M_GRAPH
                       : field == 14 || field == 15 ? M_TYPE : M_LEAF;
    case M_VALUEINFO: return field == 2 ? M_TYPE : M_LEAF;
    case M_TYPE: return field == 4 || field == 5 || field == 9 ? M_TYPE_ONE : M_LEAF;
    case M_TYPE_ONE: return field == 1 || field == 2 ? M_TYPE : M_LEAF; /* seq/opt 1, map 2 */
    case M_LEAF: break;
    }
    return M_LEAF;
}

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Returns 0, or -1 for malformed bytes, or 1 for nesting beyond max_depth. */
static int scan(const uint8_t *p, const uint8_t *end, enum msg m, int depth, int max_depth)
{
    if (depth > max_depth)
        return 1;
    while (p < end) {
        uint64_t key, v;
        if (!varint(&p, end, &key))
            return -1;
        switch (key & 7) {
        case 0:
            if (!varint(&p, end, &v))
                return -1;
            break;
        case 1:
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        case 2: {
            if (!varint(&p, end, &v) || v > (uint64_t)(end - p))
                return -1;
            enum msg c = child_kind(m, (uint32_t)(key >> 3));
            if (c != M_LEAF) {
                int r = scan(p, p + v, c, depth + 1, max_depth);
                if (r)
                    return r;
            }
            p += v;
            break;
        }
        default: /* groups (3, 4) are not used by ONNX; 6, 7 do not exist */
            return -1;
        }
    }
    return 0;
}

/* ---- protobuf-c allocator with a byte budget ----
 * Every block is 64-byte aligned behind a 64-byte header, so the graph can take a tensor's
 * raw_data buffer over as its constant data (adopt_raw) instead of copying it: the header
 * then says the block is the graph's, and freeing the message leaves it. The budget counts
 * whole blocks, header and rounding included, so many tiny messages cannot hide their cost. */
#define HEAD 64

struct head {
    size_t size;    /* of the whole block */
    bool adopted;
};

struct budget {
    size_t used, limit;
    bool exceeded;
};

static void *budget_alloc(void *data, size_t size)
{
    struct budget *b = data;
    size_t n = size <= SIZE_MAX - 2 * HEAD ? HEAD + (size + HEAD - 1) / HEAD * HEAD : SIZE_MAX;
    if (n > b->limit - b->used) {
        b->exceeded = true;
        return NULL;
    }
    struct head *h = aligned_alloc(HEAD, n);
    if (!h)
        return NULL;
    h->size = n;
    h->adopted = false;
    b->used += n;
    return (char *)h + HEAD;
}

static void budget_free(void *data, void *ptr)
{
    struct budget *b = data;
    if (!ptr)
        return;
    struct head *h = (struct head *)((char *)ptr - HEAD);
    b->used -= h->size;
    if (!h->adopted)
        free(h);
}

/* Gives the block behind raw_data (from budget_alloc) to t as its constant data. */
static enum ond_status adopt_raw(struct ond_graph *g, const ProtobufCBinaryData *raw,
                                 struct ond_tensor *t, struct ond_error *err)
{
    struct head *h = (struct head *)(raw->data - HEAD);
    enum ond_status st = ond_tensor_adopt_data(g, t, h, raw->data, raw->len, err);
    h->adopted = !st;
    return st;
}

/* ---- reading files ---- */
/* Opens a regular file of at most max_bytes (0: no limit) and gives its size. */
static enum ond_status open_file(const char *path, uint64_t max_bytes, int *fd, size_t *size,
                                 struct ond_error *err)
{
    struct stat sb;
    enum ond_status st = OND_OK;
    if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return ond_fail(err, OND_STATUS_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = ond_fail(err, OND_STATUS_IO, "'%s' is not a regular file", path);
    else if (max_bytes && (uint64_t)sb.st_size > max_bytes)
        st = ond_fail(err, OND_STATUS_LIMIT,
                      "'%s' is %lld bytes, over the limit of %llu (store big weights as "
                      "external data)", path, (long long)sb.st_size,
                      (unsigned long long)max_bytes);
    if (st) {
        close(*fd);
        return st;
    }
    *size = (size_t)sb.st_size;
    return OND_OK;
}

enum ond_status ond_map_file(const char *path, uint64_t max_bytes, void **buf, size_t *len,
                             struct ond_error *err)
{
    int fd;
    size_t n = 0;
    enum ond_status st = open_file(path, max_bytes, &fd, &n, err);
    if (st)
        return st;
    void *p = n ? mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : NULL;
    if (p == MAP_FAILED)
        st = ond_fail(err, OND_STATUS_IO, "cannot map '%s': %s", path, strerror(errno));
    close(fd);
    if (st)
        return st;
    *buf = p;
    *len = n;
    return OND_OK;
}

void ond_unmap_file(void *buf, size_t len)
{
    if (buf)
        munmap(buf, len);
}

enum ond_status ond_read_file(const char *path, uint64_t max_bytes, void **buf, size_t *len,
                              struct ond_error *err)
{
    unsigned char *data = NULL;
    int fd;
    size_t n = 0, got = 0;
    enum ond_status st = open_file(path, max_bytes, &fd, &n, err);
    if (st)
        return st;
    if (!(data = malloc(n ? n : 1))) {
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate %zu bytes for '%s'", n, path);
        goto done;
    }
    while (got < n) {
        ssize_t r = read(fd, data + got, n - got);
        if (r <= 0) {
            st = ond_fail(err, OND_STATUS_IO, "cannot read '%s': %s", path,
                          r ? strerror(errno) : "file shrank while reading");
            goto done;
        }
        got += (size_t)r;
    }
    *buf = data;
    *len = n;
    data = NULL;
done:
    free(data);
    close(fd);
    return st;
}

/* ---- tensors ---- */
struct ctx {
    struct ond_graph *g;
    const char *dir;   /* external data folder, NULL when loading from memory */
    const char *label;
    bool adopt;        /* the message was unpacked with budget_alloc: adopt_raw may take
                          its raw_data buffers */
};

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
static enum ond_status read_external(struct ctx *c, const Onnx__TensorProto *tp, void *dst,
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

static enum ond_status load_tensor(struct ctx *c, const Onnx__TensorProto *tp,
                                   struct ond_tensor *t, struct ond_error *err);

enum ond_status ond_load_tensor_proto(struct ond_graph *g, const struct Onnx__TensorProto *tp,
                                      struct ond_tensor *t, struct ond_error *err)
{
    struct ctx c = {g, NULL, NULL, false};
    return load_tensor(&c, tp, t, err);
}

/* Fills t (dtype, dims, constant data) from a TensorProto. */
static enum ond_status load_tensor(struct ctx *c, const Onnx__TensorProto *tp,
                                   struct ond_tensor *t, struct ond_error *err)
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
    if (tp->has_raw_data) {
        field = "raw_data";
        have = tp->raw_data.len;
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
    if (c->adopt && tp->has_raw_data && nbytes)
        return adopt_raw(g, &tp->raw_data, t, err);
    unsigned char *dst = ond_tensor_alloc_data(g, t, nbytes, err);
    if (!dst)
        return err ? err->status : OND_STATUS_NO_MEMORY;
    if (external)
        return read_external(c, tp, dst, nbytes, err);
    if (!nbytes)
        return OND_OK;
    if (tp->has_raw_data)
        memcpy(dst, tp->raw_data.data, nbytes);
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
static enum ond_status load_type(struct ctx *c, const Onnx__ValueInfoProto *vi,
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
static enum ond_status load_attr(struct ctx *c, const struct ond_node *n,
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
        struct ond_tensor *t = ond_alloc(g, sizeof *t, err);
        if (!t)
            return err->status;
        char nm[300];
        snprintf(nm, sizeof nm, "%s.%s", n->name, an);
        if (!(t->name = ond_strdup(g, nm, strlen(nm), err)))
            return err->status;
        t->flags = OND_TENSOR_CONST;
        t->id = -1;
        enum ond_status st = load_tensor(c, ap->t, t, err);
        /* Owned by the attribute: freed with the graph through the node's attribute list. */
        a->t = t;
        if (st)
            return st;
    }
    return OND_OK;
}

/* ---- graph ---- */
static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Attribute names of a node are unique. Sorted, not compared pairwise: a hostile node with
 * 50000 attributes took seconds, 200000 minutes. */
static enum ond_status unique_attrs(const struct ond_node *n, struct ond_error *err)
{
    if (n->n_attrs < 2)
        return OND_OK;
    const char **names = malloc(sizeof *names * n->n_attrs);
    if (!names)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "node '%s': cannot allocate", n->name);
    for (size_t i = 0; i < n->n_attrs; i++)
        names[i] = n->attrs[i].name;
    qsort(names, n->n_attrs, sizeof *names, by_name);
    enum ond_status st = OND_OK;
    for (size_t i = 1; i < n->n_attrs && !st; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            st = ond_fail(err, OND_STATUS_INVALID_MODEL, "node '%s': attribute '%s' appears twice",
                          n->name, names[i]);
    free(names);
    return st;
}

static enum ond_status load_nodes(struct ctx *c, const struct ond_flat *f, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    /* First every output, so inputs can refer to nodes later in the file. */
    for (size_t i = 0; i < f->n; i++) {
        const Onnx__NodeProto *np = f->nodes[i].np;
        if (np->n_input > INT_MAX / 2 || np->n_output > INT_MAX / 2)
            return ond_fail(err, OND_STATUS_LIMIT, "node %zu has too many inputs or outputs", i);
        struct ond_node *n = ond_graph_add_node(g, (int)np->n_input, (int)np->n_output, err);
        if (!n)
            return err->status;
        const char *op = np->op_type ? np->op_type : "";
        const char *dom = np->domain ? np->domain : "";
        if (!*op)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "node %zu has no op_type", i);
        char gen[300];
        const char *name = np->name;
        if (!name || !*name) {
            snprintf(gen, sizeof gen, "%s_%zu", op, i);
            name = gen;
        }
        if (!(n->name = ond_strdup(g, name, strlen(name), err)) ||
            !(n->op_type = ond_strdup(g, op, strlen(op), err)) ||
            !(n->domain = ond_strdup(g, dom, strlen(dom), err)))
            return err->status;
        n->opset = f->nodes[i].opset >= 0 ? f->nodes[i].opset : ond_graph_opset(g, dom);
        if (n->opset < 0)
            return ond_fail(err, OND_STATUS_INVALID_MODEL,
                            "node '%s' (%s) uses domain '%s', which the model does not import "
                            "(opset_import)", n->name, op, *dom ? dom : "ai.onnx");
        for (size_t k = 0; k < np->n_output; k++) {
            const char *on = np->output[k] ? np->output[k] : "";
            if (!*on)
                continue;
            struct ond_tensor *t = ond_graph_find_tensor(g, on);
            if (t)
                return ond_fail(err, OND_STATUS_INVALID_MODEL,
                                "tensor '%s' (output of node '%s') is also %s", on, n->name,
                                t->flags & OND_TENSOR_CONST ? "an initializer"
                                : t->flags & OND_TENSOR_INPUT ? "a graph input"
                                                              : "produced by another node");
            if (!(t = ond_graph_add_tensor(g, on, err)))
                return err->status;
            t->producer = n;
            n->out[k] = t;
        }
        if (np->n_attribute) {
            if (!(n->attrs = ond_alloc(g, sizeof *n->attrs * np->n_attribute, err)))
                return err->status;
            n->n_attrs = np->n_attribute;
            for (size_t k = 0; k < np->n_attribute; k++) {
                enum ond_status st = load_attr(c, n, np->attribute[k], &n->attrs[k], err);
                if (st)
                    return st;
            }
            enum ond_status st = unique_attrs(n, err);
            if (st)
                return st;
        }
    }
    for (size_t i = 0; i < f->n; i++) {
        const Onnx__NodeProto *np = f->nodes[i].np;
        struct ond_node *n = g->nodes[i];
        for (size_t k = 0; k < np->n_input; k++) {
            const char *in = np->input[k] ? np->input[k] : "";
            if (!*in)
                continue;
            struct ond_tensor *t = ond_graph_find_tensor(g, in);
            if (!t)
                return ond_fail(err, OND_STATUS_INVALID_MODEL,
                                "node '%s' reads tensor '%s', which no node produces and is not "
                                "a graph input or initializer", n->name, in);
            n->in[k] = t;
            t->uses++;
        }
    }
    return OND_OK;
}

static enum ond_status load_model(struct ctx *c, const Onnx__ModelProto *mp,
                                  ProtobufCAllocator *alloc, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    enum ond_status st;
    if (!mp->has_ir_version || !mp->graph)
        return ond_fail(err, OND_STATUS_INVALID_MODEL,
                        "not a valid ONNX model (no ir_version or no graph)");
    if (mp->ir_version < OND_MIN_IR_VERSION ||
        mp->ir_version > OND_MAX_IR_VERSION)
        return ond_fail(err, OND_STATUS_UNSUPPORTED,
                        "IR version %lld is not supported (ondine reads %d to %d)",
                        (long long)mp->ir_version, OND_MIN_IR_VERSION, OND_MAX_IR_VERSION);
    g->ir_version = mp->ir_version;
    if (!(g->opsets = ond_alloc(g, sizeof *g->opsets * (mp->n_opset_import + 1), err)))
        return err->status;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        const char *d = o->domain ? o->domain : "";
        if (!o->has_version || o->version < 1)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "opset import of domain '%s' has version %lld",
                            d, (long long)o->version);
        if (ond_graph_opset(g, d) >= 0)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "domain '%s' is imported twice", d);
        if (!(g->opsets[i].domain = ond_strdup(g, d, strlen(d), err)))
            return err->status;
        g->opsets[i].version = o->version;
        g->n_opsets = i + 1;
    }
    /* A model without the default domain (training-only ops, say) may still load; its nodes
     * in that domain are refused one by one. */
    int64_t onnx_opset = ond_graph_opset(g, "");
    if (onnx_opset > OND_MAX_OPSET)
        return ond_fail(err, OND_STATUS_UNSUPPORTED,
                        "opset %lld of the default domain is beyond the supported 1..%d",
                        (long long)onnx_opset, OND_MAX_OPSET);
    const char *pn = mp->producer_name ? mp->producer_name : "";
    const char *pv = mp->producer_version ? mp->producer_version : "";
    const Onnx__GraphProto *gp = mp->graph;
    const char *gn = gp->name ? gp->name : "";
    if (!(g->producer_name = ond_strdup(g, pn, strlen(pn), err)) ||
        !(g->producer_version = ond_strdup(g, pv, strlen(pv), err)) ||
        !(g->name = ond_strdup(g, gn, strlen(gn), err)))
        return err->status;
    if (gp->n_sparse_initializer)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "sparse initializers are not supported");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "initializer %zu has no name", i);
        struct ond_tensor *t = ond_graph_find_tensor(g, tp->name);
        if (t)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "initializer '%s' is defined twice",
                            tp->name);
        if (!(t = ond_graph_add_tensor(g, tp->name, err)))
            return err->status;
        t->flags = OND_TENSOR_CONST;
        if (tp->data_type > OND_DTYPE_BFLOAT16 && tp->data_type <= OND_DTYPE_LAST_ONNX &&
            !ond_dtype_supported(tp->data_type)) {
            /* float8, int4...: refused once the ops are bound, naming a node that reads it
             * (check_types); its data is never read. */
            t->info.dtype = tp->data_type;
            t->flags |= OND_TENSOR_BADTYPE;
            continue;
        }
        if ((st = load_tensor(c, tp, t, err)))
            return st;
    }
    if (!(g->inputs = ond_alloc(g, sizeof *g->inputs * (gp->n_input + 1), err)) ||
        !(g->outputs = ond_alloc(g, sizeof *g->outputs * (gp->n_output + 1), err)))
        return err->status;
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *nm = gp->input[i]->name ? gp->input[i]->name : "";
        if (!*nm)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "graph input %zu has no name", i);
        struct ond_tensor *t = ond_graph_find_tensor(g, nm);
        if (t && (t->flags & OND_TENSOR_CONST))
            continue; /* IR < 4 lists initializers as inputs: a constant with a default */
        if (t)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "graph input '%s' is listed twice", nm);
        if (!(t = ond_graph_add_tensor(g, nm, err)))
            return err->status;
        t->flags = OND_TENSOR_INPUT;
        if ((st = load_type(c, gp->input[i], t, err)))
            return st;
        g->inputs[g->n_inputs++] = t;
    }
    if (g->opts.max_nodes && gp->n_node > (size_t)g->opts.max_nodes)
        return ond_fail(err, OND_STATUS_LIMIT, "the graph has %zu nodes, over the limit of %lld",
                        gp->n_node, (long long)g->opts.max_nodes);
    struct ond_flat f = {0};
    st = ond_inline_functions(g, mp, alloc, &f, err);
    /* Inlined calls share the body's attribute messages: none may give its buffer away. */
    c->adopt = c->adopt && !f.inlined && !f.n_defaults;
    if (!st)
        st = load_nodes(c, &f, err);
    ond_flat_free(&f, alloc);
    if (st)
        return st;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *nm = gp->output[i]->name ? gp->output[i]->name : "";
        struct ond_tensor *t = *nm ? ond_graph_find_tensor(g, nm) : NULL;
        if (!t)
            return ond_fail(err, OND_STATUS_INVALID_MODEL,
                            "graph output '%s' is not produced by any node", nm);
        if (t->flags & OND_TENSOR_OUTPUT)
            return ond_fail(err, OND_STATUS_INVALID_MODEL, "graph output '%s' is listed twice", nm);
        t->flags |= OND_TENSOR_OUTPUT;
        g->outputs[g->n_outputs++] = t;
        /* The declared type seeds inference; inference checks it. */
        if (gp->output[i]->type && t->producer && (st = load_type(c, gp->output[i], t, err)))
            return st;
    }
    return OND_OK;
}

/* Graph inputs and outputs declared with types ondine cannot hold, named with a node that
 * uses them (after unsupported ops have been reported, which explain most of them). */
static enum ond_status check_types(const struct ond_graph *g, struct ond_error *err)
{
    for (int i = 0; i < g->n_tensors; i++) {
        const struct ond_tensor *t = g->tensors[i];
        if (!(t->flags & OND_TENSOR_BADTYPE))
            continue;
        const struct ond_node *user = t->producer;
        for (int k = 0; !user && k < g->n_nodes; k++)
            for (int j = 0; j < g->nodes[k]->n_in; j++)
                if (g->nodes[k]->in[j] == t)
                    user = g->nodes[k];
        const char *type = t->info.dtype ? ond_dtype_name(t->info.dtype) : "a non-tensor type";
        if (user)
            return ond_fail(err, OND_STATUS_UNSUPPORTED,
                            "node '%s' (%s): value '%s' has type %s, which ondine does not "
                            "support", user->name, user->op_type, t->name, type);
        return ond_fail(err, OND_STATUS_UNSUPPORTED,
                        "value '%s' has type %s, which ondine does not support", t->name, type);
    }
    return OND_OK;
}

enum ond_status ond_load_graph(const void *buf, size_t len, const char *dir, const char *label,
                               const struct ond_options *opts, bool partial,
                               struct ond_graph **out, struct ond_error *err)
{
    struct ond_error local;
    if (!err)
        err = &local;
    struct ond_graph *g = NULL;
    Onnx__ModelProto *mp = NULL;
    enum ond_status st = ond_graph_create(opts, &g, err);
    if (st)
        return st;
    if (g->opts.max_file_bytes && len > g->opts.max_file_bytes) {
        st = ond_fail(err, OND_STATUS_LIMIT, "the model is %zu bytes, over the limit of %llu",
                      len, (unsigned long long)g->opts.max_file_bytes);
        goto done;
    }
    int depth = g->opts.max_depth > 0 ? g->opts.max_depth : 64;
    int r = len ? scan(buf, (const uint8_t *)buf + len, M_MODEL, 0, depth) : -1;
    if (r != 0) {
        st = r < 0 ? ond_fail(err, OND_STATUS_INVALID_MODEL,
                              "not a valid ONNX model (protobuf parse failed)")
                   : ond_fail(err, OND_STATUS_LIMIT,
                              "messages nest deeper than %d levels (nested graphs or types)",
                              depth);
        goto done;
    }
    /* protobuf-c needs about the file's size again plus per-message overhead for a real
     * model; a budget well above that stops amplification by empty repeated messages, and
     * parsing never takes more than max_total_bytes. */
    size_t limit = len > (SIZE_MAX - (64u << 20)) / 4 ? SIZE_MAX : len * 4 + (64u << 20);
    if (g->opts.max_total_bytes && g->opts.max_total_bytes < limit)
        limit = (size_t)g->opts.max_total_bytes;
    struct budget b = {0, limit, false};
    ProtobufCAllocator alloc = {budget_alloc, budget_free, &b};
    mp = onnx__model_proto__unpack(&alloc, len, buf);
    if (!mp) {
        st = b.exceeded ? ond_fail(err, OND_STATUS_LIMIT,
                                   "parsing needs more than %zu bytes (a %zu-byte file)", b.limit,
                                   len)
                        : ond_fail(err, OND_STATUS_INVALID_MODEL,
                                   "not a valid ONNX model (protobuf parse failed)");
        goto done;
    }
    ond_trace("parse");
    struct ctx c = {g, dir, label, true};
    st = load_model(&c, mp, &alloc, err);
    onnx__model_proto__free_unpacked(mp, &alloc);
    mp = NULL;
    if (st)
        goto done;
    ond_trace("ir");
    if ((st = ond_graph_sort(g, err)) || (st = ond_graph_bind_ops(g, partial, err)) ||
        (st = check_types(g, err)) ||
        (st = ond_graph_infer(g, err)) || (st = ond_graph_validate(g, err)))
        goto done;
    ond_trace("infer");
    *out = g;
    g = NULL;
done:
    if (st && label)
        ond_error_prefix(err, "%s: ", label);
    ond_graph_free(g);
    return st;
}
