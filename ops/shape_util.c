/* shape_util.c: shape rules several ops share (axes, broadcasting, elementwise outputs). */
#include "ops/op.h"

enum ond_status ond_axis(const struct ond_node *n, int64_t axis, int rank, int *out,
                         struct ond_error *err)
{
    if (axis < -rank || axis >= rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return OND_OK;
}

enum ond_status ond_broadcast(const struct ond_node *n, const struct ond_info *a,
                              const struct ond_info *b, struct ond_info *out,
                              struct ond_error *err)
{
    if (a->rank < 0 || b->rank < 0) {
        out->rank = -1;
        return OND_OK;
    }
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1)
            out->dims[i] = da;
        else if (da == 1)
            out->dims[i] = db;
        else if (da >= 0 && db >= 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "cannot broadcast dim %d: %lld vs %lld", i, (long long)da,
                                 (long long)db);
        else
            out->dims[i] = da >= 0 ? da : db >= 0 ? db : OND_DIM_UNKNOWN;
    }
    return OND_OK;
}

enum ond_status ond_require_float(const struct ond_node *n, const struct ond_info *in, int i,
                                  struct ond_error *err)
{
    if (in->dtype != OND_DTYPE_FLOAT)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "input %d is %s; only float is supported", i,
                             ond_dtype_name(in->dtype));
    return OND_OK;
}

enum ond_status ond_infer_same(const struct ond_node *n, const struct ond_info *const *in,
                               struct ond_info *out, struct ond_error *err)
{
    enum ond_status st = ond_require_float(n, in[0], 0, err);
    if (st)
        return st;
    out[0] = *in[0];
    out[0].data = NULL;
    return OND_OK;
}
