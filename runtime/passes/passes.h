/* passes.h: the graph optimization pipeline (pipeline.c), its report, and what the passes
 * (one per file in runtime/passes/) share.
 *
 * A pass rewrites the graph in place: it marks nodes dead, rewires tensors and attaches
 * post-ops, and counts each rewrite. A pattern that does not match is not an error. After
 * every pass the pipeline drops dead nodes, recounts uses, re-sorts, re-infers shapes and
 * validates the graph, so a pass may leave uses counts stale for nodes it killed.
 */
#ifndef OND_PASSES_H
#define OND_PASSES_H

#include "runtime/ir.h"

/* ---- what the pipeline records (ond_model keeps it for `ondine inspect --passes`) ---- */
struct ond_op_count {
    const char *op;        /* op type; the string lives as long as the graph */
    int count;
};

struct ond_op_counts {
    int n, total;          /* op types, nodes */
    struct ond_op_count *items;
};

struct ond_pass_stat {
    const char *name;
    int level;             /* lowest -O level that runs it */
    bool ran;              /* false: above the level, disabled by name, or int8 only */
    bool int8_only;        /* runs only when the model is loaded for int8 sessions */
    bool disabled;         /* named in the options' disabled_passes */
    int rewrites;
    int nodes_before, nodes_after;
};

/* A fusion a pass made, or a candidate it rejected. Every string lives in `mem` but pass and
 * reason, which are the passes' own static strings. */
struct ond_pass_record {
    const char *pass;      /* the pass's name */
    int n_nodes;
    char **nodes;          /* names of the nodes of the pattern, in pattern order */
    char *line;            /* a fusion: "Conv 'a' + Relu 'b' -> Conv 'a' [relu]" */
    char *into;            /* a fusion: the node that remains (fold_qdq: the tensor scaled) */
    int n_post;
    char **post_ops;       /* a fusion: into's post-ops after it ("sum", "relu") */
    const char *reason;    /* a rejection: the legality rule that failed, from the pass banner */
    void *mem;
};

struct ond_pass_records {
    int n, cap;
    struct ond_pass_record *items;
};

struct ond_pass_report {
    int opt_level;
    int n_passes;
    struct ond_pass_stat *passes;          /* in pipeline order */
    struct ond_op_counts loaded, optimized; /* node counts by op type before and after */
    struct ond_pass_records fusions;       /* in the order made */
    struct ond_pass_records not_fused;     /* candidates rejected, in the order considered */
};

/* Runs the passes of opts (level, disabled names) on a loaded, inferred graph in order.
 * An unknown disabled name or level is INVALID_ARGUMENT listing the valid ones. *report
 * (may be NULL) receives the record, freed with ond_pass_report_free, even at -O0. */
enum ond_status ond_passes_run(struct ond_graph *g, const struct ond_options *opts,
                               struct ond_pass_report **report, struct ond_error *err);
void ond_pass_report_free(struct ond_pass_report *r);

/* The pipeline's table, for the CLI (`--after PASS`) and tests. */
size_t ond_pass_count(void);
const char *ond_pass_name(size_t i);
int ond_pass_level(size_t i);       /* lowest -O level that runs pass i */

/* ---- for the passes ---- */
struct ond_pass_ctx {
    struct ond_graph *g;
    const char *pass;        /* the running pass's name, for the report */
    int rewrites;
    struct ond_pass_report *report;
    int n_users;
    struct ond_node **user;  /* per tensor id: a node that reads it (the one, when uses is 1) */
};

/* Whether the pass of that name runs in this pipeline (level, disabled names, int8 only),
 * for a pass whose rewrite depends on what a later one will do. */
bool ond_pass_will_run(const struct ond_pass_ctx *c, const char *name);
/* Whether fuse_inner_product will make Gemm n an InnerProduct: fold_qdq counts only such a
 * Gemm as an int8 reader (an unfused Gemm runs f32 in int8 sessions). */
bool ond_pass_inner_product_takes(const struct ond_pass_ctx *c, const struct ond_node *n);

