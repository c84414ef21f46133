/* ir.h: ondine's intermediate representation of an ONNX graph, and the helpers every stage uses.
 *
 * A graph owns its nodes, tensors, names and constant data. Nodes are kept in topological
 * order; each tensor has at most one producer (SSA). Dims are int64_t; a dim of -1 is unknown,
 * a dim <= -2 names the graph symbol (-2 - dim) (the batch "N", say), so shape inference can
 * carry a symbolic batch through the graph. ond_graph_validate() checks the invariants.
 */
#ifndef OND_IR_H
#define OND_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ondine.h"

#define OND_DIM_UNKNOWN (-1)
#define OND_MAX_POSTOPS 4

/* Shape and, when known, value of one tensor. rank -1: unknown rank. data is set for
 * constants and for small values computed during inference (shape arithmetic). */
struct ond_info {
    int32_t dtype;
    int rank;
    int64_t dims[OND_MAX_RANK];
    const void *data;
};

enum {
    OND_TENSOR_INPUT = 1,  /* graph input fed at run time */
    OND_TENSOR_OUTPUT = 2, /* graph output */
    OND_TENSOR_CONST = 4,  /* initializer or folded constant: info.data holds its value */
    OND_TENSOR_BADTYPE = 8, /* declared with a type ondine cannot hold (string, sequence...) */
    OND_TENSOR_DEFAULT = 16, /* with INPUT: an initializer also listed as a graph input (IR < 4),
                                a default the caller may override at run time: its value is
                                at dflt, info.data is NULL (passes and inference treat it as
                                run-time data); in graph->defaults, not graph->inputs */
    OND_TENSOR_DEFERRED = 32, /* with CONST: info.data points at the bytes in the model file's
                                 mapping (graph->map), at any alignment, and the value is those
                                 bytes times scale[i] along dim 0 when scale is set (a folded
                                 BatchNormalization). Only the weights input (1) of a Conv,
                                 Gemm or InnerProduct is one (ond_graph_settle enforces it):
                                 their prepares read it through ond_prep_const_data, their
                                 evals through ond_input_value; anything else reads a copy
                                 (ond_tensor_read, ond_tensor_materialize). */
};

struct ond_node;

struct ond_tensor {
    const char *name;
    struct ond_info info;
    unsigned flags;
    void *own;             /* when this tensor owns its data, the malloc'd block info.data
                              (64-byte aligned) lies in, freed with free() */
    size_t nbytes;         /* bytes at info.data, when set */
    struct ond_node *producer;
    int uses;              /* node inputs that read it, graph outputs not counted */
    int id;                /* index in graph->tensors */
    const void *dflt;      /* OND_TENSOR_DEFAULT: the initializer's value (in own) */
    const double *scale;   /* OND_TENSOR_DEFERRED: per index of dim 0, or NULL (graph arena) */
    float qscale;          /* the scale of its int8 form a QDQ model gives (fold_qdq); 0: none */
    bool qunsigned;        /* with qscale: u8 (non-negative), else s8 */
};

/* One attribute as loaded; type numbered as ONNX AttributeProto.AttributeType. */
enum {
    OND_ATTR_FLOAT = 1, OND_ATTR_INT = 2, OND_ATTR_STRING = 3, OND_ATTR_TENSOR = 4,
    OND_ATTR_GRAPH = 5, OND_ATTR_FLOATS = 6, OND_ATTR_INTS = 7, OND_ATTR_STRINGS = 8,
    OND_ATTR_TENSORS = 9, OND_ATTR_GRAPHS = 10, OND_ATTR_SPARSE_TENSOR = 11,
    OND_ATTR_SPARSE_TENSORS = 12, OND_ATTR_TYPE_PROTO = 13, OND_ATTR_TYPE_PROTOS = 14,
};

struct ond_attr {
    const char *name;
    int type;
    int64_t i;
    float f;
    const char *s;          /* STRING: bytes, NUL-terminated copy */
    size_t s_len;
    size_t n;               /* FLOATS, INTS, STRINGS, TENSORS: count */
    const int64_t *ints;
    const float *floats;
    const char **strings;
    struct ond_tensor *t;   /* TENSOR: a constant tensor owned by the graph, not in its list */
};

