/* op.h: the interface every ONNX op implements, and the attribute helpers ops share.
 *
 * One ops/<op>.c file per ONNX op defines one `const struct ond_op` per opset range it
 * handles and lists it in ops/ops.def. Lookup picks, for a node, the entry of its domain and
 * name with the highest `since` that is not above the model's opset for that domain.
 *
 * Lifecycle: parse (attributes -> params, rejecting bad values before any shape or backend
 * work), infer (output dtypes and shapes from input infos; input data is set when the input
 * is constant or was computed), eval (optional: compute outputs from known inputs, used for
 * shape arithmetic and constant folding), prepare (session creation: build the oneDNN
 * primitives or the plain-C kernel; see runtime/exec.h).
 */
#ifndef OND_OP_H
#define OND_OP_H

#include "runtime/ir.h"

struct ond_prep;

/* What an op's prepare does with int8 activations in an int8 session (runtime/exec.h). */
enum ond_quant {
    OND_QUANT_NONE,   /* takes float: the planner dequantizes s8/u8 inputs first */
    OND_QUANT_KEEP,   /* writes its input's type; the output keeps the input's scale */
    OND_QUANT_OWN,    /* requantizes into its output's own scale (convolution) */
};

struct ond_op {
    const char *domain;   /* "" for ai.onnx */
    const char *name;
    int since;            /* lowest opset version this entry handles */
    int min_in, max_in;
    int min_out, max_out;
    size_t params_size;
    enum ond_status (*parse)(struct ond_node *n, void *params, struct ond_error *err);
    /* in[i] is NULL for an omitted optional input; out has n->n_out entries to fill. */
    enum ond_status (*infer)(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err);
    /* Outputs already sized by infer: out_data[i] holds out[i]'s bytes, zeroed. */
    enum ond_status (*eval)(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err);
    enum ond_status (*prepare)(struct ond_prep *p, struct ond_error *err);
    /* Multiply-accumulates for inspection, from the node's (known) tensor infos. */
    uint64_t (*macs)(const struct ond_node *n);
    enum ond_quant quant;
    /* eval reads only its inputs' dims, never their data (Shape): a session computes it at
     * planning, where every dim is known, so what it feeds (a Reshape's shape) is known too. */
    bool dims_only;
};

/* ---- registry (ops/registry.c) ---- */
const struct ond_op *ond_op_find(const char *domain, const char *name, int64_t opset);
/* Whether any entry has this domain and name (to tell "unknown op" from "unsupported opset"). */
bool ond_op_known(const char *domain, const char *name);
/* Binds every node to its op and runs the op's parse, in node order. Unsupported ops are all
 * listed in one error; with partial, they are recorded in g->unsupported and left unbound. */
enum ond_status ond_graph_bind_ops(struct ond_graph *g, bool partial, struct ond_error *err);
size_t ond_op_count(void);
const struct ond_op *ond_op_at(size_t i);

/* ---- attribute helpers (ops/attr.c): absent attributes take the default; a present one of
 * the wrong type is an error naming node and attribute. ---- */
enum ond_status ond_attr_int(const struct ond_node *n, const char *name, int64_t def,
                             int64_t *v, struct ond_error *err);
enum ond_status ond_attr_float(const struct ond_node *n, const char *name, float def, float *v,
                               struct ond_error *err);
/* INTS into v[max]; *count = -1 when absent. More than max values is an error. */
enum ond_status ond_attr_ints(const struct ond_node *n, const char *name, int64_t *v,
                              int max, int *count, struct ond_error *err);
/* STRING; def when absent. */
enum ond_status ond_attr_string(const struct ond_node *n, const char *name, const char *def,
                                const char **v, struct ond_error *err);

/* ---- shared shape helpers (ops/shape_util.c) ---- */
/* Normalizes axis in [-rank, rank) to [0, rank); error names the node. */
enum ond_status ond_axis(const struct ond_node *n, int64_t axis, int rank, int *out,
                         struct ond_error *err);
/* numpy broadcasting of a and b into out (dims and rank). */
enum ond_status ond_broadcast(const struct ond_node *n, const struct ond_info *a,
                              const struct ond_info *b, struct ond_info *out,
                              struct ond_error *err);
/* Requires in[i] to be float (the only activation type ondine runs). */
enum ond_status ond_require_float(const struct ond_node *n, const struct ond_info *in, int i,
                                  struct ond_error *err);
