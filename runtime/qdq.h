/* qdq.h: a graph rewritten into ONNX's QDQ form (qdq.c), for `ondine quantize`. */
#ifndef OND_QDQ_H
#define OND_QDQ_H

#include "runtime/ir.h"

/* Inserts QuantizeLinear/DequantizeLinear pairs into g for the activations that have a scale
 * in qscale/qunsigned (indexed by the ids of `scaled`'s tensors, matched to g's by name) and
 * int8 per-channel weights for the Convs that read them; counts both. g must import opset 13
 * or later (UNSUPPORTED otherwise). */
enum ond_status ond_qdq_insert(struct ond_graph *g, const struct ond_graph *scaled,
                               const float *qscale, const bool *qunsigned, int *n_pairs,
                               int *n_weights, struct ond_error *err);

#endif
