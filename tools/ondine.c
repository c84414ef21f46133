/* ondine.c: the command line's entry point: dispatches git-style verbs (docs/cli.md). */
#include <string.h>

#include "oneapi/dnnl/dnnl.h"
#include "tools/cli.h"

static const char usage[] =
    "usage: ondine VERB [options] MODEL\n"
    "\n"
    "verbs:\n"
    "  inspect   describe a model: inputs, outputs, ops, parameters, MACs, passes\n"
    "  optimize  write the optimized graph as ONNX\n"
    "  run       run one inference on given or random inputs\n"
    "  bench     latency, throughput and memory on random inputs\n"
    "  test      check a model against backend test folders' reference outputs\n"
    "  quantize  write an int8-calibrated model in ONNX's QDQ form\n"
    "  serve     serve models over HTTP (KServe v2 / Open Inference Protocol)\n"
    "\n"
    "ondine VERB --help for a verb's options; ondine --version for versions.\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        const dnnl_version_t *v = dnnl_version();
        printf("ondine %s (oneDNN %d.%d.%d)\n", ond_version(), v->major, v->minor, v->patch);
        return CLI_OK;
    }
    if (strcmp(argv[1], "inspect") == 0)
        return cli_inspect(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0)
        return cli_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "bench") == 0)
        return cli_bench(argc - 1, argv + 1);
    if (strcmp(argv[1], "optimize") == 0)
        return cli_optimize(argc - 1, argv + 1);
    if (strcmp(argv[1], "test") == 0)
        return cli_test(argc - 1, argv + 1);
    if (strcmp(argv[1], "quantize") == 0)
        return cli_quantize(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0)
        return cli_serve(argc - 1, argv + 1);
    fprintf(stderr, "ondine: unknown verb '%s'\n%s", argv[1], usage);
    return CLI_USAGE;
}
