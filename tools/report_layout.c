/* report_layout.c: how `ondine inspect`'s pictures group a graph's nodes (report.c): blocks
 * from the names torch exports ("/layer1/layer1.0/conv1/Conv" is in block "/layer1/layer1.0"
 * of stage "/layer1"), and the columns a wrapped drawing lays them out in. Names in any other
 * form give no blocks, and the graph is drawn flat, or wrapped as one stage. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/report.h"

/* Length of the first k (1 or 2) path components of a node name when another follows, else
 * 0: k = 2 is its block ("/layer1/layer1.0" of "/layer1/layer1.0/conv1/Conv"), k = 1 the
 * stage the block belongs to ("/layer1"). */
size_t report_prefix_len(const char *name, int k)
{
    size_t at[3] = {0};
    int n = 0;
    if (name[0] != '/')
        return 0;
    for (size_t i = 1; name[i]; i++)
        if (name[i] == '/' && n++ < 3)
            at[n - 1] = i;
    return n >= k ? at[k - 1] : 0;
}

/* The cluster index of each node (-1: none) into cl, and the blocks' count; no clusters
 * when fewer than two blocks. */
int report_blocks(const struct ond_graph *g, int *cl)
{
    int n = 0, *head = calloc((size_t)g->n_nodes + 1, sizeof *head);   /* block -> first node */
    for (int i = 0; head && i < g->n_nodes; i++) {
        const char *name = g->nodes[i]->name;
        size_t l = report_prefix_len(name, 2);
        cl[i] = -1;
        for (int b = 0; l && b < n && cl[i] < 0; b++)
            if (report_prefix_len(g->nodes[head[b]]->name, 2) == l &&
                strncmp(g->nodes[head[b]]->name, name, l) == 0)
                cl[i] = b;
        if (l && cl[i] < 0) {
            head[n] = i;
            cl[i] = n++;
        }
    }
    if (!head)
        n = 0;
    free(head);
    if (n < 2)
        for (int i = 0; i < g->n_nodes; i++)
            cl[i] = -1;
    return n < 2 ? 0 : n;
}

/* The column of each node into col when a drawing is wrapped, and the number of columns.
 * The units are the blocks of cl (report_blocks()) and the nodes outside them, numbered as the
 * overview's boxes; a stage is a run of blocks whose names share their first component
 * ("/layer2"), with the nodes outside blocks that follow them (those before the first block
 * go with the first stage); a graph without blocks is one stage. Each stage is one column, or,
 * when longer than WRAP_NODES, split between units into columns of about equal length. */
int report_columns(const struct ond_graph *g, const int *cl, int n_blocks, int *col)
{
    int n = g->n_nodes, n_units = n_blocks + n, n_stages = 0, n_cols = 0;
    /* Boxes are about 5 times wider than tall: columns of sqrt(5 n) nodes make a picture
     * about as wide as tall; a graph of up to 16 stays one column. */
    int wrap = (int)fmax(16, ceil(sqrt(5.0 * n)));
    int *buf = calloc(6 * (size_t)n_units + 1, sizeof *buf);
    if (!buf)
        return 0;
    int *stage = buf, *size = buf + n_units, *ucol = buf + 2 * n_units;
    int *total = buf + 3 * n_units, *done = buf + 4 * n_units, *first = buf + 5 * n_units;
    const char *cur = NULL;
    size_t cur_len = 0;
    for (int u = 0; u < n_units; u++)
        stage[u] = ucol[u] = -1;
    for (int i = 0; i < n; i++) {
        int u = cl[i] >= 0 ? cl[i] : n_blocks + i;
        const char *name = g->nodes[i]->name;
        size_t l = cl[i] >= 0 ? report_prefix_len(name, 1) : 0;
        if (stage[u] < 0 && l && cur && (l != cur_len || strncmp(cur, name, l) != 0))
            n_stages++;
        if (stage[u] < 0 && l)
            cur = name, cur_len = l;
        if (stage[u] < 0)
            stage[u] = n_stages;
        size[u]++;
        total[stage[u]]++;
    }
    n_stages++;
    for (int s = 0; s < n_stages; s++) {
        first[s] = n_cols;  /* the stage's first column */
        n_cols += total[s] ? (total[s] + wrap - 1) / wrap : 0;
    }
    for (int i = 0; i < n; i++) {
        int u = cl[i] >= 0 ? cl[i] : n_blocks + i, s = stage[u];
        if (ucol[u] < 0) {
            /* The column of the stage that the unit's middle falls in. */
            int k = (total[s] + wrap - 1) / wrap;
            int j = (int)((done[s] + size[u] / 2.0) * k / total[s]);
            ucol[u] = first[s] + (j < k ? j : k - 1);
            done[s] += size[u];
        }
        col[i] = ucol[u];
    }
    free(buf);
    return n_cols;
}
