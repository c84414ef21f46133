/* session.h: session internals other parts of ondine use (the CLI's run verb, tests). */
#ifndef OND_SESSION_H
#define OND_SESSION_H

#include "ondine.h"

/* Fills outputs[i] (name, dtype, rank, dims, size in bytes; data untouched) for inputs,
 * planning for their shapes if needed. */
enum ond_status ond_session_output_shapes(struct ond_session *s, const struct ond_value *inputs,
                                          size_t n_inputs, struct ond_value *outputs,
                                          struct ond_error *err);

#endif
