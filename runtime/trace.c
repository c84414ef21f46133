/* trace.c: with ONDINE_TRACE set, one stderr line per phase of loading and planning (file
 * read, protobuf parse, IR, inference, passes, plan) with the wall and CPU (user + sys)
 * milliseconds since the previous phase on the same thread and the peak RSS so far. It is how
 * cold start and memory were measured (docs/performance.md); CPU time stays meaningful on a
 * busy machine where wall time does not. Events (a plan evicted from a session's cache) get a
 * line of their own. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "runtime/ir.h"

static double ms(const struct timespec *ts)
{
    return ts->tv_sec * 1e3 + ts->tv_nsec / 1e6;
}

static bool enabled(void)
{
    static _Thread_local int on = -1;
    if (on < 0)
        on = getenv("ONDINE_TRACE") != NULL;
    return on;
}

void ond_trace_note(const char *fmt, ...)
{
    if (!enabled())
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ondine: %s\n", line);
}

void ond_trace(const char *phase)
{
    static _Thread_local double last_wall, last_cpu;
    if (!enabled())
        return;
    struct timespec wall, cpu;
    struct rusage ru;
    clock_gettime(CLOCK_MONOTONIC, &wall);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    getrusage(RUSAGE_SELF, &ru);
    double w = ms(&wall), c = ms(&cpu);
    if (phase)
        fprintf(stderr, "ondine: %-10s wall %7.1f ms  cpu %7.1f ms  peak RSS %6.1f MB\n", phase,
                w - last_wall, c - last_cpu, ru.ru_maxrss / 1024.0);
    last_wall = w;
    last_cpu = c;
}
