/* test_loader.c: the loader on good models (every tensor encoding, external data, IR 3
 * initializers-as-inputs, unnamed nodes) and the corruption matrix of
 * shared/design/hostile-inputs.md items 1-21, each asserting the status and the message. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "tests/util.h"

static enum ond_status load_bytes(const void *buf, size_t len, struct ond_error *err)
{
    struct ond_graph *g = NULL;
    enum ond_status st = ond_load_graph(buf, len, NULL, "bytes", NULL, false, &g, err);
    ond_graph_free(g);
    return st;
}

/* x [N,2] -> Relu -> y */
static struct tm *relu_model(void)
{
    struct tm *m = tm_new(8, 13);
    int64_t d[] = {-1, 2};
    tm_input(m, "x", OND_DTYPE_FLOAT, 2, d);
    tm_node(m, "Relu", "relu", "x", "y");
    tm_output(m, "y");
    return m;
}

static enum ond_status load_tm(struct tm *m, struct ond_error *err)
{
    struct ond_graph *g = NULL;
    enum ond_status st = tm_load(m, &g, err);
    ond_graph_free(g);
    tm_free(m);
    return st;
}

static void test_good_model(void **state)
{
    (void)state;
    struct tm *m = relu_model();
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    struct ond_tensor *y = ond_graph_find_tensor(g, "y");
    char buf[64];
    assert_string_equal(ond_info_str(g, &y->info, buf, sizeof buf), "float[N,2]");
    assert_int_equal(g->n_inputs, 1);
    ond_graph_free(g);
    tm_free(m);
}

