/* attr.c: typed attribute access for ops' parse functions. Absent attributes take their
 * default; a present attribute of the wrong type is an error naming the node and attribute. */
#include <stdio.h>
#include <string.h>

#include "ops/op.h"

static const char *type_name(int type)
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS",
        "STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO",
        "TYPE_PROTOS",
    };
    return type >= 0 && type <= 14 ? names[type] : "?";
}

static const struct ond_attr *typed(const struct ond_node *n, const char *name, int type,
                                    enum ond_status *st, struct ond_error *err)
{
    const struct ond_attr *a = ond_node_attr(n, name);
    *st = OND_OK;
    if (a && a->type != type) {
        *st = ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                            "attribute '%s' must be %s, got %s", name, type_name(type),
                            type_name(a->type));
        return NULL;
    }
    return a;
}

enum ond_status ond_attr_int(const struct ond_node *n, const char *name, int64_t def,
                             int64_t *v, struct ond_error *err)
{
    enum ond_status st;
    const struct ond_attr *a = typed(n, name, OND_ATTR_INT, &st, err);
    *v = a ? a->i : def;
    return st;
}

enum ond_status ond_attr_float(const struct ond_node *n, const char *name, float def, float *v,
                               struct ond_error *err)
{
    enum ond_status st;
    const struct ond_attr *a = typed(n, name, OND_ATTR_FLOAT, &st, err);
    *v = a ? a->f : def;
    return st;
}

enum ond_status ond_attr_ints(const struct ond_node *n, const char *name, int64_t *v, int max,
                              int *count, struct ond_error *err)
{
    enum ond_status st;
    const struct ond_attr *a = typed(n, name, OND_ATTR_INTS, &st, err);
    *count = -1;
    if (!a)
        return st;
    if (a->n > (size_t)max)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute '%s' has %zu values, at most %d allowed", name, a->n,
                             max);
    if (a->n)
        memcpy(v, a->ints, sizeof *v * a->n);
    *count = (int)a->n;
    return OND_OK;
}

enum ond_status ond_attr_string(const struct ond_node *n, const char *name, const char *def,
                                const char **v, struct ond_error *err)
{
    enum ond_status st;
    const struct ond_attr *a = typed(n, name, OND_ATTR_STRING, &st, err);
    *v = a ? a->s : def;
    return st;
}
