/* util.c: see util.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "tests/util.h"

struct tm {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    void **allocs;
    size_t n_allocs, cap_allocs;
};

void *tm_alloc(struct tm *m, size_t size)
{
    if (m->n_allocs == m->cap_allocs) {
        m->cap_allocs = m->cap_allocs ? m->cap_allocs * 2 : 64;
        m->allocs = realloc(m->allocs, sizeof *m->allocs * m->cap_allocs);
        assert_non_null(m->allocs);
    }
    void *p = calloc(1, size ? size : 1);
    assert_non_null(p);
    m->allocs[m->n_allocs++] = p;
    return p;
}

char *tm_str(struct tm *m, const char *s)
{
    char *p = tm_alloc(m, strlen(s) + 1);
    strcpy(p, s);
    return p;
}

/* Appends item to a protobuf-c repeated pointer field (array grown in the model's arena). */
#define PUSH(m, count, arr, item)                                                  \
    do {                                                                           \
        void *np_ = tm_alloc((m), sizeof *(arr) * ((count) + 1));                  \
        if (count)                                                                 \
            memcpy(np_, (arr), sizeof *(arr) * (count));                           \
        (arr) = np_;                                                               \
        (arr)[(count)++] = (item);                                                 \
    } while (0)

struct tm *tm_new(int64_t ir_version, int64_t opset)
{
    struct tm *m = calloc(1, sizeof *m);
    assert_non_null(m);
    onnx__model_proto__init(&m->model);
    onnx__graph_proto__init(&m->graph);
    onnx__operator_set_id_proto__init(&m->opset);
    m->model.has_ir_version = 1;
    m->model.ir_version = ir_version;
    m->model.graph = &m->graph;
    m->model.producer_name = "ondine-tests";
    m->graph.name = "test";
    m->opset.domain = "";
    m->opset.has_version = 1;
    m->opset.version = opset;
    m->opsets[0] = &m->opset;
    m->model.opset_import = m->opsets;
    m->model.n_opset_import = 1;
    return m;
}

Onnx__ModelProto *tm_proto(struct tm *m) { return &m->model; }
Onnx__GraphProto *tm_graph(struct tm *m) { return &m->graph; }

static Onnx__ValueInfoProto *value_info(struct tm *m, const char *name, int32_t dtype, int rank,
                                        const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = tm_alloc(m, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = tm_str(m, name);
    if (dtype == 0)
        return vi;
    Onnx__TypeProto *tp = tm_alloc(m, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = tm_alloc(m, sizeof *tt);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    tt->has_elem_type = 1;
    tt->elem_type = dtype;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sh = tm_alloc(m, sizeof *sh);
        onnx__tensor_shape_proto__init(sh);
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *d = tm_alloc(m, sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            if (dims[i] >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = "N";
            }
            PUSH(m, sh->n_dim, sh->dim, d);
        }
        tt->shape = sh;
    }
    return vi;
}

Onnx__ValueInfoProto *tm_input(struct tm *m, const char *name, int32_t dtype, int rank,
                               const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = value_info(m, name, dtype, rank, dims);
    PUSH(m, m->graph.n_input, m->graph.input, vi);
    return vi;
}

Onnx__ValueInfoProto *tm_output(struct tm *m, const char *name)
{
    Onnx__ValueInfoProto *vi = value_info(m, name, 0, -1, NULL);
    PUSH(m, m->graph.n_output, m->graph.output, vi);
    return vi;
}

Onnx__TensorProto *tm_tensor(struct tm *m, int32_t dtype, int rank, const int64_t *dims,
                             const void *data)
{
    Onnx__TensorProto *t = tm_alloc(m, sizeof *t);
    onnx__tensor_proto__init(t);
    t->has_data_type = 1;
    t->data_type = dtype;
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        PUSH(m, t->n_dims, t->dims, dims[i]);
        n *= (size_t)dims[i];
    }
    size_t bytes = n * ond_dtype_size(dtype);
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = tm_alloc(m, bytes);
    if (data && bytes)
        memcpy(t->raw_data.data, data, bytes);
    return t;
}

Onnx__TensorProto *tm_init(struct tm *m, const char *name, int32_t dtype, int rank,
                           const int64_t *dims, const void *data)
{
    Onnx__TensorProto *t = tm_tensor(m, dtype, rank, dims, data);
    t->name = tm_str(m, name);
    PUSH(m, m->graph.n_initializer, m->graph.initializer, t);
    return t;
}

static void split(struct tm *m, const char *list, size_t *count, char ***arr)
{
    if (!list)
        return;
    char *s = tm_str(m, list);
    /* Empty items stay: they are omitted optional inputs. */
    for (char *p = s;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        PUSH(m, *count, *arr, p);
        if (!comma)
            break;
        p = comma + 1;
    }
}