/* What a fusion pass attached to a node, applied in order after its main computation. */
enum ond_postop_kind {
    OND_POST_RELU = 1,
    OND_POST_CLIP,        /* alpha = min, beta = max */
    OND_POST_LEAKY_RELU,  /* alpha */
    OND_POST_SIGMOID,
    OND_POST_HARD_SWISH,
    OND_POST_SUM,         /* add the tensor of node input `input` in place (residual) */
    OND_POST_ADD,         /* add the tensor of node input `input`, read-only (binary) */
    /* oneDNN eltwise algorithms with their alpha and beta (ond_postop_alg), computed in C by
     * the ops' own scalar functions: */
    OND_POST_TANH,
    OND_POST_ELU,         /* alpha */
    OND_POST_GELU_ERF,
    OND_POST_GELU_TANH,
    OND_POST_SWISH,       /* alpha */
    OND_POST_SOFTPLUS,
    OND_POST_MISH,
    OND_POST_ABS,
    OND_POST_SQRT,
    OND_POST_EXP,
};

struct ond_postop {
    enum ond_postop_kind kind;
    float alpha, beta;
    int input;            /* SUM/ADD: index into node->in of the added tensor */
    const char *from;     /* name of the node fused in, for inspection */
};

struct ond_op;

struct ond_node {
    const char *name;
    const char *op_type;
    const char *domain;     /* "" for the default ONNX domain */
    int64_t opset;          /* the model's opset for the domain */
    const struct ond_op *op; /* NULL: unsupported */
    int n_in, n_out;
    struct ond_tensor **in;  /* an omitted optional input is NULL */
    struct ond_tensor **out;
    size_t n_attrs;
    struct ond_attr *attrs;
    void *params;            /* op->params_size bytes, filled by op->parse */
    int n_post;
    struct ond_postop post[OND_MAX_POSTOPS];
    bool dead;
    int id;
};

struct ond_opset {
    const char *domain;
    int64_t version;
};

struct ond_arena_block;
struct ond_arena {
    struct ond_arena_block *head;
    size_t used_bytes;
};

struct ond_graph {
    struct ond_arena arena;
    struct ond_options opts;     /* limits and pass selection it was loaded with */
    int64_t ir_version;
    const char *producer_name, *producer_version, *name;
    size_t n_opsets;
    struct ond_opset *opsets;
    int n_nodes, cap_nodes;
    struct ond_node **nodes;
    int n_tensors, cap_tensors;
    struct ond_tensor **tensors;
    int n_inputs, n_outputs;
    struct ond_tensor **inputs;  /* run-time inputs only */
    int n_defaults;
    struct ond_tensor **defaults; /* OND_TENSOR_DEFAULT inputs, which callers may leave out */
    struct ond_tensor **outputs;
    int n_syms, cap_syms;
    const char **syms;           /* symbolic dim names: dim d <= -2 is syms[-2 - d] */
    uint64_t const_bytes;        /* constant data held, checked against opts.max_total_bytes */
    const char *unsupported;     /* "domain.op-opset, ..." when loaded partially, else NULL */
    void *map;                   /* the model file's read-only mapping deferred constants point
                                    into (ond_map_file), unmapped with the graph, or NULL */
    size_t map_len;
};

