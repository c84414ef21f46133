/* test_passes.c: the optimization passes on small hand-built graphs. For each pass: the pattern
 * fires when legal and not for each illegal condition, and the graph optimized at -O2 (or -O1)
 * gives the outputs of the same graph at -O0 through the reference interpreter (within 1e-4
 * relative): the unoptimized graph runs each op's own eval, an independent computation of
 * what the fused nodes must give. The pipeline validates the graph after every pass. Also: the
 * pipeline's options and report, the ONNX writer's round trip, and sessions (oneDNN) on fused
 * graphs. */
#include <float.h>
#include <math.h>

#include "ops/op.h"
#include "proto/loader.h"
#include "proto/writer.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "tests/util.h"

#define F OND_DTYPE_FLOAT
#define I64 OND_DTYPE_INT64
#define BATCH 2   /* the value of the symbolic dim N in runs */

/* ---- building ---- */

/* Deterministic values in [lo, hi): a 32-bit LCG per seed. */
static float *values(struct tm *m, size_t n, uint32_t seed, float lo, float hi)
{
    float *v = tm_alloc(m, sizeof *v * n);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = lo + (hi - lo) * (float)(s >> 8) / (float)(1u << 24);
    }
    return v;
}

static uint32_t seed_of(const char *name)
{
    uint32_t h = 2166136261u;
    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 16777619u;
    return h;
}

static size_t count(int rank, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    return n;
}

/* A random float initializer named name. */
static void init(struct tm *m, const char *name, int rank, const int64_t *dims, float lo, float hi)
{
    tm_init(m, name, F, rank, dims, values(m, count(rank, dims), seed_of(name), lo, hi));
}

/* Conv name: in [., cin, H, W] -> out [., cout, H, W], k x k, stride 1, same padding; weights
 * name_w, bias name_b when bias. */
static Onnx__NodeProto *conv(struct tm *m, const char *name, const char *in, const char *out,
                             int64_t cin, int64_t cout, int64_t k, bool bias)
{
    char w[64], b[64], inputs[200];
    snprintf(w, sizeof w, "%s_w", name);
    snprintf(b, sizeof b, "%s_b", name);
    init(m, w, 4, (int64_t[]){cout, cin, k, k}, -0.5f, 0.5f);
    if (bias)
        init(m, b, 1, (int64_t[]){cout}, -0.5f, 0.5f);
    snprintf(inputs, sizeof inputs, "%s,%s%s%s", in, w, bias ? "," : "", bias ? b : "");
    Onnx__NodeProto *n = tm_node(m, "Conv", name, inputs, out);
    int64_t p = k / 2;
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){p, p, p, p});
    return n;
}

/* BatchNormalization name over c channels with random constant parameters. */
static void bn(struct tm *m, const char *name, const char *in, const char *out, int64_t c)
{
    const char *suffix[] = {"scale", "beta", "mean", "var"};
    char inputs[300];
    int at = snprintf(inputs, sizeof inputs, "%s", in);
    for (int i = 0; i < 4; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s_%s", name, suffix[i]);
        init(m, p, 1, (int64_t[]){c}, i == 3 ? 0.5f : -1.f, 1.5f);
        at += snprintf(inputs + at, sizeof inputs - (size_t)at, ",%s", p);
    }
    tm_node(m, "BatchNormalization", name, inputs, out);
}

/* m through the passes of a load for sessions of precision p (fold_qdq runs for int8 only). */
static struct ond_graph *load_for(struct tm *m, int level, const char *disable,
                                  enum ond_precision p, struct ond_pass_report **report)
{
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    struct ond_options o;
    const char *names[] = {disable};
    if (tm_load(m, &g, &err))
        fail_msg("load: %s", err.message);
    ond_options_init(&o);
    o.opt_level = level;
    o.disabled_passes = names;
    o.n_disabled_passes = disable ? 1 : 0;
    o.precision = p;
    if (ond_passes_run(g, &o, report, &err))
        fail_msg("passes: %s", err.message);
    return g;
}

static struct ond_graph *load_at(struct tm *m, int level, const char *disable,
                                 struct ond_pass_report **report)
{
    return load_for(m, level, disable, OND_PRECISION_FP32, report);
}

static int count_op(const struct ond_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i]->op_type, op) == 0;
    return n;
}

static struct ond_node *find(const struct ond_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    return NULL;
}

/* ---- running ---- */

/* g's float inputs, random in [-2, 2) for seed (symbolic dims = BATCH); data[i] malloc'd. */
static void inputs(const struct ond_graph *g, uint32_t seed, struct ond_value *in, float **data)
{
    assert_true(g->n_inputs <= 8);
    for (int i = 0; i < g->n_inputs; i++) {
        const struct ond_info *info = &g->inputs[i]->info;
        in[i] = (struct ond_value){.name = g->inputs[i]->name, .dtype = F, .rank = info->rank};
        for (int d = 0; d < info->rank; d++)
            in[i].dims[d] = info->dims[d] < 0 ? BATCH : info->dims[d];
        size_t n = count(info->rank, in[i].dims);
        data[i] = malloc(sizeof(float) * n);
        uint32_t s = seed + 977u * (uint32_t)i;
        for (size_t k = 0; k < n; k++) {
            s = s * 1664525u + 1013904223u;
            data[i][k] = -2.f + 4.f * (float)(s >> 8) / (float)(1u << 24);
        }
        in[i].data = data[i];
        in[i].size = n * sizeof(float);
    }
}

/* Reference outputs of g on the random inputs of seed; malloc'd. */
static void run(const struct ond_graph *g, uint32_t seed, struct ond_value *out)
{
    struct ond_value in[8];
    float *data[8];
    struct ond_error err = {0};
    assert_true(g->n_outputs <= 8);
    inputs(g, seed, in, data);
    enum ond_status st = ond_reference_run(g, in, (size_t)g->n_inputs, out, NULL, NULL, &err);
    for (int i = 0; i < g->n_inputs; i++)
        free(data[i]);
    if (st)
        fail_msg("run: %s", err.message);
}

static void free_outputs(const struct ond_graph *g, struct ond_value *v)
{
    for (int i = 0; i < g->n_outputs; i++) {
        free((void *)v[i].name);
        free(v[i].data);
    }
}

/* a's and b's outputs agree within 1e-4 relative (and 1e-5 absolute near zero). */
static void assert_same_outputs(const struct ond_graph *a, const struct ond_graph *b)
{
    struct ond_value va[8], vb[8];
    assert_int_equal(a->n_outputs, b->n_outputs);
    run(a, 7, va);
    run(b, 7, vb);
    for (int i = 0; i < a->n_outputs; i++) {
        assert_int_equal(va[i].size, vb[i].size);
        assert_int_equal(va[i].rank, vb[i].rank);
        assert_close(vb[i].data, va[i].data, va[i].size / sizeof(float), 1e-4f, 1e-5f);
    }
    free_outputs(a, va);
    free_outputs(b, vb);
}

/* Loads m at -O0 and at level (one pass disabled, or none), checks the outputs agree, and
 * returns the optimized graph; tm_free(m) stays the caller's. */
static struct ond_graph *optimized(struct tm *m, int level, const char *disable,
                                   struct ond_pass_report **report)
{
    struct ond_graph *g0 = load_at(m, 0, NULL, NULL);
    struct ond_graph *g = load_at(m, level, disable, report);
    assert_same_outputs(g0, g);
    ond_graph_free(g0);
    return g;
}

static bool has_fusion(const struct ond_pass_report *r, const char *line)
{
    for (int i = 0; i < r->fusions.n; i++)
        if (strcmp(r->fusions.items[i].line, line) == 0)
            return true;
    return false;
}

static const struct ond_pass_stat *stat_of(const struct ond_pass_report *r, const char *pass)
{
    for (int i = 0; i < r->n_passes; i++)
        if (strcmp(r->passes[i].name, pass) == 0)
            return &r->passes[i];
    fail_msg("no pass %s", pass);
    return NULL;
}

static int rewrites(const struct ond_pass_report *r, const char *pass)
{
    return stat_of(r, pass)->rewrites;
}

static const int64_t x4[] = {-1, 3, 5, 5};  /* [N,3,5,5] */

/* ---- fold_batchnorm ---- */

/* Hand-computed: x [1,1,1,2] = (1, 2), W = 2, B = 1 -> (3, 5); BN scale 3, beta 0.5, mean 1,
 * var 3, epsilon 1: s = 3 / sqrt(4) = 1.5, so W' = 3, B' = (1 - 1) * 1.5 + 0.5 = 0.5 and the
 * output is (3.5, 6.5). */
static void test_fold_bn_hand_computed(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){1, 1, 1, 2});
    const int64_t one[] = {1}, w4[] = {1, 1, 1, 1};
    tm_init(m, "w", F, 4, w4, (float[]){2});
    tm_init(m, "b", F, 1, one, (float[]){1});
    tm_init(m, "scale", F, 1, one, (float[]){3});
    tm_init(m, "beta", F, 1, one, (float[]){0.5f});
    tm_init(m, "mean", F, 1, one, (float[]){1});
    tm_init(m, "var", F, 1, one, (float[]){3});
    tm_node(m, "Conv", "conv", "x,w,b", "y");
    tm_attr_float(m, tm_node(m, "BatchNormalization", "bn", "y,scale,beta,mean,var", "z"),
                  "epsilon", 1.f);
    tm_output(m, "z");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = load_at(m, 1, NULL, &r);
    assert_int_equal(g->n_nodes, 1);
    const struct ond_node *c = g->nodes[0];
    assert_float_equal(*(const float *)c->in[1]->info.data, 3.f, 1e-6);
    assert_float_equal(*(const float *)c->in[2]->info.data, 0.5f, 1e-6);
    struct ond_value out[1];
    float x[] = {1, 2};
    struct ond_value in = {.name = "x", .dtype = F, .rank = 4, .dims = {1, 1, 1, 2}, .data = x,
                           .size = sizeof x};
    struct ond_error err = {0};
    assert_int_equal(ond_reference_run(g, &in, 1, out, NULL, NULL, &err), OND_OK);
    assert_close(out[0].data, ((float[]){3.5f, 6.5f}), 2, 1e-6f, 0);
    assert_true(has_fusion(r, "Conv 'conv' + BatchNormalization 'bn' -> Conv 'conv'"));
    free_outputs(g, out);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Conv without bias (one is made), grouped conv, random parameters: folds, same outputs. */
