/* model.h: what a loaded model holds behind the public handle, for the CLI's inspection. */
#ifndef OND_MODEL_H
#define OND_MODEL_H

#include "runtime/ir.h"
#include "runtime/passes/passes.h"

struct ond_model {
    struct ond_graph *graph;
    struct ond_pass_report *passes;  /* what the optimization passes did at load */
};

/* Loads like ond_model_load_file (parse, infer, then the passes of opts), but with partial set a model with unsupported ops still
 * loads (listed in graph->unsupported) so it can be inspected; such a model cannot run. */
enum ond_status ond_model_load_file_ex(const char *path, const struct ond_options *opts,
                                       bool partial, struct ond_model **model,
                                       struct ond_error *err);

#endif
