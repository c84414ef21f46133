/* fuse_residual_add.c: the residual add of ResNet blocks becomes a sum post-op of the Conv that
 * makes one of its inputs, with the activation after the add as a further post-op.
 *
 *   before:  x -> Conv -> y;  Add(y, s) -> z  [-> Relu -> r]
 *   after:   Conv(x, W, B, s) [sum, relu] -> r      (s is appended as the Conv's input 3)
 *
 * Math: r = relu(conv(x) + s): oneDNN's sum post-op accumulates the convolution into a buffer
 * that holds s, then applies the eltwise post-op; the reference eval adds s, then applies it.
 * Old-opset Sum with two inputs is the same add.
 *
 * Which Conv: when both inputs of the add come from Convs (projection shortcut: conv3 of the
 * main branch and the downsampling conv), the one later in node order takes the sum. The other
 * conv's output is then complete before the fused conv runs, with no reordering; and the sum's
 * buffer is an activation the fused conv reads last.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (an
 * add with a Conv's output as an input) with when it breaks one. The pass guarantees them; the
 * planner (runtime/session.c) checks again that nothing reads the addend's storage later before
 * it accumulates in place, and copies the addend if it would, so a pass bug costs a copy, not a
 * wrong answer. The activation (Relu, Clip with constant bounds, LeakyRelu, Sigmoid, HardSwish)
 * joins only when it is the add output's one reader and that output is not a graph output.
 */
#include "ops/op.h"
#include "runtime/passes/passes.h"

/* A sum post-op adds element by element. */
static const char SAME_SHAPE[] = "the add has exactly two float inputs of the same shape, "
                                 "every dim known or the same symbol (no broadcasting)";
/* It disappears into the sum. */
static const char ONE_READER[] = "the Conv's output has one reader, the add, and is not a "
                                 "graph output";
static const char ONE_SUM[] = "the Conv has no sum post-op yet (oneDNN takes one per "
                              "primitive) and room for two more post-ops";
/* The session accumulates into the shortcut's buffer in place, which must be an activation it
 * owns, not weights or the caller's input, and whose value nobody reads afterwards (a graph
 * output is read after the run). A view op's session step is a view of its input: overwriting
 * the shortcut overwrites the tensors views make from it or it is made from, transitively. */
static const char OWNED[] = "the shortcut is not a constant, not a graph input and not a "
                            "graph output, nor is any tensor that may share its storage (by "
                            "Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, Transpose "
                            "views)";
/* The fused Conv is then the last reader of the shortcut, so accumulating into its buffer
 * destroys nothing a later node needs, and the existing order stays topological. */
static const char LAST_READER[] = "the shortcut is made before the Conv in node order and no "
                                  "node after the Conv reads it or a tensor that may share its "
                                  "storage";
static bool is_add(const struct ond_node *n)
{
    return ond_pass_is(n, "", "Add") || (ond_pass_is(n, "", "Sum") && n->n_in == 2);
}

static bool has_sum(const struct ond_node *n)
{
    for (int i = 0; i < n->n_post; i++)
        if (n->post[i].kind == OND_POST_SUM)
            return true;
    return false;
}

/* Whether a session may run n as a view of its first input (ops/ that call ond_prep_view, and
 * Transpose). */
static bool is_view(const struct ond_node *n)
{
    static const char *const views[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                                        "Dropout", "Transpose"};
    for (size_t i = 0; n && i < sizeof views / sizeof views[0]; i++)
        if (ond_pass_is(n, "", views[i]))
            return true;
    return false;
}

/* Whether t may share storage with s: t is s, or a chain of views leads from one to the
 * other's root, or both view one root. */
static const struct ond_tensor *view_root(const struct ond_tensor *t)
{
    while (t->producer && is_view(t->producer) && t->producer->n_in > 0 && t->producer->in[0])
        t = t->producer->in[0];
    return t;
}

