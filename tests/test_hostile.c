/* test_hostile.c: the corruption matrix of shared/design/hostile-inputs.md items 22-25 (and
 * the zero-element part of 12) through the public API: computation bombs rejected against
 * the limits at load and at planning, run-time inputs that do not fit the model,
 * data-dependent indices out of range, and NaN/Inf/denormal data through sessions; also
 * window arithmetic at int64 extremes (21) and bombs of many small things that cost time or
 * memory out of proportion to the file (5, 22). Each case asserts the status and a substring
 * of the message; run under ASan/LSan (make sanitize), every error path must also be
 * leak-free. Items 1-21 are in test_loader.c. */
#include <float.h>
#include <math.h>

#include "runtime/reference.h"
#include "runtime/model.h"
#include "tests/util.h"

#define F OND_DTYPE_FLOAT
#define I64 OND_DTYPE_INT64

/* Packs and loads m (freed) with options o (NULL: defaults). */
static enum ond_status load_model(struct tm *m, const struct ond_options *o,
                                  struct ond_model **model, struct ond_error *err)
{
    size_t len;
    uint8_t *buf = tm_pack(m, &len);
    enum ond_status st = ond_model_load_buffer(buf, len, o, model, err);
    free(buf);
    tm_free(m);
    return st;
}

static struct ond_model *load_ok(struct tm *m, const struct ond_options *o)
{
    struct ond_model *model = NULL;
    struct ond_error err = {0};
    if (load_model(m, o, &model, &err))
        fail_msg("load: %s", err.message);
    return model;
}

static struct ond_session *session_ok(const struct ond_model *model)
{
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    struct ond_options o;
    ond_options_init(&o);
    o.threads = 1;
    if (ond_session_create(model, &o, &s, &err))
        fail_msg("session: %s", err.message);
    return s;
}

static void load_fails(struct tm *m, const struct ond_options *o, enum ond_status want,
                       const char *substr)
{
    struct ond_model *model = NULL;
    struct ond_error err = {0};
    assert_error(load_model(m, o, &model, &err), want, &err, substr);
    assert_null(model);
}

/* A ConstantOfShape node "cos" of a constant int64 shape, its output a graph output. */
static struct tm *constant_of_shape(int rank, const int64_t *shape)
{
    struct tm *m = tm_new(8, 13);
    tm_init(m, "shape", I64, 1, (int64_t[]){rank}, shape);
    tm_node(m, "ConstantOfShape", "cos", "shape", "y");
    tm_output(m, "y");
    return m;
}

