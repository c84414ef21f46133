/* serve_json.c: `ondine serve`'s tensors in the Open Inference Protocol's JSON: datatypes
 * (FP32, INT64, ...) against ondine's dtypes, request inputs read from `data` (flat or nested,
 * each value checked against its type's range) or from the binary tensor data extension, and
 * outputs written as flat `data` or metadata. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/serve.h"

static const struct {
    int32_t dtype;
    const char *name;
    size_t bytes;
} kinds[] = {
    {OND_DTYPE_FLOAT, "FP32", 4},  {OND_DTYPE_DOUBLE, "FP64", 8}, {OND_DTYPE_INT64, "INT64", 8},
    {OND_DTYPE_INT32, "INT32", 4}, {OND_DTYPE_INT16, "INT16", 2}, {OND_DTYPE_INT8, "INT8", 1},
    {OND_DTYPE_UINT8, "UINT8", 1}, {OND_DTYPE_UINT16, "UINT16", 2},
    {OND_DTYPE_UINT32, "UINT32", 4}, {OND_DTYPE_UINT64, "UINT64", 8},
    {OND_DTYPE_BOOL, "BOOL", 1},   {OND_DTYPE_FLOAT16, "FP16", 2},
    {OND_DTYPE_BFLOAT16, "BF16", 2},
};

static int kind_of(int32_t dtype)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].dtype == dtype)
            return (int)i;
    return -1;
}

json_t *serve_tensor_meta(const struct ond_value *v)
{
    json_t *shape = json_array();
    for (int d = 0; d < v->rank; d++)
        json_array_append_new(shape, json_integer(v->dims[d] < 0 ? -1 : v->dims[d]));
    int k = kind_of(v->dtype);
    return json_pack("{s:s,s:s,s:o}", "name", v->name, "datatype", k >= 0 ? kinds[k].name : "?",
                     "shape", shape);
}

/* One JSON number or bool into element i of a buffer of the given kind. */
static bool store(const json_t *e, int k, void *buf, uint64_t i)
{
    double d;
    if (json_is_boolean(e))
        d = json_is_true(e);
    else if (json_is_integer(e))
        d = (double)json_integer_value(e);
    else if (json_is_real(e))
        d = json_real_value(e);
    else
        return false;
    switch (kinds[k].dtype) {
    case OND_DTYPE_FLOAT: ((float *)buf)[i] = (float)d; return true;
    case OND_DTYPE_DOUBLE: ((double *)buf)[i] = d; return true;
    case OND_DTYPE_BOOL: ((uint8_t *)buf)[i] = d != 0; return true;
    default: break;
    }
    if (!json_is_integer(e) && !json_is_boolean(e))
        return false;
    json_int_t v = json_is_integer(e) ? json_integer_value(e) : (json_int_t)d;
    switch (kinds[k].dtype) {
    case OND_DTYPE_INT64: ((int64_t *)buf)[i] = v; return true;
    case OND_DTYPE_UINT64: ((uint64_t *)buf)[i] = (uint64_t)v; return v >= 0;
    case OND_DTYPE_INT32: ((int32_t *)buf)[i] = (int32_t)v; return v >= INT32_MIN && v <= INT32_MAX;
    case OND_DTYPE_UINT32: ((uint32_t *)buf)[i] = (uint32_t)v; return v >= 0 && v <= UINT32_MAX;
    case OND_DTYPE_INT16: ((int16_t *)buf)[i] = (int16_t)v; return v >= INT16_MIN && v <= INT16_MAX;
    case OND_DTYPE_UINT16: ((uint16_t *)buf)[i] = (uint16_t)v; return v >= 0 && v <= UINT16_MAX;
    case OND_DTYPE_INT8: ((int8_t *)buf)[i] = (int8_t)v; return v >= INT8_MIN && v <= INT8_MAX;
    case OND_DTYPE_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; return v >= 0 && v <= UINT8_MAX;
    default: return false;
    }
}

/* Flattens `data` (flat or nested arrays, at most depth deep) into buf; *at counts elements.
 * False with msg set on a non-number, a value out of the type's range, or too many values. */
static bool flatten(const json_t *data, int depth, int k, void *buf, uint64_t n, uint64_t *at,
                    char *msg, size_t len)
{
    if (!json_is_array(data)) {
        if (*at >= n) {
            snprintf(msg, len, "more values than the shape holds (%llu)", (unsigned long long)n);
            return false;
        }
        if (!store(data, k, buf, *at)) {
            snprintf(msg, len, "value %llu is not a %s", (unsigned long long)*at, kinds[k].name);
            return false;
        }
        (*at)++;
        return true;
    }
    if (depth <= 0) {
        snprintf(msg, len, "data is nested deeper than the shape");
        return false;
    }
    for (size_t i = 0; i < json_array_size(data); i++)
        if (!flatten(json_array_get(data, i), depth - 1, k, buf, n, at, msg, len))
            return false;
    return true;
}