/* Output i gets in's dtype and shape (elementwise ops). */
enum ond_status ond_infer_same(const struct ond_node *n, const struct ond_info *const *in,
                               struct ond_info *out, struct ond_error *err);

/* ---- elementwise kernels (ops/eltwise_util.c): broadcasting binary loops, unary float
 * activations on a table, comparisons ---- */
/* MAX and MIN are oneDNN binary algorithms only (ond_arith_prepare for Max and Min); their
 * evals are ond_minmax_eval. */
enum ond_binop { OND_BIN_ADD, OND_BIN_SUB, OND_BIN_MUL, OND_BIN_DIV, OND_BIN_MAX, OND_BIN_MIN };
/* Whether Add/Sub/Mul/Div/Sum run on dtype: float, double, int8, uint8, int32, int64. */
bool ond_arith_dtype(int32_t dtype);
/* Output dtype (a's, which b must share) and numpy-broadcast shape of a binary op. */
enum ond_status ond_binary_infer(const struct ond_node *n, const struct ond_info *a,
                                 const struct ond_info *b, struct ond_info *out,
                                 struct ond_error *err);
/* out = a op b, numpy-broadcast into out's shape; out_data may alias a's buffer when a has
 * out's shape. Integer division by zero is an INVALID_INPUT error. */
enum ond_status ond_binary_eval(const struct ond_node *n, enum ond_binop op,
                                const struct ond_info *a, const struct ond_info *b,
                                const struct ond_info *out, void *out_data,
                                struct ond_error *err);
/* Add, Sub, Mul, Div: opsets 1 and 6 broadcast only when the `broadcast` attribute is 1, B
 * onto A's dims from `axis` (default: B's dims match A's trailing dims); 7+ are numpy. */
struct ond_arith_legacy {
    int64_t broadcast, axis;
    bool has_axis;
};
enum ond_status ond_arith_legacy_parse(struct ond_node *n, void *params, struct ond_error *err);
/* B of the legacy form as *pb, reshaped to A's rank so the numpy loops compute it. */
enum ond_status ond_arith_legacy_b(const struct ond_node *n, const struct ond_info *a,
                                   const struct ond_info *b, struct ond_info *pb,
                                   struct ond_error *err);
/* Legacy rules when n->params is set (the opset 1 and 6 entries), numpy otherwise. */
enum ond_status ond_arith_infer(const struct ond_node *n, const struct ond_info *const *in,
                                struct ond_info *out, struct ond_error *err);
enum ond_status ond_arith_eval(const struct ond_node *n, enum ond_binop op,
                               const struct ond_info *const *in, const struct ond_info *out,
                               void *const *out_data, struct ond_error *err);
/* Session prepare of Add/Sub/Mul/Div (float only; other dtypes decline to eval): one oneDNN
 * binary primitive. Two activations of the output's shape share one layout (a blocked one
 * if either arrives blocked); a broadcast or constant operand is plain, with its dims at the
 * output's rank. A broadcast first operand of Sub or Div declines (oneDNN broadcasts only
 * its second source). */
enum ond_status ond_arith_prepare(struct ond_prep *p, enum ond_binop op, struct ond_error *err);
/* Output 0 = f(input 0, n->params) element by element, for float activations. */
enum ond_status ond_unary_float_eval(const struct ond_node *n, const struct ond_info *const *in,
                                     void *const *out_data, float (*f)(float, const void *));
/* Copies input 0 into output 0 (pass-through ops). */
enum ond_status ond_copy_eval(const struct ond_node *n, const struct ond_info *const *in,
                              const struct ond_info *out, void *const *out_data,
                              struct ond_error *err);

/* Calls run over out's elements in row-major order, one run per row of its last dim: n
 * elements from out element o, where input k (of x[0..nx), numpy-broadcast to out) is read
 * from element off[k] in steps of step[k] (0 where broadcast). out must be known. */
#define OND_BCAST_MAX_IN 3
typedef void (*ond_run_fn)(void *ctx, uint64_t o, const int64_t *off, const int64_t *step,
                           int64_t n);
void ond_bcast_runs(const struct ond_info *out, int nx, const struct ond_info *const *x,
                    ond_run_fn run, void *ctx);
