/* cli.h: shared pieces of the ondine command line: verbs, option parsing helpers, errors. */
#ifndef OND_CLI_H
#define OND_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "ondine.h"

/* Exit statuses (docs/cli.md); CLI_HELP: cli_parse printed --help, and the verb exits 0. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_HELP = 3 };

int cli_inspect(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_optimize(int argc, char **argv);
int cli_test(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_serve(int argc, char **argv);

/* Prints "ondine VERB: message" on stderr and returns CLI_FAIL. */
int cli_error(const char *verb, const struct ond_error *err);
/* Prints "ondine VERB: usage problem" on stderr, the hint, and returns CLI_USAGE. */
int cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a whole non-negative integer; false on junk. */
bool cli_int(const char *s, long long min, long long max, long long *v);

/* One option of a verb: a row of the verb's table, which cli_parse reads argv against and
 * cli_help prints as the verb's --help (tools/cli_opts.c). */
struct cli_opt {
    const char *names;  /* its spellings, ", " between: "-q, --quiet" */
    const char *arg;    /* its value's name in the help ("N", "FILE"); NULL for a flag */
    const char *help;   /* '\n' between lines */
    /* Takes the option as spelled (name) with its value (NULL for a flag): CLI_OK, or
     * CLI_USAGE / CLI_FAIL with the message printed. */
    int (*set)(const struct cli_opt *o, const char *verb, const char *name, const char *value);
    void *target;       /* what set writes */
    long long min, max; /* cli_set_ll's and cli_set_int's bounds */
    bool (*maybe)(const char *next); /* the value may be left out: it is --name=VALUE, or the
                                        next argument when maybe(it) */
};
/* Arguments in order, NULL-terminated; free v. */
struct cli_list {
    const char **v;
    size_t n;
};
/* Parses argv[1..] against the verb's rows; the arguments no row takes are added to
 * operands, and any other one starting with '-' is an unknown option. CLI_OK, CLI_HELP (after
 * printing the help: usage, then the rows), or CLI_USAGE / CLI_FAIL with the message printed
 * (parsing stops there). */
int cli_parse(const char *verb, const char *usage, int argc, char **argv,
              const struct cli_opt *rows, size_t n, struct cli_list *operands);
/* Prints usage and one entry per row: spellings and value name, the help from column 22. */
void cli_help(const char *usage, const struct cli_opt *rows, size_t n);
/* cli_parse for a verb of one model: the operand into *path (NULL for none); more than one,
 * or none when none (the message) is given, is CLI_USAGE (printed). */
int cli_parse_model(const char *verb, const char *usage, int argc, char **argv,
                    const struct cli_opt *rows, size_t n, const char **path, const char *none);
/* Setters of rows: target a bool (cli_set_flag: true), an int (cli_set_on: 1), a const char *
 * (cli_set_str), a long long or an int within [min, max] (cli_set_ll, cli_set_int), a struct
 * cli_list (cli_set_list: appended), an enum ond_precision (cli_set_precision: fp32 | bf16 |
 * int8), an int set from the name "-O<level>" (cli_set_level), a struct ond_options whose
 * disabled_passes the value is appended to (cli_set_pass; the caller frees
 * disabled_passes). */
#define CLI_SETTER(f) int f(const struct cli_opt *o, const char *verb, const char *name, \
                            const char *value)
CLI_SETTER(cli_set_flag);
CLI_SETTER(cli_set_on);
CLI_SETTER(cli_set_str);
CLI_SETTER(cli_set_ll);
CLI_SETTER(cli_set_int);
CLI_SETTER(cli_set_list);
CLI_SETTER(cli_set_precision);
CLI_SETTER(cli_set_level);
CLI_SETTER(cli_set_pass);
/* Rows of the options every verb that loads a model takes (docs/cli.md), on options o. */
#define CLI_OPT_LEVELS(o)                                                                \
    {.names = "-O0, -O1, -O2", .set = cli_set_level, .target = &(o)->opt_level,            \
     .help = "optimization level (default -O2)"}
#define CLI_OPTS_COMMON(o)                                                               \
    {.names = "--disable-pass", .arg = "NAME", .set = cli_set_pass, .target = (o),         \
     .help = "skip an optimization pass (repeatable; 'ondine inspect --passes'\n"          \
             "lists them)"},                                                              \
    {.names = "--threads", .arg = "N", .set = cli_set_int, .target = &(o)->threads,        \
     .min = 0, .max = 4096, .help = "threads per run (default: all cores)"},              \
    {.names = "--fold-initializer-inputs", .set = cli_set_on,                              \
     .target = &(o)->fold_initializer_inputs,                                             \
     .help = "an IR < 4 model's initializers that are also inputs become\n"                \
             "constants, folded, instead of defaults a run may override"},                \
    {.names = "--tune", .set = cli_set_on, .target = &(o)->tune,                           \
     .help = "time oneDNN's implementations and layouts per convolution at\n"              \
             "planning (the first run) and write the tuning cache"},                      \
    {.names = "--tune-cache", .arg = "FILE", .set = cli_set_str, .target = &(o)->tune_cache, \
     .help = "the tuning cache (default: $ONDINE_TUNE_CACHE)"}