static void test_fold_bn(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    conv(m, "c1", "x", "y1", 3, 4, 3, false);
    bn(m, "bn1", "y1", "z1", 4);
    tm_attr_int(m, conv(m, "c2", "z1", "y2", 2, 4, 1, true), "group", 2);
    bn(m, "bn2", "y2", "z", 4);
    tm_output(m, "z");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    assert_int_equal(count_op(g, "BatchNormalization"), 0);
    assert_int_equal(count_op(g, "Conv"), 2);
    assert_int_equal(rewrites(r, "fold_batchnorm"), 2);
    assert_int_equal(find(g, "c1")->n_in, 3);
    assert_true(ond_graph_find_tensor(g, "bn1_scale")->info.data == NULL); /* freed */
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Illegal: the conv output has a second reader; BN parameters are not constant. */
static void test_fold_bn_illegal(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_input(m, "live_scale", F, 1, (int64_t[]){3});
    conv(m, "c1", "x", "y1", 3, 3, 3, true);
    bn(m, "bn1", "y1", "z1", 3);
    tm_node(m, "Relu", "second_reader", "y1", "r1");
    conv(m, "c2", "z1", "y2", 3, 3, 1, true);
    init(m, "b2", 1, (int64_t[]){3}, 0, 1);
    init(m, "m2", 1, (int64_t[]){3}, 0, 1);
    init(m, "v2", 1, (int64_t[]){3}, 0.5f, 1);
    tm_node(m, "BatchNormalization", "bn2", "y2,live_scale,b2,m2,v2", "z");
    tm_output(m, "z");
    tm_output(m, "r1");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "fold_batchnorm"), 0);
    assert_int_equal(count_op(g, "BatchNormalization"), 2);
    ond_pass_report_free(r);
    ond_graph_free(g);
    /* At -O2 the first becomes a ScaleShift; the second (live scale) stays. */
    g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "batchnorm_scale_shift"), 1);
    assert_int_equal(count_op(g, "ScaleShift"), 1);
    assert_int_equal(count_op(g, "BatchNormalization"), 1);
    assert_true(has_fusion(r, "BatchNormalization 'bn1' -> ScaleShift 'bn1'"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Two convs share W and B, each followed by its own BN: both fold, into separate clones. */
static void test_fold_bn_shared_weights(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    init(m, "w", 4, (int64_t[]){3, 3, 3, 3}, -0.5f, 0.5f);
    init(m, "b", 1, (int64_t[]){3}, -0.5f, 0.5f);
    const int64_t pads[] = {1, 1, 1, 1};
    tm_attr_ints(m, tm_node(m, "Conv", "c1", "x,w,b", "y1"), "pads", 4, pads);
    tm_attr_ints(m, tm_node(m, "Conv", "c2", "x,w,b", "y2"), "pads", 4, pads);
    bn(m, "bn1", "y1", "z1", 3);
    bn(m, "bn2", "y2", "z2", 3);
    tm_output(m, "z1");
    tm_output(m, "z2");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "fold_batchnorm"), 2);
    const struct ond_node *c1 = find(g, "c1"), *c2 = find(g, "c2");
    assert_ptr_not_equal(c1->in[1], c2->in[1]);
    assert_ptr_not_equal(c1->in[2], c2->in[2]);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Pre-activation block: BN -> Relu -> Conv becomes ScaleShift [relu] -> Conv. */
static void test_scale_shift_preact(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    bn(m, "bn", "x", "n", 3);
    tm_node(m, "Relu", "relu", "n", "a");
    conv(m, "c", "a", "y", 3, 2, 3, true);
    tm_output(m, "y");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(g->n_nodes, 2);
    const struct ond_node *s = find(g, "bn");
    assert_string_equal(s->op_type, "ScaleShift");
    assert_int_equal(s->n_post, 1);
    assert_int_equal(s->post[0].kind, OND_POST_RELU);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* ---- fuse_residual_add ---- */

/* x -> Relu -> s; conv(s) -> c; Add(c, s) -> Relu: conv [sum, relu], s appended as input 3. */
static struct tm *residual(const char *add_op, int64_t opset, bool second_reader)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "x", F, 4, x4);
    tm_node(m, "Relu", "pre", "x", "s");
    conv(m, "c", "s", "y", 3, 3, 3, false);
    tm_node(m, add_op, "add", "y,s", "z");
    tm_node(m, "Relu", "relu", "z", "out");
    tm_output(m, "out");
    if (second_reader)
        tm_output(m, "y");
    return m;
}

static void test_residual(void **state)
{
    (void)state;
    struct tm *m = residual("Add", 13, false);
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    const struct ond_node *c = find(g, "c");
    assert_int_equal(g->n_nodes, 2);
    assert_int_equal(c->n_in, 4);
    assert_null(c->in[2]);
    assert_string_equal(c->in[3]->name, "s");
    assert_int_equal(c->n_post, 2);
    assert_int_equal(c->post[0].kind, OND_POST_SUM);
    assert_int_equal(c->post[0].input, 3);
    assert_int_equal(c->post[1].kind, OND_POST_RELU);
    assert_string_equal(c->out[0]->name, "out");
    assert_true(has_fusion(r, "Conv 'c' + Add 'add' + Relu 'relu' -> Conv 'c' [sum, relu]"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
    /* Old-opset Sum of two inputs counts as Add. */
    m = residual("Sum", 6, false);
    g = optimized(m, 2, NULL, &r);
    assert_int_equal(g->n_nodes, 2);
    assert_true(has_fusion(r, "Conv 'c' + Sum 'add' + Relu 'relu' -> Conv 'c' [sum, relu]"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Illegal: the conv output is read elsewhere (a graph output); the shortcut is a graph output
 * or shares its storage with a view read after the conv; the add broadcasts; the shortcut is
 * a graph input (the session accumulates in place). */
static void test_residual_illegal(void **state)
{
    (void)state;
    struct tm *m = residual("Add", 13, true);
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "fuse_residual_add"), 0);
    assert_int_equal(count_op(g, "Add"), 1);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);

    m = residual("Add", 13, false);
    tm_output(m, "s");
    g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "fuse_residual_add"), 0);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);

    /* f = Flatten(s) is made before the conv and read after it: a session views s's buffer
     * as f, so accumulating into s would change f. */
    m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_node(m, "Relu", "pre", "x", "s");
    tm_node(m, "Flatten", "flat", "s", "f");
    conv(m, "c", "s", "y", 3, 3, 3, false);
    tm_node(m, "Add", "add", "y,s", "z");
    tm_node(m, "Relu", "relu", "z", "out");
    tm_node(m, "Relu", "relu2", "f", "out2");
    tm_output(m, "out");
    tm_output(m, "out2");
    g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "fuse_residual_add"), 0);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);

    m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_input(m, "v", F, 4, (int64_t[]){1, 3, 1, 1});
    tm_node(m, "Relu", "pre", "v", "s");
    conv(m, "c", "x", "y", 3, 3, 3, true);
    tm_node(m, "Add", "add", "y,s", "z");
    tm_output(m, "z");
    g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "fuse_residual_add"), 0);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);

    m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    conv(m, "c", "x", "y", 3, 3, 3, true);
    tm_node(m, "Add", "add", "y,x", "z");
    tm_output(m, "z");
    g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "fuse_residual_add"), 0);
    assert_int_equal(count_op(g, "Add"), 1);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Projection shortcut: both add inputs are convs; the later one in node order takes the sum. */