/* Every encoding of initializer data gives the same values. */
static void test_encodings(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    int64_t d[] = {2};
    float f[] = {1.5f, -2};
    int64_t i64[] = {7, -9};
    int32_t i32[] = {3, -4};
    double dd[] = {0.25, 8};
    Onnx__TensorProto *t;
    t = tm_init(m, "raw", OND_DTYPE_FLOAT, 1, d, f);
    t = tm_init(m, "fd", OND_DTYPE_FLOAT, 1, d, NULL);
    t->has_raw_data = 0;
    t->n_float_data = 2;
    t->float_data = f;
    t = tm_init(m, "i64", OND_DTYPE_INT64, 1, d, NULL);
    t->has_raw_data = 0;
    t->n_int64_data = 2;
    t->int64_data = i64;
    t = tm_init(m, "i32", OND_DTYPE_INT32, 1, d, NULL);
    t->has_raw_data = 0;
    t->n_int32_data = 2;
    t->int32_data = i32;
    t = tm_init(m, "u8", OND_DTYPE_UINT8, 1, d, NULL);
    t->has_raw_data = 0;
    t->n_int32_data = 2;
    t->int32_data = (int32_t[]){200, 17};
    t = tm_init(m, "dbl", OND_DTYPE_DOUBLE, 1, d, NULL);
    t->has_raw_data = 0;
    t->n_double_data = 2;
    t->double_data = dd;
    int64_t zd[] = {0, 3};
    tm_init(m, "empty", OND_DTYPE_FLOAT, 2, zd, NULL)->has_raw_data = 0;
    tm_node(m, "Relu", "", "raw", "y");
    tm_output(m, "y");
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    assert_memory_equal(ond_graph_find_tensor(g, "raw")->info.data, f, sizeof f);
    assert_memory_equal(ond_graph_find_tensor(g, "fd")->info.data, f, sizeof f);
    assert_memory_equal(ond_graph_find_tensor(g, "i64")->info.data, i64, sizeof i64);
    assert_memory_equal(ond_graph_find_tensor(g, "i32")->info.data, i32, sizeof i32);
    assert_memory_equal(ond_graph_find_tensor(g, "u8")->info.data, "\xc8\x11", 2);
    assert_memory_equal(ond_graph_find_tensor(g, "dbl")->info.data, dd, sizeof dd);
    assert_int_equal(ond_graph_find_tensor(g, "empty")->nbytes, 0);
    /* Constant data is 64-byte aligned however it was stored: raw_data taken over from
     * protobuf-c's buffer, the other fields copied. */
    const char *names[] = {"raw", "fd", "i64", "i32", "u8", "dbl"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_int_equal((uintptr_t)ond_graph_find_tensor(g, names[i])->info.data % 64, 0);
    /* An unnamed node gets a stable generated name. */
    assert_string_equal(g->nodes[0]->name, "Relu_0");
    ond_graph_free(g);
    tm_free(m);
}

/* IR 3: initializers listed as graph inputs are defaults (not required inputs, their value
 * kept apart from folding), or constants with fold_initializer_inputs. */
static void test_ir3_initializer_inputs(void **state)
{
    (void)state;
    struct tm *m = tm_new(3, 8);
    int64_t d[] = {2};
    float f[] = {1, 2};
    tm_input(m, "x", OND_DTYPE_FLOAT, 1, d);
    tm_input(m, "w", OND_DTYPE_FLOAT, 1, d);
    tm_init(m, "w", OND_DTYPE_FLOAT, 1, d, f);
    tm_node(m, "Relu", "r", "w", "y");
    tm_node(m, "Relu", "r2", "x", "z");
    tm_output(m, "y");
    tm_output(m, "z");
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    assert_int_equal(g->n_inputs, 1);
    assert_string_equal(g->inputs[0]->name, "x");
    const struct ond_tensor *w = ond_graph_find_tensor(g, "w");
    assert_int_equal(w->flags, OND_TENSOR_INPUT | OND_TENSOR_DEFAULT);
    assert_null(w->info.data);
    assert_memory_equal(w->dflt, f, sizeof f);
    assert_int_equal(g->n_defaults, 1);
    assert_ptr_equal(g->defaults[0], w);
    ond_graph_free(g);
    uint8_t *bytes;
    size_t len;
    bytes = tm_pack(m, &len);
    struct ond_options o;
    ond_options_init(&o);
    o.fold_initializer_inputs = 1;
    assert_int_equal(ond_load_graph(bytes, len, NULL, "test", &o, false, &g, &err), OND_OK);
    assert_int_equal(g->n_inputs, 1);
    assert_int_equal(g->n_defaults, 0);
    assert_true(ond_graph_find_tensor(g, "w")->flags & OND_TENSOR_CONST);
    ond_graph_free(g);
    free(bytes);
    tm_free(m);
}

/* 1: empty, random, truncated at every offset. */
static void test_container_bytes(void **state)
{
    (void)state;
    struct ond_error err = {0};
    assert_error(load_bytes("", 0, &err), OND_STATUS_INVALID_MODEL, &err,
                 "bytes: not a valid ONNX model (protobuf parse failed)");
    unsigned char rnd[4096];
    srand(7);
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof rnd; i++)
            rnd[i] = (unsigned char)rand();
        enum ond_status st = load_bytes(rnd, sizeof rnd, &err);
        assert_int_not_equal(st, OND_OK);
    }
    assert_error(load_bytes(rnd, sizeof rnd, &err), err.status, &err, "bytes: ");
    struct tm *m = relu_model();
    size_t len;
    uint8_t *buf = tm_pack(m, &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = malloc(cut + 1);
        memcpy(part, buf, cut);
        enum ond_status st = load_bytes(part, cut, &err);
        if (st != OND_STATUS_INVALID_MODEL && st != OND_STATUS_UNSUPPORTED)
            fail_msg("cut at %zu: status %d: %s", cut, (int)st, err.message);
        free(part);
    }
    free(buf);
    tm_free(m);
}

