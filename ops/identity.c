/* identity.c: ONNX Identity, opsets 1, 13, 14, 16, 19, 21, 23, 24, 25 (19 and later only add
 * types), tensors of any type ondine holds. Sequence and optional inputs (opsets 14 and 16) are
 * not supported: test_identity_sequence and test_identity_opt are in tests/node_skip.txt. In a
 * session the output is a view of the input's buffer. */
#include "ops/op.h"
#include "runtime/exec.h"

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    if (!ond_dtype_supported(in[0]->dtype))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "type %s is not supported",
                             ond_dtype_name(in[0]->dtype));
    out[0] = *in[0];
    out[0].data = NULL;
    return OND_OK;
}

const struct ond_op ond_op_identity = {
    .domain = "", .name = "Identity", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = ond_copy_eval, .prepare = ond_prep_view,
    .quant = OND_QUANT_KEEP,
};