/* ---- errors (runtime/error.c) ---- */
enum ond_status ond_fail(struct ond_error *err, enum ond_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ond_fail with "node 'NAME' (OP): " before the message. */
enum ond_status ond_node_fail(struct ond_error *err, const struct ond_node *n,
                              enum ond_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prepend context ("loading 'x.onnx': ") to a message already set. */
void ond_error_prefix(struct ond_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- tracing (runtime/trace.c) ---- */
/* With ONDINE_TRACE set, prints the wall and CPU time spent since the previous call on this
 * thread, naming it phase, and the peak RSS; NULL only starts the clock. */
void ond_trace(const char *phase);
/* With ONDINE_TRACE set, prints "ondine: " and the message on a line (events: a plan evicted). */
void ond_trace_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- arena (runtime/graph.c): 64-byte aligned, zeroed, freed with the graph ---- */
void *ond_alloc(struct ond_graph *g, size_t size, struct ond_error *err);
char *ond_strdup(struct ond_graph *g, const char *s, size_t len, struct ond_error *err);

/* ---- dtypes and dims (runtime/tensor.c) ---- */
/* The highest TensorProto data type ONNX defines (int2, IR 11); ondine holds fewer. */
#define OND_DTYPE_LAST_ONNX 26
size_t ond_dtype_size(int32_t dtype);   /* 0 for unsupported types */
bool ond_dtype_supported(int32_t dtype);
/* Elements of a fully known shape; false on overflow, unknown dims or over limit. */
bool ond_numel(const struct ond_info *info, uint64_t limit, uint64_t *n);
bool ond_info_known(const struct ond_info *info);  /* rank and every dim known */
/* Formats dtype[d0,d1,...] with symbols by name into buf. */
const char *ond_info_str(const struct ond_graph *g, const struct ond_info *info, char *buf,
                         size_t len);
/* Product of two dims that keeps symbols meaningful: 1 * sym = sym, otherwise unknown. */
int64_t ond_dim_mul(int64_t a, int64_t b);
/* Sets t's constant value to a fresh copy-able buffer of nbytes (64-byte aligned, zeroed). */
void *ond_tensor_alloc_data(struct ond_graph *g, struct ond_tensor *t, size_t nbytes,
                            struct ond_error *err);
/* Sets t's constant value to data (64-byte aligned, inside the malloc'd block own), taking
 * over own unless it fails (over max_total_bytes): the loader hands protobuf's buffers to
 * the graph instead of copying them. */
enum ond_status ond_tensor_adopt_data(struct ond_graph *g, struct ond_tensor *t, void *own,
                                      void *data, size_t nbytes, struct ond_error *err);
void *ond_aligned_alloc(size_t nbytes);
/* Sets t's constant value to the nbytes at data, inside graph->map, left where they are
 * (OND_TENSOR_DEFERRED). */
enum ond_status ond_tensor_defer(struct ond_graph *g, struct ond_tensor *t, const void *data,
                                 size_t nbytes, struct ond_error *err);
/* Copies t's value (t->nbytes) to dst: for a deferred tensor its bytes times its scale. */
void ond_tensor_read(const struct ond_tensor *t, void *dst);
/* The value of input t of a node as an eval reads it, given data, the pointer its info
 * holds: data, or for a deferred t a copy in *copy (malloc'd, freed by the caller; NULL when
 * none was made). */
enum ond_status ond_input_value(const struct ond_tensor *t, const void *data,
                                const void **value, void **copy, struct ond_error *err);
/* Drops the file pages that only a deferred t's bytes lie on from the process's memory: they
 * are read again from the page cache when needed (a plan's build has reordered them). */
void ond_tensor_release(const struct ond_tensor *t);
/* Gives a deferred t its value in its own aligned memory (no-op for others). */
enum ond_status ond_tensor_materialize(struct ond_graph *g, struct ond_tensor *t,
                                       struct ond_error *err);
/* Reads element i of an integer tensor (int32 or int64) as int64. */
int64_t ond_int_at(const struct ond_info *info, size_t i);
/* The symmetric int8 scale of one output channel's per float weights at w: max |w| / 127, 1
 * for a channel of zeros. int8 convolutions and `ondine quantize` both use
 * it, so QDQ weights read back to the same int8 values. */
float ond_int8_channel_scale(const float *w, size_t per);

/* ---- graph (runtime/graph.c) ---- */
enum ond_status ond_graph_create(const struct ond_options *opts, struct ond_graph **g,
                                 struct ond_error *err);
void ond_graph_free(struct ond_graph *g);
/* Adds a tensor with a unique name (fails on a duplicate). */
struct ond_tensor *ond_graph_add_tensor(struct ond_graph *g, const char *name,
                                        struct ond_error *err);
struct ond_tensor *ond_graph_find_tensor(const struct ond_graph *g, const char *name);
struct ond_node *ond_graph_add_node(struct ond_graph *g, int n_in, int n_out,
                                    struct ond_error *err);
int ond_graph_symbol(struct ond_graph *g, const char *name, struct ond_error *err);
int64_t ond_graph_opset(const struct ond_graph *g, const char *domain); /* -1 if not imported */
/* runtime/shape_operands.c: per graph input, whether its value decides some shape (it flows
 * into a shape position: Reshape's shape, Pad's pads...), then true per default (a session
 * knows defaults at planning too); malloc'd, NULL when out of memory. */
bool *ond_shape_operands(const struct ond_graph *g);
/* Orders nodes topologically (stable: keeps file order where legal); fails on a cycle. */
enum ond_status ond_graph_sort(struct ond_graph *g, struct ond_error *err);
/* Drops dead nodes (and their attributes), recounts uses, sorts. */
enum ond_status ond_graph_compact(struct ond_graph *g, struct ond_error *err);
/* Forgets n's attributes, freeing the data of tensor attributes (only n holds them). */
void ond_node_drop_attrs(struct ond_graph *g, struct ond_node *n);
enum ond_status ond_graph_validate(const struct ond_graph *g, struct ond_error *err);
/* Materializes every deferred constant that something other than the weights input of a
 * Conv, Gemm or InnerProduct reads, or that is a graph output; unmaps graph->map when no
 * deferred constant is left. */
enum ond_status ond_graph_settle(struct ond_graph *g, struct ond_error *err);
const struct ond_attr *ond_node_attr(const struct ond_node *n, const char *name);

/* ---- shape inference (runtime/infer.c) ---- */
/* Infers dtype and shape of every tensor; computes small values (shape arithmetic,
 * Constant nodes) with ops' eval, within the graph's limits. */
enum ond_status ond_graph_infer(struct ond_graph *g, struct ond_error *err);

#endif
