/* exec.h: the contract between the session's planner and ops' prepare functions.
 *
 * At session planning every tensor has a concrete shape. A node whose inputs are all known
 * is computed then (eval). Any other node becomes a step: its op's prepare (when it has one)
 * builds one oneDNN primitive for the node, choosing the layouts it wants for its activation
 * inputs and giving the layouts of its outputs; the planner inserts reorders where a
 * producer's layout differs from what a consumer wants. Constant inputs (weights) are turned
 * into oneDNN memory in the primitive's layout once, here, and owned by the step.
 *
 * Eval fallback. Ops without prepare, and nodes whose prepare declines (ond_prep_decline:
 * a dtype, attribute or shape the primitive does not cover), run their eval on plain
 * row-major buffers. A decline is not an error: prepare returns OND_OK with p->declined
 * set, and the planner frees whatever prepare made. The planner also skips prepare (eval
 * straight away) for nodes with more than OND_PREP_MAX_IN inputs and nodes with an empty
 * (zero-element) output. Errors from prepare stay errors. A node with fused post-ops
 * (n->post) must run as a primitive: declining one is an UNSUPPORTED error, since eval
 * computes the node without them.
 *
 * Layouts. Values of dtypes oneDNN lacks (int64, double, bool...) are held as bytes:
 * ond_md(plain) describes them as u8[bytes]; only eval steps and views touch them, so a
 * prepare that builds a primitive must check its dtypes (it sees them in p->in, p->out).
 * want_md[k] and out_md[k] normally have the dims of the tensor. One with other dims is a
 * view: the planner makes the tensor plain row-major and hands its buffer to the primitive
 * with that md (same byte size required: a reshaped or transposed reading of the same
 * bytes), so an op can run on a coerced 2-D shape or a transposed matrix without copies.
 *
 * Views. A prepare that sets p->view builds no primitive: output 0 is input 0's buffer,
 * read as want_md[0] and seen as out_md[0] (ond_prep_view: both plain, so a blocked input
 * is reordered to plain first). The planner gives the output a value that shares the
 * input's storage; a buffer lives as long as any value sharing it.
 *
 * Precision. Tensors' dtypes stay those of the model; in a bf16 session float activations
 * and weights of primitives that choose their layouts (`any`, ond_prep_md: convolutions,
 * inner products) are bf16, and ops that follow their input (eltwise, batchnorm, pooling,
 * binary, views) keep the type it arrives in. Plain layouts from ond_md are always f32:
 * graph inputs and outputs and eval steps get f32, the planner's reorders converting, and
 * so do ops that read plain views with other dims (MatMul). Constants are converted to the
 * type of the layout ond_prep_const is given; biases and parameters stay f32.
 *
 * int8. In an int8 session (p->int8) every float activation tensor the session quantizes has
 * a scale (in_scale, out_scale; 0: it stays float): its int8 form q means scale * q, u8 when
 * it is non-negative (in_unsigned, out_unsigned), else s8. A value's data type is the one its
 * producer wrote; the planner's reorders convert between f32 and s8/u8 with the tensor's
 * scale. Ops marked `quant` in ops/op.h see s8/u8 inputs as they arrive; the planner
 * dequantizes the int8 inputs of every other op first. OND_QUANT_KEEP ops (pooling, views)
 * get a float input that has a scale quantized first, write their input's type, and their
 * output tensor has their input's scale. A conv writes
 * s8/u8 when its output has a scale (ond_prep_attr_q requantizes), f32 otherwise.
 *
 * In-place sum. For a SUM post-op (p->sum_input) the output starts as the addend in the
 * output's layout. When no later node reads the addend's buffer (through any tensor sharing
 * it), it is not a graph input or output, and the node reads it through no other input, the
 * output takes over that buffer; otherwise a copy step fills the output first.
 */
#ifndef OND_EXEC_H
#define OND_EXEC_H

#include "oneapi/dnnl/dnnl.h"
#include "ops/op.h"

struct ond_tune;

/* DenseNet-121's Concats join up to 25 feature maps (a dense block's 24 layers and its
 * input); with 8 they ran eval into plain buffers and the BatchNormalizations after them ran
 * oneDNN's slow plain kernel (41% of the model's time). */