static void test_residual_projection(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_node(m, "Relu", "pre", "x", "a");
    conv(m, "main", "a", "y1", 3, 4, 3, true);
    conv(m, "proj", "a", "y2", 3, 4, 1, true);
    tm_node(m, "Add", "add", "y1,y2", "z");
    tm_node(m, "Relu", "relu", "z", "out");
    tm_output(m, "out");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_true(has_fusion(r, "Conv 'proj' + Add 'add' + Relu 'relu' -> Conv 'proj' [sum, relu]"));
    assert_int_equal(find(g, "main")->n_post, 0);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* ---- activations ---- */

static void test_activations(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 14);
    tm_input(m, "x", F, 4, x4);
    tm_init(m, "lo", F, 0, NULL, (float[]){-0.25f});
    tm_init(m, "hi", F, 0, NULL, (float[]){0.5f});
    conv(m, "c1", "x", "y1", 3, 3, 3, true);
    tm_node(m, "Clip", "clip", "y1,lo,hi", "a1");
    tm_node(m, "HardSwish", "hs", "a1", "a2");
    conv(m, "c2", "a2", "y2", 3, 3, 3, true);
    tm_attr_float(m, tm_node(m, "LeakyRelu", "leaky", "y2", "a3"), "alpha", 0.2f);
    tm_node(m, "Flatten", "flat", "a3", "f");
    init(m, "gw", 2, (int64_t[]){75, 6}, -0.2f, 0.2f);
    tm_node(m, "Gemm", "gemm", "f,gw", "g");
    tm_node(m, "Sigmoid", "sig", "g", "out");
    tm_output(m, "out");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(g->n_nodes, 3);
    assert_true(has_fusion(r, "Conv 'c1' + Clip 'clip' -> Conv 'c1' [clip]"));
    assert_true(has_fusion(r, "Conv 'c1' + HardSwish 'hs' -> Conv 'c1' [clip, hard_swish]"));
    assert_true(has_fusion(r, "Conv 'c2' + LeakyRelu 'leaky' -> Conv 'c2' [leaky_relu]"));
    assert_true(has_fusion(r, "Flatten 'flat' + Gemm 'gemm' -> InnerProduct 'gemm'"));
    assert_true(has_fusion(r, "InnerProduct 'gemm' + Sigmoid 'sig' -> InnerProduct 'gemm' "
                              "[sigmoid]"));
    const struct ond_node *c1 = find(g, "c1");
    assert_float_equal(c1->post[0].alpha, -0.25f, 0);
    assert_float_equal(c1->post[0].beta, 0.5f, 0);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* The activations that are one oneDNN eltwise algorithm (issue 15's ops), chained after convs;
 * -O2 against -O0 in the reference interpreter, then the fused convs' oneDNN post-ops in a
 * session against the unfused -O0 graph. */
static struct tm *activations_15(void)
{
    struct tm *m = tm_new(8, 18);
    tm_input(m, "x", F, 4, x4);
    conv(m, "c1", "x", "y1", 3, 3, 3, true);
    tm_node(m, "Tanh", "tanh", "y1", "a1");
    tm_attr_float(m, tm_node(m, "Elu", "elu", "a1", "a2"), "alpha", 0.5f);
    conv(m, "c2", "a2", "y2", 3, 3, 3, true);
    tm_node(m, "Softplus", "softplus", "y2", "a3");
    tm_node(m, "Mish", "mish", "a3", "a4");
    conv(m, "c3", "a4", "y3", 3, 3, 3, true);
    tm_node(m, "Abs", "abs", "y3", "a5");
    tm_node(m, "Sqrt", "sqrt", "a5", "a6");
    tm_node(m, "Exp", "exp", "a6", "out");
    tm_output(m, "out");
    return m;
}

/* The same activations after a residual add (Conv [sum, elu]) and after an Add no conv takes
 * (Add [tanh], a oneDNN binary with an eltwise post-op). */
static struct tm *add_activations_15(void)
{
    struct tm *m = tm_new(8, 18);
    tm_input(m, "x", F, 4, x4);
    tm_node(m, "Relu", "pre", "x", "a");
    conv(m, "c1", "a", "y1", 3, 3, 3, true);
    tm_node(m, "Add", "add1", "y1,a", "s1");
    tm_node(m, "Elu", "elu", "s1", "e1");
    tm_node(m, "Add", "add2", "e1,e1", "s2");
    tm_node(m, "Tanh", "tanh", "s2", "out");
    tm_output(m, "out");
    return m;
}

static void test_activations_15(void **state)
{
    (void)state;
    struct tm *m = activations_15();
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(g->n_nodes, 3);
    assert_true(has_fusion(r, "Conv 'c1' + Elu 'elu' -> Conv 'c1' [tanh, elu]"));
    assert_true(has_fusion(r, "Conv 'c2' + Mish 'mish' -> Conv 'c2' [soft_relu, mish]"));
    assert_true(has_fusion(r, "Conv 'c3' + Exp 'exp' -> Conv 'c3' [abs, sqrt, exp]"));
    assert_float_equal(find(g, "c1")->post[1].alpha, 0.5f, 0);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);

    m = add_activations_15();
    g = optimized(m, 2, NULL, &r);
    assert_true(has_fusion(r, "Conv 'c1' + Add 'add1' + Elu 'elu' -> Conv 'c1' [sum, elu]"));
    assert_true(has_fusion(r, "Add 'add2' + Tanh 'tanh' -> Add 'add2' [tanh]"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Illegal: a Clip bound that is not constant; a conv output read twice. */
static void test_activation_illegal(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_input(m, "lo", F, 0, NULL);
    conv(m, "c1", "x", "y1", 3, 3, 3, true);
    tm_node(m, "Clip", "clip", "y1,lo", "a1");
    conv(m, "c2", "a1", "y2", 3, 3, 3, true);
    tm_node(m, "Relu", "relu", "y2", "a2");
    tm_node(m, "Add", "add", "a2,y2", "out");
    tm_output(m, "out");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "fuse_activation"), 0);
    assert_int_equal(count_op(g, "Clip"), 1);
    assert_int_equal(count_op(g, "Relu"), 1);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Add + Relu where no conv can take it; Sum + Relu becomes Add [relu]. */
static void test_add_activation(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 8);
    tm_input(m, "a", F, 4, x4);
    tm_input(m, "b", F, 4, (int64_t[]){1, 3, 1, 5});
    tm_input(m, "c", F, 4, x4);
    tm_node(m, "Add", "add", "a,b", "s1");
    tm_node(m, "Relu", "r1", "s1", "o1");
    tm_node(m, "Sum", "sum", "o1,c", "s2");
    tm_node(m, "Relu", "r2", "s2", "o2");
    tm_output(m, "o2");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(g->n_nodes, 2);
    assert_int_equal(count_op(g, "Add"), 2);
    assert_true(has_fusion(r, "Add 'add' + Relu 'r1' -> Add 'add' [relu]"));
    assert_true(has_fusion(r, "Sum 'sum' + Relu 'r2' -> Add 'sum' [relu]"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* ---- fuse_inner_product ---- */

/* Gemm with transB = 0, alpha, beta and C [1,M] after Flatten: new W and b are made. */
static void test_inner_product(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_node(m, "Flatten", "flat", "x", "f");
    init(m, "w", 2, (int64_t[]){75, 4}, -0.3f, 0.3f);
    init(m, "c", 2, (int64_t[]){1, 4}, -1, 1);
    Onnx__NodeProto *n = tm_node(m, "Gemm", "gemm", "f,w,c", "y");
    tm_attr_float(m, n, "alpha", 2.f);
    tm_attr_float(m, n, "beta", 0.5f);
    tm_output(m, "y");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(g->n_nodes, 1);
    assert_string_equal(g->nodes[0]->op_type, "InnerProduct");
    assert_string_equal(g->nodes[0]->in[0]->name, "x");
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Illegal: Flatten at axis 2; C varying along the rows ([N,M] per sample). */
static void test_inner_product_illegal(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){2, 3, 2, 2});
    tm_attr_int(m, tm_node(m, "Flatten", "flat", "x", "f"), "axis", 2);
    init(m, "w", 2, (int64_t[]){4, 3}, -0.3f, 0.3f);
    tm_node(m, "Gemm", "gemm", "f,w", "y");
    tm_node(m, "Flatten", "flat2", "x", "f2");
    init(m, "w2", 2, (int64_t[]){12, 3}, -0.3f, 0.3f);
    init(m, "c2", 2, (int64_t[]){2, 3}, -1, 1);
    tm_node(m, "Gemm", "gemm2", "f2,w2,c2", "y2");
    tm_output(m, "y");
    tm_output(m, "y2");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "fuse_inner_product"), 0);
    assert_int_equal(count_op(g, "Gemm"), 2);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* ---- constants and shape chains ---- */

/* x.view(x.size(0), -1) with a dynamic batch: the Reshape gets [0, 75], the chain goes, and
 * Reshape + Gemm becomes an InnerProduct. */
static struct tm *view_chain(bool static_batch)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, static_batch ? (int64_t[]){BATCH, 3, 5, 5} : x4);
    tm_init(m, "zero", I64, 0, NULL, (int64_t[]){0});
    tm_init(m, "axes", I64, 1, (int64_t[]){1}, (int64_t[]){0});
    tm_init(m, "minus1", I64, 1, (int64_t[]){1}, (int64_t[]){-1});
    tm_node(m, "Shape", "shape", "x", "sh");
    tm_node(m, "Gather", "gather", "sh,zero", "n");
    tm_node(m, "Unsqueeze", "unsq", "n,axes", "n1");
    tm_attr_int(m, tm_node(m, "Concat", "cat", "n1,minus1", "target"), "axis", 0);
    tm_node(m, "Reshape", "view", "x,target", "f");
    init(m, "w", 2, (int64_t[]){4, 75}, -0.3f, 0.3f);
    tm_attr_int(m, tm_node(m, "Gemm", "fc", "f,w", "y"), "transB", 1);
    tm_output(m, "y");
    return m;
}

static void test_shape_chains(void **state)
{
    (void)state;
    struct tm *m = view_chain(false);
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "fold_shape_chains"), 1);
    assert_int_equal(g->n_nodes, 2);
    const struct ond_tensor *shape = find(g, "view")->in[1];
    assert_true(shape->flags & OND_TENSOR_CONST);
    assert_int_equal(((const int64_t *)shape->info.data)[0], 0);
    assert_int_equal(((const int64_t *)shape->info.data)[1], 75);
    ond_pass_report_free(r);
    ond_graph_free(g);
    g = optimized(m, 2, NULL, &r);
    assert_int_equal(g->n_nodes, 1);
    assert_string_equal(g->nodes[0]->op_type, "InnerProduct");
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
    /* With a static batch, fold_constants computes the whole chain. */
    m = view_chain(true);
    g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "fold_constants"), 4);
    assert_int_equal(rewrites(r, "fold_shape_chains"), 0);
    assert_int_equal(g->n_nodes, 2);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* Constant and ConstantOfShape fold; over the byte budget, or as a graph output, they stay. */
