/* load.h: the parts of the loader shared between proto/loader.c (graph building), proto/wire.c
 * (wire scan, parse budget, files) and proto/decode.c (tensors, value infos, attributes).
 * Private to proto/. */
#ifndef OND_LOAD_H
#define OND_LOAD_H

#include "onnx/onnx.pb-c.h"
#include "runtime/ir.h"

/* ---- wire.c ---- */
/* Scans a ModelProto's wire format along the recursive paths (graphs in attributes, nested
 * types, function bodies): 0, or -1 for malformed bytes, or 1 for nesting beyond max_depth. */
int ond_wire_scan(const void *buf, size_t len, int max_depth);

/* A model's bytes without its initializers' large raw_data payloads (OND_MIN_DEFERRED bytes
 * or more): buf (NULL: nothing left out) to unpack instead, spans[i] where initializer i's
 * payload is in the original bytes ({0, 0}: unpacked as usual). */
#define OND_MIN_DEFERRED 4096
struct ond_span {
    size_t off, len;
};
struct ond_stripped {
    uint8_t *buf;
    size_t len, n_spans;
    struct ond_span *spans;
};
enum ond_status ond_wire_strip(const void *buf, size_t len, struct ond_stripped *s,
                               struct ond_error *err);
void ond_stripped_free(struct ond_stripped *s);

/* A protobuf-c allocator that fails once `limit` bytes are held (exceeded then says so). */
struct ond_budget {
    size_t used, limit;
    bool exceeded;
};
ProtobufCAllocator ond_budget_allocator(struct ond_budget *b);
/* Gives the block behind raw_data (from an ond_budget_allocator) to t as its constant data. */
enum ond_status ond_adopt_raw(struct ond_graph *g, const ProtobufCBinaryData *raw,
                              struct ond_tensor *t, struct ond_error *err);

/* ---- decode.c ---- */
struct ond_load_ctx {
    struct ond_graph *g;
    const char *dir;   /* external data folder, NULL when loading from memory */
    const char *label;
    bool adopt;        /* the message was unpacked with an ond_budget_allocator: tensors may
                          adopt its raw_data buffers */
    const uint8_t *file; /* the mapped model file the graph keeps, or NULL */
};

/* Fills t (dtype, dims, constant data) from a TensorProto; span (or NULL): where its raw_data
 * lies in c->file, the message's own being empty (ond_wire_strip). */
enum ond_status ond_load_tensor(struct ond_load_ctx *c, const Onnx__TensorProto *tp,
                                const struct ond_span *span, struct ond_tensor *t,
                                struct ond_error *err);
/* t's dtype and dims from a value info; a type ondine cannot hold flags t BADTYPE. */
enum ond_status ond_load_type(struct ond_load_ctx *c, const Onnx__ValueInfoProto *vi,
                              struct ond_tensor *t, struct ond_error *err);
/* a from attribute ap of node n. */
enum ond_status ond_load_attr(struct ond_load_ctx *c, const struct ond_node *n,
                              const Onnx__AttributeProto *ap, struct ond_attr *a,
                              struct ond_error *err);

#endif
