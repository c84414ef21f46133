/* report.c: the pictures of `ondine inspect`: the graph for Graphviz (--dot, --svg) and the
 * HTML report (--html).
 *
 * A node's box reads: op and post-ops ("Conv [sum, relu]", a Clip's bounds in brackets) with
 * its attributes in short when they fit (k3x3 s2 p1 g32 d2 for kernel, strides, pads, group,
 * dilations; name=value for others), its name, the values of constant inputs of at most 4
 * elements ("Mul / const 2") and its output shape with symbolic dims by name; its tooltip the
 * full name and every constant input's shape.
 * Nodes whose names share a block ("/layer1/layer1.0" of "/layer1/layer1.0/conv1/Conv", as
 * torch exports name them) are drawn in one cluster and named within it, which keeps ResNets
 * legible; a graph without such names is drawn flat. The standalone picture (--dot, --svg)
 * of a graph over 16 nodes is wrapped into columns side by side, a column per stage of
 * blocks ("/layer2"), long stages split (report_layout.c); the HTML report's panes stay one column,
 * which scrolls in them.
 *
 * The HTML report is one file without outside references: CSS and script inline, the graphs
 * as inline SVG rendered by Graphviz's dot (DOT_PROGRAM). It shows an overview of the blocks
 * left to right (each a link to its cluster), the loaded and optimized graphs side by side,
 * every pass's fusions and rejected candidates (a selector highlights one pass's nodes in
 * both graphs and filters the tables), and the optimized graph's node table with attributes,
 * MACs and, from a profiled run (--profile), time and kernel per node.
 */
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops/op.h"
#include "tools/cli.h"
#include "tools/report.h"

#define SMALL_CONST 4   /* constants of at most this many elements are shown by value */

/* The name shown in a box: without the block prefix, a leading '/' and a trailing "/Op". */
static void short_name(const struct ond_node *n, size_t prefix, char *buf, size_t len)
{
    const char *s = n->name + prefix;
    size_t l = strlen(s), op = strlen(n->op_type);
    if (*s == '/')
        s++, l--;
    if (l > op + 1 && s[l - op - 1] == '/' && strcmp(s + l - op, n->op_type) == 0)
        l -= op + 1;
    if (l > 36)
        snprintf(buf, len, "..%s", s + l - 34);
    else
        snprintf(buf, len, "%.*s", (int)l, s);
}

/* Appends to buf (at *at, of len) like printf. */
static void add(char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    va_list ap;
    if (*at >= len)
        return;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *at, len - *at, fmt, ap);
    va_end(ap);
    *at = k < 0 ? len : *at + (size_t)k;
}

static bool all_equal(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != x)
            return false;
    return true;
}

/* The attributes in short: k3x3 s2 p1 g32 d2, others name=value. */
static const char *attrs_str(const struct ond_node *n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n->n_attrs; i++) {
        const struct ond_attr *a = &n->attrs[i];
        const char *sep = at ? " " : "";
        bool kernel = strcmp(a->name, "kernel_shape") == 0, pads = strcmp(a->name, "pads") == 0;
        bool strides = strcmp(a->name, "strides") == 0, dil = strcmp(a->name, "dilations") == 0;
        if (a->type == OND_ATTR_INTS && (kernel || pads || strides || dil)) {
            int64_t skip = pads ? 0 : 1;
            if (!kernel && all_equal(a->ints, a->n, skip))
                continue;
            add(buf, len, &at, "%s%s", sep, kernel ? "k" : pads ? "p" : strides ? "s" : "d");
            size_t count = !kernel && a->n && all_equal(a->ints, a->n, a->ints[0]) ? 1 : a->n;
            for (size_t k = 0; k < count; k++)
                add(buf, len, &at, "%s%lld", k ? (kernel ? "x" : ",") : "",
                    (long long)a->ints[k]);
        } else if (a->type == OND_ATTR_INT && strcmp(a->name, "group") == 0) {
            if (a->i != 1)
                add(buf, len, &at, "%sg%lld", sep, (long long)a->i);
        } else if (a->type == OND_ATTR_INT) {
            add(buf, len, &at, "%s%s=%lld", sep, a->name, (long long)a->i);
        } else if (a->type == OND_ATTR_FLOAT) {
            add(buf, len, &at, "%s%s=%g", sep, a->name, (double)a->f);
        } else if (a->type == OND_ATTR_STRING && a->s_len <= 16) {
            add(buf, len, &at, "%s%s=%s", sep, a->name, a->s);
        } else if (a->type == OND_ATTR_INTS && a->n <= 8) {
            add(buf, len, &at, "%s%s=", sep, a->name);
            for (size_t k = 0; k < a->n; k++)
                add(buf, len, &at, "%s%lld", k ? "," : "", (long long)a->ints[k]);
        }
    }
    return buf;
}