unsigned serve_read_input(uint64_t max_elements, const json_t *t, const struct ond_value *decl,
                          struct ond_value *v, const char **bin, size_t *bin_left, char *msg,
                          size_t len)
{
    const char *dt = json_string_value(json_object_get(t, "datatype"));
    const json_t *shape = json_object_get(t, "shape");
    int k = kind_of(decl->dtype);
    if (k < 0)
        return snprintf(msg, len, "input '%s' has a type the server cannot take", decl->name), 400;
    if (!dt || strcmp(dt, kinds[k].name) != 0)
        return snprintf(msg, len, "input '%s' has datatype %s, the model takes %s", decl->name,
                        dt ? dt : "(none)", kinds[k].name), 400;
    if (!json_is_array(shape) || (int)json_array_size(shape) != decl->rank)
        return snprintf(msg, len, "input '%s' needs a shape of rank %d", decl->name, decl->rank),
               400;
    uint64_t n = 1;
    *v = *decl;
    for (int d = 0; d < decl->rank; d++) {
        const json_t *e = json_array_get(shape, (size_t)d);
        json_int_t x = json_is_integer(e) ? json_integer_value(e) : -1;
        if (x < 0 || (decl->dims[d] >= 0 && x != decl->dims[d]))
            return snprintf(msg, len, "input '%s' dim %d is %lld, the model takes %lld",
                            decl->name, d, (long long)x, (long long)decl->dims[d]), 400;
        v->dims[d] = x;
        if (__builtin_mul_overflow(n, (uint64_t)x, &n) || n > max_elements)
            return snprintf(msg, len, "input '%s' has more than %llu elements", decl->name,
                            (unsigned long long)max_elements), 413;
    }
    v->size = (size_t)n * kinds[k].bytes;
    if (!(v->data = calloc(1, v->size ? v->size : 1)))
        return snprintf(msg, len, "out of memory for input '%s'", decl->name), 503;
    const json_t *bsize = json_object_get(json_object_get(t, "parameters"), "binary_data_size");
    if (bsize) {
        json_int_t b = json_integer_value(bsize);
        if (!json_is_integer(bsize) || b < 0 || (size_t)b != v->size || (size_t)b > *bin_left)
            return snprintf(msg, len, "input '%s': binary_data_size %lld, its shape needs %zu "
                            "bytes (%zu left in the body)", decl->name, (long long)b, v->size,
                            *bin_left), 400;
        memcpy(v->data, *bin, v->size);
        *bin += v->size;
        *bin_left -= v->size;
        return 0;
    }
    const json_t *data = json_object_get(t, "data");
    uint64_t at = 0;
    if (!data)
        return snprintf(msg, len, "input '%s' has no data", decl->name), 400;
    if (!flatten(data, decl->rank, k, v->data, n, &at, msg, len))
        return 400;
    if (at != n)
        return snprintf(msg, len, "input '%s' has %llu values, its shape holds %llu", decl->name,
                        (unsigned long long)at, (unsigned long long)n), 400;
    return 0;
}

json_t *serve_values_json(const struct ond_value *v)
{
    uint64_t n = 1;
    json_t *a = json_array();
    for (int d = 0; d < v->rank; d++)
        n *= (uint64_t)v->dims[d];
    for (uint64_t i = 0; i < n; i++) {
        json_t *e;
        switch (v->dtype) {
        case OND_DTYPE_FLOAT: e = json_real(((const float *)v->data)[i]); break;
        case OND_DTYPE_DOUBLE: e = json_real(((const double *)v->data)[i]); break;
        case OND_DTYPE_INT64: e = json_integer(((const int64_t *)v->data)[i]); break;
        case OND_DTYPE_INT32: e = json_integer(((const int32_t *)v->data)[i]); break;
        case OND_DTYPE_INT8: e = json_integer(((const int8_t *)v->data)[i]); break;
        case OND_DTYPE_UINT8: e = json_integer(((const uint8_t *)v->data)[i]); break;
        case OND_DTYPE_BOOL: e = json_boolean(((const uint8_t *)v->data)[i]); break;
        default: json_decref(a); return NULL;
        }
        json_array_append_new(a, e);
    }
    return a;
}