/* A float activation's params: f computes it in C (the eval; u is the struct), alg (a
 * dnnl_alg_kind_t) with alpha and beta in sessions (ond_unary_prepare). The op's parse fills
 * it; f reads alpha and beta as the op's attributes too. Neg, Abs and Sign set num: they also
 * take double and the integer types (Neg the signed ones), computed in C in that type
 * (integers wrap: Neg and Abs of the most negative value give it back, as numpy). */
enum ond_unary_num { OND_NUM_NONE, OND_NUM_NEG, OND_NUM_ABS, OND_NUM_SIGN };
struct ond_unary {
    float (*f)(float x, const void *u);
    int alg;
    float alpha, beta;
    enum ond_unary_num num;
};
/* Output 0 of input 0's dtype (float, or num's types) and shape. */
enum ond_status ond_unary_infer(const struct ond_node *n, const struct ond_info *const *in,
                                struct ond_info *out, struct ond_error *err);
enum ond_status ond_unary_eval(const struct ond_node *n, const struct ond_info *const *in,
                               const struct ond_info *out, void *const *out_data,
                               struct ond_error *err);
enum ond_status ond_unary_prepare(struct ond_prep *p, struct ond_error *err);
/* Types ond_num_cmp compares: float, double, float16, bfloat16, (u)int8 to 64, bool. */
bool ond_num_dtype(int32_t dtype);
/* Three-way comparison of the elements at a and b of type dtype: -1, 0, 1, or 2 when
 * unordered (a NaN). */
int ond_num_cmp(const void *a, const void *b, int32_t dtype);
/* The element at p of type dtype (an ond_num_dtype) as a double (int64 beyond 2^53 rounds). */
double ond_num_double(const void *p, int32_t dtype);
/* Comparisons and logical ops: two inputs of one type (bool for And and Or, else
 * ond_num_dtype), a bool output numpy-broadcast, or by the legacy rules when n->params is
 * an ond_arith_legacy (opset 1's broadcast and axis). */
typedef bool (*ond_pred_fn)(const void *a, const void *b, int32_t dtype);
/* Infer of the comparisons (numeric inputs) and of And, Or (bool inputs). */
enum ond_status ond_compare_infer(const struct ond_node *n, const struct ond_info *const *in,
                                  struct ond_info *out, struct ond_error *err);
enum ond_status ond_logical_infer(const struct ond_node *n, const struct ond_info *const *in,
                                  struct ond_info *out, struct ond_error *err);
enum ond_status ond_predicate_eval(const struct ond_node *n, const struct ond_info *const *in,
                                   const struct ond_info *out, void *const *out_data,
                                   ond_pred_fn pred, struct ond_error *err);
/* Variadic ops (Min, Max, Mean): every input of input 0's type, which dtype_ok accepts; the
 * output numpy-broadcast over all. */
enum ond_status ond_variadic_infer(const struct ond_node *n, const struct ond_info *const *in,
                                   struct ond_info *out, bool (*dtype_ok)(int32_t),
                                   struct ond_error *err);
/* Max (sign 1) or Min (-1) of every input, broadcast, any ond_num_dtype; NaN propagates. */
enum ond_status ond_minmax_eval(const struct ond_node *n, const struct ond_info *const *in,
                                const struct ond_info *out, void *const *out_data, int sign);
/* The scalar functions of the activations that can be post-ops (u: a struct ond_unary), in
 * their op files: ops/postops.c applies them. */
float ond_scalar_tanh(float x, const void *u);
float ond_scalar_elu(float x, const void *u);
float ond_scalar_gelu_erf(float x, const void *u);
float ond_scalar_gelu_tanh(float x, const void *u);
float ond_scalar_swish(float x, const void *u);
float ond_scalar_softplus(float x, const void *u);
float ond_scalar_mish(float x, const void *u);
float ond_scalar_abs(float x, const void *u);
float ond_scalar_sqrt(float x, const void *u);
float ond_scalar_exp(float x, const void *u);

/* ---- shapes, layout and constants (ops/layout_util.c): integer inputs, byte sizes, type
 * conversion ---- */
/* Reads a 1-D (or scalar) int32/int64 input in[k] (`what` names it in errors): *count gets
 * its length (-1 unknown) and, when its value is known, v its values and *known true. */
enum ond_status ond_input_ints(const struct ond_node *n, const struct ond_info *in, int k,
                               const char *what, int64_t *v, int max, int *count, bool *known,
                               struct ond_error *err);