/* 22: a few bytes of constant shape must not turn into a huge allocation. */
static void test_load_time_bombs(void **state)
{
    (void)state;
    /* 2^40 elements: over max_tensor_elements at load, before anything is evaluated. */
    load_fails(constant_of_shape(2, (int64_t[]){1 << 20, 1 << 20}), NULL, OND_STATUS_LIMIT,
               "node 'cos' (ConstantOfShape): output 0 (float[1048576,1048576]) has more than");
    load_fails(constant_of_shape(2, (int64_t[]){1 << 20, 1 << 20}), NULL, OND_STATUS_LIMIT,
               "elements (max_tensor_elements)");
    /* Overflowing the element count entirely. */
    load_fails(constant_of_shape(3, (int64_t[]){INT64_MAX, INT64_MAX, 2}), NULL,
               OND_STATUS_LIMIT, "node 'cos' (ConstantOfShape)");
    /* A tighter limit of the options is the one applied. */
    struct ond_options o;
    ond_options_init(&o);
    o.max_tensor_elements = 1000;
    load_fails(constant_of_shape(1, (int64_t[]){1001}), &o, OND_STATUS_LIMIT,
               "has more than 1000 elements");

    /* Reshape of a symbolic-batch input to a huge constant shape. */
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){-1, 4});
    tm_init(m, "shape", I64, 1, (int64_t[]){2}, (int64_t[]){1ll << 40, 1ll << 40});
    tm_node(m, "Reshape", "reshape", "x,shape", "y");
    tm_output(m, "y");
    load_fails(m, NULL, OND_STATUS_LIMIT, "node 'reshape' (Reshape): output 0");

    /* Pad with huge constant pads. */
    m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){2, 2});
    tm_init(m, "pads", I64, 1, (int64_t[]){4}, (int64_t[]){1ll << 31, 1ll << 31, 0, 0});
    tm_node(m, "Pad", "pad", "x,pads", "y");
    tm_output(m, "y");
    load_fails(m, NULL, OND_STATUS_LIMIT, "node 'pad' (Pad): output 0");

    /* Expand and Tile to huge constant shapes: over max_tensor_elements, or overflowing. */
    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, (int64_t[]){1});
    tm_init(m, "big", I64, 1, (int64_t[]){2}, (int64_t[]){1ll << 20, 1ll << 20});
    tm_node(m, "Expand", "expand", "x,big", "e");
    tm_output(m, "e");
    load_fails(m, NULL, OND_STATUS_LIMIT, "node 'expand' (Expand): output 0");
    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, (int64_t[]){1});
    tm_init(m, "big", I64, 1, (int64_t[]){3}, (int64_t[]){1ll << 40, 1ll << 40, 1ll << 40});
    tm_node(m, "Expand", "expand", "x,big", "e");
    tm_output(m, "e");
    load_fails(m, NULL, OND_STATUS_LIMIT, "node 'expand' (Expand): the output shape has too many");
    m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){2, 2});
    tm_init(m, "reps", I64, 1, (int64_t[]){2}, (int64_t[]){1ll << 20, 1ll << 20});
    tm_node(m, "Tile", "tile", "x,reps", "t");
    tm_output(m, "t");
    load_fails(m, NULL, OND_STATUS_LIMIT, "node 'tile' (Tile): output 0");

    /* max_nodes. */
    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, (int64_t[]){1});
    tm_node(m, "Relu", "a", "x", "a");
    tm_node(m, "Relu", "b", "a", "b");
    tm_node(m, "Relu", "c", "b", "y");
    tm_output(m, "y");
    ond_options_init(&o);
    o.max_nodes = 2;
    load_fails(m, &o, OND_STATUS_LIMIT, "3 nodes, over the limit of 2");

    /* max_total_bytes: constant data of the model (here already its parsing). */
    ond_options_init(&o);
    o.max_total_bytes = 1 << 20;
    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, (int64_t[]){1});
    tm_init(m, "w", F, 1, (int64_t[]){1 << 19}, NULL);
    tm_node(m, "Add", "add", "x,w", "y");
    tm_output(m, "y");
    load_fails(m, &o, OND_STATUS_LIMIT, "more than 1048576 bytes");

    /* max_total_bytes bounds protobuf parsing too: 100000 empty nodes take ~14 MB of
     * protobuf-c structures from 200 KB of file. */
    size_t n = 100000, al = 0;
    unsigned char *amp = malloc(2 * n + 16);
    amp[al++] = 0x3a; /* model.graph, length-delimited */
    for (size_t v = 2 * n; v; v >>= 7)
        amp[al++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    for (size_t i = 0; i < n; i++) {
        amp[al++] = 0x0a; /* graph.node, empty */
        amp[al++] = 0x00;
    }
    struct ond_model *model = NULL;
    struct ond_error err = {0};
    assert_error(ond_model_load_buffer(amp, al, &o, &model, &err), OND_STATUS_LIMIT, &err,
                 "parsing needs more than 1048576 bytes");
    free(amp);
}

/* 21, arithmetic: kernel, dilation, stride and pad attributes are any positive int64; the
 * window arithmetic must not overflow (UBSan) but fail, naming the node. */