/* 2-5: lengths past the end, size limit, wrong wire type, deep nesting, amplification. */
static void test_container_structure(void **state)
{
    (void)state;
    struct ond_error err = {0};
    /* graph (field 7, length-delimited) claiming 4 GiB */
    const unsigned char past[] = {0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    assert_error(load_bytes(past, sizeof past, &err), OND_STATUS_INVALID_MODEL, &err,
                 "protobuf parse failed");
    /* ir_version (field 1) sent as length-delimited */
    const unsigned char wire[] = {0x0a, 0x01, 0x08};
    assert_error(load_bytes(wire, sizeof wire, &err), OND_STATUS_INVALID_MODEL, &err,
                 "protobuf parse failed");
    /* size limit */
    struct ond_options o;
    ond_options_init(&o);
    o.max_file_bytes = 4;
    struct ond_graph *g = NULL;
    assert_error(ond_load_graph(past, sizeof past, NULL, "x", &o, false, &g, &err),
                 OND_STATUS_LIMIT, &err, "over the limit of 4");
    /* graphs nested through attributes, 200 deep: graph{node{attribute{g{node{...}}}}} */
    size_t cap = 4096, len = 0;
    unsigned char *deep = malloc(cap);
    for (int level = 0; level < 200; level++) {
        /* wrap: graph -> node (1) -> attribute (5) -> g (6); from the inside out */
        unsigned char tags[3] = {0x32 /* attr.g */, 0x2a /* node.attribute */, 0x0a /* graph.node */};
        for (int t = 0; t < 3; t++) {
            unsigned char hdr[6];
            size_t h = 0, v = len;
            hdr[h++] = tags[t];
            do {
                hdr[h++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
            } while (v);
            if (len + h > cap)
                deep = realloc(deep, cap *= 2);
            memmove(deep + h, deep, len);
            memcpy(deep, hdr, h);
            len += h;
        }
    }
    unsigned char *model = malloc(len + 16);
    size_t ml = 0, v = len;
    model[ml++] = 0x3a; /* model.graph */
    do {
        model[ml++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memcpy(model + ml, deep, len);
    assert_error(load_bytes(model, ml + len, &err), OND_STATUS_LIMIT, &err, "nest deeper");
    free(model);
    free(deep);
    /* 3 million empty nodes: graph { node {} x 3M } */
    size_t n = 3000000, gl = 2 * n;
    unsigned char *amp = malloc(gl + 16);
    size_t al = 0;
    amp[al++] = 0x3a;
    for (v = gl; v; v >>= 7)
        amp[al++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    for (size_t i = 0; i < n; i++) {
        amp[al++] = 0x0a;
        amp[al++] = 0x00;
    }
    assert_error(load_bytes(amp, al, &err), OND_STATUS_LIMIT, &err, "parsing needs more than");
    free(amp);
}

/* 6-8: enums out of range (the types ONNX added after bfloat16 named), opsets and IR versions
 * (1..26, 3..11), empty names. */
static void test_enums_opsets_names(void **state)
{
    (void)state;
    struct ond_error err = {0};
    struct tm *m = relu_model();
    Onnx__AttributeProto *a;
    tm_attr_int(m, tm_graph(m)->node[0], "k", 1);
    a = tm_graph(m)->node[0]->attribute[0];
    a->type = 99;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "invalid type 99");

    m = relu_model();
    int64_t d[] = {2};
    tm_init(m, "bad", 0, 1, d, NULL)->data_type = 0;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "data type 0 is not");
    m = relu_model();
    tm_init(m, "bad", OND_DTYPE_FLOAT, 1, d, NULL)->data_type = 1000;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "data type 1000");
    m = relu_model();
    tm_graph(m)->input[0]->type->tensor_type->elem_type = 1000;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "value 'x': data type 1000");
    m = relu_model();
    Onnx__TensorProto *t = tm_init(m, "ext", OND_DTYPE_FLOAT, 1, d, NULL);
    t->has_data_location = 1;
    t->data_location = 7;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "data_location 7");

    m = relu_model();
    tm_proto(m)->opset_import[0]->version = 99;
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err, "opset 99 of the default");
    m = relu_model();
    tm_proto(m)->n_opset_import = 0;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err,
                 "uses domain 'ai.onnx', which the model does not import");
    m = relu_model();
    tm_proto(m)->ir_version = 2;
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err, "IR version 2 is not supported");
    m = relu_model();
    tm_proto(m)->ir_version = 12;
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err, "IR version 12 is not supported "
                 "(ondine reads 3 to 11)");
    m = relu_model();
    tm_proto(m)->opset_import[0]->version = 27;
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err,
                 "opset 27 of the default domain is beyond the supported 1..26");
    /* Types ONNX added after bfloat16 are named; 27 is past them all. */
    m = relu_model();
    tm_init(m, "f8", OND_DTYPE_FLOAT, 1, d, NULL)->data_type = 17;
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err,
                 "value 'f8' has type float8e4m3fn, which ondine does not support");
    m = relu_model();
    tm_graph(m)->input[0]->type->tensor_type->elem_type = 22;
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err,
                 "node 'relu' (Relu): value 'x' has type int4");
    m = relu_model();
    tm_init(m, "bad", OND_DTYPE_FLOAT, 1, d, NULL)->data_type = 27;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "data type 27 is not an ONNX");
    m = relu_model();
    tm_graph(m)->node[0]->domain = "com.example";
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "com.example");

    m = relu_model();
    tm_init(m, "", OND_DTYPE_FLOAT, 1, d, NULL);
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "initializer 0 has no name");
    m = relu_model();
    tm_graph(m)->input[0]->name = "";
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "graph input 0 has no name");
    m = relu_model();
    tm_graph(m)->node[0]->op_type = "";
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "node 0 has no op_type");
}

