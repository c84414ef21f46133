/* tensor_file.c: single TensorProto files (the input_N.pb / output_N.pb of ONNX backend test
 * folders) to and from plain values. Reading reuses the model loader's tensor checks by
 * loading the tensor into a scratch graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.pb-c.h"
#include "proto/loader.h"

enum ond_status ond_tensor_proto_read(const char *path, struct ond_value *v, struct ond_error *err)
{
    void *buf = NULL;
    size_t len = 0;
    memset(v, 0, sizeof *v);
    enum ond_status st = ond_read_file(path, 2ull << 30, &buf, &len, err);
    if (st)
        return st;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "%s: not a TensorProto", path);
    struct ond_graph *g = NULL;
    struct ond_tensor *t = NULL;
    if (!(st = ond_graph_create(NULL, &g, err)) &&
        (t = ond_graph_add_tensor(g, tp->name && *tp->name ? tp->name : "tensor", err)))
        st = ond_load_tensor_proto(g, tp, t, err);
    else if (!st)
        st = err ? err->status : OND_STATUS_NO_MEMORY;
    if (!st) {
        v->name = strdup(t->name);
        v->dtype = t->info.dtype;
        v->rank = t->info.rank;
        memcpy(v->dims, t->info.dims, sizeof v->dims);
        v->size = t->nbytes;
        v->data = malloc(t->nbytes ? t->nbytes : 1);
        if (!v->name || !v->data) {
            free((void *)v->name);
            free(v->data);
            memset(v, 0, sizeof *v);
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "%s: cannot allocate", path);
        } else if (t->nbytes) {
            memcpy(v->data, t->info.data, t->nbytes);
        }
    }
    if (st)
        ond_error_prefix(err, "%s: ", path);
    ond_graph_free(g);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

enum ond_status ond_tensor_proto_write(const char *path, const struct ond_value *v,
                                       struct ond_error *err)
{
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[OND_MAX_RANK];
    memcpy(dims, v->dims, sizeof dims);
    tp.n_dims = (size_t)v->rank;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = v->dtype;
    tp.name = (char *)(v->name ? v->name : "");
    tp.has_raw_data = 1;
    tp.raw_data.len = v->size;
    tp.raw_data.data = v->data;
    size_t len = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate %zu bytes", len);
    onnx__tensor_proto__pack(&tp, buf);
    FILE *f = fopen(path, "wb");
    enum ond_status st = OND_OK;
    if (!f || fwrite(buf, 1, len, f) != len)
        st = ond_fail(err, OND_STATUS_IO, "cannot write '%s'", path);
    if (f && fclose(f) != 0 && !st)
        st = ond_fail(err, OND_STATUS_IO, "cannot write '%s'", path);
    free(buf);
    return st;
}

void ond_values_free(struct ond_value *values, size_t n)
{
    if (!values)
        return;
    for (size_t i = 0; i < n; i++) {
        free((void *)values[i].name);
        free(values[i].data);
    }
    free(values);
}