static void test_window_overflow(void **state)
{
    (void)state;
    const int64_t big = INT64_MAX / 2 + 1;
    struct {
        const char *op, *attr;
        int64_t v[4];
        enum ond_status st;
        const char *msg;
    } cases[] = {
        {"Conv", "dilations", {big, 1}, OND_STATUS_LIMIT, "sizes overflow at spatial dim 0"},
        {"MaxPool", "dilations", {1, big}, OND_STATUS_LIMIT, "sizes overflow at spatial dim 1"},
        {"Conv", "pads", {INT64_MAX, 0, 1, 0}, OND_STATUS_LIMIT, "sizes overflow"},
        {"AveragePool", "pads", {0, 0, 0, INT64_MAX}, OND_STATUS_LIMIT, "sizes overflow"},
        {"MaxPool", "kernel_shape", {big, 3}, OND_STATUS_INVALID_MODEL, "kernel span"},
        /* A stride beyond the input (auto_pad SAME_UPPER) leaves one window. */
        {"Conv", "strides", {INT64_MAX, 1}, OND_OK, ""},
        {"MaxPool", "strides", {INT64_MAX, 1}, OND_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tm *m = tm_new(8, 13);
        tm_input(m, "x", F, 4, (int64_t[]){1, 2, 5, 5});
        bool conv = strcmp(cases[i].op, "Conv") == 0;
        Onnx__NodeProto *n = tm_node(m, cases[i].op, "w", conv ? "x,k" : "x", "y");
        tm_output(m, "y");
        if (conv)
            tm_init(m, "k", F, 4, (int64_t[]){4, 2, 3, 3}, NULL);
        else if (strcmp(cases[i].attr, "kernel_shape") != 0)
            tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){3, 3});
        tm_attr_ints(m, n, cases[i].attr, strcmp(cases[i].attr, "pads") == 0 ? 4 : 2,
                     cases[i].v);
        if (cases[i].st) {
            load_fails(m, NULL, cases[i].st, cases[i].msg);
            continue;
        }
        tm_attr_string(m, n, "auto_pad", "SAME_UPPER");
        struct ond_model *model = load_ok(m, NULL);
        struct ond_value info;
        assert_int_equal(ond_model_output(model, 0, &info, NULL), OND_OK);
        assert_int_equal(info.dims[2], 1);
        assert_int_equal(info.dims[3], 5);
        ond_model_free(model);
    }
}

/* 22, in time: shape inference follows Shape -> Concat chains to keep symbolic dims; six
 * levels of Concats that repeat their input 64 times made that walk 64^6 steps (a hang from a
 * 2 KB file). Now bounded: the model loads at once. */
static void test_shape_trace_bomb(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 15);
    tm_input(m, "x", F, 1, (int64_t[]){-1});
    Onnx__NodeProto *n = tm_node(m, "Shape", "shape", "x", "s0");
    tm_attr_int(m, n, "start", 0);
    tm_attr_int(m, n, "end", 0);
    char in[64 * 4], out[8];
    for (int level = 1; level <= 6; level++) {
        in[0] = 0;
        for (int k = 0; k < 64; k++)
            snprintf(in + strlen(in), sizeof in - strlen(in), "%ss%d", k ? "," : "", level - 1);
        snprintf(out, sizeof out, "s%d", level);
        n = tm_node(m, "Concat", out, in, out);
        tm_attr_int(m, n, "axis", 0);
    }
    tm_node(m, "Reshape", "reshape", "x,s6", "y");
    tm_output(m, "y");
    ond_model_free(load_ok(m, NULL));
}

/* 5 and 22: many small things. Distinct symbolic dims were kept in an array copied whole
 * per new symbol (20000 symbols from 240 KB of file took 1.6 GB); attribute names were
 * compared pairwise (100000 attributes: a minute). Both now load at once, the symbols
 * within a 16 MiB max_total_bytes. */