/* 9-14: tensors. */
static void test_tensors(void **state)
{
    (void)state;
    struct ond_error err = {0};
    struct tm *m = relu_model();
    int64_t neg[] = {2, -3};
    tm_init(m, "neg", OND_DTYPE_FLOAT, 2, (int64_t[]){1, 1}, NULL)->dims[1] = neg[1];
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "tensor 'neg': dim 1 is negative");

    m = relu_model();
    Onnx__TensorProto *t = tm_init(m, "big", OND_DTYPE_FLOAT, 2, (int64_t[]){1, 1}, NULL);
    t->dims[0] = t->dims[1] = (int64_t)1 << 40;
    assert_error(load_tm(m, &err), OND_STATUS_LIMIT, &err, "tensor 'big': element count");

    /* declared huge (but under the element limit), payload tiny: no allocation first */
    m = relu_model();
    t = tm_init(m, "tiny", OND_DTYPE_FLOAT, 1, (int64_t[]){1}, NULL);
    t->dims[0] = 1000000000;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err,
                 "raw_data has 4 bytes, expected 1000000000 elements");

    m = relu_model();
    t = tm_init(m, "two", OND_DTYPE_FLOAT, 1, (int64_t[]){1}, NULL);
    t->n_float_data = 1;
    t->float_data = (float[]){1};
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "more than one data field");

    m = relu_model();
    t = tm_init(m, "few", OND_DTYPE_INT64, 1, (int64_t[]){3}, NULL);
    t->has_raw_data = 0;
    t->n_int64_data = 2;
    t->int64_data = (int64_t[]){1, 2};
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "int64_data holds 2 values, expected 3");

    m = relu_model();
    t = tm_init(m, "s", OND_DTYPE_FLOAT, 1, (int64_t[]){1}, NULL);
    t->data_type = 8;
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err, "data type string is not supported");

    m = relu_model();
    t = tm_init(m, "ext", OND_DTYPE_FLOAT, 1, (int64_t[]){1}, NULL);
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "external location with inline data");

    m = relu_model();
    int64_t d13[13];
    for (int i = 0; i < 13; i++)
        d13[i] = 1;
    tm_init(m, "deep", OND_DTYPE_FLOAT, 13, d13, NULL);
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err, "rank 13 is over the maximum 12");
}

