/* report.h: the pictures `ondine inspect` draws (report.c): a graph for Graphviz (--dot,
 * --svg) and the self-contained HTML report (--html). */
#ifndef OND_REPORT_H
#define OND_REPORT_H

#include <stdio.h>

#include "runtime/passes/passes.h"
#include "runtime/session.h"

#define DOT_PROGRAM "/usr/bin/dot"

/* What the HTML report shows. */
struct report_in {
    const char *model;                    /* the path given */
    const struct ond_graph *before;       /* the loaded graph (-O0) */
    const struct ond_graph *after;        /* the optimized graph */
    const struct ond_pass_report *passes; /* of the optimized load */
    const uint64_t *macs;                 /* per node of after, at batch */
    long long batch;
    const struct ond_profile *prof;       /* NULL without --profile */
    const char *precision;
};

/* A graph to draw. */
struct report_graph {
    const struct ond_graph *g;
    const struct ond_pass_report *r;  /* its records (may be NULL): fused and rejected nodes */
    bool before;                      /* g is the graph the records' nodes come from, not the
                                         one they fused into */
    const char *prefix;               /* of the SVG ids */
    const struct ond_profile *prof;   /* time and kernel per node (may be NULL) */
    bool wrap;                        /* a column per stage of blocks, side by side */
};

/* ---- grouping nodes for the pictures (report_layout.c) ---- */
/* Length of the first k (1 or 2) path components of a node name when another follows, else
 * 0: k = 2 gives its block, k = 1 its stage. */
size_t report_prefix_len(const char *name, int k);
/* The block of each node (-1: none) into cl, and the blocks' count; none under two blocks. */
int report_blocks(const struct ond_graph *g, int *cl);
/* The column of each node into col when a drawing is wrapped, and the number of columns. */
int report_columns(const struct ond_graph *g, const int *cl, int n_blocks, int *col);

/* Writes d->g for Graphviz: one box per node with its op, post-ops, name, key attributes,
 * small constants, output shape and, with a profile, time (the kernel in the tooltip); nodes
 * grouped by the block their names share; fused nodes filled green, rejected candidates
 * orange. */
void report_dot(FILE *f, const struct report_graph *d);
/* Renders dot_file to svg_file with Graphviz; a message on stderr and CLI_FAIL on failure. */
int report_render(const char *dot_file, const char *svg_file);
/* Writes the HTML report to file; CLI_OK or CLI_FAIL (message printed). */
int report_html(const char *file, const struct report_in *in);

#endif