static void test_many_symbols_and_attributes(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    for (int i = 0; i < 2000; i++) {
        char name[32];
        snprintf(name, sizeof name, "x%d", i);
        Onnx__ValueInfoProto *vi = tm_input(m, name, F, 10,
                                            (int64_t[]){-1, -1, -1, -1, -1, -1, -1, -1, -1, -1});
        for (int d = 0; d < 10; d++) {
            snprintf(name, sizeof name, "d%d_%d", i, d);
            vi->type->tensor_type->shape->dim[d]->dim_param = tm_str(m, name);
        }
    }
    tm_node(m, "Relu", "relu", "x0", "y");
    tm_output(m, "y");
    struct ond_options o;
    ond_options_init(&o);
    o.max_total_bytes = 16 << 20;
    struct ond_model *model = load_ok(m, &o);
    assert_int_equal(model->graph->n_syms, 20000);
    char buf[256];
    assert_string_equal(ond_info_str(model->graph, &model->graph->inputs[1999]->info, buf,
                                     sizeof buf),
                        "float[d1999_0,d1999_1,d1999_2,d1999_3,d1999_4,d1999_5,d1999_6,d1999_7,"
                        "d1999_8,d1999_9]");
    ond_model_free(model);

    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, (int64_t[]){1});
    Onnx__NodeProto *n = tm_node(m, "Relu", "relu", "x", "y");
    tm_output(m, "y");
    size_t count = 100000;
    n->attribute = tm_alloc(m, sizeof *n->attribute * count);
    for (size_t i = 0; i < count; i++) {
        Onnx__AttributeProto *a = tm_alloc(m, sizeof *a);
        onnx__attribute_proto__init(a);
        char name[32];
        snprintf(name, sizeof name, "a%zu", i == count - 1 ? (size_t)7 : i);
        a->name = tm_str(m, name);
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        n->attribute[n->n_attribute++] = a;
    }
    load_fails(m, NULL, OND_STATUS_INVALID_MODEL, "node 'relu': attribute 'a7' appears twice");
}

/* 22, at planning: values too big to compute at load are computed when a session plans;
 * each counts against max_total_bytes before it is allocated, and so do activations. */
static void test_planning_budget(void **state)
{
    (void)state;
    struct ond_options o;
    ond_options_init(&o);
    o.max_total_bytes = 1 << 20;
    /* 512 x 1024 floats: within max_tensor_elements, 2 MiB over the 1 MiB budget. */
    struct ond_model *model = load_ok(constant_of_shape(2, (int64_t[]){512, 1024}), &o);
    struct ond_session *s = session_ok(model);
    struct ond_value out = {0};
    struct ond_error err = {0};
    assert_error(ond_session_run(s, NULL, 0, &out, 1, &err), OND_STATUS_LIMIT, &err,
                 "node 'cos' (ConstantOfShape): output 0: 2097152 bytes would bring the model "
                 "to");
    assert_error(ond_session_run(s, NULL, 0, &out, 1, &err), OND_STATUS_LIMIT, &err,
                 "over the limit of 1048576 (max_total_bytes)");
    ond_session_free(s);
    ond_model_free(model);

    /* Several values each under the limit, together over it. */
    struct tm *m = tm_new(8, 13);
    tm_init(m, "shape", I64, 1, (int64_t[]){1}, (int64_t[]){100000});
    const char *outs[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        tm_node(m, "ConstantOfShape", outs[i], "shape", outs[i]);
        tm_output(m, outs[i]);
    }
    model = load_ok(m, &o);
    s = session_ok(model);
    struct ond_value outs4[4] = {{0}};
    assert_error(ond_session_run(s, NULL, 0, outs4, 4, &err), OND_STATUS_LIMIT, &err,
                 "node 'c' (ConstantOfShape): output 0: 400000 bytes");
    ond_session_free(s);
    ond_model_free(model);

    /* Activations: a symbolic batch makes them as big as the caller's input. */
    m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){-1, 1024});
    tm_node(m, "Relu", "r1", "x", "a");
    tm_node(m, "Relu", "r2", "a", "y");
    tm_output(m, "y");
    model = load_ok(m, &o);
    s = session_ok(model);
    float *x = calloc(512 * 1024, sizeof *x);
    struct ond_value in = {.name = "x", .dtype = F, .rank = 2, .dims = {512, 1024}, .data = x,
                           .size = 512 * 1024 * sizeof *x};
    out = (struct ond_value){.data = x, .size = in.size};
    assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_LIMIT, &err,
                 "activations and scratchpad");
    /* A small batch still runs on the same session. */
    in.dims[0] = 2;
    assert_int_equal(ond_session_run(s, &in, 1, &out, 1, &err), OND_OK);
    free(x);
    ond_session_free(s);
    ond_model_free(model);
}