/* The post-ops with their parameters: "sum, clip[0,6], leaky_relu[0.1]". */
static const char *posts_str(const struct ond_node *n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < n->n_post; i++) {
        const struct ond_postop *q = &n->post[i];
        const char *name = ond_postop_name(q->kind);
        add(buf, len, &at, "%s%s", i ? ", " : "", name ? name : "?");
        if (q->kind == OND_POST_CLIP)
            add(buf, len, &at, "[%g,%g]", (double)q->alpha, (double)q->beta);
        else if (q->kind == OND_POST_LEAKY_RELU)
            add(buf, len, &at, "[%g]", (double)q->alpha);
    }
    return buf;
}

/* A constant input's values when it has at most SMALL_CONST (float, int64, int32); false,
 * writing nothing, for others. */
static bool small_const(const struct ond_tensor *t, char *buf, size_t len, size_t *at)
{
    uint64_t numel = 0;
    const struct ond_info *i = &t->info;
    if (!ond_numel(i, 0, &numel) || numel > SMALL_CONST || !i->data ||
        (i->dtype != OND_DTYPE_FLOAT && i->dtype != OND_DTYPE_INT64 &&
         i->dtype != OND_DTYPE_INT32))
        return false;
    add(buf, len, at, "%s", numel == 1 ? "" : "{");
    for (uint64_t k = 0; k < numel; k++) {
        if (i->dtype == OND_DTYPE_FLOAT)
            add(buf, len, at, "%s%g", k ? "," : "", (double)((const float *)i->data)[k]);
        else if (i->dtype == OND_DTYPE_INT64)
            add(buf, len, at, "%s%lld", k ? "," : "", (long long)((const int64_t *)i->data)[k]);
        else
            add(buf, len, at, "%s%d", k ? "," : "", ((const int32_t *)i->data)[k]);
    }
    add(buf, len, at, "%s", numel == 1 ? "" : "}");
    return true;
}

/* Output shape with symbols by name; the dtype only when not float. */
static const char *shape_str(const struct ond_graph *g, const struct ond_info *i, char *buf,
                             size_t len)
{
    ond_info_str(g, i, buf, len);
    if (i->dtype == OND_DTYPE_FLOAT && strncmp(buf, "float", 5) == 0)
        memmove(buf, buf + 5, strlen(buf + 5) + 1);
    return buf;
}

/* The lines of a node's box, separated by '\n': op, post-ops and (when short) attributes;
 * name; attributes; small constants; output shape. Its tooltip: the full name and every
 * constant input with its shape. */