static void test_fold_constants(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){-1, 64});
    Onnx__NodeProto *n = tm_node(m, "Constant", "k", NULL, "kv");
    tm_attr_tensor(m, n, "value", tm_tensor(m, F, 1, (int64_t[]){64}, values(m, 64, 3, -1, 1)));
    tm_init(m, "shape", I64, 1, (int64_t[]){2}, (int64_t[]){1, 64});
    n = tm_node(m, "ConstantOfShape", "fill", "shape", "ones");
    tm_attr_tensor(m, n, "value", tm_tensor(m, F, 1, (int64_t[]){1}, (float[]){1.5f}));
    tm_node(m, "Add", "a1", "kv,ones", "kk");
    tm_node(m, "Mul", "m1", "x,kk", "y");
    tm_node(m, "Constant", "out_const", NULL, "c_out");
    tm_attr_tensor(m, tm_graph(m)->node[tm_graph(m)->n_node - 1], "value",
                   tm_tensor(m, F, 1, (int64_t[]){2}, (float[]){1, 2}));
    tm_output(m, "y");
    tm_output(m, "c_out");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "fold_constants"), 3);
    assert_int_equal(g->n_nodes, 2);
    assert_non_null(find(g, "out_const"));
    assert_true(ond_graph_find_tensor(g, "kk")->flags & OND_TENSOR_CONST);
    ond_pass_report_free(r);
    ond_graph_free(g);
    /* At -O2 the fusion passes meet the input-less Constant node that stays. */
    g = optimized(m, 2, NULL, &r);
    assert_non_null(find(g, "out_const"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* ---- fold_qdq ---- */

/* x -> Q/DQ (scale 0.05, uint8 0) -> Conv -> c -> Q/DQ (0.02, int8 zero point 10) -> Relu -> r
 * -> Q (0.1) / DQ (0.2) -> Relu -> y. The first two pairs fold: x gets 0.05 u8 (the Conv's
 * own quantization saturates it); the second, asymmetric, becomes a Clip to its range
 * [0.02 (-128 - 10), 0.02 (127 - 10)], its output symmetric over it: 0.02 * 138 / 127 s8.
 * The third pair's scales differ: it stays, and so does its rounding. */
static void test_fold_qdq(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_init(m, "s1", F, 0, NULL, (float[]){0.05f});
    tm_init(m, "z1", OND_DTYPE_UINT8, 0, NULL, (uint8_t[]){0});
    tm_init(m, "s2", F, 0, NULL, (float[]){0.02f});
    tm_init(m, "z2", OND_DTYPE_INT8, 0, NULL, (int8_t[]){10});
    tm_init(m, "s3", F, 0, NULL, (float[]){0.1f});
    tm_init(m, "s4", F, 0, NULL, (float[]){0.2f});
    tm_node(m, "QuantizeLinear", "q1", "x,s1,z1", "xq");
    tm_node(m, "DequantizeLinear", "d1", "xq,s1,z1", "xd");
    conv(m, "conv", "xd", "c", 3, 4, 1, false);
    tm_node(m, "QuantizeLinear", "q2", "c,s2,z2", "cq");
    tm_node(m, "DequantizeLinear", "d2", "cq,s2,z2", "cd");
    tm_node(m, "Relu", "relu", "cd", "r");
    tm_node(m, "QuantizeLinear", "q3", "r,s3", "rq");
    tm_node(m, "DequantizeLinear", "d3", "rq,s4", "rd");
    tm_node(m, "Relu", "relu2", "rd", "y");
    tm_output(m, "y");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = load_for(m, 1, NULL, OND_PRECISION_INT8, &r);
    assert_int_equal(rewrites(r, "fold_qdq"), 2);
    assert_int_equal(count_op(g, "QuantizeLinear"), 1);
    assert_int_equal(count_op(g, "DequantizeLinear"), 1);
    assert_int_equal(count_op(g, "Clip"), 1);
    const struct ond_tensor *x = ond_graph_find_tensor(g, "x"), *c = ond_graph_find_tensor(g, "c"),
                            *cd = ond_graph_find_tensor(g, "cd");
    assert_ptr_equal(find(g, "conv")->in[0], x);
    const struct ond_node *clip = find(g, "d2");
    assert_string_equal(clip->op_type, "Clip");
    assert_ptr_equal(clip->in[0], c);
    assert_float_equal(*(const float *)clip->in[1]->info.data, 0.02f * -138, 1e-6);
    assert_float_equal(*(const float *)clip->in[2]->info.data, 0.02f * 117, 1e-6);
    assert_ptr_equal(find(g, "relu")->in[0], cd);
    assert_float_equal(x->qscale, 0.05f, 1e-9);
    assert_true(x->qunsigned);
    assert_float_equal(cd->qscale, 0.02f * 138 / 127, 1e-7);
    assert_false(cd->qunsigned);
    assert_true(has_fusion(r, "QuantizeLinear 'q1' + DequantizeLinear -> 'x' scale 0.05 u8"));
    assert_true(has_fusion(r, "QuantizeLinear 'q2' + DequantizeLinear -> Clip 'cd' scale "
                              "0.0217323 s8"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    /* A zero point of 0 read by an op that takes float (Relu): a Clip to [-128 s, 127 s]. */
    struct tm *m0 = tm_new(8, 13);
    tm_input(m0, "x", F, 4, x4);
    tm_init(m0, "s", F, 0, NULL, (float[]){0.05f});
    tm_init(m0, "z", OND_DTYPE_INT8, 0, NULL, (int8_t[]){0});
    tm_node(m0, "QuantizeLinear", "q", "x,s,z", "xq");
    tm_node(m0, "DequantizeLinear", "d", "xq,s,z", "xd");
    tm_node(m0, "Relu", "relu", "xd", "y");
    tm_output(m0, "y");
    g = load_for(m0, 1, NULL, OND_PRECISION_INT8, &r);
    clip = find(g, "d");
    assert_string_equal(clip->op_type, "Clip");
    assert_float_equal(*(const float *)clip->in[1]->info.data, 0.05f * -128, 1e-6);
    assert_float_equal(*(const float *)clip->in[2]->info.data, 0.05f * 127, 1e-6);
    assert_float_equal(clip->out[0]->qscale, 0.05f, 1e-9);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m0);
    /* -O0, and loads for fp32 or bf16 sessions at every level, keep every pair, which then
     * runs as its two ops: the model's rounding and saturation stay. */
    for (int level = 0; level <= 2; level++) {
        g = load_for(m, level, NULL, level ? OND_PRECISION_BF16 : OND_PRECISION_INT8, &r);
        assert_int_equal(count_op(g, "QuantizeLinear"), 3);
        assert_int_equal(count_op(g, "DequantizeLinear"), 3);
        assert_int_equal(rewrites(r, "fold_qdq"), 0);
        ond_pass_report_free(r);
        ond_graph_free(g);
        g = load_at(m, level, NULL, NULL);
        assert_int_equal(count_op(g, "QuantizeLinear"), 3);
        ond_graph_free(g);
    }
    tm_free(m);
}

/* x [N,3,5,5] -> Q/DQ (0.05, int8 0) -> Flatten, or a Reshape to [1, 75] (which does not
 * keep the symbolic N), -> Gemm. A Gemm reads the pair's tensor as int8 only when
 * fuse_inner_product makes it an InnerProduct (at -O2, after a Flatten); else it runs f32
 * and would read x unsaturated, so the pair becomes a Clip (graph fuzzer, finding N). */
static void test_fold_qdq_gemm(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        bool reshape = k == 1;
        int level = k == 2 ? 1 : 2;
        struct tm *m = tm_new(8, 13);
        tm_input(m, "x", F, 4, x4);
        tm_init(m, "s", F, 0, NULL, (float[]){0.05f});
        tm_init(m, "z", OND_DTYPE_INT8, 0, NULL, (int8_t[]){0});
        tm_init(m, "shape", OND_DTYPE_INT64, 1, (int64_t[]){2}, (int64_t[]){1, 75});
        init(m, "b", 2, (int64_t[]){75, 4}, -0.5f, 0.5f);
        tm_node(m, "QuantizeLinear", "q", "x,s,z", "xq");
        tm_node(m, "DequantizeLinear", "d", "xq,s,z", "xd");
        if (reshape)
            tm_node(m, "Reshape", "flat", "xd,shape", "f");
        else
            tm_node(m, "Flatten", "flat", "xd", "f");
        tm_node(m, "Gemm", "gemm", "f,b", "y");
        tm_output(m, "y");
        struct ond_pass_report *r = NULL;
        struct ond_graph *g = load_for(m, level, k == 3 ? "fuse_inner_product" : NULL,
                                       OND_PRECISION_INT8, &r);
        const struct ond_tensor *x = ond_graph_find_tensor(g, "x");
        bool fused = k == 0;
        assert_int_equal(count_op(g, "InnerProduct"), fused);
        assert_int_equal(count_op(g, "Clip"), !fused);
        assert_int_equal(count_op(g, "QuantizeLinear") + count_op(g, "DequantizeLinear"), 0);
        assert_float_equal(x->qscale, fused ? 0.05f : 0.f, 1e-9);
        if (!fused) {
            const struct ond_node *clip = find(g, "d");
            assert_float_equal(*(const float *)clip->in[1]->info.data, 0.05f * -128, 1e-6);
            assert_float_equal(*(const float *)clip->in[2]->info.data, 0.05f * 127, 1e-6);
        }
        ond_pass_report_free(r);
        ond_graph_free(g);
        tm_free(m);
    }
}

/* ---- expand_qlinear ---- */

#define U8 OND_DTYPE_UINT8
#define S8 OND_DTYPE_INT8

/* Random int8 weights [m, per] whose every row reaches -127 or 127 (so an int8 session's own
 * per-channel quantization, max |w| / 127, gives the model's scale back exactly), with a
 * per-row scale of 0.001 (row + 1) and zero points 0: initializers name, name_s, name_z. */
static void qweights(struct tm *m, const char *name, int rank, const int64_t *dims)
{
    char sn[64], zn[64];
    size_t n = count(rank, dims), per = n / (size_t)dims[0];
    float *v = values(m, n, seed_of(name), -127.f, 128.f);
    int8_t *q = tm_alloc(m, n);
    float *sc = tm_alloc(m, sizeof *sc * (size_t)dims[0]);
    for (size_t i = 0; i < n; i++)
        q[i] = i % per == 1 ? (i / per % 2 ? -127 : 127) : (int8_t)floorf(v[i]);
    for (int64_t r = 0; r < dims[0]; r++)
        sc[r] = 0.001f * (float)(r + 1);
    snprintf(sn, sizeof sn, "%s_s", name);
    snprintf(zn, sizeof zn, "%s_z", name);
    tm_init(m, name, S8, rank, dims, q);
    tm_init(m, sn, F, 1, dims, sc);
    tm_init(m, zn, S8, 1, dims, NULL);
}

/* x [N,3,5,5] -> QuantizeLinear(4/255, u8 128) -> xq -> QLinearConv c1 (3x3, pads 1, int8
 * weights per output channel, int32 bias) -> y1q (0.03, u8 128) -> QLinearConv c2 (3x3,
 * group 2, stride 2, pads 1, bias) -> y (0.02, u8 100): an output [N,4,3,3] of uint8. */
static struct tm *qconv_chain(int64_t opset)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "x", F, 4, x4);
    tm_init(m, "xs", F, 0, NULL, (float[]){4.f / 255});
    tm_init(m, "xz", U8, 0, NULL, (uint8_t[]){128});
    tm_init(m, "y1s", F, 0, NULL, (float[]){0.06f});
    tm_init(m, "y1z", U8, 0, NULL, (uint8_t[]){128});
    tm_init(m, "ys", F, 0, NULL, (float[]){0.05f});
    tm_init(m, "yz", U8, 0, NULL, (uint8_t[]){100});
    qweights(m, "w1", 4, (int64_t[]){4, 3, 3, 3});
    qweights(m, "w2", 4, (int64_t[]){4, 2, 3, 3});
    tm_init(m, "b1", OND_DTYPE_INT32, 1, (int64_t[]){4}, (int32_t[]){3000, -2000, 500, -700});
    tm_init(m, "b2", OND_DTYPE_INT32, 1, (int64_t[]){4}, (int32_t[]){-100, 1500, 40, -3000});
    tm_node(m, "QuantizeLinear", "q", "x,xs,xz", "xq");
    Onnx__NodeProto *n = tm_node(m, "QLinearConv", "c1", "xq,xs,xz,w1,w1_s,w1_z,y1s,y1z,b1",
                                 "y1q");
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    n = tm_node(m, "QLinearConv", "c2", "y1q,y1s,y1z,w2,w2_s,w2_z,ys,yz,b2", "y");
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    tm_attr_ints(m, n, "strides", 2, (int64_t[]){2, 2});
    tm_attr_int(m, n, "group", 2);
    tm_output(m, "y");
    return m;
}