/* x float[N,3,4,4] -> Relu -> y1; z float[2] -> Relu -> y2. */
static struct ond_model *two_inputs(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){-1, 3, 4, 4});
    tm_input(m, "z", F, 1, (int64_t[]){2});
    tm_node(m, "Relu", "r1", "x", "y1");
    tm_node(m, "Relu", "r2", "z", "y2");
    tm_output(m, "y1");
    tm_output(m, "y2");
    return load_ok(m, NULL);
}

/* 23: run-time inputs that do not fit the model, each rejected naming the input; the session
 * stays usable afterwards. */
static void test_run_time_inputs(void **state)
{
    (void)state;
    struct ond_model *model = two_inputs();
    struct ond_session *s = session_ok(model);
    float x[2 * 48] = {0}, z[2] = {-1, 2}, y1[2 * 48], y2[2];
    struct ond_value good[2] = {
        {.name = "x", .dtype = F, .rank = 4, .dims = {1, 3, 4, 4}, .data = x, .size = 192},
        {.name = "z", .dtype = F, .rank = 1, .dims = {2}, .data = z, .size = sizeof z},
    };
    struct ond_value outs[2] = {{.data = y1, .size = sizeof y1}, {.data = y2, .size = sizeof y2}};
    struct ond_value in[2];
    struct ond_error err = {0};
#define BAD(n, st, msg) assert_error(ond_session_run(s, in, (n), outs, 2, &err), (st), &err, (msg))
#define RESET() memcpy(in, good, sizeof in)

    RESET();
    BAD(1, OND_STATUS_INVALID_INPUT, "the model takes 2 inputs, got 1");
    BAD(0, OND_STATUS_INVALID_INPUT, "the model takes 2 inputs, got 0");
    in[1].name = "x";
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x' is given twice");
    RESET();
    in[1].name = "w";
    BAD(2, OND_STATUS_INVALID_INPUT, "'w' is not an input of the model");
    RESET();
    in[1].name = NULL;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 1 has no name");
    RESET();
    in[0].dtype = I64;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': expected float[N,3,4,4], got int64[1,3,4,4]");
    RESET();
    in[0].dtype = 1000;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': expected float[N,3,4,4], got ?[1,3,4,4]");
    RESET();
    in[0].rank = 3;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': expected float[N,3,4,4], got float[1,3,4]");
    RESET();
    in[0].dims[2] = in[0].dims[3] = 32;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': expected float[N,3,4,4], got float[1,3,32,32]");
    RESET();
    in[0].dims[0] = -3;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': expected float[N,3,4,4], got float[?,3,4,4]");
    RESET();
    in[0].rank = 13;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': rank 13 is out of range");
    in[0].rank = -1;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': rank -1 is out of range");
    RESET();
    in[0].data = NULL;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': buffer of 0 bytes, float[1,3,4,4] needs 192");
    RESET();
    in[0].size = 191;
    BAD(2, OND_STATUS_INVALID_INPUT, "input 'x': buffer of 191 bytes, float[1,3,4,4] needs 192");
    RESET();
    in[0].dims[0] = 1ll << 40;
    BAD(2, OND_STATUS_LIMIT, "input 'x': float[1099511627776,3,4,4] has too many elements");
    in[0].dims[0] = INT64_MAX;
    BAD(2, OND_STATUS_LIMIT, "input 'x': float[9223372036854775807,3,4,4] has too many");
    RESET();
    assert_error(ond_session_run(s, in, 2, outs, 1, &err), OND_STATUS_INVALID_ARGUMENT, &err,
                 "the model has 2 outputs, got 1");
    assert_error(ond_session_run(s, NULL, 2, outs, 2, &err), OND_STATUS_INVALID_ARGUMENT, &err,
                 "NULL argument");
    outs[1].size = 4;
    BAD(2, OND_STATUS_INVALID_ARGUMENT, "output 'y2' needs 8 bytes, the buffer has 4");
    outs[1].size = sizeof y2;
    struct ond_value *alloc = NULL;
    size_t n_alloc = 0;
    in[0].dims[1] = 4;
    assert_error(ond_session_run_alloc(s, in, 2, &alloc, &n_alloc, &err),
                 OND_STATUS_INVALID_INPUT, &err, "input 'x': expected float[N,3,4,4]");
    assert_null(alloc);
#undef BAD
#undef RESET

    /* After all that, a good run. */
    x[0] = -5;
    x[191 / 4] = 7;
    assert_int_equal(ond_session_run(s, good, 2, outs, 2, &err), OND_OK);
    assert_true(y1[0] == 0 && y1[47] == 7 && y2[0] == 0 && y2[1] == 2);
    /* Zero-sized batch: nothing to compute, nothing to divide by. */
    good[0].dims[0] = 0;
    assert_int_equal(ond_session_run(s, good, 2, outs, 2, &err), OND_OK);
    assert_int_equal(outs[0].dims[0], 0);
    ond_session_free(s);
    ond_model_free(model);
}