/* 15-16: external data, resolved in the model's folder. */
static void test_external_data(void **state)
{
    (void)state;
    char dir[] = "/tmp/ondine-ext-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    float w[4] = {1, 2, 3, 4};
    snprintf(path, sizeof path, "%s/w.bin", dir);
    FILE *f = fopen(path, "wb");
    fwrite("HDR!", 1, 4, f);
    fwrite(w, sizeof w, 1, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/link.bin", dir);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    struct {
        const char *loc, *off, *len;
        enum ond_status st;
        const char *msg;
    } cases[] = {
        {"w.bin", "4", "16", OND_OK, ""},
        {"w.bin", "4", NULL, OND_OK, ""},
        {"/etc/passwd", "0", "16", OND_STATUS_INVALID_MODEL, "resolves outside the model directory"},
        {"../etc/passwd", "0", "16", OND_STATUS_INVALID_MODEL, "resolves outside"},
        {"link.bin", "0", "16", OND_STATUS_INVALID_MODEL, "resolves outside"},
        {".", "0", "16", OND_STATUS_INVALID_MODEL, "not a plain file"},
        {"w.bin", "-4", "16", OND_STATUS_INVALID_MODEL, "offset '-4' is not a non-negative number"},
        {"w.bin", "x", "16", OND_STATUS_INVALID_MODEL, "offset 'x'"},
        {"w.bin", "8", "16", OND_STATUS_INVALID_MODEL, "past the end"},
        {"w.bin", "99999999999999999999", "16", OND_STATUS_INVALID_MODEL, "not a non-negative"},
        {"w.bin", "0", "12", OND_STATUS_INVALID_MODEL, "length 12, expected 16"},
        {"missing.bin", "0", "16", OND_STATUS_IO, "missing.bin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tm *m = relu_model();
        Onnx__TensorProto *t = tm_init(m, "w", OND_DTYPE_FLOAT, 1, (int64_t[]){4}, NULL);
        t->has_raw_data = 0;
        t->has_data_location = 1;
        t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        const char *keys[] = {"location", "offset", "length"};
        const char *vals[] = {cases[i].loc, cases[i].off, cases[i].len};
        for (int k = 0; k < 3; k++) {
            if (!vals[k])
                continue;
            Onnx__StringStringEntryProto *e = tm_alloc(m, sizeof *e);
            onnx__string_string_entry_proto__init(e);
            e->key = (char *)keys[k];
            e->value = (char *)vals[k];
            Onnx__StringStringEntryProto **arr = tm_alloc(m, sizeof *arr * (t->n_external_data + 1));
            if (t->n_external_data)
                memcpy(arr, t->external_data, sizeof *arr * t->n_external_data);
            arr[t->n_external_data++] = e;
            t->external_data = arr;
        }
        size_t len;
        uint8_t *buf = tm_pack(m, &len);
        struct ond_graph *g = NULL;
        struct ond_error err = {0};
        enum ond_status st = ond_load_graph(buf, len, dir, "ext", NULL, false, &g, &err);
        if (cases[i].st == OND_OK) {
            if (st)
                fail_msg("case %zu: %s", i, err.message);
            assert_memory_equal(ond_graph_find_tensor(g, "w")->info.data, w, sizeof w);
        } else {
            assert_error(st, cases[i].st, &err, cases[i].msg);
        }
        ond_graph_free(g);
        /* From memory, external data has no folder to resolve in. */
        st = ond_load_graph(buf, len, NULL, "mem", NULL, false, &g, &err);
        assert_error(st, OND_STATUS_INVALID_MODEL, &err, "loaded from memory");
        free(buf);
        tm_free(m);
    }
    snprintf(path, sizeof path, "%s/w.bin", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/link.bin", dir);
    unlink(path);
    rmdir(dir);
}

/* 17-21: graph structure, ops and attributes. */
static void test_graph_rules(void **state)
{
    (void)state;
    struct ond_error err = {0};
    struct tm *m = tm_new(8, 13);
    int64_t d[] = {2};
    tm_input(m, "x", OND_DTYPE_FLOAT, 1, d);
    tm_node(m, "Relu", "a", "b", "a_out");
    tm_node(m, "Relu", "b", "a_out", "b");
    tm_output(m, "b");
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "graph is not acyclic");
    m = relu_model();
    tm_node(m, "Relu", "self", "s", "s");
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "not acyclic: node 'self'");

    m = relu_model();
    tm_node(m, "Relu", "again", "x", "y");
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "produced by another node");
    m = relu_model();
    tm_init(m, "c", OND_DTYPE_FLOAT, 1, d, NULL);
    tm_init(m, "c", OND_DTYPE_FLOAT, 1, d, NULL);
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "initializer 'c' is defined twice");
    m = relu_model();
    tm_init(m, "y", OND_DTYPE_FLOAT, 1, d, NULL);
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "is also an initializer");
    m = relu_model();
    tm_input(m, "x", OND_DTYPE_FLOAT, 1, d);
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "graph input 'x' is listed twice");

    m = relu_model();
    tm_node(m, "Relu", "dangling", "nowhere", "z");
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "reads tensor 'nowhere'");
    m = relu_model();
    tm_output(m, "ghost");
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "graph output 'ghost' is not produced");

    m = relu_model();
    tm_node(m, "Frobnicate", "f1", "y", "z");
    tm_node(m, "Wobble", "w1", "z", "u");
    assert_error(load_tm(m, &err), OND_STATUS_UNSUPPORTED, &err, "Frobnicate-13, Wobble-13");
    m = relu_model();
    tm_node(m, "Relu", "two", "x,x", "z");
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err, "takes 1 to 1 inputs");

    /* Attributes: missing required, axis out of range, perm not a permutation. */
    m = relu_model();
    tm_node(m, "Pad", "pad", "y", "z");
    tm_proto(m)->opset_import[0]->version = 2;
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err,
                 "node 'pad' (Pad): attribute 'pads' is required");
    m = relu_model();
    tm_attr_int(m, tm_node(m, "Softmax", "sm", "y", "z"), "axis", 2);
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err,
                 "node 'sm' (Softmax): axis 2 is out of range for rank 2");
    m = relu_model();
    tm_attr_ints(m, tm_node(m, "Transpose", "tr", "y", "z"), "perm", 2, (int64_t[]){1, 1});
    assert_error(load_tm(m, &err), OND_STATUS_INVALID_MODEL, &err,
                 "node 'tr' (Transpose): attribute 'perm' is not a permutation of 0..1");

    /* Attributes: type tag disagreeing with the field, duplicates, bad values. */
    int64_t xd[] = {1, 2, 5, 5}, wd[] = {4, 2, 3, 3};
    for (int c = 0; c < 7; c++) {
        m = tm_new(8, 13);
        tm_input(m, "x", OND_DTYPE_FLOAT, 4, xd);
        tm_init(m, "w", OND_DTYPE_FLOAT, 4, wd, NULL);
        Onnx__NodeProto *n = tm_node(m, "Conv", "conv", "x,w", "y");
        tm_output(m, "y");
        const char *want = "";
        enum ond_status st = OND_STATUS_INVALID_MODEL;
        switch (c) {
        case 0:
            tm_attr_int(m, n, "group", 1);
            n->attribute[0]->n_floats = 1;
            n->attribute[0]->floats = (float[]){1};
            want = "attribute 'group' of type 2 carries a field of another type";
            break;
        case 1:
            tm_attr_int(m, n, "group", 1);
            tm_attr_int(m, n, "group", 1);
            want = "attribute 'group' appears twice";
            break;
        case 2:
            tm_attr_ints(m, n, "strides", 2, (int64_t[]){1, 0});
            want = "node 'conv' (Conv): attribute 'strides' has a zero or negative value 0";
            break;
        case 3:
            tm_attr_ints(m, n, "kernel_shape", 3, (int64_t[]){3, 3, 3});
            want = "attribute 'kernel_shape' has 3 values, expected 2";
            break;
        case 4:
            tm_attr_int(m, n, "group", 3);
            want = "group 3 does not divide the 4 output channels";
            break;
        case 5:
            tm_attr_ints(m, n, "pads", 4, (int64_t[]){0, -1, 0, 0});
            want = "attribute 'pads' has a negative value -1";
            break;
        case 6:
            /* A STRING attribute without its field is the empty string (found by fuzzing:
             * ops received NULL). */
            tm_attr_string(m, n, "auto_pad", "SAME_UPPER");
            n->attribute[0]->has_s = 0;
            want = "auto_pad '' is not valid";
            break;
        }
        assert_error(load_tm(m, &err), st, &err, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_model),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_ir3_initializer_inputs),
        cmocka_unit_test(test_container_bytes),
        cmocka_unit_test(test_container_structure),
        cmocka_unit_test(test_enums_opsets_names),
        cmocka_unit_test(test_tensors),
        cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_graph_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
