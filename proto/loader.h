/* loader.h: turning ONNX protobuf bytes into ondine's IR, and TensorProto files to and from
 * plain buffers. The only part of ondine that sees protobuf-c types is proto/. */
#ifndef OND_LOADER_H
#define OND_LOADER_H

#include "runtime/ir.h"

#define OND_MIN_IR_VERSION 3
#define OND_MAX_IR_VERSION 11
#define OND_MAX_OPSET 26

/* Builds a graph (nodes sorted, ops bound and their attributes parsed, types checked) from the
 * bytes of a ModelProto; shapes are not inferred (ond_load_graph in runtime/model.h does that).
 * dir: the folder external data resolves in (NULL: a model loaded from memory, which may not
 * reference external data). label names the source in messages. partial: unsupported ops are
 * recorded (g->unsupported) instead of failing, for inspection. mapped: buf is a mapping from
 * ond_map_file that the call takes over, success or not: the graph keeps it while Conv weights
 * point into it (OND_TENSOR_DEFERRED), else it is unmapped. */
enum ond_status ond_parse_graph(const void *buf, size_t len, const char *dir, const char *label,
                                const struct ond_options *opts, bool partial, bool mapped,
                                struct ond_graph **out, struct ond_error *err);

/* Reads a file whole, refusing one over max_bytes (0: no limit) before reading it. */
enum ond_status ond_read_file(const char *path, uint64_t max_bytes, void **buf, size_t *len,
                              struct ond_error *err);
/* The same as a private read-only mapping (NULL for an empty file), given back with
 * ond_unmap_file: no copy of the file in anonymous memory, which is how models are read.
 * Mapped whole up front (cheaper than a fault per 64 KB: 8 ms of ResNet-50's cold start);
 * the weights a graph leaves in it are read once, when a plan reorders them, and their
 * pages dropped then (ond_tensor_release), so the peak is the same. A file truncated
 * while it is mapped makes reading past its new end fault (SIGBUS), as in every runtime that
 * maps models (a loaded model keeps its file mapped). */
enum ond_status ond_map_file(const char *path, uint64_t max_bytes, void **buf, size_t *len,
                             struct ond_error *err);
void ond_unmap_file(void *buf, size_t len);

/* Fills t (dtype, dims, data) from a TensorProto message (no external data). */
struct Onnx__TensorProto;
enum ond_status ond_load_tensor_proto(struct ond_graph *g, const struct Onnx__TensorProto *tp,
                                      struct ond_tensor *t, struct ond_error *err);

/* A serialized TensorProto (backend test .pb files) to a value whose data is malloc'd (name
 * too, both freed with ond_values_free), and back. */
enum ond_status ond_tensor_proto_read(const char *path, struct ond_value *v,
                                      struct ond_error *err);
enum ond_status ond_tensor_proto_write(const char *path, const struct ond_value *v,
                                       struct ond_error *err);

#endif