/* x [N,4,6] -> QuantizeLinear(4/255, u8 128) -> QLinearMatMul(b int8 [6,5] per column) ->
 * y (0.02, u8 100) [N,4,5]; per_row: a's scale and zero point per row of A (4 values). */
static struct tm *qmatmul(int64_t opset, bool per_row)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "x", F, 3, (int64_t[]){-1, 4, 6});
    tm_init(m, "xs", F, 0, NULL, (float[]){4.f / 255});
    tm_init(m, "xz", U8, 0, NULL, (uint8_t[]){128});
    tm_init(m, "as", F, 1, (int64_t[]){4}, (float[]){0.01f, 0.02f, 0.015f, 4.f / 255});
    tm_init(m, "az", U8, 1, (int64_t[]){4}, (uint8_t[]){120, 128, 130, 128});
    tm_init(m, "ys", F, 0, NULL, (float[]){0.02f});
    tm_init(m, "yz", U8, 0, NULL, (uint8_t[]){100});
    /* b [6,5] per column: its transpose [5,6] is per row. */
    qweights(m, "bt", 2, (int64_t[]){5, 6});
    tm_node(m, "QuantizeLinear", "q", "x,xs,xz", "xq");
    tm_attr_ints(m, tm_node(m, "Transpose", "t", "bt", "b"), "perm", 2, (int64_t[]){1, 0});
    tm_node(m, "QLinearMatMul", "mm", per_row ? "xq,as,az,b,bt_s,bt_z,ys,yz"
                                              : "xq,xs,xz,b,bt_s,bt_z,ys,yz", "y");
    tm_output(m, "y");
    return m;
}

