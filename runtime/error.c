/* error.c: writing and prefixing error messages (a node's naming the node), and the names of
 * statuses and dtypes. */
#include <stdio.h>
#include <string.h>

#include "runtime/ir.h"

enum ond_status ond_fail(struct ond_error *err, enum ond_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = st;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return st;
}

enum ond_status ond_node_fail(struct ond_error *err, const struct ond_node *n,
                              enum ond_status st, const char *fmt, ...)
{
    if (err) {
        char msg[sizeof err->message];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        ond_fail(err, st, "node '%s' (%s): %s", n->name, n->op_type, msg);
    }
    return st;
}

void ond_error_prefix(struct ond_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    size_t hl = strlen(head), cap = sizeof err->message;
    if (hl >= cap)
        hl = cap - 1;
    size_t ml = strnlen(err->message, cap - 1);
    if (hl + ml >= cap)
        ml = cap - 1 - hl;
    memmove(err->message + hl, err->message, ml);
    memcpy(err->message, head, hl);
    err->message[hl + ml] = 0;
}

const char *ond_status_name(enum ond_status st)
{
    switch (st) {
    case OND_OK: return "ok";
    case OND_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case OND_STATUS_INVALID_MODEL: return "invalid model";
    case OND_STATUS_UNSUPPORTED: return "unsupported";
    case OND_STATUS_INVALID_INPUT: return "invalid input";
    case OND_STATUS_LIMIT: return "limit exceeded";
    case OND_STATUS_IO: return "i/o error";
    case OND_STATUS_NO_MEMORY: return "out of memory";
    case OND_STATUS_BACKEND: return "backend error";
    }
    return "unknown status";
}

const char *ond_dtype_name(int32_t dtype)
{
    static const char *const names[] = {
        "undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
        "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
        "float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
        "float4e2m1", "float8e8m0", "uint2", "int2",
    };
    if (dtype < 0 || (size_t)dtype >= sizeof names / sizeof names[0])
        return "?";
    return names[dtype];
}
