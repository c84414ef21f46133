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

static const char help[] =
    "usage: ondine optimize MODEL -o OUT.onnx [-O0|-O1|-O2] [--disable-pass NAME]...\n"
    "  -o FILE              where to write the optimized model\n"
    "  -O0                  no pass: the model re-serialized\n"
    "  -O1                  cleanup and folding only: standard ONNX ops\n"
    "  -O2                  all fusions, ai.ondine ops (default)\n"
    "  --disable-pass NAME  skip one pass (repeatable; 'ondine inspect --passes' lists them)\n";

int cli_optimize(int argc, char **argv)
{
    const char *path = NULL, *out = NULL;
    struct ond_options o;
    ond_options_init(&o);
    const char **disabled = calloc((size_t)argc + 1, sizeof *disabled);
    int rc = disabled ? CLI_OK : CLI_FAIL;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        const char *a = argv[i];
        int c = cli_common_flag("optimize", argc, argv, &i, &o, disabled);
        if (c < 0)
            rc = CLI_USAGE;
        else if (c > 0)
            continue;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            free(disabled);
            return CLI_OK;
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc)
                rc = cli_usage("optimize", "-o needs a file name");
            else
                out = argv[++i];
        } else
            rc = cli_operand("optimize", a, &path);
    }
    if (rc == CLI_OK && !path)
        rc = cli_usage("optimize", "no model given");
    if (rc == CLI_OK && !out)
        rc = cli_usage("optimize", "no output file given (-o OUT.onnx)");
    if (rc != CLI_OK) {
        free(disabled);
        return rc;
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
    free(disabled);
    return rc;
}