/* Largest difference between two uint8 outputs of the same shape. */
static int u8_diff(const struct ond_value *a, const struct ond_value *b)
{
    int worst = 0;
    assert_int_equal(a->dtype, U8);
    assert_int_equal(b->dtype, U8);
    assert_int_equal(a->size, b->size);
    for (size_t i = 0; i < a->size; i++) {
        int d = abs((int)((const uint8_t *)a->data)[i] - (int)((const uint8_t *)b->data)[i]);
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* m at level (one pass disabled, or none) in a session of precision p on the inputs of seed
 * 7; the one output is returned (free with ond_values_free), *int8_convs counts the Conv
 * steps of its profile that read s8 or u8. */
static struct ond_value *session_u8(struct tm *m, int level, const char *disable,
                                    enum ond_precision p, int *int8_convs)
{
    size_t len;
    uint8_t *buf = tm_pack(m, &len);
    struct ond_model *model = NULL;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    struct ond_options o;
    const char *names[] = {disable};
    ond_options_init(&o);
    o.opt_level = level;
    o.disabled_passes = names;
    o.n_disabled_passes = disable ? 1 : 0;
    o.precision = p;
    if (ond_model_load_buffer(buf, len, &o, &model, &err) ||
        ond_session_create(model, &o, &s, &err))
        fail_msg("-O%d: %s", level, err.message);
    free(buf);
    struct ond_value in[8], want[1], *got = calloc(1, sizeof *got);
    float *x[8];
    struct ond_profile prof = {0};
    inputs(model->graph, 7, in, x);
    /* The reference gives the output's name, type and size. */
    run(model->graph, 7, want);
    *got = (struct ond_value){.name = want[0].name, .data = malloc(want[0].size),
                              .size = want[0].size};
    free(want[0].data);
    if (ond_session_profile(s, in, (size_t)model->graph->n_inputs, got, 1, &prof, &err))
        fail_msg("-O%d: %s", level, err.message);
    *int8_convs = 0;
    for (int i = 0; i < prof.n_steps; i++)
        *int8_convs += strcmp(prof.steps[i].op, "Conv") == 0 &&
                       (strncmp(prof.steps[i].src, "s8", 2) == 0 ||
                        strncmp(prof.steps[i].src, "u8", 2) == 0);
    for (int i = 0; i < model->graph->n_inputs; i++)
        free(x[i]);
    ond_profile_free(&prof);
    ond_session_free(s);
    ond_model_free(model);
    return got;
}

/* The -O0 graph (QLinear ops' own eval) against m at -O1 and -O2 in the reference interpreter
 * and in fp32 sessions, whose loads keep the QDQ pairs and so the roundings the QLinear ops make
 * between them: within 1 unit (the float accumulation's rounding, see expand_qlinear.c).
 * Returns the -O0 output for further comparisons (free_outputs). */
static void expanded_matches(struct tm *m, struct ond_value *want)
{
    struct ond_graph *g0 = load_at(m, 0, NULL, NULL);
    run(g0, 7, want);
    for (int level = 1; level <= 2; level++) {
        struct ond_graph *g = load_at(m, level, NULL, NULL);
        struct ond_value got[1];
        int convs;
        run(g, 7, got);
        assert_true(u8_diff(got, want) <= 1);
        free_outputs(g, got);
        ond_graph_free(g);
        struct ond_value *s = session_u8(m, level, NULL, OND_PRECISION_FP32, &convs);
        assert_true(u8_diff(s, want) <= 1);
        ond_values_free(s, 1);
    }
    free((void *)want->name);
    want->name = NULL;
    ond_graph_free(g0);
}

static void test_expand_qlinear_conv(void **state)
{
    (void)state;
    struct tm *m = qconv_chain(13);
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = load_for(m, 1, NULL, OND_PRECISION_INT8, &r);
    /* -O1: two Convs, the pairs in front of and between them taken as scales, each a Clip
     * to its range (zero points of 128); the last QuantizeLinear makes the graph's uint8
     * output. */
    assert_int_equal(rewrites(r, "expand_qlinear"), 2);
    assert_int_equal(count_op(g, "QLinearConv"), 0);
    assert_int_equal(count_op(g, "Conv"), 2);
    assert_int_equal(count_op(g, "DequantizeLinear"), 0);
    assert_int_equal(count_op(g, "QuantizeLinear"), 1);
    assert_int_equal(count_op(g, "Clip"), 2);
    assert_int_equal(rewrites(r, "fold_qdq"), 2);
    assert_true(has_fusion(r, "QLinearConv 'c1' -> DequantizeLinear + Conv 'c1' + "
                              "QuantizeLinear"));
    const struct ond_node *c1 = find(g, "c1"), *c2 = find(g, "c2");
    const struct ond_tensor *x = ond_graph_find_tensor(g, "x"), *y1 = c1->out[0];
    const struct ond_tensor *xc = c1->in[0], *y1c = c2->in[0];
    assert_string_equal(xc->producer->op_type, "Clip");
    assert_ptr_equal(xc->producer->in[0], x);
    assert_string_equal(y1c->producer->op_type, "Clip");
    assert_ptr_equal(y1c->producer->in[0], y1);
    assert_string_equal(y1->name, "y1q_float");
    /* Ranges s [-128, 127], run symmetric over them: s8 of step s 128 / 127. */
    assert_float_equal(*(const float *)xc->producer->in[1]->info.data, 4.f / 255 * -128, 1e-7);
    assert_float_equal(*(const float *)y1c->producer->in[2]->info.data, 0.06f * 127, 1e-6);
    assert_float_equal(xc->qscale, 4.f / 255 * 128 / 127, 1e-7);
    assert_false(xc->qunsigned);
    assert_float_equal(y1c->qscale, 0.06f * 128 / 127, 1e-7);
    assert_false(y1c->qunsigned);
    /* Float weights and bias: w1[1][0][0][1] = -127 steps of 0.002, b1[1] = -2000 x_s w_s[1]. */
    assert_true(ond_pass_is_const(c1->in[1]) && ond_pass_is_const(c1->in[2]));
    assert_float_equal(((const float *)c1->in[1]->info.data)[27 + 1], -127 * 0.002f, 1e-6);
    assert_float_equal(((const float *)c1->in[2]->info.data)[1], -2000 * 4. / 255 * 0.002,
                       1e-6);
    assert_int_equal(ond_node_attr(c2, "group")->i, 2);
    assert_int_equal(ond_node_attr(c2, "strides")->ints[0], 2);
    ond_pass_report_free(r);
    ond_graph_free(g);

    struct ond_value want[1];
    expanded_matches(m, want);
    /* An fp32 session keeps the pairs (within 1 unit, as expanded_matches). With the pairs
     * taken as scales, an int8 session rounds x and y1 to the symmetric grids of step
     * s 128 / 127 instead of the model's asymmetric ones: each y1 a unit off at most, a few
     * units of y at most (1 measured); both convolutions run on int8 data. */
    int convs;
    struct ond_value *f = session_u8(m, 2, NULL, OND_PRECISION_FP32, &convs);
    struct ond_value *q = session_u8(m, 2, NULL, OND_PRECISION_INT8, &convs);
    int fd = u8_diff(f, want), qd = u8_diff(q, want);
    print_message("QLinearConv chain: fp32 %d, int8 %d units off\n", fd, qd);
    assert_true(fd <= 1);
    assert_true(qd <= 3);
    assert_int_equal(convs, 2);
    ond_values_free(f, 1);
    ond_values_free(q, 1);
    free(want->data);
    tm_free(m);

    /* Opset 12 has no per-axis DequantizeLinear for the per-channel weights: both stay. */
    m = qconv_chain(12);
    g = load_at(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "expand_qlinear"), 0);
    assert_int_equal(count_op(g, "QLinearConv"), 2);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

static void test_expand_qlinear_matmul(void **state)
{
    (void)state;
    for (int per_row = 0; per_row <= 1; per_row++) {
        struct tm *m = qmatmul(13, per_row);
        struct ond_pass_report *r = NULL;
        struct ond_graph *g = load_for(m, 1, NULL, OND_PRECISION_INT8, &r);
        assert_int_equal(rewrites(r, "expand_qlinear"), 1);
        assert_int_equal(count_op(g, "QLinearMatMul"), 0);
        assert_int_equal(count_op(g, "MatMul"), 1);
        /* B's DequantizeLinear (axis -1) folded with the Transpose before it; A's pair folds
         * when its scale is the QuantizeLinear's, a per-row one (axis -2) stays. */
        assert_true(ond_pass_is_const(find(g, "mm")->in[1]));
        assert_int_equal(count_op(g, "DequantizeLinear"), per_row);
        assert_int_equal(count_op(g, "QuantizeLinear"), 1 + per_row);
        ond_pass_report_free(r);
        ond_graph_free(g);
        struct ond_value want[1];
        expanded_matches(m, want);
        free(want->data);
        tm_free(m);
    }
    /* Below opset 13 per-column scales of B cannot be expressed: the node stays. */
    struct tm *m = qmatmul(12, false);
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "expand_qlinear"), 0);
    assert_int_equal(count_op(g, "QLinearMatMul"), 1);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* A ConstantOfShape over the byte budget stays and runs at run time; it is not an error. */
static void test_fold_budget(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){-1, 70000});
    tm_init(m, "shape", I64, 1, (int64_t[]){1}, (int64_t[]){70000});
    Onnx__NodeProto *n = tm_node(m, "ConstantOfShape", "fill", "shape", "big");
    tm_attr_tensor(m, n, "value", tm_tensor(m, F, 1, (int64_t[]){1}, (float[]){0.5f}));
    tm_node(m, "Mul", "mul", "x,big", "y");
    tm_output(m, "y");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "fold_constants"), 1);
    ond_pass_report_free(r);
    ond_graph_free(g);
    struct ond_graph *g0 = load_at(m, 0, NULL, NULL);
    struct ond_error err = {0};
    struct ond_options o;
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    ond_options_init(&o);
    o.max_total_bytes = g->const_bytes + 1000;
    g->opts.max_total_bytes = o.max_total_bytes;
    assert_int_equal(ond_passes_run(g, &o, &r, &err), OND_OK);
    assert_int_equal(rewrites(r, "fold_constants"), 0);
    assert_int_equal(g->n_nodes, 2);
    assert_same_outputs(g0, g);
    ond_pass_report_free(r);
    ond_graph_free(g);
    ond_graph_free(g0);
    tm_free(m);
}

/* ---- identity, dropout, dead code ---- */