#define OND_PREP_MAX_IN 32
#define OND_PREP_MAX_OUT 4
#define OND_PREP_MAX_ARGS (OND_PREP_MAX_IN + 8)
#define OND_PREP_MAX_MEM 8

enum ond_arg_kind { OND_ARG_IN, OND_ARG_OUT, OND_ARG_MEM };

struct ond_arg {
    int dnnl_arg;          /* DNNL_ARG_SRC, ... */
    enum ond_arg_kind kind;
    int index;             /* input, output or owned-memory index */
};

/* Where a plan's build copies deferred weights (runtime/ir.h) to reorder them: one buffer
 * the session reuses, so that their bytes are read from the file once and only the reordered
 * copy is new memory. */
struct ond_stage {
    void *buf;
    size_t size;
};

struct ond_prep {
    /* Given to prepare. */
    const struct ond_node *node;
    dnnl_engine_t engine;
    dnnl_stream_t stream;               /* for reordering constants at planning */
    const struct ond_info *const *in;   /* concrete; data set for constant inputs */
    const struct ond_info *out;         /* concrete */
    const dnnl_memory_desc_t *in_md[OND_PREP_MAX_IN]; /* layout an activation input arrives
                                                         in; NULL for constants and
                                                         omitted inputs */
    dnnl_data_type_t act_dt;            /* data type of float activations and weights in
                                           layouts a primitive chooses (ond_prep_md):
                                           dnnl_f32, or dnnl_bf16 in a bf16 session */
    bool int8;                          /* an int8 session (see int8 above) */
    float in_scale[OND_PREP_MAX_IN], out_scale[OND_PREP_MAX_OUT];
    bool in_unsigned[OND_PREP_MAX_IN], out_unsigned[OND_PREP_MAX_OUT];
    struct ond_tune *tune;              /* per-layer tuning (runtime/tune.h), or NULL */
    struct ond_stage *stage;            /* the session's, for deferred constants */
    /* Filled by prepare. */
    dnnl_memory_desc_t want_md[OND_PREP_MAX_IN];   /* zeroed: takes the input as it arrives */
    dnnl_memory_desc_t out_md[OND_PREP_MAX_OUT];
    dnnl_primitive_t prim;
    char impl[64];                                  /* oneDNN implementation name, or why
                                                       prepare declined */
    size_t scratch_bytes;
    struct ond_arg args[OND_PREP_MAX_ARGS];
    int n_args;
    dnnl_memory_t mem[OND_PREP_MAX_MEM];
    int n_mem;
    /* Post-op SUM: the output must start as a copy of this input (index), or -1. */
    int sum_input;
    dnnl_memory_desc_t sum_md;                      /* the addend's layout in the output buffer
                                                       when its data type differs from the
                                                       output's (int8: u8 addend, s8 output);
                                                       zeroed: out_md[0] */
    bool declined;                                  /* run the node's eval instead */
    bool view;                                      /* output 0 is a view of input 0 */
};

/* Turns a failed oneDNN call into OND_STATUS_BACKEND naming the call and the node. */
enum ond_status ond_dnnl(dnnl_status_t s, const char *call, const struct ond_node *n,
                         struct ond_error *err);