/* Bytes of a fully known info (0 when unknown). */
size_t ond_info_bytes(const struct ond_info *info);
/* eval of ops that only relabel the shape: output 0 gets input 0's bytes. */
enum ond_status ond_eval_copy(const struct ond_node *n, const struct ond_info *const *in,
                              const struct ond_info *out, void *const *out_data,
                              struct ond_error *err);
/* The value of a 1-D shape tensor that load-time inference could not compute because it
 * depends on dims, not data (PyTorch's Shape -> Gather -> Unsqueeze -> Concat chains):
 * follows t's producers. v[i] is a literal when !dim[i], else a dim of some tensor (known,
 * unknown -1 or symbolic). False when the value cannot be traced; *count is then unchanged. */
bool ond_shape_value(const struct ond_tensor *t, int64_t *v, bool *dim, int max, int *count);
/* Converts n elements between dtypes (numeric conversion as ONNX Cast; float to integer
 * truncates toward zero, NaN gives 0, out-of-range values saturate). */
void ond_convert(const void *src, int32_t sdt, void *dst, int32_t ddt, size_t n);
/* Cast's eval (ops/cast.c), shared with CastLike: output 0 is input 0 converted to output 0's
 * dtype with ond_convert. */
enum ond_status ond_cast_eval(const struct ond_node *n, const struct ond_info *const *in,
                              const struct ond_info *out, void *const *out_data,
                              struct ond_error *err);

/* ---- post-ops (ops/postops.c): what fusion passes attach to a node (n->post) ---- */
/* Applies n->post in order to out, the node's output 0 of numel floats: the eltwise
 * functions, and SUM/ADD adding the node's input `input` element by element (it must have
 * out's element count: fusion is legal only without broadcasting). The evals of the ops
 * passes fuse into (Conv, Gemm, Add, ai.ondine ScaleShift and InnerProduct) call it last, so
 * the reference interpreter runs optimized graphs too. */
enum ond_status ond_apply_post(const struct ond_node *n, const struct ond_info *const *in,
                               float *out, uint64_t numel, struct ond_error *err);
/* Name of a post-op kind as ai.ondine attributes and inspect spell it: "relu", "clip",
 * "leaky_relu", "sigmoid", "hard_swish", "sum", "add", "tanh", "elu", "gelu_erf",
 * "gelu_tanh", "swish", "soft_relu", "mish", "abs", "sqrt", "exp"; NULL for an unknown kind. */
const char *ond_postop_name(enum ond_postop_kind kind);
/* The oneDNN eltwise algorithm (a dnnl_alg_kind_t) of a kind from OND_POST_TANH on; 0 for
 * the others. */
int ond_postop_alg(enum ond_postop_kind kind);
/* The kind from OND_POST_TANH on that runs oneDNN eltwise algorithm alg; 0 when none does. */
enum ond_postop_kind ond_postop_of_alg(int alg);
/* "sum, relu": the node's post-ops, comma-separated, into buf. */
const char *ond_post_str(const struct ond_node *n, char *buf, size_t len);
/* Reads the attributes post_ops (STRINGS: kinds in order) and post_params (FLOATS: alpha
 * and beta per post-op, optional when no kind takes parameters) of an ai.ondine node into
 * n->post. The tensor a sum or add post-op reads is the node's next input after its first
 * base_inputs, in post-op order; the node must have exactly those inputs. */
enum ond_status ond_post_parse(struct ond_node *n, int base_inputs, struct ond_error *err);

/* ---- kernel windows of Conv and pooling (ops/window.c) ---- */
#define OND_MAX_SPATIAL 3
enum ond_auto_pad { OND_PAD_NOTSET, OND_PAD_SAME_UPPER, OND_PAD_SAME_LOWER, OND_PAD_VALID };

struct ond_window {
    int n_kernel, n_strides, n_dilations, n_pads; /* -1: attribute absent */
    int64_t kernel[OND_MAX_SPATIAL], strides[OND_MAX_SPATIAL], dilations[OND_MAX_SPATIAL];
    int64_t pads[2 * OND_MAX_SPATIAL];            /* ONNX order: all begins, then all ends */
    enum ond_auto_pad auto_pad;
    bool ceil_mode;
};

/* Reads kernel_shape, strides, dilations, pads, auto_pad (and ceil_mode when has_ceil);
 * rejects zero or negative kernel/strides/dilations, negative pads, unknown auto_pad. */
enum ond_status ond_window_parse(const struct ond_node *n, struct ond_window *w, bool has_ceil,
                                 struct ond_error *err);
