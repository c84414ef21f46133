/* model.h: what a loaded model holds behind the public handle (for the runtime and the CLI's
 * inspection), and loading a graph. */
#ifndef OND_MODEL_H
#define OND_MODEL_H

#include "runtime/ir.h"
#include "runtime/passes/passes.h"

struct ond_model {
    struct ond_graph *graph;
    struct ond_pass_report *passes;  /* what the optimization passes did at load */
};

/* A graph from the bytes of a ModelProto, ready for the passes: parsed (proto/loader.h's
 * ond_parse_graph, with the same arguments), shapes inferred, validated. */
enum ond_status ond_load_graph(const void *buf, size_t len, const char *dir, const char *label,
                               const struct ond_options *opts, bool partial,
                               struct ond_graph **out, struct ond_error *err);

/* Loads like ond_model_load_file (parse, infer, then the passes of opts), but with partial set a model with unsupported ops still
 * loads (listed in graph->unsupported) so it can be inspected; such a model cannot run. */
enum ond_status ond_model_load_file_ex(const char *path, const struct ond_options *opts,
                                       bool partial, struct ond_model **model,
                                       struct ond_error *err);

#endif