#define CLI_OPT_PRECISION(o)                                                             \
    {.names = "--precision", .arg = "P", .set = cli_set_precision,                         \
     .target = &(o)->precision, .help = "fp32 (default), bf16, int8"}
/* The number of rows of a table. */
#define CLI_ROWS(t) (sizeof (t) / sizeof (t)[0])
/* Parses fp32 | bf16 | int8; -1 on anything else. */
int cli_precision(const char *s, enum ond_precision *p);
/* The names of enum ond_precision's values, in its order. */
extern const char *const cli_precision_names[3];
/* A seeded random input for decl (model input query): symbolic dims take batch; floats
 * normal(0, 1), integers 0..9; name and data malloc'd. -1 (message printed) on failure. */
int cli_random_input(const char *verb, struct ond_value *v, const struct ond_value *decl,
                     long long batch, uint64_t *seed);
/* cli_random_input for every input of m, seed 0, into *in (n_in values; free with
 * ond_values_free(*in, *n_in), also after a failure). -1 (message printed) on failure. */
int cli_random_inputs(const char *verb, const struct ond_model *m, long long batch,
                      struct ond_value **in, size_t *n_in);
/* Reads a tensor from FILE.npy or a TensorProto .pb (name, when the .pb has one, and data
 * malloc'd); -1 with a message on failure. */
int cli_read_tensor(const char *verb, const char *path, struct ond_value *v);
/* Reads each --input spec into in[] (indexed as m's inputs, calloc'd, n_inputs long): NAME=FILE
 * when NAME is an input of m, else a bare FILE for a one-input model; a second spec for one
 * input is refused. Inputs no spec names stay zeroed. -1 (message printed) on failure. */
int cli_read_inputs(const char *verb, const struct ond_model *m, const char **specs,
                    int n_specs, struct ond_value *in);
/* Writes v as a .npy file (version 1.0, little-endian, C order); -1 with a message on failure
 * (bfloat16 has no numpy dtype). */
int cli_write_npy(const char *verb, const char *path, const struct ond_value *v);
/* Calibration inputs from dir: test_data_set_* folders of input_<k>.pb (a backend test folder),
 * or .pb / .npy files, one set each, for a one-input model. Sets are in name order, named as
 * the model's inputs; free with ond_values_free(*sets, n_sets * inputs). */
int cli_calibration(const char *verb, const char *dir, const struct ond_model *m,
                    struct ond_value **sets, size_t *n_sets);
/* Loads path and creates its session with o; in int8, calibrated on the calibrate folder, or,
 * when it is NULL, on random inputs with a warning on stderr (unless the model states its
 * scales: a QDQ model). CLI_OK or CLI_FAIL (printed). */
int cli_session(const char *verb, const char *path, struct ond_options *o, const char *calibrate,
                struct ond_model **m, struct ond_session **s);
/* A profile (runtime/session.h's ond_session_profile) as a Chrome trace in file (chrome://
 * tracing, Perfetto: one complete event per step, in run order) and, with table, as a table
 * sorted by time on stdout (G MAC/s and % of peak, the measured peak of the precision's unit,
 * per step); sorts prof's steps. 0, or -1 with a message naming verb. */
struct ond_profile;
int cli_write_profile(const char *verb, const char *file, struct ond_profile *prof, double peak,
                      bool table);
/* JSON string output with escaping. */
void cli_json_str(FILE *f, const char *s);

/* Measured multiply-accumulate peaks (tools/peak.c), G MAC/s: fp32, bf16, int8. */
enum { CLI_PEAK_FP32, CLI_PEAK_BF16, CLI_PEAK_INT8, CLI_PEAK_N };
struct cli_peak {
    int threads;
    const char *name[CLI_PEAK_N];
    const char *absent[CLI_PEAK_N]; /* why a unit was not measured, or NULL */
    double per_core[CLI_PEAK_N], all[CLI_PEAK_N];
};
/* Measures each unit (only that one when only >= 0, then on `threads` alone) on one thread
 * and on `threads` at once, best of reps runs of about 40 ms. */
void cli_peak_measure(int threads, int only, int reps, struct cli_peak *pk);

#endif