static void test_identity_dropout_dead_code(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){-1, 4});
    tm_node(m, "Relu", "r", "x", "a");
    tm_node(m, "Identity", "id1", "a", "b");
    tm_node(m, "Dropout", "drop", "b", "c");
    tm_node(m, "Dropout", "drop_mask", "c", "d,mask");
    tm_node(m, "Sigmoid", "s", "d", "e");
    tm_node(m, "Identity", "id_out", "e", "out");
    tm_node(m, "Sigmoid", "unused", "x", "dead");
    tm_output(m, "out");
    tm_output(m, "mask");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    /* id1, drop and id_out go (s writes "out"); drop_mask's mask is an output: it stays. */
    assert_int_equal(rewrites(r, "eliminate_identity"), 3);
    assert_int_equal(rewrites(r, "eliminate_dead_code"), 1);
    assert_int_equal(g->n_nodes, 3);
    assert_string_equal(find(g, "s")->out[0]->name, "out");
    assert_non_null(find(g, "drop_mask"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* A Pad by zero pads (a Constant's, as torch exports DenseNet's transitions, or opset 2's
 * attribute) and a Concat of one input are identities; a Pad by one pixel is not. Outputs
 * are compared with the -O0 graph's, which runs the Pad and Concat. */
static void test_identity_pad_concat(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){-1, 2, 3, 3});
    Onnx__NodeProto *n = tm_node(m, "Constant", "zeros", NULL, "zp");
    tm_attr_tensor(m, n, "value", tm_tensor(m, I64, 1, (int64_t[]){8}, NULL));
    n = tm_node(m, "Constant", "ones", NULL, "op");
    tm_attr_tensor(m, n, "value", tm_tensor(m, I64, 1, (int64_t[]){8},
                                            (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1}));
    tm_node(m, "Pad", "pad0", "x,zp", "a");
    tm_attr_int(m, tm_node(m, "Concat", "cat1", "a", "b"), "axis", 1);
    tm_node(m, "Relu", "r", "b", "c");
    tm_node(m, "Pad", "pad1", "c,op", "y");
    tm_output(m, "y");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "eliminate_identity"), 2);
    assert_null(find(g, "pad0"));
    assert_null(find(g, "cat1"));
    assert_non_null(find(g, "pad1"));
    assert_string_equal(find(g, "r")->in[0]->name, "x");
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
    m = tm_new(8, 10);
    tm_input(m, "x", F, 4, (int64_t[]){-1, 2, 3, 3});
    tm_attr_ints(m, tm_node(m, "Pad", "pad0", "x", "a"), "pads", 8, (int64_t[8]){0});
    tm_node(m, "Relu", "r", "a", "y");
    tm_output(m, "y");
    g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "eliminate_identity"), 1);
    assert_null(find(g, "pad0"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* x * HardSigmoid(x) is hardswish for torch's alpha 1/6 and beta 1/2 only: with ONNX's
 * default alpha 0.2 the pair stays (the -O0 graph, which runs HardSigmoid and Mul, is the
 * reference either way). */
static void test_hard_swish(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){-1, 2, 3, 3});
    Onnx__NodeProto *n = tm_node(m, "HardSigmoid", "torch", "x", "s1");
    tm_attr_float(m, n, "alpha", 1.0f / 6);
    tm_node(m, "Mul", "m1", "x,s1", "y1");
    tm_node(m, "HardSigmoid", "onnx_default", "y1", "s2");
    tm_node(m, "Mul", "m2", "s2,y1", "y");
    tm_output(m, "y");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(rewrites(r, "fuse_swish"), 1);
    assert_string_equal(find(g, "torch")->op_type, "HardSwish");
    assert_string_equal(find(g, "onnx_default")->op_type, "HardSigmoid");
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* ---- the pipeline ---- */

static void test_pipeline_options(void **state)
{
    (void)state;
    struct tm *m = residual("Add", 13, false);
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    struct ond_options o;
    struct ond_pass_report *r = NULL;
    const char *bad[] = {"fold_batchnorm", "no_such_pass"};
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    ond_options_init(&o);
    o.disabled_passes = bad;
    o.n_disabled_passes = 2;
    assert_error(ond_passes_run(g, &o, &r, &err), OND_STATUS_INVALID_ARGUMENT, &err,
                 "unknown pass 'no_such_pass' to disable; passes are: expand_qlinear, ");
    assert_non_null(strstr(err.message, "fuse_residual_add"));
    assert_null(r);
    o.n_disabled_passes = 0;
    o.opt_level = 3;
    assert_error(ond_passes_run(g, &o, &r, &err), OND_STATUS_INVALID_ARGUMENT, &err,
                 "level 3");
    ond_graph_free(g);
    /* Through the public API: the load fails and says so. */
    size_t len;
    uint8_t *buf = tm_pack(m, &len);
    struct ond_model *model = NULL;
    o.opt_level = 2;
    o.n_disabled_passes = 2;
    assert_error(ond_model_load_buffer(buf, len, &o, &model, &err), OND_STATUS_INVALID_ARGUMENT,
                 &err, "<buffer>: unknown pass 'no_such_pass'");
    assert_null(model);
    free(buf);
    /* Disabled by name: the residual add stays; the relu still fuses... into nothing else. */
    g = optimized(m, 2, "fuse_residual_add", &r);
    assert_int_equal(count_op(g, "Add"), 1);
    assert_false(stat_of(r, "fuse_residual_add")->ran);
    assert_true(stat_of(r, "fuse_residual_add")->disabled);
    assert_int_equal(r->loaded.total, 4);
    assert_int_equal(r->optimized.total, g->n_nodes);
    ond_pass_report_free(r);
    ond_graph_free(g);
    /* -O1 fuses nothing: no post-ops, only standard ops. */
    g = optimized(m, 1, NULL, &r);
    for (int i = 0; i < g->n_nodes; i++) {
        assert_int_equal(g->nodes[i]->n_post, 0);
        assert_string_equal(g->nodes[i]->domain, "");
    }
    assert_false(stat_of(r, "fuse_residual_add")->ran);
    assert_false(stat_of(r, "fuse_residual_add")->disabled);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* ---- the writer: -O2 graphs round-trip through ONNX, -O1 ones are standard ---- */

static struct tm *small_resnet(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    conv(m, "c0", "x", "y0", 3, 4, 3, false);
    bn(m, "bn0", "y0", "z0", 4);
    tm_node(m, "Relu", "r0", "z0", "a0");
    conv(m, "c1", "a0", "y1", 4, 4, 3, false);
    bn(m, "bn1", "y1", "z1", 4);
    tm_node(m, "Relu", "r1", "z1", "a1");
    conv(m, "c2", "a1", "y2", 4, 4, 1, true);
    tm_node(m, "Add", "add", "y2,a0", "s");
    tm_node(m, "Relu", "r2", "s", "a2");
    tm_node(m, "GlobalAveragePool", "gap", "a2", "p");
    tm_node(m, "Flatten", "flat", "p", "f");
    init(m, "fc_w", 2, (int64_t[]){5, 4}, -0.5f, 0.5f);
    init(m, "fc_b", 1, (int64_t[]){5}, -0.5f, 0.5f);
    tm_attr_int(m, tm_node(m, "Gemm", "fc", "f,fc_w,fc_b", "y"), "transB", 1);
    tm_output(m, "y");
    return m;
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    struct tm *m = small_resnet();
    struct ond_graph *g0 = load_at(m, 0, NULL, NULL);
    for (int level = 1; level <= 2; level++) {
        struct ond_graph *g = load_at(m, level, NULL, NULL), *back = NULL;
        struct ond_error err = {0};
        uint8_t *buf;
        size_t len;
        assert_int_equal(ond_write_model_buffer(g, &buf, &len, &err), OND_OK);
        if (ond_load_graph(buf, len, NULL, "written", NULL, false, &back, &err))
            fail_msg("reload at -O%d: %s", level, err.message);
        free(buf);
        assert_int_equal(back->n_nodes, g->n_nodes);
        for (int i = 0; i < back->n_nodes; i++) {
            assert_string_equal(back->nodes[i]->op_type, g->nodes[i]->op_type);
            assert_int_equal(back->nodes[i]->n_post, g->nodes[i]->n_post);
            if (level == 1)
                assert_string_equal(back->nodes[i]->domain, "");
        }
        assert_int_equal(ond_graph_opset(back, "ai.ondine"), level == 2 ? 1 : -1);
        assert_same_outputs(g0, back);
        ond_graph_free(back);
        ond_graph_free(g);
    }
    ond_graph_free(g0);
    tm_free(m);
}

/* A FusedConv without the input its sum post-op reads. */
static void test_fused_op_errors(void **state)
{
    (void)state;
    struct tm *m = residual("Add", 13, false);
    struct ond_graph *g = load_at(m, 2, NULL, NULL), *back = NULL;
    struct ond_error err = {0};
    uint8_t *buf;
    size_t len;
    struct ond_node *c = find(g, "c");
    c->n_in = 3;   /* the sum's input dropped */
    assert_int_equal(ond_write_model_buffer(g, &buf, &len, &err), OND_OK);
    assert_error(ond_load_graph(buf, len, NULL, "written", NULL, false, &back, &err),
                 OND_STATUS_INVALID_MODEL, &err, "post-op 'sum' reads input 3, which is missing");
    free(buf);
    ond_graph_free(back);
    ond_graph_free(g);
    tm_free(m);
}

/* ---- sessions run fused graphs (oneDNN post-ops, the inner product) ---- */

/* m at -O2 in a session (oneDNN) against m at -O0 in the reference interpreter. */
static void session_matches_reference(struct tm *m, int nodes)
{
    struct ond_graph *g0 = load_at(m, 0, NULL, NULL);
    size_t len;
    uint8_t *buf = tm_pack(m, &len);
    struct ond_model *model = NULL;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    if (ond_model_load_buffer(buf, len, NULL, &model, &err) ||
        ond_session_create(model, NULL, &s, &err))
        fail_msg("%s", err.message);
    free(buf);
    assert_int_equal(model->graph->n_nodes, nodes);
    struct ond_value want[1], in[1], *got = NULL;
    size_t n_got = 0;
    float *x;
    run(g0, 7, want);
    inputs(g0, 7, in, &x);
    if (ond_session_run_alloc(s, in, 1, &got, &n_got, &err))
        fail_msg("%s", err.message);
    assert_int_equal(got[0].size, want[0].size);
    assert_close(got[0].data, want[0].data, want[0].size / sizeof(float), 1e-4f, 1e-4f);
    ond_values_free(got, n_got);
    free_outputs(g0, want);
    free(x);
    ond_session_free(s);
    ond_model_free(model);
    ond_graph_free(g0);
    tm_free(m);
}

/* Conv -> Clip [-0.25, 0.5] -> LeakyRelu 0.2 -> Clip [0, 0.3] -> Relu: oneDNN 2.6 runs the
 * eltwise post-ops of one algorithm in a chain with the first one's parameters (a second
 * Clip came out as the first, 3.9x the output's range off), so the conv takes the first Clip
 * and the LeakyRelu, and the second Clip and the Relu (LeakyRelu's algorithm) stay ops. A
 * session against the reference. */
static void test_activation_same_algorithm(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_init(m, "lo", F, 0, NULL, (float[]){-0.25f});
    tm_init(m, "hi", F, 0, NULL, (float[]){0.5f});
    tm_init(m, "lo2", F, 0, NULL, (float[]){0.f});
    tm_init(m, "hi2", F, 0, NULL, (float[]){0.3f});
    conv(m, "c1", "x", "y1", 3, 3, 3, true);
    tm_node(m, "Clip", "clip", "y1,lo,hi", "a1");
    tm_attr_float(m, tm_node(m, "LeakyRelu", "leaky", "a1", "a2"), "alpha", 0.2f);
    tm_node(m, "Clip", "clip2", "a2,lo2,hi2", "a3");
    tm_node(m, "Relu", "relu", "a3", "out");
    tm_output(m, "out");
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 2, NULL, &r);
    assert_int_equal(g->n_nodes, 3);
    assert_true(has_fusion(r, "Conv 'c1' + LeakyRelu 'leaky' -> Conv 'c1' [clip, leaky_relu]"));
    assert_non_null(find(g, "clip2"));
    assert_non_null(find(g, "relu"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    session_matches_reference(m, 3);
}

/* Folded BN, relu post-ops, a sum post-op on a conv with a bias, an InnerProduct; and a sum
 * post-op on a conv without bias (input 2 omitted, the shortcut input 3). */
static void test_session_fused(void **state)
{
    (void)state;
    session_matches_reference(small_resnet(), 5);
    session_matches_reference(residual("Add", 13, false), 2);
    session_matches_reference(activations_15(), 3);
    session_matches_reference(add_activations_15(), 3);
}

/* The not_fused record of pass for nodes ("a,b"), whose reason contains rule; NULL if none. */
static const struct ond_pass_record *not_fused(const struct ond_pass_report *r, const char *pass,
                                               const char *nodes, const char *rule)
{
    for (int i = 0; i < r->not_fused.n; i++) {
        const struct ond_pass_record *x = &r->not_fused.items[i];
        char names[256];
        int at = 0;
        for (int k = 0; k < x->n_nodes; k++)
            at += snprintf(names + at, sizeof names - (size_t)at, "%s%s", k ? "," : "",
                           x->nodes[k]);
        if (strcmp(x->pass, pass) == 0 && strcmp(names, nodes) == 0)
            return strstr(x->reason, rule) ? x : NULL;
    }
    return NULL;
}

/* fold_pad: Pad by zeros -> AveragePool without pads (Inception-v3's branch pool) and Pad ->
 * Conv with pads of its own (asymmetric, added up) fold; a reflecting Pad, a Pad of the
 * channels and a pool that does not count its own pads stay. The -O0 graph, which runs the
 * Pads, is the reference. */
static void test_fold_pad(void **state)
{
    (void)state;
    ond_test_seed(21);
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){-1, 2, 5, 5});
    tm_init(m, "hw", I64, 1, (int64_t[]){8}, (int64_t[]){0, 0, 1, 2, 0, 0, 2, 1});
    tm_init(m, "ch", I64, 1, (int64_t[]){8}, (int64_t[]){0, 1, 0, 0, 0, 0, 0, 0});
    tm_init_rand(m, "w", 4, (int64_t[]){3, 2, 3, 3}, -1.f, 1.f);
    tm_node(m, "Pad", "p_pool", "x,hw", "a");
    Onnx__NodeProto *n = tm_node(m, "AveragePool", "pool", "a", "y1");
    tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){3, 3});
    tm_node(m, "Pad", "p_conv", "x,hw", "b");
    n = tm_node(m, "Conv", "conv", "b,w", "y2");
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 0, 0, 1});
    n = tm_node(m, "Pad", "p_reflect", "x,hw", "c");
    tm_attr_string(m, n, "mode", "reflect");
    tm_node(m, "Conv", "conv_r", "c,w", "y3");
    tm_node(m, "Pad", "p_ch", "x,ch", "d");
    tm_init_rand(m, "w3", 4, (int64_t[]){3, 3, 3, 3}, -1.f, 1.f);
    tm_node(m, "Conv", "conv_ch", "d,w3", "y4");
    tm_node(m, "Pad", "p_excl", "x,hw", "e");
    n = tm_node(m, "AveragePool", "pool_excl", "e", "y5");
    tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){3, 3});
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    for (int i = 1; i <= 5; i++) {
        char name[4];
        snprintf(name, sizeof name, "y%d", i);
        tm_output(m, name);
    }
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = optimized(m, 1, NULL, &r);
    assert_int_equal(rewrites(r, "fold_pad"), 2);
    assert_null(find(g, "p_pool"));
    assert_null(find(g, "p_conv"));
    assert_string_equal(find(g, "pool")->in[0]->name, "x");
    assert_non_null(not_fused(r, "fold_pad", "p_reflect,conv_r", "constant mode with value 0"));
    assert_non_null(not_fused(r, "fold_pad", "p_ch,conv_ch", "0 on the batch and channel"));
    assert_non_null(not_fused(r, "fold_pad", "p_excl,pool_excl", "count_include_pad 1"));
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