/* Each pass, in its own file. */
enum ond_status ond_pass_eliminate_identity(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fold_pad(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_expand_qlinear(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fold_constants(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fold_shape_chains(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fold_qdq(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fold_batchnorm(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_batchnorm_scale_shift(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fuse_swish(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fuse_gelu(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fuse_layernorm(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fuse_residual_add(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fuse_inner_product(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fuse_activation(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_fuse_add_activation(struct ond_pass_ctx *c, struct ond_error *err);
enum ond_status ond_pass_eliminate_dead_code(struct ond_pass_ctx *c, struct ond_error *err);

/* ---- helpers (util.c) ---- */
/* A constant: an initializer or a folded value, with its data. */
bool ond_pass_is_const(const struct ond_tensor *t);
/* A constant float with one element: its value in *v. */
bool ond_pass_float_scalar(const struct ond_tensor *t, float *v);
/* Whether v is within 2 float rounding steps of want (want > 0): constants written in float
 * by an exporter for a value like sqrt 2 or 1/6. */
bool ond_pass_near(float v, double want);
/* A Pad's pads when known at load (the attribute before opset 11, else a constant input):
 * *count values into pads (2 * OND_MAX_RANK at most); false when not known. */
bool ond_pass_pad_amounts(const struct ond_node *pad, int64_t *pads, int *count);
/* The node that is t's only reader, when t has exactly one reader and is not a graph output;
 * else NULL. A fusion that swallows t's producer needs this: nobody else sees t. */
struct ond_node *ond_pass_sole_user(const struct ond_pass_ctx *c, const struct ond_tensor *t);
/* A live node bound to the op domain.name ("" for ONNX's own ops). */
bool ond_pass_is(const struct ond_node *n, const char *domain, const char *name);
/* Same dtype, rank and dims, every dim known or the same symbol: no broadcasting between them. */
bool ond_pass_same_shape(const struct ond_info *a, const struct ond_info *b);
/* Sets input k of n to t, keeping uses and the reader table right. */
void ond_pass_set_input(struct ond_pass_ctx *c, struct ond_node *n, int k, struct ond_tensor *t);
/* Grows n's input array to count inputs (the new ones omitted, NULL). */
enum ond_status ond_pass_grow_inputs(struct ond_pass_ctx *c, struct ond_node *n, int count,
                                     struct ond_error *err);
/* Makes `keep` produce the output of `gone` (the last node of a fused chain), so the fused
 * node writes the tensor the chain's consumers and graph outputs read; `keep`'s old output
 * tensor is left without producer or readers. Kills `gone`. */
void ond_pass_take_output(struct ond_node *keep, struct ond_node *gone);
/* Marks n dead, releasing its reads. */
void ond_pass_kill(struct ond_node *n);
/* A new tensor named base_suffix (made unique), without dtype, shape or producer yet. */
struct ond_tensor *ond_pass_new_tensor(struct ond_pass_ctx *c, const char *base,
                                       const char *suffix, struct ond_error *err);
/* A new constant of info's dtype and shape (data ignored), named base_suffix (made unique);
 * *data receives its zeroed buffer, counted against the graph's limits. */
struct ond_tensor *ond_pass_new_const(struct ond_pass_ctx *c, const char *base,
                                      const char *suffix, const struct ond_info *info,
                                      void **data, struct ond_error *err);
/* Rebinds n to the newest entry of the op domain.op_type (ai.ondine's ScaleShift and
 * InnerProduct, ONNX's Clip from opset 11, Swish, Gelu), dropping the old op's parameters and
 * attributes; a new op with parameters parses them from no attributes (its defaults). */
enum ond_status ond_pass_rebind(struct ond_pass_ctx *c, struct ond_node *n, const char *domain,
                                const char *op_type, struct ond_error *err);
/* Whether n can take one more post-op of this kind: fewer than OND_MAX_POSTOPS, and no
 * eltwise post-op that oneDNN runs with the same algorithm (Relu and LeakyRelu are one):
 * oneDNN 2.6's kernels share one eltwise injector per algorithm in a chain, so the second
 * would run with the first's parameters and scale (Clip then Clip with other bounds, or an
 * int8 Relu then Relu, came out wrong: graph fuzzer, seed 144). */
bool ond_pass_can_add_post(const struct ond_node *n, enum ond_postop_kind kind);
/* Appends a post-op to n (kind, alpha, beta, input index or -1, node fused in); false, and n
 * unchanged, when ond_pass_can_add_post says no. */
bool ond_pass_add_post(struct ond_node *n, enum ond_postop_kind kind, float alpha, float beta,
                       int input, const char *from);
/* When n is an activation node a post-op can stand for (Relu, Clip with constant bounds,
 * LeakyRelu, Sigmoid, HardSwish) on float data, fills *q (input -1) and returns true. */
bool ond_pass_activation(const struct ond_node *n, struct ond_postop *q);
/* BatchNormalization helpers (fold_batchnorm.c), shared with batchnorm_scale_shift.c. Whether
 * bn is one scale and shift per channel of `channels`: per channel (spatial = 1), its four
 * parameters constant floats of that many values, its training outputs unused. NULL when it
 * is, else the rule it breaks (a reason for ond_pass_not_fused). */
const char *ond_pass_bn_per_channel(const struct ond_node *bn, int64_t channels);
/* s[c] = scale[c] / sqrt(var[c] + epsilon), in double, for such a node. */
enum ond_status ond_pass_bn_scale(const struct ond_node *bn, int64_t channels, double *s,
                                  struct ond_error *err);
/* Records one fusion in the report: the n nodes of the pattern (NULL entries, parts of the
 * pattern a candidate lacks, skipped), the one they became (into; its
 * post-ops are listed) or, for a node-less result, into_name, and the text line "Conv 'a' +
 * Relu 'b' -> Conv 'a' [relu]" (fmt, which takes the arguments after it). */
enum ond_status ond_pass_fusion(struct ond_pass_ctx *c, struct ond_error *err, int n,
                                const struct ond_node *const *nodes, const struct ond_node *into,
                                const char *into_name, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Records a candidate the pass rejected: the n nodes of the pattern it started (NULL entries
 * skipped) and the rule
 * that failed, a static string of the pass whose words its banner quotes. */
enum ond_status ond_pass_not_fused(struct ond_pass_ctx *c, struct ond_error *err, int n,
                                   const struct ond_node *const *nodes, const char *reason);

#endif
