/* quantize.c: `ondine quantize MODEL -o OUT.onnx [--calibrate DIR]`: static int8 quantization
 * written as an ONNX QDQ model. The model is calibrated as an int8 session would be (the -O2
 * graph's activation ranges over the calibration inputs, runtime/calibrate.c); the scales are
 * then written into the -O1 graph (standard ops only, BatchNormalization folded) as
 * QuantizeLinear/DequantizeLinear pairs, with int8 per-channel Conv weights (runtime/qdq.c).
 * ondine runs the result in int8 with `--precision int8` and the same scales; other runtimes
 * that read QDQ models run it too. A model that is quantized already (QDQ, or QLinear ops) is
 * refused with a message saying ondine keeps its scales. */
#include <stdlib.h>
#include <string.h>

#include "proto/writer.h"
#include "runtime/model.h"
#include "runtime/qdq.h"
#include "runtime/session.h"
#include "tools/cli.h"

int cli_quantize(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *calibrate = NULL;
    struct ond_options o;
    ond_options_init(&o);
    const struct cli_opt rows[] = {
        {.names = "-o", .arg = "FILE", .set = cli_set_str, .target = &out,
         .help = "where to write the QDQ model"},
        {.names = "--calibrate", .arg = "DIR", .set = cli_set_str, .target = &calibrate,
         .help = "calibration inputs: test_data_set_* folders or one .pb/.npy per set\n"
                 "(default: seeded random inputs, with a warning)"},
        {.names = "--threads", .arg = "N", .set = cli_set_int, .target = &o.threads, .min = 0,
         .max = 4096, .help = "threads for calibration (default: all cores)"},
    };
    int rc = cli_parse_model("quantize", "usage: ondine quantize MODEL -o OUT.onnx [options]\n",
                             argc, argv, rows, CLI_ROWS(rows), &path, "no model given");
    if (rc == CLI_OK && !out)
        rc = cli_usage("quantize", "no output file given (-o OUT.onnx)");
    if (rc != CLI_OK)
        return rc == CLI_HELP ? CLI_OK : rc;
    struct ond_error err = {0};
    struct ond_model *m1 = NULL, *m2 = NULL;
    struct ond_value *sets = NULL;
    size_t n_sets = 0;
    float *qscale = NULL;
    bool *qunsigned = NULL;
    int pairs = 0, convs = 0;
    struct ond_options o1 = o;
    o1.opt_level = 1;
    enum ond_status st = ond_model_load_file(path, &o, &m2, &err);
    if (!st)
        st = ond_model_load_file(path, &o1, &m1, &err);
    if (st) {
        rc = cli_error("quantize", &err);
        goto done;
    }
    /* A QDQ model states its own scales: an int8 session keeps them, and new pairs beside
     * the model's would quantize twice. */
    int stated = 0;
    for (int i = 0; i < m1->graph->n_nodes; i++)
        stated += strcmp(m1->graph->nodes[i]->op_type, "QuantizeLinear") == 0;
    if (stated) {
        fprintf(stderr, "ondine quantize: %s is quantized already (%d QuantizeLinear nodes): "
                "ondine keeps the model's scales (run it with --precision int8); nothing "
                "written\n", path, stated);
        rc = CLI_FAIL;
        goto done;
    }
    if (!calibrate)
        fprintf(stderr, "ondine quantize: warning: calibrated on seeded random inputs; accuracy "
                "needs real data (--calibrate DIR)\n");
    else if (cli_calibration("quantize", calibrate, m2, &sets, &n_sets)) {
        rc = CLI_FAIL;
        goto done;
    }
    o.calibration = sets;
    o.n_calibration_sets = n_sets;
    if ((st = ond_calibrate(m2, &o, &qscale, &qunsigned, &err)) ||
        (st = ond_qdq_insert(m1->graph, m2->graph, qscale, qunsigned, &pairs, &convs, &err)) ||
        (st = ond_write_model(m1->graph, out, &err)))
        rc = cli_error("quantize", &err);
    else
        printf("%s: %d activations and the weights of %d convolutions quantized, calibrated "
               "on %s, written to %s\n", path, pairs, convs,
               calibrate ? calibrate : "seeded random inputs", out);
done:
    ond_values_free(sets, n_sets * (m2 ? ond_model_input_count(m2) : 0));
    free(qscale);
    free(qunsigned);
    ond_model_free(m1);
    ond_model_free(m2);
    return rc;
}
