/* fused.c: the ai.ondine ops `ondine optimize -O2` writes for standard ops that carry post-ops:
 * FusedConv (Conv), FusedGemm (Gemm) and FusedAdd (Add), opset 1. A fused node has its base
 * op's attributes and inputs (an omitted optional input written as ""), the attributes post_ops
 * and post_params, and one more input per sum or add post-op (ops/postops.c). Also Swish,
 * HardSwish, Gelu and LayerNormalization, opset 1: ONNX's Swish-24, HardSwish-14, Gelu-20 and
 * LayerNormalization-17, which fuse_swish, fuse_gelu and fuse_layernorm make, written into
 * models whose ONNX opset is older than those.
 *
 * parse rebinds the node to its base op, at the opset whose semantics the fused op has: Conv
 * 11, Gemm 13 (C optional, broadcast to [M,N] one way), Add 14 (numpy broadcasting), Swish
 * 24, HardSwish 14, Gelu 20, LayerNormalization 17. A loaded
 * FusedConv is then the very Conv node with post-ops that the passes make in memory, and the
 * base op's infer, eval and prepare run it. */
#include <string.h>

#include "ops/op.h"

/* Bytes the loader reserves for the base op's parameters. */
#define BASE_PARAMS_MAX 512

struct fused {
    const char *name, *base;
    int opset, inputs;     /* base op's opset and number of inputs, optional ones included */
};

static const struct fused fused[] = {
    {"FusedConv", "Conv", 11, 3},
    {"FusedGemm", "Gemm", 13, 3},
    {"FusedAdd", "Add", 14, 2},
    {"Swish", "Swish", 24, 1},
    {"HardSwish", "HardSwish", 14, 1},
    {"Gelu", "Gelu", 20, 1},
    {"LayerNormalization", "LayerNormalization", 17, 3},
};

static const struct fused *find(const char *name)
{
    for (size_t i = 0; i < sizeof fused / sizeof fused[0]; i++)
        if (strcmp(fused[i].name, name) == 0)
            return &fused[i];
    return NULL;
}

static const struct ond_op *base_op(const struct fused *f)
{
    return f ? ond_op_find("", f->base, f->opset) : NULL;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    const struct fused *f = find(n->op->name);
    const struct ond_op *base = base_op(f);
    if (!base || base->params_size > BASE_PARAMS_MAX)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "no base op for %s", n->op->name);
    enum ond_status st = ond_post_parse(n, f->inputs, err);
    if (st)
        return st;
    n->op = base;
    n->op_type = base->name;
    n->domain = "";
    n->opset = f->opset;
    /* A base op without parameters must see none: some read n->params's presence (Add-1's
     * legacy broadcast against Add-7's numpy broadcast). */
    if (!base->params_size)
        n->params = NULL;
    return base->parse ? base->parse(n, params, err) : OND_OK;
}

/* The base op's infer. Loaded nodes never get here (parse rebinds them to the base op); the
 * entry is complete like every registry entry. */
static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_op *base = base_op(find(n->op->name));
    if (!base)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "no base op for %s", n->op->name);
    return base->infer(n, in, out, err);
}

#define FUSED(sym, op_name, min, inputs)                                             \
    const struct ond_op sym = {                                                      \
        .domain = "ai.ondine", .name = op_name, .since = 1,                          \
        .min_in = (min), .max_in = (inputs) + OND_MAX_POSTOPS, .min_out = 1,         \
        .max_out = 1, .params_size = BASE_PARAMS_MAX, .parse = parse, .infer = infer, \
    };
FUSED(ond_op_fused_conv, "FusedConv", 2, 3)
FUSED(ond_op_fused_gemm, "FusedGemm", 2, 3)
FUSED(ond_op_fused_add, "FusedAdd", 2, 2)
FUSED(ond_op_ondine_swish, "Swish", 1, 1)
FUSED(ond_op_ondine_hard_swish, "HardSwish", 1, 1)
FUSED(ond_op_ondine_gelu, "Gelu", 1, 1)
FUSED(ond_op_ondine_layer_norm, "LayerNormalization", 2, 3)
