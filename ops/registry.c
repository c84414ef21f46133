/* registry.c: the table of ops, built from ops.def, and lookup by (domain, name, opset).
 *
 * An entry covers its `since` version and every later opset up to the next entry of the same
 * op, and the newest entry covers every opset the loader accepts (OND_MAX_OPSET, 26). That is
 * right only while each ONNX version after an op's newest entry adds nothing but types: the
 * op files were checked against ONNX's operator sets through opset 25 (ONNX 1.20); opset 26
 * (ONNX 1.21) adds the new ops BitCast and CumProd and changes none of ondine's. Where a version changed semantics (Pad-19 wrap, AveragePool-19 dilations,
 * Cast-19 saturate, QuantizeLinear/DequantizeLinear 19-25), the op reads it by the node's
 * opset. Added types ondine does not hold (float8, int4/uint4, float4, int2/uint2) are refused
 * at load, naming type and node (proto/loader.c); an op refuses the held types it does not
 * compute in its infer. */
#include <string.h>

#include "ops/op.h"

#define OND_OP(sym) extern const struct ond_op sym;
#include "ops/ops.def"
#undef OND_OP

static const struct ond_op *const table[] = {
#define OND_OP(sym) &sym,
#include "ops/ops.def"
#undef OND_OP
};

static bool same_domain(const char *a, const char *b)
{
    if (strcmp(a, "ai.onnx") == 0)
        a = "";
    if (strcmp(b, "ai.onnx") == 0)
        b = "";
    return strcmp(a, b) == 0;
}

const struct ond_op *ond_op_find(const char *domain, const char *name, int64_t opset)
{
    const struct ond_op *best = NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const struct ond_op *op = table[i];
        if (op->since <= opset && strcmp(op->name, name) == 0 &&
            same_domain(op->domain, domain) && (!best || op->since > best->since))
            best = op;
    }
    return best;
}

bool ond_op_known(const char *domain, const char *name)
{
    return ond_op_find(domain, name, INT64_MAX) != NULL;
}

size_t ond_op_count(void)
{
    return sizeof table / sizeof table[0];
}

const struct ond_op *ond_op_at(size_t i)
{
    return i < ond_op_count() ? table[i] : NULL;
}
