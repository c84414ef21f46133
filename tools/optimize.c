/* optimize.c: `ondine optimize MODEL -o OUT.onnx`: loads a model, runs the optimization passes
 * of the level and writes the optimized graph as ONNX. At -O1 the result holds only standard
 * ONNX ops (BatchNormalization folded into Conv weights, constants folded), so other runtimes
 * and viewers open it; at -O2 fused nodes use ondine's ai.ondine domain (docs/passes.md), which
 * only ondine loads. */
#include <stdlib.h>
#include <string.h>

#include "proto/writer.h"
#include "runtime/model.h"
#include "tools/cli.h"

int cli_optimize(int argc, char **argv)
{
    const char *path = NULL, *out = NULL;
    struct ond_options o;
    ond_options_init(&o);
    const struct cli_opt rows[] = {
        {.names = "-o", .arg = "FILE", .set = cli_set_str, .target = &out,
         .help = "where to write the optimized model"},
        {.names = "-O0", .set = cli_set_level, .target = &o.opt_level,
         .help = "no pass: the model re-serialized"},
        {.names = "-O1", .set = cli_set_level, .target = &o.opt_level,
         .help = "cleanup and folding only: standard ONNX ops"},
        {.names = "-O2", .set = cli_set_level, .target = &o.opt_level,
         .help = "all fusions, ai.ondine ops (default)"},
        CLI_OPTS_COMMON(&o),
    };
    int rc = cli_parse_model("optimize", "usage: ondine optimize MODEL -o OUT.onnx [options]\n",
                             argc, argv, rows, CLI_ROWS(rows), &path, "no model given");
    if (rc == CLI_OK && !out)
        rc = cli_usage("optimize", "no output file given (-o OUT.onnx)");
    if (rc != CLI_OK) {
        free((void *)o.disabled_passes);
        return rc == CLI_HELP ? CLI_OK : rc;
    }
    struct ond_error err = {0};
    struct ond_model *m = NULL;
    enum ond_status st = ond_model_load_file(path, &o, &m, &err);
    if (!st)
        st = ond_write_model(m->graph, out, &err);
    if (st) {
        rc = cli_error("optimize", &err);
    } else {
        printf("%s: %d nodes -> %d at -O%d, written to %s\n", path, m->passes->loaded.total,
               m->passes->optimized.total, o.opt_level, out);
    }
    ond_model_free(m);
    free((void *)o.disabled_passes);
    return rc;
}
