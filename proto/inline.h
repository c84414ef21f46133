/* inline.h: model-local functions (ModelProto.functions) expanded into the main graph's node
 * list at load (proto/inline.c). Private to proto/. */
#ifndef OND_INLINE_H
#define OND_INLINE_H

#include "onnx/onnx.pb-c.h"
#include "runtime/ir.h"

/* One node of the flattened graph: a node of the main graph, or of a function body with its
 * inputs, outputs, name and attributes rewritten for the call site. */
struct ond_flat_node {
    const Onnx__NodeProto *np;
    int64_t opset;  /* the function's import of np's domain; -1: the model's */
};

struct ond_flat {
    struct ond_flat_node *nodes;  /* malloc'd; NodeProtos made here live in g's arena */
    size_t n, cap;
    Onnx__AttributeProto **defaults;  /* functions' default attributes, unpacked here */
    size_t n_defaults;
    bool inlined;  /* some node was a function call: attribute messages may be shared */
};

/* Expands every call of a model-local function in mp's graph (nested calls too) into f.
 * Bounds: g->opts.max_nodes nodes rewritten in all (calls included) (1 << 20 when unset and the
 * model has functions), g->opts.max_depth nested calls,
 * no recursion, and the graph arena's byte budget for the rewritten names. alloc unpacks the
 * functions' default attributes (freed with ond_flat_free). */
enum ond_status ond_inline_functions(struct ond_graph *g, const Onnx__ModelProto *mp,
                                     ProtobufCAllocator *alloc, struct ond_flat *f,
                                     struct ond_error *err);
void ond_flat_free(struct ond_flat *f, ProtobufCAllocator *alloc);

#endif
