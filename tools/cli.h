/* cli.h: shared pieces of the ondine command line: verbs, option parsing helpers, errors. */
#ifndef OND_CLI_H
#define OND_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "ondine.h"

/* Exit statuses (docs/cli.md). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

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
/* Handles the flags every model verb shares: -O0/-O1/-O2, --disable-pass NAME, --threads N,
 * --fold-initializer-inputs.
 * Returns 1 when argv[*i] was consumed (advancing *i past a value), 0 if not a common flag,
 * -1 on a bad value (message printed). disabled must have room for argc names. */
int cli_common_flag(const char *verb, int argc, char **argv, int *i, struct ond_options *o,
                    const char **disabled);
/* An argument that no flag of the verb took: an unknown option, or a second model, is a usage
 * error; else it is the model, set in *path. CLI_OK or CLI_USAGE (message printed). */
int cli_operand(const char *verb, const char *a, const char **path);
/* Parses fp32 | bf16 | int8; -1 on anything else. */
int cli_precision(const char *s, enum ond_precision *p);
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