Onnx__NodeProto *tm_node(struct tm *m, const char *op, const char *name, const char *inputs,
                         const char *outputs)
{
    Onnx__NodeProto *n = tm_alloc(m, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = tm_str(m, op);
    n->name = tm_str(m, name ? name : "");
    n->domain = "";
    if (inputs && *inputs)
        split(m, inputs, &n->n_input, &n->input);
    split(m, outputs, &n->n_output, &n->output);
    PUSH(m, m->graph.n_node, m->graph.node, n);
    return n;
}

static Onnx__AttributeProto *attr(struct tm *m, Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = tm_alloc(m, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = tm_str(m, name);
    a->has_type = 1;
    a->type = type;
    PUSH(m, n->n_attribute, n->attribute, a);
    return a;
}

void tm_attr_int(struct tm *m, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void tm_attr_float(struct tm *m, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void tm_attr_ints(struct tm *m, Onnx__NodeProto *n, const char *name, int count,
                  const int64_t *v)
{
    Onnx__AttributeProto *a = attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    for (int i = 0; i < count; i++)
        PUSH(m, a->n_ints, a->ints, v[i]);
}

void tm_attr_string(struct tm *m, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)tm_str(m, v);
    a->s.len = strlen(v);
}

void tm_attr_tensor(struct tm *m, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t)
{
    Onnx__AttributeProto *a = attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = t;
}

uint8_t *tm_pack(struct tm *m, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&m->model);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    onnx__model_proto__pack(&m->model, buf);
    return buf;
}

void tm_free(struct tm *m)
{
    for (size_t i = 0; i < m->n_allocs; i++)
        free(m->allocs[i]);
    free(m->allocs);
    free(m);
}

enum ond_status tm_load(struct tm *m, struct ond_graph **g, struct ond_error *err)
{
    size_t len;
    uint8_t *buf = tm_pack(m, &len);
    *g = NULL;
    enum ond_status st = ond_load_graph(buf, len, NULL, "test", NULL, false, g, err);
    free(buf);
    return st;
}

struct ond_graph *tm_load_ok(struct tm *m)
{
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    enum ond_status st = tm_load(m, &g, &err);
    if (st)
        print_error("load: %s\n", err.message);
    assert_int_equal(st, OND_OK);
    tm_free(m);
    return g;
}

void tm_load_fails(struct tm *m, enum ond_status want, const char *substr)
{
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_error(tm_load(m, &g, &err), want, &err, substr);
    assert_null(g);
    tm_free(m);
}

struct ond_model *tm_load_model(struct tm *m, int opt_level)
{
    size_t len;
    uint8_t *buf = tm_pack(m, &len);
    struct ond_model *model = NULL;
    struct ond_error err = {0};
    struct ond_options o;
    ond_options_init(&o);
    o.opt_level = opt_level;
    if (ond_model_load_buffer(buf, len, &o, &model, &err))
        fail_msg("load: %s", err.message);
    free(buf);
    tm_free(m);
    return model;
}

static uint64_t rng = 1;

void ond_test_seed(uint64_t s)
{
    rng = s * 0x9e3779b97f4a7c15ull + 1;
}

/* xorshift64, its top 52 bits as the fraction. */
float ond_test_frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / (double)(1ull << 52) - 1.0);
}

void tm_init_rand(struct tm *m, const char *name, int rank, const int64_t *dims, float lo,
                  float hi)
{
    size_t n = ond_test_numel(rank, dims);
    float *v = tm_alloc(m, sizeof *v * n);
    for (size_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * (ond_test_frand() + 1.f) / 2.f;
    tm_init(m, name, OND_DTYPE_FLOAT, rank, dims, v);
}

void tm_conv3x3(struct tm *m, const char *x, const char *y, int64_t cin, int64_t cout,
                float w_range, float b_range)
{
    char w[64], b[64], in[200];
    int64_t wd[] = {cout, cin, 3, 3}, pads[] = {1, 1, 1, 1};
    snprintf(w, sizeof w, "%s_w", y);
    snprintf(b, sizeof b, "%s_b", y);
    tm_init_rand(m, w, 4, wd, -w_range, w_range);
    tm_init_rand(m, b, 1, &cout, -b_range, b_range);
    snprintf(in, sizeof in, "%s,%s,%s", x, w, b);
    Onnx__NodeProto *n = tm_node(m, "Conv", y, in, y);
    tm_attr_ints(m, n, "pads", 4, pads);
}

size_t ond_test_numel(int rank, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    return n;
}

struct ond_value ond_test_value(const char *name, int32_t dtype, int rank, const int64_t *dims,
                                const void *data)
{
    struct ond_value v = {.name = name, .dtype = dtype, .rank = rank, .data = (void *)data,
                          .size = ond_test_numel(rank, dims) * ond_dtype_size(dtype)};
    for (int i = 0; i < rank; i++)
        v.dims[i] = dims[i];
    return v;
}

void ond_test_assert_error(enum ond_status st, enum ond_status want, const struct ond_error *err,
                           const char *substr, const char *file, int line)
{
    if (st != want || !strstr(err->message, substr)) {
        print_error("%s:%d: status %d (want %d), message \"%s\" (want \"%s\")\n", file, line,
                    (int)st, (int)want, err->message, substr);
        _fail(file, line);
    }
}

void ond_test_assert_close(const float *got, const float *want, size_t n, float rtol, float atol,
                           const char *file, int line)
{
    size_t worst = 0;
    double worst_excess = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]), tol = atol + rtol * fabs((double)want[i]);
        bool nan_ok = isnan(got[i]) && isnan(want[i]);
        if (!nan_ok && !(diff <= tol)) {
            if (!bad || diff - tol > worst_excess) {
                worst = i;
                worst_excess = diff - tol;
            }
            bad++;
        }
    }
    if (bad) {
        print_error("%s:%d: %d of %zu elements differ; worst at %zu: got %g, want %g\n", file,
                    line, bad, n, worst, got[worst], want[worst]);
        _fail(file, line);
    }
}