/* data float[5,3] constant, idx int64[K] input -> Gather axis 0 -> y[K,3] */
static struct ond_model *gather_model(int32_t idx_type)
{
    struct tm *m = tm_new(8, 13);
    float data[15];
    for (int i = 0; i < 15; i++)
        data[i] = (float)i;
    tm_init(m, "data", F, 2, (int64_t[]){5, 3}, data);
    tm_input(m, "idx", idx_type, 1, (int64_t[]){-1});
    tm_node(m, "Gather", "gather", "data,idx", "y");
    tm_output(m, "y");
    return load_ok(m, NULL);
}

/* 24: indices that arrive at run time are checked at run time. */
static void test_run_time_indices(void **state)
{
    (void)state;
    struct ond_model *model = gather_model(I64);
    struct ond_session *s = session_ok(model);
    int64_t idx[3] = {4, -5, 1};
    float y[9];
    struct ond_value in = {.name = "idx", .dtype = I64, .rank = 1, .dims = {3}, .data = idx,
                           .size = sizeof idx};
    struct ond_value out = {.data = y, .size = sizeof y};
    struct ond_error err = {0};
    if (ond_session_run(s, &in, 1, &out, 1, &err))
        fail_msg("%s", err.message);
    const float want[9] = {12, 13, 14, 0, 1, 2, 3, 4, 5};
    assert_memory_equal(y, want, sizeof want);
    const int64_t bad[] = {5, -6, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        idx[2] = bad[i];
        char msg[128];
        snprintf(msg, sizeof msg, "node 'gather' (Gather): index %lld at 2 is out of range",
                 (long long)bad[i]);
        assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_INVALID_INPUT, &err,
                     msg);
    }
    /* The reference interpreter checks the same way. */
    struct ond_value ref[1];
    assert_error(ond_reference_run(model->graph, &in, 1, ref, NULL, NULL, &err),
                 OND_STATUS_INVALID_INPUT, &err, "index -9223372036854775808 at 2");
    ond_session_free(s);
    ond_model_free(model);

    model = gather_model(OND_DTYPE_INT32);
    s = session_ok(model);
    int32_t idx32[2] = {0, 99};
    in = (struct ond_value){.name = "idx", .dtype = OND_DTYPE_INT32, .rank = 1, .dims = {2},
                            .data = idx32, .size = sizeof idx32};
    assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_INVALID_INPUT, &err,
                 "index 99 at 1 is out of range for a dim of 5");
    ond_session_free(s);
    ond_model_free(model);

    /* Reshape's shape as a run-time input: a shape operand the plan is made for, so a shape
     * that does not fit is the caller's input, named with the node. */
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 1, (int64_t[]){6});
    tm_input(m, "shape", I64, 1, (int64_t[]){2});
    tm_node(m, "Reshape", "reshape", "x,shape", "y");
    tm_output(m, "y");
    model = load_ok(m, NULL);
    s = session_ok(model);
    float x[6] = {0};
    int64_t shape[2] = {3, 1000};
    struct ond_value ins[2] = {
        {.name = "x", .dtype = F, .rank = 1, .dims = {6}, .data = x, .size = sizeof x},
        {.name = "shape", .dtype = I64, .rank = 1, .dims = {2}, .data = shape, .size = 16},
    };
    out = (struct ond_value){.data = y, .size = sizeof y};
    assert_error(ond_session_run(s, ins, 2, &out, 1, &err), OND_STATUS_INVALID_INPUT, &err,
                 "with the values of input 'shape': node 'reshape' (Reshape): cannot reshape 6 "
                 "elements into 3000");
    ond_session_free(s);
    ond_model_free(model);
}

