/* wire.c: what the loader does before and around protobuf-c (proto/load.h): a scan of the
 * wire format that bounds message nesting before anything is unpacked (protobuf-c recurses
 * without a limit), the copy of a mapped model without its initializers' large raw_data
 * that is unpacked instead (the tensors point into the mapping), the allocator with a byte
 * budget that unpacking runs through (so hostile bytes cannot exhaust memory; tensors may
 * adopt its raw_data blocks instead of copying them), and reading or mapping model files of
 * bounded size. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/load.h"
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

int ond_wire_scan(const void *buf, size_t len, int max_depth)
{
    return len ? scan(buf, (const uint8_t *)buf + len, M_MODEL, 0, max_depth) : -1;
}

/* ---- initializer bytes left in the mapped file ----
 * protobuf-c copies every bytes field it unpacks. A model file's weights are its graph's
 * initializers' raw_data: the loader unpacks a copy of the file's bytes without those
 * payloads (each an empty raw_data, so the field is still set) and the tensors point into the
 * mapping instead. Only the plain layout is rewritten, one graph and one raw_data per
 * initializer; anything else (and any malformed byte) is unpacked as it is. */
struct field {
    uint32_t num;
    int type;
    const uint8_t *start, *data, *end; /* key, payload (length-delimited), next field */
};

static bool next_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
    uint64_t key, v;
    f->start = *p;
    if (!varint(p, end, &key) || (key >> 3) > UINT32_MAX)
        return false;
    f->num = (uint32_t)(key >> 3);
    f->type = (int)(key & 7);
    f->data = NULL;
    switch (f->type) {
    case 0:
        if (!varint(p, end, &v))
            return false;
        break;
    case 1: case 5:
        if (end - *p < (f->type == 1 ? 8 : 4))
            return false;
        *p += f->type == 1 ? 8 : 4;
        break;
    case 2:
        if (!varint(p, end, &v) || v > (uint64_t)(end - *p))
            return false;
        f->data = *p;
        *p += v;
        break;
    default:
        return false;
    }
    f->end = *p;
    return true;
}

static int varint_len(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put(uint8_t *o, uint32_t num, uint64_t len)
{
    for (uint64_t v = (uint64_t)num << 3 | 2; ; v >>= 7) {
        *o++ = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
        if (v < 0x80)
            break;
    }
    for (uint64_t v = len; ; v >>= 7) {
        *o++ = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
        if (v < 0x80)
            return o;
    }
}

/* The single raw_data field of the TensorProto [p, end) when it has OND_MIN_DEFERRED bytes or
 * more; false otherwise (none, repeated, small, malformed). */
static bool raw_field(const uint8_t *p, const uint8_t *end, struct field *raw)
{
    int n = 0;
    struct field f;
    while (p < end) {
        if (!next_field(&p, end, &f))
            return false;
        if (f.num == 9 && f.type == 2) { /* TensorProto.raw_data */
            *raw = f;
            n++;
        }
    }
    return n == 1 && raw->end - raw->data >= OND_MIN_DEFERRED;
}

/* Writes the GraphProto [p, end) without its initializers' large raw_data payloads at o (NULL:
 * only counts) and returns its new length; spans[i] gets initializer i's payload. */
static size_t strip_graph(const uint8_t *p, const uint8_t *end, const uint8_t *base, uint8_t *o,
                          struct ond_span *spans)
{
    size_t len = 0, i = 0;
    struct field f, raw;
    while (p < end) {
        if (!next_field(&p, end, &f))
            return SIZE_MAX;
        bool init = f.num == 5 && f.type == 2; /* GraphProto.initializer */
        if (!init || !raw_field(f.data, f.end, &raw)) {
            if (o)
                memcpy(o + len, f.start, (size_t)(f.end - f.start));
            len += (size_t)(f.end - f.start);
            i += init;
            continue;
        }
        size_t tlen = (size_t)(f.end - f.data) - (size_t)(raw.end - raw.start) + 2;
        len += 1 + (size_t)varint_len(tlen) + tlen;
        if (!o)
            continue;
        spans[i++] = (struct ond_span){(size_t)(raw.data - base), (size_t)(raw.end - raw.data)};
        uint8_t *w = o + len - tlen - 1 - varint_len(tlen);
        w = put(w, 5, tlen);
        memcpy(w, f.data, (size_t)(raw.start - f.data));
        w += raw.start - f.data;
        w = put(w, 9, 0);
        memcpy(w, raw.end, (size_t)(f.end - raw.end));
    }
    return len;
}

enum ond_status ond_wire_strip(const void *buf, size_t len, struct ond_stripped *s,
                               struct ond_error *err)
{
    const uint8_t *b = buf, *p = b, *end = b + len;
    const uint8_t *graph = NULL, *gend = NULL, *gstart = NULL;
    struct field f;
    int graphs = 0;
    memset(s, 0, sizeof *s);
    while (p < end) {
        if (!next_field(&p, end, &f))
            return OND_OK;
        if (f.num == 7 && f.type == 2) { /* ModelProto.graph */
            graphs++;
            gstart = f.start;
            graph = f.data;
            gend = f.end;
        }
    }
    if (graphs != 1)
        return OND_OK;
    size_t n_init = 0;
    for (p = graph; p < gend && next_field(&p, gend, &f);)
        n_init += f.num == 5 && f.type == 2;
    size_t glen = strip_graph(graph, gend, b, NULL, NULL);
    if (glen >= (size_t)(gend - graph))
        return OND_OK; /* nothing to leave in the file, or malformed */
    s->len = (size_t)(gstart - b) + 1 + (size_t)varint_len(glen) + glen + (size_t)(end - gend);
    if (!(s->buf = malloc(s->len)) || !(s->spans = calloc(n_init + 1, sizeof *s->spans))) {
        ond_stripped_free(s);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate %zu bytes to unpack",
                        (size_t)(gstart - b) + glen);
    }
    s->n_spans = n_init;
    uint8_t *o = s->buf;
    memcpy(o, b, (size_t)(gstart - b));
    o = put(o + (gstart - b), 7, glen);
    strip_graph(graph, gend, b, o, s->spans);
    memcpy(o + glen, gend, (size_t)(end - gend));
    return OND_OK;
}

void ond_stripped_free(struct ond_stripped *s)
{
    free(s->buf);
    free(s->spans);
    memset(s, 0, sizeof *s);
}

/* ---- protobuf-c allocator with a byte budget ----
 * Every block is 64-byte aligned behind a 64-byte header, so the graph can take a tensor's
 * raw_data buffer over as its constant data (ond_adopt_raw) instead of copying it: the header
 * then says the block is the graph's, and freeing the message leaves it. The budget counts
 * whole blocks, header and rounding included, so many tiny messages cannot hide their cost. */
#define HEAD 64

struct head {
    size_t size;    /* of the whole block */
    bool adopted;
};

static void *budget_alloc(void *data, size_t size)
{
    struct ond_budget *b = data;
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
    struct ond_budget *b = data;
    if (!ptr)
        return;
    struct head *h = (struct head *)((char *)ptr - HEAD);
    b->used -= h->size;
    if (!h->adopted)
        free(h);
}

ProtobufCAllocator ond_budget_allocator(struct ond_budget *b)
{
    return (ProtobufCAllocator){budget_alloc, budget_free, b};
}

enum ond_status ond_adopt_raw(struct ond_graph *g, const ProtobufCBinaryData *raw,
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