/* For `rank` spatial dims of input in[] and the kernel k[] (from kernel_shape or weights):
 * checks attribute lengths, resolves auto_pad into pads (begins then ends) and computes the
 * output dims (unknown input dims give unknown outputs). */
enum ond_status ond_window_resolve(const struct ond_node *n, const struct ond_window *w,
                                   int rank, const int64_t *in, const int64_t *k,
                                   int64_t *strides, int64_t *dilations, int64_t *pads,
                                   int64_t *out, struct ond_error *err);

/* A window resolved for the plain-C kernels, over OND_MAX_SPATIAL (3) spatial dims: 1-D and
 * 2-D inputs get leading unit dims (in, out, k 1; stride, dilation 1; no pads). */
struct ond_window3 {
    int64_t in[OND_MAX_SPATIAL], out[OND_MAX_SPATIAL], k[OND_MAX_SPATIAL];
    int64_t s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL];      /* strides, dilations */
    int64_t pb[OND_MAX_SPATIAL], pe[OND_MAX_SPATIAL];    /* pads at begin, at end */
};
/* ond_window_resolve on fully known input dims, then the 3-D form of the result. */
enum ond_status ond_window3_resolve(const struct ond_node *n, const struct ond_window *w,
                                    int rank, const int64_t *in, const int64_t *k,
                                    struct ond_window3 *g, struct ond_error *err);


/* A convolution's attributes: Conv, ConvInteger and QLinearConv share them. */
struct ond_conv_attrs {
    struct ond_window w;
    int64_t group;
};
/* Reads the window attributes and group (positive). */
enum ond_status ond_conv_parse(const struct ond_node *n, struct ond_conv_attrs *c,
                               struct ond_error *err);
/* Output shape of a convolution of X [N, C, D...] by W [M, C/group, k...] with bias B [M]
 * (NULL: none) into out->rank and out->dims: unknown ranks leave out unknown; kernel_shape
 * must agree with W. */
enum ond_status ond_conv_shape(const struct ond_node *n, const struct ond_conv_attrs *c,
                               const struct ond_info *x, const struct ond_info *w,
                               const struct ond_info *b, struct ond_info *out,
                               struct ond_error *err);

/* ---- MatMul shapes (ops/matmul.c), shared with MatMulInteger and QLinearMatMul ---- */
/* numpy.matmul's output shape of A and B into out->rank and out->dims (unknown ranks leave
 * out unknown); a scalar operand is an error. */
enum ond_status ond_matmul_shape(const struct ond_node *n, const struct ond_info *a,
                                 const struct ond_info *b, struct ond_info *out,
                                 struct ond_error *err);
/* How a matmul of known shapes walks its batch: output matrix t [m, n] is A's matrix ia
 * [m, k] times B's matrix ib [k, n] (ond_mm_batch), batch dims broadcast. A 1-D A has
 * m 1, a 1-D B n 1. */
struct ond_mm {
    int nb;                                               /* output batch dims */
    int64_t dims[OND_MAX_RANK], sa[OND_MAX_RANK], sb[OND_MAX_RANK]; /* strides 0: broadcast */
    int64_t batches, m, k, n;
};
void ond_mm_init(const struct ond_info *a, const struct ond_info *b, struct ond_mm *mm);
void ond_mm_batch(const struct ond_mm *mm, int64_t t, int64_t *ia, int64_t *ib);
/* Rows of A (m) and columns of B (n) as a matmul sees them; -1 when not known. */
int64_t ond_mm_rows(const struct ond_info *a);
int64_t ond_mm_cols(const struct ond_info *b);

/* ---- quantization (ops/quant_util.c): QuantizeLinear, DequantizeLinear, QLinearConv,
 * QLinearMatMul, ConvInteger, MatMulInteger ---- */
/* Input k of n, or NULL when omitted or past the node's inputs. */
const struct ond_info *ond_opt_in(const struct ond_node *n, const struct ond_info *const *in,
                                  int k);
/* Requires input k (`what` names it: "x", "w"...) to be uint8 or int8. */
enum ond_status ond_require_q8(const struct ond_node *n, const struct ond_info *x, int k,
                               const char *what, struct ond_error *err);
/* Checks scale input k (`what`: "y_scale"...): float; a scalar or one element, or when
 * per != 0 a 1-D tensor of per values (per < 0: a length not known yet); known values
 * positive and finite. *count gets its element count (-1 unknown). */