/* x float[1,1,2,4] -> Relu -> r; Clip(0, 6) -> c; MaxPool 1x2 -> p; Softmax -> sm */
static struct ond_model *nan_model(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){1, 1, 2, 4});
    tm_init(m, "lo", F, 0, NULL, (float[]){0});
    tm_init(m, "hi", F, 0, NULL, (float[]){6});
    tm_node(m, "Relu", "relu", "x", "r");
    tm_node(m, "Clip", "clip", "x,lo,hi", "c");
    Onnx__NodeProto *p = tm_node(m, "MaxPool", "pool", "x", "p");
    tm_attr_ints(m, p, "kernel_shape", 2, (int64_t[]){1, 2});
    tm_attr_ints(m, p, "strides", 2, (int64_t[]){1, 2});
    tm_node(m, "Softmax", "softmax", "x", "sm");
    const char *outs[] = {"r", "c", "p", "sm"};
    for (int i = 0; i < 4; i++)
        tm_output(m, outs[i]);
    return load_ok(m, NULL);
}

static bool same_float(float got, float want)
{
    return isnan(want) ? isnan(got) : got == want;
}

/* Zero or a denormal, either sign. */
static bool zero_ish(float v)
{
    return v == 0 || fpclassify(v) == FP_SUBNORMAL;
}

/* 25: NaN propagates through Clip and MaxPool and the reference Relu (as numpy's
 * maximum/clip compute them); infinities saturate where the op says so; denormals do not crash or hang, flushed
 * to zero or kept (no_ftz); session and reference agree. */
static void test_nan_inf_denormal(void **state)
{
    (void)state;
    const float den = FLT_MIN / 4;
    float x[8] = {NAN, 1, INFINITY, -INFINITY, den, -den, -NAN, 7};
    const float want_r[8] = {NAN, 1, INFINITY, 0, den, 0, NAN, 7};
    const float want_c[8] = {NAN, 1, 6, 0, den, 0, NAN, 6};
    const float want_p[4] = {NAN, INFINITY, den, NAN};
    struct ond_model *model = nan_model();
    for (int no_ftz = 0; no_ftz <= 1; no_ftz++) {
        struct ond_options o;
        ond_options_init(&o);
        o.threads = 1;
        o.no_ftz = no_ftz;
        struct ond_session *s = NULL;
        struct ond_error err = {0};
        assert_int_equal(ond_session_create(model, &o, &s, &err), OND_OK);
        float r[8], c[8], p[4], sm[8];
        struct ond_value in = {.name = "x", .dtype = F, .rank = 4, .dims = {1, 1, 2, 4},
                               .data = x, .size = sizeof x};
        struct ond_value out[4] = {{.data = r, .size = sizeof r}, {.data = c, .size = sizeof c},
                                   {.data = p, .size = sizeof p},
                                   {.data = sm, .size = sizeof sm}};
        assert_int_equal(ond_session_run(s, &in, 1, out, 4, &err), OND_OK);
        for (int i = 0; i < 8; i++) {
            /* With flush-to-zero (the default) a denormal input is zero to the kernel, which
             * may then give 0 or pass the denormal through; with no_ftz it is a number.
             * oneDNN 2.6's relu, clip (standalone or as a Conv post-op) and max pooling drop
             * NaN: a known deviation (docs/robustness.md). All else is exact. */
            bool flushed = !no_ftz && fpclassify(x[i]) == FP_SUBNORMAL;
            bool onednn_nan = isnan(want_r[i]) && r[i] == 0;
            if (!same_float(r[i], want_r[i]) && !(flushed && zero_ish(r[i])) && !onednn_nan)
                fail_msg("Relu[%d] = %g, want %g (no_ftz %d)", i, r[i], want_r[i], no_ftz);
            bool onednn_clip_nan = isnan(want_c[i]) && c[i] == 0;
            if (!same_float(c[i], want_c[i]) && !(flushed && zero_ish(c[i])) && !onednn_clip_nan)
                fail_msg("Clip[%d] = %g, want %g (no_ftz %d)", i, c[i], want_c[i], no_ftz);
        }
        for (int i = 0; i < 4; i++) {
            bool flushed = !no_ftz && fpclassify(x[2 * i]) == FP_SUBNORMAL;
            /* oneDNN's max pooling skips NaN like its relu: the window's largest number. */
            bool onednn_pool_nan = isnan(want_p[i]) && !isnan(p[i]);
            if (!same_float(p[i], want_p[i]) && !(flushed && zero_ish(p[i])) && !onednn_pool_nan)
                fail_msg("MaxPool[%d] = %g, want %g (no_ftz %d)", i, p[i], want_p[i], no_ftz);
        }
        /* Softmax of rows holding NaN or Inf: NaN, never a hang or a trap. */
        assert_true(isnan(sm[0]));
        ond_session_free(s);
    }
    /* The reference interpreter agrees on every NaN and infinity. */
    struct ond_value in = {.name = "x", .dtype = F, .rank = 4, .dims = {1, 1, 2, 4}, .data = x,
                           .size = sizeof x};
    struct ond_value ref[4];
    struct ond_error err = {0};
    assert_int_equal(ond_reference_run(model->graph, &in, 1, ref, NULL, NULL, &err), OND_OK);
    for (int i = 0; i < 8; i++) {
        assert_true(same_float(((float *)ref[0].data)[i], want_r[i]));
        assert_true(same_float(((float *)ref[1].data)[i], want_c[i]));
    }
    for (int i = 0; i < 4; i++)
        assert_true(same_float(((float *)ref[2].data)[i], want_p[i]));
    for (int i = 0; i < 4; i++) {
        free((void *)ref[i].name);
        free(ref[i].data);
    }
    ond_model_free(model);
}