static void node_label(const struct ond_graph *g, const struct ond_node *n, size_t prefix,
                       char *buf, size_t len, char *tip, size_t tip_len)
{
    char tmp[512], attrs[512];
    size_t at = 0, tip_at = 0;
    add(buf, len, &at, "%s", n->op_type);
    if (n->n_post)
        add(buf, len, &at, " [%s]", posts_str(n, tmp, sizeof tmp));
    bool inline_attrs = at + strlen(attrs_str(n, attrs, sizeof attrs)) <= 30;
    if (*attrs && inline_attrs)
        add(buf, len, &at, " %s", attrs);
    short_name(n, prefix, tmp, sizeof tmp);
    if (*tmp)
        add(buf, len, &at, "\n%s", tmp);
    if (*attrs && !inline_attrs)
        add(buf, len, &at, "\n%.60s", attrs);
    add(tip, tip_len, &tip_at, "%s", n->name);
    for (int k = 0, small = 0; k < n->n_in; k++) {
        const struct ond_tensor *t = n->in[k];
        if (!t || !(t->flags & OND_TENSOR_CONST))
            continue;
        size_t mark = at;
        add(buf, len, &at, "%s", small ? ", " : "\nconst ");
        if (small_const(t, buf, len, &at))
            small++;
        else
            buf[at = mark] = 0;
        add(tip, tip_len, &tip_at, "\n%s %s", t->name, ond_info_str(g, &t->info, tmp, sizeof tmp));
    }
    if (n->n_out && n->out[0])
        add(buf, len, &at, "\n%s", shape_str(g, &n->out[0]->info, tmp, sizeof tmp));
}

/* DOT string: quotes and backslashes escaped, a newline as a centred line break. */
static void dot_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '\n')
            fputs("\\n", f);
        else if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static bool has_name(const struct ond_pass_record *x, const char *name)
{
    for (int i = 0; i < x->n_nodes; i++)
        if (strcmp(x->nodes[i], name) == 0)
            return true;
    return false;
}

/* Which records name node n: the classes "p-PASS" of their passes; *fused and *missed set
 * when a fusion took it (before: one of its nodes; after: the node it became) or a candidate
 * with it was rejected. */
static void marks(const struct ond_pass_report *r, const struct ond_node *n, bool before,
                  char *cls, size_t len, bool *fused, bool *missed)
{
    size_t at = 0;
    *fused = *missed = false;
    cls[0] = 0;
    for (int s = 0; r && s < 2; s++) {
        const struct ond_pass_records *rs = s ? &r->not_fused : &r->fusions;
        for (int i = 0; i < rs->n; i++) {
            const struct ond_pass_record *x = &rs->items[i];
            bool hit = (s || before) ? has_name(x, n->name)
                                     : x->into && strcmp(x->into, n->name) == 0;
            if (!hit)
                continue;
            *(s ? missed : fused) = true;
            char p[80];
            snprintf(p, sizeof p, "p-%s", x->pass);
            if (!strstr(cls, p))
                add(cls, len, &at, "%s%s", at ? " " : "", p);
        }
    }
}

/* Time and kernel of node name's steps in the profiled run. */
static double profile_of(const struct ond_profile *p, const char *name, const char **impl)
{
    double ms = 0;
    *impl = "";
    for (int i = 0; p && i < p->n_steps; i++)
        if (strcmp(p->steps[i].node, name) == 0) {
            ms += p->steps[i].ms;
            if (!**impl)
                *impl = p->steps[i].impl;
        }
    return ms;
}

static void dot_node(FILE *f, const struct report_graph *d, int i, bool clustered)
{
    const struct ond_node *n = d->g->nodes[i];
    char label[1024], tip[1024], cls[512];
    bool fused, missed;
    node_label(d->g, n, clustered ? report_prefix_len(n->name, 2) : 0, label, sizeof label, tip,
               sizeof tip);
    if (d->prof) {
        const char *impl;
        double ms = profile_of(d->prof, n->name, &impl);
        size_t at = strlen(label), tip_at = strlen(tip);
        add(label, sizeof label, &at, "\n%.3f ms", ms);
        add(tip, sizeof tip, &tip_at, "\n%s", impl);
    }
    marks(d->r, n, d->before, cls, sizeof cls, &fused, &missed);
    fprintf(f, "    n%d [id=\"%sn%d\", class=\"%s%s%s\", tooltip=", i, d->prefix, i, cls,
            fused ? " fused" : "", missed ? " missed" : "");
    dot_str(f, tip);
    fprintf(f, ", label=");
    dot_str(f, label);
    fprintf(f, "%s%s%s];\n",
            fused    ? ", fillcolor=\"#c9f0c9\""
            : missed ? ", fillcolor=\"#ffe2b8\""
                     : "",
            missed ? ", color=\"#e08000\", penwidth=1.5" : "", n->op ? "" : ", color=red");
}