/* The rule that stops the Conv making y from taking the sum of shortcut s into add, or NULL. */
static const char *rejects(const struct ond_pass_ctx *c, const struct ond_node *add,
                           const struct ond_tensor *y, const struct ond_tensor *s)
{
    const struct ond_node *conv = y->producer;
    if (conv->out[0] != y || ond_pass_sole_user(c, y) != add)
        return ONE_READER;
    if (has_sum(conv) || conv->n_post >= OND_MAX_POSTOPS - 1)
        return ONE_SUM;
    if (!s->producer)
        return OWNED;
    if (s->producer->id >= conv->id)
        return LAST_READER;
    const struct ond_graph *g = c->g;
    const struct ond_tensor *root = view_root(s);
    for (int i = 0; i < g->n_tensors; i++) {
        const struct ond_tensor *t = g->tensors[i];
        if (!t || view_root(t) != root)
            continue;
        if (t->flags & (OND_TENSOR_CONST | OND_TENSOR_INPUT | OND_TENSOR_OUTPUT))
            return OWNED;
        for (int j = conv->id + 1; j < g->n_nodes; j++) {
            const struct ond_node *n = g->nodes[j];
            for (int k = 0; !n->dead && n != add && k < n->n_in; k++)
                if (n->in[k] == t)
                    return LAST_READER;
        }
    }
    return NULL;
}

static enum ond_status fuse(struct ond_pass_ctx *c, struct ond_node *add, struct ond_node *conv,
                            struct ond_tensor *s, struct ond_error *err)
{
    int at = conv->n_in > conv->op->max_in ? conv->n_in : conv->op->max_in;
    enum ond_status st = ond_pass_grow_inputs(c, conv, at + 1, err);
    struct ond_postop act;
    char post[128];
    if (st)
        return st;
    ond_pass_set_input(c, conv, at, s);
    ond_pass_add_post(conv, OND_POST_SUM, 1.f, 0.f, at, add->name);
    struct ond_node *r = ond_pass_sole_user(c, add->out[0]);
    if (ond_pass_activation(r, &act) && r->in[0] == add->out[0] &&
        ond_pass_add_post(conv, act.kind, act.alpha, act.beta, -1, r->name)) {
        ond_pass_take_output(conv, r);
        ond_pass_kill(add);
        return ond_pass_fusion(c, err, 3, (const struct ond_node *[]){conv, add, r}, conv, NULL,
                               "Conv '%s' + %s '%s' + %s '%s' -> Conv '%s' [%s]",
                               conv->name, add->op_type, add->name, r->op_type, r->name,
                               conv->name, ond_post_str(conv, post, sizeof post));
    }
    ond_pass_take_output(conv, add);
    return ond_pass_fusion(c, err, 2, (const struct ond_node *[]){conv, add}, conv, NULL,
                           "Conv '%s' + %s '%s' -> Conv '%s' [%s]", conv->name,
                           add->op_type, add->name, conv->name,
                           ond_post_str(conv, post, sizeof post));
}

enum ond_status ond_pass_fuse_residual_add(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *add = g->nodes[i];
        if (!is_add(add) || !add->in[0] || !add->in[1] || !add->out[0])
            continue;
        /* The later conv first; the other input is the shortcut. */
        int first = 0;
        const struct ond_node *p0 = add->in[0]->producer, *p1 = add->in[1]->producer;
        if (p1 && (!p0 || p1->id > p0->id))
            first = 1;
        int pick = -1, n_why = 0;
        const char *why[2];
        const struct ond_node *tried[2];
        bool same = ond_pass_same_shape(&add->in[0]->info, &add->in[1]->info) &&
                    add->in[0]->info.dtype == OND_DTYPE_FLOAT;
        for (int t = 0; t < 2 && pick < 0; t++) {
            int k = t ? 1 - first : first;
            if (!ond_pass_is(add->in[k]->producer, "", "Conv"))
                continue;
            tried[n_why] = add->in[k]->producer;
            if (!(why[n_why++] = same ? rejects(c, add, add->in[k], add->in[1 - k]) : SAME_SHAPE))
                pick = k;
        }
        /* A shape mismatch is the add's, said once. */
        for (int t = 0; pick < 0 && t < (same ? n_why : n_why > 0); t++) {
            enum ond_status st =
                ond_pass_not_fused(c, err, 2, (const struct ond_node *[]){tried[t], add}, why[t]);
            if (st)
                return st;
        }
        if (pick < 0)
            continue;
        enum ond_status st = fuse(c, add, add->in[pick]->producer, add->in[1 - pick], err);
        if (st)
            return st;
        c->rewrites++;
    }
    return OND_OK;
}