/* One near miss of each kind, with the rule each breaks: a Conv read by a BN and a Relu; a
 * Sigmoid after a Conv whose output is a graph output; an add whose shortcut is made after
 * the Conv, and one whose shortcut is a graph output; an Add -> Relu whose sum is a graph
 * output; a Flatten -> Gemm whose flattened tensor is a graph output; a Clip with a bound
 * given at run time; a QDQ pair whose dequantized value is a graph output (int8 loads). And
 * the structured fusion record of the BN that became a ScaleShift instead. */
static void test_why_not(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, x4);
    tm_input(m, "lo7", F, 0, NULL);
    conv(m, "c1", "x", "y1", 3, 3, 3, true);
    bn(m, "bn1", "y1", "o1", 3);
    tm_node(m, "Relu", "r1", "y1", "o1r");
    conv(m, "c2", "x", "y2", 3, 3, 3, true);
    tm_node(m, "Sigmoid", "sig2", "y2", "o2");
    conv(m, "c3", "x", "y3", 3, 3, 3, true);
    tm_node(m, "Relu", "late3", "x", "s3");
    tm_node(m, "Add", "add3", "y3,s3", "o3");
    tm_node(m, "Relu", "pre4", "x", "s4");
    conv(m, "c4", "x", "y4", 3, 3, 3, true);
    tm_node(m, "Add", "add4", "y4,s4", "o4");
    tm_node(m, "Relu", "a5", "x", "p5");
    tm_node(m, "Relu", "b5", "x", "q5");
    tm_node(m, "Add", "add5", "p5,q5", "z5");
    tm_node(m, "Relu", "r5", "z5", "o5");
    tm_node(m, "Flatten", "flat6", "x", "f6");
    init(m, "w6", 2, (int64_t[]){75, 4}, -1, 1);
    tm_node(m, "Gemm", "gemm6", "f6,w6", "o6");
    conv(m, "c7", "x", "y7", 3, 3, 3, true);
    tm_node(m, "Clip", "clip7", "y7,lo7", "o7");
    tm_init(m, "s9", F, 0, NULL, (float[]){0.05f});
    tm_init(m, "z9", OND_DTYPE_UINT8, 0, NULL, (uint8_t[]){0});
    tm_node(m, "QuantizeLinear", "q9", "s3,s9,z9", "qv9");
    tm_node(m, "DequantizeLinear", "dq9", "qv9,s9,z9", "o9");
    const char *outs[] = {"o1", "o1r", "y2", "o2", "o3", "s4", "o4", "z5", "o5", "f6", "o6",
                          "o7", "o9"};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        tm_output(m, outs[i]);
    struct ond_pass_report *r = NULL;
    struct ond_graph *g = load_for(m, 2, NULL, OND_PRECISION_INT8, &r);
    assert_non_null(not_fused(r, "fold_batchnorm", "c1,bn1", "has one reader"));
    assert_non_null(not_fused(r, "fuse_activation", "c1,r1", "has one reader"));
    assert_non_null(not_fused(r, "fuse_activation", "c2,sig2", "not a graph output"));
    assert_non_null(not_fused(r, "fuse_residual_add", "c3,add3", "made before the Conv"));
    assert_non_null(not_fused(r, "fuse_residual_add", "c4,add4", "not a graph output"));
    assert_non_null(not_fused(r, "fuse_add_activation", "add5,r5", "not a graph output"));
    assert_non_null(not_fused(r, "fuse_inner_product", "flat6,gemm6", "not a graph output"));
    assert_non_null(not_fused(r, "fuse_activation", "c7,clip7", "Clip's bounds"));
    assert_non_null(not_fused(r, "fold_qdq", "q9", "DequantizeLinear output"));
    assert_int_equal(r->not_fused.n, 9);
    /* The BN no Conv could take became a ScaleShift; nothing else fused. */
    assert_int_equal(r->fusions.n, 1);
    const struct ond_pass_record *f = &r->fusions.items[0];
    assert_string_equal(f->pass, "batchnorm_scale_shift");
    assert_int_equal(f->n_nodes, 1);
    assert_string_equal(f->nodes[0], "bn1");
    assert_string_equal(f->into, "bn1");
    assert_int_equal(f->n_post, 0);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);

    /* A fusion with post-ops lists them. */
    m = residual("Add", 13, false);
    g = load_at(m, 2, NULL, &r);
    assert_int_equal(r->fusions.n, 1);
    f = &r->fusions.items[0];
    assert_string_equal(f->pass, "fuse_residual_add");
    assert_int_equal(f->n_nodes, 3);
    assert_string_equal(f->nodes[0], "c");
    assert_string_equal(f->nodes[1], "add");
    assert_string_equal(f->nodes[2], "relu");
    assert_string_equal(f->into, "c");
    assert_int_equal(f->n_post, 2);
    assert_string_equal(f->post_ops[0], "sum");
    assert_string_equal(f->post_ops[1], "relu");
    assert_int_equal(r->not_fused.n, 0);
    ond_pass_report_free(r);
    ond_graph_free(g);
    tm_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_bn_hand_computed),
        cmocka_unit_test(test_fold_bn),
        cmocka_unit_test(test_fold_bn_illegal),
        cmocka_unit_test(test_fold_bn_shared_weights),
        cmocka_unit_test(test_scale_shift_preact),
        cmocka_unit_test(test_residual),
        cmocka_unit_test(test_residual_illegal),
        cmocka_unit_test(test_residual_projection),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_activations_15),
        cmocka_unit_test(test_activation_same_algorithm),
        cmocka_unit_test(test_activation_illegal),
        cmocka_unit_test(test_add_activation),
        cmocka_unit_test(test_inner_product),
        cmocka_unit_test(test_inner_product_illegal),
        cmocka_unit_test(test_shape_chains),
        cmocka_unit_test(test_fold_constants),
        cmocka_unit_test(test_fold_budget),
        cmocka_unit_test(test_fold_qdq),
        cmocka_unit_test(test_fold_qdq_gemm),
        cmocka_unit_test(test_expand_qlinear_conv),
        cmocka_unit_test(test_expand_qlinear_matmul),
        cmocka_unit_test(test_identity_dropout_dead_code),
        cmocka_unit_test(test_identity_pad_concat),
        cmocka_unit_test(test_hard_swish),
        cmocka_unit_test(test_pipeline_options),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_fused_op_errors),
        cmocka_unit_test(test_session_fused),
        cmocka_unit_test(test_why_not),
        cmocka_unit_test(test_fold_pad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
