/* options.c: the defaults of struct ond_options (ondine.h), which every layer that loads or
 * runs a model without options given falls back to. */
#include <string.h>

#include "runtime/ir.h"

void ond_options_init(struct ond_options *o)
{
    memset(o, 0, sizeof *o);
    o->opt_level = 2;
    o->precision = OND_PRECISION_FP32;
    /* Well above what CNNs need (ResNet-50 at batch 256 holds 3.4 GiB of weights and
     * activations, its largest tensor has 205M elements), low enough that a hostile file
     * cannot take a machine's memory. */
    o->max_file_bytes = 2ull << 30;          /* protobuf's own limit */
    o->max_tensor_elements = 1ull << 30;
    o->max_total_bytes = 8ull << 30;
    o->max_nodes = 1 << 20;
    o->max_depth = 64;
    o->max_plan_cache_bytes = 1ull << 30;
}