void report_dot(FILE *f, const struct report_graph *d)
{
    const struct ond_graph *g = d->g;
    char buf[256];
    int *cl = calloc(2 * (size_t)g->n_nodes + 1, sizeof *cl), *col = cl ? cl + g->n_nodes : NULL;
    int n_blocks = cl ? report_blocks(g, cl) : 0;
    /* Edges between columns do not set ranks, so every column starts at the top. */
    bool wrap = d->wrap && col && report_columns(g, cl, n_blocks, col) > 1;
    fprintf(f, "digraph ondine {\n  rankdir=TB; nodesep=0.15; ranksep=0.22;%s\n"
               "  node [shape=box, style=\"rounded,filled\", fillcolor=white, "
               "fontname=\"Helvetica\", fontsize=9, margin=\"0.06,0.02\", height=0.3];\n"
               "  edge [arrowsize=0.5, color=\"#555555\"];\n", wrap ? " newrank=true;" : "");
    for (int i = 0; i < g->n_inputs; i++) {
        fprintf(f, "  t%d [shape=oval, style=filled, fillcolor=\"#e4ecf7\", label=",
                g->inputs[i]->id);
        snprintf(buf, sizeof buf, "%s\n%s", g->inputs[i]->name,
                 ond_info_str(g, &g->inputs[i]->info, (char[128]){0}, 128));
        dot_str(f, buf);
        fprintf(f, "];\n");
    }
    for (int b = 0; b < n_blocks; b++) {
        int first = -1;
        for (int i = 0; i < g->n_nodes && first < 0; i++)
            if (cl[i] == b)
                first = i;
        snprintf(buf, sizeof buf, "%.*s", (int)report_prefix_len(g->nodes[first]->name, 2),
                 g->nodes[first]->name);
        fprintf(f, "  subgraph cluster_%d {\n    id=\"%sc%d\"; style=rounded; color=\"#aaaaaa\"; "
                   "fontname=\"Helvetica\"; fontsize=10; label=", b, d->prefix, b);
        dot_str(f, buf);
        fprintf(f, ";\n");
        for (int i = first; i < g->n_nodes; i++)
            if (cl[i] == b)
                dot_node(f, d, i, true);
        fprintf(f, "  }\n");
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const struct ond_node *n = g->nodes[i];
        if (!cl || cl[i] < 0)
            dot_node(f, d, i, false);
        for (int k = 0; k < n->n_in; k++) {
            const struct ond_tensor *t = n->in[k];
            if (t && !(t->flags & OND_TENSOR_CONST))
                fprintf(f, "  %c%d -> n%d%s;\n", t->producer ? 'n' : 't',
                        t->producer ? t->producer->id : t->id, i,
                        wrap && t->producer && col[t->producer->id] != col[i]
                            ? " [constraint=false]" : "");
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const struct ond_tensor *t = g->outputs[i];
        fprintf(f, "  o%d [shape=oval, style=filled, fillcolor=\"#e4ecf7\", label=", i);
        snprintf(buf, sizeof buf, "%s\n%s", t->name,
                 ond_info_str(g, &t->info, (char[128]){0}, 128));
        dot_str(f, buf);
        fprintf(f, "];\n");
        if (t->producer)
            fprintf(f, "  n%d -> o%d;\n", t->producer->id, i);
    }
    /* The first node of each column on one rank, chained left to right in column order
     * (without it dot orders the columns as it likes). */
    if (wrap)
        fprintf(f, "  { rank=same;");
    for (int i = 0, c = 0, head = -1; wrap && i < g->n_nodes; i++)
        if (col[i] == c) {
            if (head >= 0)
                fprintf(f, " n%d -> n%d [style=invis];", head, i);
            head = i;
            c++;
        }
    fprintf(f, "%s}\n", wrap ? " }\n" : "");
    free(cl);
}

extern char **environ;

int report_render(const char *dot_file, const char *svg_file)
{
    char *argv[] = {"dot", "-Tsvg", "-o", (char *)(uintptr_t)svg_file,
                    (char *)(uintptr_t)dot_file, NULL};
    pid_t pid;
    int status;
    if (access(DOT_PROGRAM, X_OK) != 0) {
        fprintf(stderr, "ondine inspect: Graphviz's dot (%s) is not installed; --dot FILE writes "
                        "the graph for it\n", DOT_PROGRAM);
        return CLI_FAIL;
    }
    if (posix_spawn(&pid, DOT_PROGRAM, NULL, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ondine inspect: %s could not render '%s'\n", DOT_PROGRAM, svg_file);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* ---- the HTML report ---- */

static void html_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Nodes of block b with op type op among the first `to` nodes. */
static int ops_in(const struct ond_graph *g, const int *cl, int b, const char *op, int to)
{
    int count = 0;
    for (int k = 0; k < to; k++)
        count += cl[k] == b && strcmp(g->nodes[k]->op_type, op) == 0;
    return count;
}

static bool first_of_block(const int *cl, int i)
{
    for (int k = 0; k < i; k++)
        if (cl[k] == cl[i])
            return false;
    return true;
}

/* The blocks of the optimized graph left to right, one box each (its op counts), linked to
 * its cluster in the graph; nodes outside blocks as themselves. Box b is block b, box
 * n_blocks + i node i outside blocks. */
static void overview_dot(FILE *f, const struct ond_graph *g, const int *cl, int n_blocks)
{
    char buf[512], post[256];
    int *edges = calloc(2 * (size_t)g->n_nodes * 4 + 2, sizeof *edges), n_edges = 0;
    fprintf(f, "digraph overview {\n  rankdir=LR; nodesep=0.1; ranksep=0.2;\n"
               "  node [shape=box, style=\"rounded,filled\", fillcolor=white, "
               "fontname=\"Helvetica\", fontsize=9, margin=\"0.05,0.02\", height=0.3];\n"
               "  edge [arrowsize=0.4, color=\"#777777\"];\n");
    for (int i = 0; edges && i < g->n_nodes; i++) {
        const struct ond_node *n = g->nodes[i];
        int box = cl[i] >= 0 ? cl[i] : n_blocks + i, b = cl[i];
        size_t at = 0;
        if (b < 0) {
            add(buf, sizeof buf, &at, "%s", n->op_type);
            if (n->n_post)
                add(buf, sizeof buf, &at, " [%s]", posts_str(n, post, sizeof post));
            fprintf(f, "  g%d [href=\"#an%d\", label=", box, i);
        } else if (first_of_block(cl, i)) {
            /* The block's name and its op types with counts, in order of appearance. */
            add(buf, sizeof buf, &at, "%.*s", (int)report_prefix_len(n->name, 2), n->name);
            for (int j = i; j < g->n_nodes; j++) {
                const char *op = g->nodes[j]->op_type;
                if (cl[j] == b && !ops_in(g, cl, b, op, j))
                    add(buf, sizeof buf, &at, "\n%d %s", ops_in(g, cl, b, op, g->n_nodes), op);
            }
            fprintf(f, "  g%d [href=\"#ac%d\", label=", box, b);
        }
        if (at) {
            dot_str(f, buf);
            fprintf(f, "];\n");
        }
        for (int k = 0; k < n->n_in; k++) {
            const struct ond_tensor *t = n->in[k];
            int from = !t || !t->producer ? box
                       : cl[t->producer->id] >= 0 ? cl[t->producer->id]
                                                  : n_blocks + t->producer->id;
            bool dup = from == box;
            for (int e = 0; e < n_edges && !dup; e++)
                dup = edges[2 * e] == from && edges[2 * e + 1] == box;
            if (dup || n_edges >= 4 * g->n_nodes)
                continue;
            edges[2 * n_edges] = from;
            edges[2 * n_edges++ + 1] = box;
            fprintf(f, "  g%d -> g%d;\n", from, box);
        }
    }
    fprintf(f, "}\n");
    free(edges);
}

enum picture { BEFORE, AFTER, OVERVIEW };

/* Renders one graph with dot and copies its <svg> element into out. */
static int embed(FILE *out, const struct report_in *in, enum picture what, const int *cl,
                 int n_blocks)
{
    char dot[] = "/tmp/ondine-report-XXXXXX", svg[64];
    int fd = mkstemp(dot), rc = CLI_FAIL;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "ondine inspect: cannot make a temporary file\n");
        return CLI_FAIL;
    }
    if (what == OVERVIEW)
        overview_dot(f, in->after, cl, n_blocks);
    else
        report_dot(f, &(struct report_graph){.g = what == BEFORE ? in->before : in->after,
                                             .r = in->passes, .before = what == BEFORE,
                                             .prefix = what == BEFORE ? "b" : "a",
                                             .prof = what == BEFORE ? NULL : in->prof});
    snprintf(svg, sizeof svg, "%s.svg", dot);
    if (fclose(f) == 0 && report_render(dot, svg) == CLI_OK && (f = fopen(svg, "r"))) {
        char line[4096];
        bool on = false;
        while (fgets(line, sizeof line, f)) {
            char *s = on ? line : strstr(line, "<svg");
            if (s) {
                on = true;
                fputs(s, out);
            }
        }
        fclose(f);
        rc = on ? CLI_OK : CLI_FAIL;
    }
    unlink(dot);
    unlink(svg);
    return rc;
}

static const char style[] =
    "body{font:13px/1.4 Helvetica,Arial,sans-serif;margin:12px 18px;color:#222}"
    "h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}"
    "h3{font-size:13px;margin:4px 0}.sum{color:#444}"
    ".bar{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ddd;"
    "z-index:2}.key{display:inline-block;width:12px;height:12px;border:1px solid #888;"
    "vertical-align:middle;margin:0 3px 0 12px}"
    ".pane{overflow:auto;border:1px solid #ddd;max-height:80vh;background:#fff}"
    ".ov{max-height:none}.cols{display:flex;gap:10px}.col{flex:1;min-width:0}"
    ".fit svg{width:100%;height:auto}"
    "body.dim g.node:not(.hl){opacity:.3}g.hl path,g.hl polygon{stroke:#d00000;stroke-width:2.5}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}"
    "tr[data-pass],g.node{cursor:pointer}tr[data-pass]:hover{background:#f6f6ff}";

/* The selector highlights one pass's nodes and rows (report.html#pass=NAME opens with it).
 * A click on a table row, or on a node (report.html#node=NAME), highlights the nodes of the
 * records that name it: a fusion's nodes in the loaded graph and the node they became in the
 * optimized one, a rejected candidate's nodes in both; each graph scrolls to the first. When
 * the script ran through, the page counts its graph nodes into data-ready and puts the graphs'
 * box in data-graph (x,y,w,h), which the headless test reads. */
static const char script[] =
    "const sel=document.getElementById('pass');"
    "const rows=[...document.querySelectorAll('tr[data-pass]')];"
    "const nodes=id=>[...document.querySelectorAll('#'+id+' g.node')];"
    "const nameOf=g=>{const a=g.querySelector('a');"
    "return a?(a.getAttribute('xlink:title')||'').split('\\n')[0]:'';};"
    "const names=(r,c)=>[...r.querySelectorAll(c)].map(s=>s.textContent);"
    "function mark(hit){document.body.classList.toggle('dim',hit.some(h=>h));"
    "document.querySelectorAll('g.node').forEach((n,i)=>n.classList.toggle('hl',hit[i]));}"
    "function pick(){const p=sel.value;"
    "mark([...document.querySelectorAll('g.node')].map(n=>!!p&&n.classList.contains('p-'+p)));"
    "rows.forEach(r=>{r.hidden=!!p&&r.dataset.pass!==p;});}"
    "function show(rs){const b=new Set(),a=new Set();"
    "rs.forEach(r=>{names(r,'.nm').forEach(n=>{b.add(n);if(r.dataset.kind==='missed')a.add(n);});"
    "names(r,'.into').forEach(n=>a.add(n));});"
    "const all=[...document.querySelectorAll('g.node')];"
    "mark(all.map(g=>(g.closest('#before')?b:g.closest('#after')?a:new Set()).has(nameOf(g))));"
    "['before','after'].forEach(id=>{const h=nodes(id).find(g=>g.classList.contains('hl'));"
    "if(h)h.scrollIntoView({block:'center',inline:'center'});});}"
    "function showNode(n){const rs=rows.filter(r=>names(r,'.nm,.into').includes(n));"
    "if(rs.length)show(rs);}"
    "sel.addEventListener('change',pick);"
    "rows.forEach(r=>r.addEventListener('click',()=>show([r])));"
    "document.querySelectorAll('#before g.node,#after g.node').forEach(g=>"
    "g.addEventListener('click',e=>{e.preventDefault();showNode(nameOf(g));}));"
    "const h=location.hash.match(/^#(pass|node)=(.+)$/);"
    "if(h&&h[1]==='pass'){sel.value=h[2];pick();}"
    "if(h&&h[1]==='node')showNode(decodeURIComponent(h[2]));"
    "document.getElementById('fit').addEventListener('change',e=>"
    "document.getElementById('graphs').classList.toggle('fit',e.target.checked));"
    "const r=document.getElementById('graphs').getBoundingClientRect();"
    "document.body.dataset.graph=[r.x,r.y,r.width,r.height].map(Math.round).join(',');"
    "document.body.dataset.ready=String(document.querySelectorAll('svg g.node').length);";

static void names_cell(FILE *f, const struct ond_pass_record *x)
{
    fputs("<td>", f);
    for (int k = 0; k < x->n_nodes; k++) {
        fputs(k ? " + <span class=nm>" : "<span class=nm>", f);
        html_str(f, x->nodes[k]);
        fputs("</span>", f);
    }
    fputs("</td>", f);
}

static void records_table(FILE *f, const struct ond_pass_records *rs, bool fusions)
{
    fprintf(f, "<table><tr><th>pass</th><th>nodes</th><th>%s</th></tr>\n",
            fusions ? "into [post-ops]" : "rule not met");
    for (int i = 0; i < rs->n; i++) {
        const struct ond_pass_record *x = &rs->items[i];
        fprintf(f, "<tr data-pass=\"%s\" data-kind=\"%s\"><td>%s</td>", x->pass,
                fusions ? "fused" : "missed", x->pass);
        names_cell(f, x);
        fputs(fusions ? "<td><span class=into>" : "<td><span>", f);
        html_str(f, fusions ? x->into : x->reason);
        fputs("</span>", f);
        for (int k = 0; k < x->n_post; k++)
            fprintf(f, "%s%s%s", k ? ", " : " [", x->post_ops[k], k == x->n_post - 1 ? "]" : "");
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void node_table(FILE *f, const struct report_in *in)
{
    const struct ond_graph *g = in->after;
    char buf[512];
    fprintf(f, "<table><tr><th>#</th><th>name</th><th>op [post-ops]</th><th>attributes</th>"
               "<th>output</th><th>MACs</th>%s</tr>\n",
            in->prof ? "<th>ms</th><th>kernel</th>" : "");
    for (int i = 0; i < g->n_nodes; i++) {
        const struct ond_node *n = g->nodes[i];
        fprintf(f, "<tr id=\"row%d\"><td class=n>%d</td><td>", i, i);
        html_str(f, n->name);
        fputs("</td><td>", f);
        html_str(f, n->op_type);
        if (n->n_post) {
            fputs(" [", f);
            html_str(f, posts_str(n, buf, sizeof buf));
            fputs("]", f);
        }
        fputs("</td><td>", f);
        html_str(f, attrs_str(n, buf, sizeof buf));
        fputs("</td><td>", f);
        if (n->n_out && n->out[0])
            html_str(f, ond_info_str(g, &n->out[0]->info, buf, sizeof buf));
        fprintf(f, "</td><td class=n>%llu</td>", (unsigned long long)(in->macs ? in->macs[i] : 0));
        if (in->prof) {
            const char *impl;
            fprintf(f, "<td class=n>%.3f</td><td>", profile_of(in->prof, n->name, &impl));
            html_str(f, impl);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* The selector: every pass that fused or rejected something. */
static void pass_select(FILE *f, const struct ond_pass_report *r)
{
    fputs("<div class=bar>pass: <select id=pass><option value=\"\">all changes</option>", f);
    for (int i = 0; i < r->n_passes; i++) {
        int fused = 0, missed = 0;
        for (int k = 0; k < r->fusions.n; k++)
            fused += strcmp(r->fusions.items[k].pass, r->passes[i].name) == 0;
        for (int k = 0; k < r->not_fused.n; k++)
            missed += strcmp(r->not_fused.items[k].pass, r->passes[i].name) == 0;
        if (fused || missed)
            fprintf(f, "<option value=\"%s\">%s: %d fused, %d not</option>", r->passes[i].name,
                    r->passes[i].name, fused, missed);
    }
    fputs("</select> <label><input type=checkbox id=fit> fit graphs to width</label>"
          "<span class=key style=\"background:#c9f0c9\"></span>fused (before: the nodes; after: "
          "the node they became)<span class=key style=\"background:#ffe2b8;border-color:#e08000"
          "\"></span>candidate not fused</div>\n", f);
}

int report_html(const char *file, const struct report_in *in)
{
    const struct ond_pass_report *r = in->passes;
    const struct ond_graph *g = in->after;
    FILE *f = fopen(file, "w");
    int *cl = calloc((size_t)g->n_nodes + 1, sizeof *cl), rc = CLI_OK;
    if (!f || !cl) {
        fprintf(stderr, "ondine inspect: cannot write '%s'\n", file);
        if (f)
            fclose(f);
        free(cl);
        return CLI_FAIL;
    }
    int n_blocks = report_blocks(g, cl);
    uint64_t macs = 0;
    double ms = 0;
    for (int i = 0; in->macs && i < g->n_nodes; i++)
        macs += in->macs[i];
    for (int i = 0; in->prof && i < in->prof->n_steps; i++)
        ms += in->prof->steps[i].ms;
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ondine: ", f);
    html_str(f, in->model);
    fprintf(f, "</title><style>%s</style></head>\n<body>\n<h1>", style);
    html_str(f, in->model);
    fprintf(f, "</h1>\n<div class=sum>%d nodes loaded, %d after the passes at -O%d; %.3f G MACs "
               "at batch %lld; %d fusions, %d candidates not fused",
            in->before->n_nodes, g->n_nodes, r->opt_level, (double)macs / 1e9, in->batch,
            r->fusions.n, r->not_fused.n);
    if (in->prof)
        fprintf(f, "; one profiled run at %s: %.3f ms", in->precision, ms);
    fputs("</div>\n", f);
    pass_select(f, r);
    if (n_blocks) {
        fputs("<h2>Blocks</h2>\n<div class=\"pane ov\">", f);
        rc = embed(f, in, OVERVIEW, cl, n_blocks);
        fputs("</div>\n", f);
    }
    fprintf(f, "<h2>Graph</h2>\n<div class=cols id=graphs><div class=col><h3>loaded: %d nodes"
               "</h3><div class=pane id=before>", in->before->n_nodes);
    if (rc == CLI_OK)
        rc = embed(f, in, BEFORE, NULL, 0);
    fprintf(f, "</div></div><div class=col><h3>optimized at -O%d: %d nodes</h3>"
               "<div class=pane id=after>",
            r->opt_level, g->n_nodes);
    if (rc == CLI_OK)
        rc = embed(f, in, AFTER, NULL, 0);
    fprintf(f, "</div></div></div>\n<h2>Fusions (%d)</h2>\n", r->fusions.n);
    records_table(f, &r->fusions, true);
    fprintf(f, "<h2>Not fused (%d)</h2>\n", r->not_fused.n);
    records_table(f, &r->not_fused, false);
    fputs("<h2>Nodes after the passes</h2>\n", f);
    node_table(f, in);
    fprintf(f, "<script>%s</script>\n</body></html>\n", script);
    free(cl);
    if (fclose(f) != 0 && rc == CLI_OK) {
        fprintf(stderr, "ondine inspect: cannot write '%s'\n", file);
        rc = CLI_FAIL;
    }
    return rc;
}
