/* wire.c: what the loader does before and around protobuf-c (proto/load.h): a scan of the
 * wire format that bounds message nesting before anything is unpacked (protobuf-c recurses
 * without a limit), the allocator with a byte budget that unpacking runs through (so hostile
 * bytes cannot exhaust memory; tensors may adopt its raw_data blocks instead of copying them),
 * and reading or mapping model files of bounded size. */
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