/* 12: zero-element tensors through shape ops and kernels: legal, and no division by a zero
 * dim. */
static void test_zero_elements(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){-1, 2, 3, 3});
    tm_init(m, "w", F, 4, (int64_t[]){4, 2, 1, 1}, NULL);
    tm_node(m, "Conv", "conv", "x,w", "c");
    tm_node(m, "Relu", "relu", "c", "r");
    Onnx__NodeProto *p = tm_node(m, "AveragePool", "pool", "r", "p");
    tm_attr_ints(m, p, "kernel_shape", 2, (int64_t[]){2, 2});
    tm_node(m, "Flatten", "flatten", "p", "f");
    tm_node(m, "Softmax", "softmax", "c", "sm");
    tm_output(m, "f");
    tm_output(m, "sm");
    struct ond_model *model = load_ok(m, NULL);
    struct ond_session *s = session_ok(model);
    float x[1], f[1], sm[1];
    struct ond_value in = {.name = "x", .dtype = F, .rank = 4, .dims = {0, 2, 3, 3}, .data = x,
                           .size = 0};
    struct ond_value out[2] = {{.data = f, .size = sizeof f}, {.data = sm, .size = sizeof sm}};
    struct ond_error err = {0};
    assert_int_equal(ond_session_run(s, &in, 1, out, 2, &err), OND_OK);
    assert_int_equal(out[0].rank, 2);
    assert_int_equal(out[0].dims[0], 0);
    assert_int_equal(out[0].dims[1], 16);
    assert_int_equal(out[1].dims[0], 0);
    ond_session_free(s);
    ond_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_time_bombs),
        cmocka_unit_test(test_window_overflow),
        cmocka_unit_test(test_shape_trace_bomb),
        cmocka_unit_test(test_many_symbols_and_attributes),
        cmocka_unit_test(test_planning_budget),
        cmocka_unit_test(test_run_time_inputs),
        cmocka_unit_test(test_run_time_indices),
        cmocka_unit_test(test_nan_inf_denormal),
        cmocka_unit_test(test_zero_elements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