enum ond_status ond_qscale_check(const struct ond_node *n, const struct ond_info *s, int k,
                                 const char *what, int64_t per, int64_t *count,
                                 struct ond_error *err);
/* Checks zero point input k (NULL: omitted, fine): of dtype, shaped as a scale is (per), and
 * with count elements when count >= 0 (its scale's). */
enum ond_status ond_qzp_check(const struct ond_node *n, const struct ond_info *zp, int k,
                              const char *what, int32_t dtype, int64_t per, int64_t count,
                              struct ond_error *err);
/* Element i of uint8, int8 or int32 data. */
int32_t ond_q_at(const void *data, int32_t dtype, int64_t i);
/* Element i of a per-axis parameter, element 0 of a per-tensor one; 0 for an omitted zero
 * point. */
int32_t ond_qzp_at(const struct ond_info *zp, int64_t i);
float ond_qscale_at(const struct ond_info *s, int64_t i);
/* Stores round(v) (half to even) + zp, saturated to dtype (uint8 or int8), as element i of
 * y. NaN stores the zero point. */
void ond_q_store(void *y, int32_t dtype, int64_t i, float v, int32_t zp);
/* ConvInteger's computation over known shapes: y [N, M, out...] = sum over each window of
 * (x - x_zp) * (w - w_zp[m]); padding adds nothing (it reads the zero point). Accumulates in
 * int64; y wraps to int32 as a 32-bit accumulator would. */
enum ond_status ond_conv_integer(const struct ond_node *n, const struct ond_conv_attrs *c,
                                 const struct ond_info *x, const struct ond_info *xzp,
                                 const struct ond_info *w, const struct ond_info *wzp,
                                 int32_t *y, struct ond_error *err);
/* MatMulInteger's computation over known shapes: y = (A - a_zp[row]) x (B - b_zp[column]),
 * accumulated and wrapped as ond_conv_integer's. */
void ond_matmul_integer(const struct ond_info *a, const struct ond_info *azp,
                        const struct ond_info *b, const struct ond_info *bzp, int32_t *y);

/* ---- strided copies (ops/strided.c): Split, Expand, Tile, DepthToSpace, SpaceToDepth ---- */
#define OND_STRIDED_MAX_RANK (2 * OND_MAX_RANK)
/* Fills dst, dense row-major of dims (rank up to OND_STRIDED_MAX_RANK), from src read with
 * the given element strides (0 repeats); es bytes per element. */
void ond_strided_copy(void *dst, const void *src, int rank, const int64_t *dims,
                      const int64_t *strides, size_t es);
/* Transposing a dense row-major tensor of dims by perm: out_dims[i] = dims[perm[i]], and the
 * element strides to read it with (ond_strided_copy, ond_prep_strided). */
void ond_permuted(int rank, const int64_t *dims, const int *perm, int64_t *out_dims,
                  int64_t *strides);
/* Session prepare of a strided copy of a float input 0 into output 0 (dense dims, rank at
 * most 12): one oneDNN reorder reading a view of the plain input with those strides, into
 * a plain view of the output. Declines for other dtypes. */
enum ond_status ond_prep_strided(struct ond_prep *p, int rank, const int64_t *dims,
                                 const int64_t *strides, struct ond_error *err);

/* ---- normalization (ops/groupnorm.c), shared with InstanceNormalization and
 * LayerNormalization ---- */
/* Reads epsilon (default 1e-5; finite, not negative) and, when stash_type is not NULL, the
 * attribute stash_type (default 1; a known type: the evals compute statistics in double). */
enum ond_status ond_norm_attrs(const struct ond_node *n, float *epsilon, int64_t *stash_type,
                               struct ond_error *err);
/* Checks inputs 1 and 2 (scale, bias): float, 1-D of per values (per < 0: not known). */
enum ond_status ond_norm_params(const struct ond_node *n, const struct ond_info *const *in,
                                int64_t per, struct ond_error *err);
/* y = (x - mean) / sqrt(var + epsilon) * scale[c] + bias[c] over X [N, C, D...] of known
 * dims, mean and biased var taken per sample over each of `groups` runs of C / groups
 * channels (groups divides C). */
void ond_group_normalize(const struct ond_info *x, int64_t groups, float epsilon,
                         const float *scale, const float *bias, float *y);

#endif