#define OND_DNNL(call, n, err)                                        \
    do {                                                              \
        enum ond_status st_ = ond_dnnl((call), #call, (n), (err));    \
        if (st_)                                                      \
            return st_;                                               \
    } while (0)

/* A memory descriptor for info's shape: dnnl_format_tag_any, or plain row-major when
 * plain is set (abcd... tag). Plain for a dtype oneDNN lacks gives the bytes as u8[size];
 * `any` for one is UNSUPPORTED. */
enum ond_status ond_md(const struct ond_info *info, bool plain, dnnl_memory_desc_t *md,
                       struct ond_error *err);
/* The same for f32 dims given directly (rank 1 to 12). */
enum ond_status ond_md_float(int rank, const int64_t *dims, bool plain, dnnl_memory_desc_t *md,
                             struct ond_error *err);
/* An `any` descriptor for info's shape with data type dt for float info (as ond_md
 * otherwise). */
enum ond_status ond_md_any(const struct ond_info *info, dnnl_data_type_t dt,
                           dnnl_memory_desc_t *md, struct ond_error *err);
/* ond_md_any with p->act_dt, for the activations and weights a primitive chooses. */
enum ond_status ond_prep_md(const struct ond_prep *p, const struct ond_info *info,
                            dnnl_memory_desc_t *md, struct ond_error *err);
/* The same for dims given directly (rank 1 to 12). */
enum ond_status ond_prep_md_dims(const struct ond_prep *p, int rank, const int64_t *dims,
                                 dnnl_memory_desc_t *md, struct ond_error *err);
/* Whether md is plain row-major for its dims. */
bool ond_md_is_plain(const dnnl_memory_desc_t *md);
/* Whether pd is oneDNN's reference implementation ("ref:..."), which is there for
 * correctness and runs one to three orders of magnitude slower than its jit kernels. */
bool ond_pd_is_reference(const_dnnl_primitive_desc_t pd);

/* Declines the node (p->declined, the reason in p->impl) and returns OND_OK. */
enum ond_status ond_prep_decline(struct ond_prep *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whether input k is a float activation (declines otherwise, naming `what`). */
bool ond_prep_float_activation(struct ond_prep *p, int k, const char *what);

/* The value of constant input k as aligned bytes: p->in[k]->data, or for a deferred weight
 * a copy in p->stage (valid until the next call), its file pages then dropped from memory.
 * Prepares read constants in C through it. */
enum ond_status ond_prep_const_data(struct ond_prep *p, int k, const void **data,
                                    struct ond_error *err);
/* Memory in layout `want` holding the constant data of p->in[k] (row-major, viewed with
 * the dims of `want`, converted to want's data type); returns its index in p->mem. */
enum ond_status ond_prep_const(struct ond_prep *p, int k, const dnnl_memory_desc_t *want,
                               int *mem_index, struct ond_error *err);
/* The same with the constant's bytes laid out as `from` (dims of want, say transposed). */
enum ond_status ond_prep_const_from(struct ond_prep *p, int k, const dnnl_memory_desc_t *from,
                                    const dnnl_memory_desc_t *want, int *mem_index,
                                    struct ond_error *err);
/* ond_prep_const converting through per-channel scales: element e becomes e * scales[c],
 * c its index over the dims in mask (oneDNN's output-scale mask; n_scales values), rounded and
 * saturated to want's type (weights quantized to s8, with the compensation want asks for). */
enum ond_status ond_prep_const_scaled(struct ond_prep *p, int k, const dnnl_memory_desc_t *want,
                                      int n_scales, int mask, const float *scales,
                                      int *mem_index, struct ond_error *err);
/* Memory in layout want holding n floats from data (a computed constant, e.g. a scaled bias). */
enum ond_status ond_prep_floats(struct ond_prep *p, const float *data, const dnnl_memory_desc_t *want,
                                int *mem_index, struct ond_error *err);
/* Multiplies every element of the f32 or bf16 memory p->mem[mem_index] by factor (folds a
 * Gemm's alpha or beta into its constants). */
enum ond_status ond_prep_scale_mem(struct ond_prep *p, int mem_index, float factor,
                                   struct ond_error *err);
void ond_prep_arg(struct ond_prep *p, int dnnl_arg, enum ond_arg_kind kind, int index);
/* Attributes every primitive gets (user scratchpad) plus the node's post-ops. */
enum ond_status ond_prep_attr(struct ond_prep *p, dnnl_primitive_attr_t *attr,
                              struct ond_error *err);
/* Requantization of an int8 primitive whose accumulator acc means acc_scale[c] * acc for
 * output channel c (n per-channel values over mask, or one): ond_prep_attr's attributes with
 * output scales and post-op scales that make it write dst_scale * the real result
 * (1 / the output's scale for s8/u8, 1 for f32), the addend of a sum post-op read with
 * sum_scale (the scale of its s8/u8 form in the output buffer, 1 when f32) as sum_dt.
 * Declines (UNSUPPORTED is never returned for it) when a post-op that is not the last one
 * does not commute with scaling. */
struct ond_requant {
    int n, mask;
    const float *acc_scale;
    float dst_scale, sum_scale;
    dnnl_data_type_t sum_dt;
};
enum ond_status ond_prep_pd_q(struct ond_prep *p, const_dnnl_op_desc_t op_desc,
                              const struct ond_requant *q, dnnl_primitive_desc_t *pd,
                              struct ond_error *err);

/* The int8 form of a convolution or inner product over input 0 with constant float weights
 * (input 1, [M, ...]) and an optional constant float bias (input 2, [M]): src s8/u8 as it
 * arrives (or by its tensor's sign), dst s8/u8 when the output has a scale, else f32; weights
 * quantized per output channel (max |w| / 127); the bias divided into the accumulator's units;
 * a sum post-op's addend read in the type it arrives in (p->sum_md). ond_prep_int8_begin
 * fills s (and s->q for ond_prep_pd_q); ond_prep_int8_end takes st, the status of building
 * the primitive descriptor pd (NULL when that failed or declined), makes the weights (output
 * channels over wmask in pd's weights layout) and bias memory and the primitive
 * (ond_prep_finish_weighted), and frees s's buffer and pd. Call it on every path once begin
 * succeeded; it returns st when that is an error. */
struct ond_int8 {
    dnnl_data_type_t src_dt, dst_dt;
    struct ond_requant q;
    float *buf;            /* accumulator scales, 1 / weight scales, scaled bias: M each */
};
enum ond_status ond_prep_int8_begin(struct ond_prep *p, struct ond_int8 *s,
                                    struct ond_error *err);
enum ond_status ond_prep_int8_end(struct ond_prep *p, struct ond_int8 *s, enum ond_status st,
                                  dnnl_primitive_desc_t pd, int wmask,
                                  const dnnl_memory_desc_t *bias, struct ond_error *err);
/* A primitive descriptor for op_desc with ond_prep_attr's attributes. When oneDNN has no
 * implementation for it, declines instead (*pd NULL, OND_OK). */
enum ond_status ond_prep_pd(struct ond_prep *p, const_dnnl_op_desc_t op_desc,
                            dnnl_primitive_desc_t *pd, struct ond_error *err);
/* ond_prep_pd taking the first implementation whose scratchpad fits max_scratch bytes
 * (declines when none does). */
enum ond_status ond_prep_pd_within(struct ond_prep *p, const_dnnl_op_desc_t op_desc,
                                   size_t max_scratch, dnnl_primitive_desc_t *pd,
                                   struct ond_error *err);
/* Creates p->prim from pd (and frees pd), records scratchpad size and implementation. */
enum ond_status ond_prep_finish(struct ond_prep *p, dnnl_primitive_desc_t pd,
                                struct ond_error *err);
/* ond_prep_finish for a one-input primitive: src is input 0, dst output 0 in the layout pd
 * picked (p->out_md[0]). */
enum ond_status ond_prep_finish_unary(struct ond_prep *p, dnnl_primitive_desc_t pd,
                                      struct ond_error *err);
/* ond_prep_finish for a convolution or inner product: src is input 0, dst output 0, the
 * weights constant memory wm, the bias constant memory bm when bm >= 0 (no bias: -1). */
enum ond_status ond_prep_finish_weighted(struct ond_prep *p, dnnl_primitive_desc_t pd, int wm,
                                         int bm, struct ond_error *err);

/* One oneDNN eltwise primitive over input 0, in the layout it arrives in (declines unless
 * it is a float activation); `then` (NULL: none) is fused after it, before the node's own
 * post-ops. */
enum ond_status ond_prep_eltwise_then(struct ond_prep *p, dnnl_alg_kind_t alg, float alpha,
                                      float beta, const struct ond_postop *then,
                                      struct ond_error *err);
enum ond_status ond_prep_eltwise(struct ond_prep *p, dnnl_alg_kind_t alg, float alpha,
                                 float beta, struct ond_error *err);
/* Output 0 as a view of input 0 (see Views above); any dtype. */
enum ond_status ond_prep_view(struct ond_prep *p, struct ond_error *err);

#endif
