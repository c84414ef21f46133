/* writer.h: ondine's IR back to ONNX, for `ondine optimize`. The only other part of ondine that
 * sees protobuf-c types (with loader.c).
 *
 * The written model has the graph's inputs, outputs, opset imports and IR version; its nodes in
 * order, with their attributes as loaded; every constant a node reads (or a graph output) as an
 * initializer with raw_data. A graph optimized at -O1 holds only standard ONNX ops; post-ops and
 * ondine's own ops (-O2) are written in the ai.ondine domain (docs/passes.md), which ondine's
 * loader reads back. Attributes the loader does not keep (graphs, sparse tensors, type protos)
 * cannot be written: UNSUPPORTED. External data is not written: the model must fit in one
 * protobuf message (2 GB). */
#ifndef OND_WRITER_H
#define OND_WRITER_H

#include "runtime/ir.h"

/* The serialized ModelProto of g in a malloc'd buffer. */
enum ond_status ond_write_model_buffer(const struct ond_graph *g, uint8_t **buf, size_t *len,
                                       struct ond_error *err);
/* The same, written to path: to a new file in its folder, renamed over path (a model loaded
 * from path keeps reading the old file). */
enum ond_status ond_write_model(const struct ond_graph *g, const char *path,
                                struct ond_error *err);

#endif
