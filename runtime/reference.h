/* reference.h: a plain-C interpreter of the IR that runs every node through its op's eval
 * in row-major layout. Slow and simple: the reference for tests, for bisecting a diverging
 * node, and the fallback kernel of ops that have no oneDNN path. */
#ifndef OND_REFERENCE_H
#define OND_REFERENCE_H

#include "runtime/ir.h"

/* Runs g on inputs (matched by name; every graph input once). outputs: g->n_outputs values
 * whose name and data are malloc'd (freed one by one); on failure none are left allocated.
 * If trace is not NULL it is called after each node with its outputs' infos, data included
 * (valid until the run returns; NULL for an omitted optional output). */
typedef void (*ond_trace_fn)(void *ctx, const struct ond_node *n, const struct ond_info *out);
enum ond_status ond_reference_run(const struct ond_graph *g, const struct ond_value *inputs,
                                  size_t n_inputs, struct ond_value *outputs, ond_trace_fn trace,
                                  void *trace_ctx, struct ond_error *err);

/* Checks a caller's input against a graph input: dtype, rank, fixed dims, buffer size. */
enum ond_status ond_check_input(const struct ond_graph *g, const struct ond_tensor *t,
                                const struct ond_value *v, struct ond_error *err);

#endif
