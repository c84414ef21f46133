/* link_example.c: the smallest program on the public API (ondine.h, libondine.so), built by
 * tests/c_api_link.py with pkg-config against the build tree and against a staged install:
 * loads MODEL, runs one all-zero input of its declared shape (symbolic dims 1) and prints the
 * first output's shape. Usage: link_example MODEL */
#include <stdio.h>
#include <stdlib.h>

#include <ondine.h>

int main(int argc, char **argv)
{
    struct ond_options o;
    struct ond_model *m = NULL;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    struct ond_value in, *out = NULL;
    size_t n_out = 0;
    if (argc != 2)
        return fprintf(stderr, "usage: link_example MODEL\n"), 2;
    ond_options_init(&o);
    if (ond_model_load_file(argv[1], &o, &m, &err) || ond_model_input(m, 0, &in, &err) ||
        ond_session_create(m, &o, &s, &err))
        return fprintf(stderr, "%s\n", err.message), 1;
    size_t n = 1;
    for (int d = 0; d < in.rank; d++)
        n *= (size_t)(in.dims[d] = in.dims[d] < 0 ? 1 : in.dims[d]);
    in.size = n * sizeof(float);
    in.data = calloc(n, sizeof(float));
    int rc = !in.data || ond_session_run_alloc(s, &in, 1, &out, &n_out, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    else
        for (int d = 0; d < out[0].rank; d++)
            printf("%s%lld", d ? "x" : "output ", (long long)out[0].dims[d]);
    printf("\n");
    free(in.data);
    ond_values_free(out, n_out);
    ond_session_free(s);
    ond_model_free(m);
    return rc;
}
