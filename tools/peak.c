/* peak.c: this CPU's multiply-accumulate peaks, measured (`ondine bench --peak`, and the
 * % of peak that `bench` and `run --profile` report). Each kernel is a register-resident loop
 * of 14 independent AVX-512 accumulators (more than latency x issue width of the FMA units
 * of current x86 cores, so the loop is throughput bound): vfmadd231ps (16 fp32 MACs per
 * instruction), vdpbf16ps (32 bf16 MACs) and vpdpbusd (64 u8 x s8 MACs). One OpenMP thread
 * per core, every thread running the loop at once, best of many 2 ms runs after a warm-up
 * that lets the clock settle. A kernel runs only where cpuid (and the OS's XSAVE
 * state) says the unit exists, and is compiled only where the assembler knows its
 * instruction (CMake defines OND_ASM_*). The numbers are upper bounds for a real kernel: no
 * loads, no stores. On a shared machine they drop with the load: report the load beside. */
#include <cpuid.h>
#include <omp.h>
#include <string.h>
#include <time.h>

#include "tools/cli.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 14 accumulators zmm0-13, operands zmm14 and zmm15 (zeroed: the units' speed does not
 * depend on the values, and zeros are not denormal). */
#define R14(op)                                                                               \
    op " %%zmm15, %%zmm14, %%zmm0\n\t" op " %%zmm15, %%zmm14, %%zmm1\n\t"                     \
    op " %%zmm15, %%zmm14, %%zmm2\n\t" op " %%zmm15, %%zmm14, %%zmm3\n\t"                     \
    op " %%zmm15, %%zmm14, %%zmm4\n\t" op " %%zmm15, %%zmm14, %%zmm5\n\t"                     \
    op " %%zmm15, %%zmm14, %%zmm6\n\t" op " %%zmm15, %%zmm14, %%zmm7\n\t"                     \
    op " %%zmm15, %%zmm14, %%zmm8\n\t" op " %%zmm15, %%zmm14, %%zmm9\n\t"                     \
    op " %%zmm15, %%zmm14, %%zmm10\n\t" op " %%zmm15, %%zmm14, %%zmm11\n\t"                   \
    op " %%zmm15, %%zmm14, %%zmm12\n\t" op " %%zmm15, %%zmm14, %%zmm13\n\t"
#define ZERO16                                                                                \
    "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvmovdqa64 %%zmm0, %%zmm1\n\tvmovdqa64 %%zmm0, %%zmm2\n\t" \
    "vmovdqa64 %%zmm0, %%zmm3\n\tvmovdqa64 %%zmm0, %%zmm4\n\tvmovdqa64 %%zmm0, %%zmm5\n\t"      \
    "vmovdqa64 %%zmm0, %%zmm6\n\tvmovdqa64 %%zmm0, %%zmm7\n\tvmovdqa64 %%zmm0, %%zmm8\n\t"      \
    "vmovdqa64 %%zmm0, %%zmm9\n\tvmovdqa64 %%zmm0, %%zmm10\n\tvmovdqa64 %%zmm0, %%zmm11\n\t"    \
    "vmovdqa64 %%zmm0, %%zmm12\n\tvmovdqa64 %%zmm0, %%zmm13\n\tvmovdqa64 %%zmm0, %%zmm14\n\t"   \
    "vmovdqa64 %%zmm0, %%zmm15\n\t"
#define LOOP(op)                                                                              \
    __asm__ volatile(ZERO16 "1:\n\t" R14(op) "dec %0\n\tjnz 1b\n\tvzeroupper"                 \
                     : "+r"(iters)                                                            \
                     :                                                                        \
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",         \
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",  \
                       "cc")

#ifdef OND_ASM_AVX512
#define ASM_FP32 true
static void loop_fp32(long iters) { LOOP("vfmadd231ps"); }
#else
#define ASM_FP32 false
static void loop_fp32(long iters) { (void)iters; }
#endif
#ifdef OND_ASM_BF16
#define ASM_BF16 true
static void loop_bf16(long iters) { LOOP("vdpbf16ps"); }
#else
#define ASM_BF16 false
static void loop_bf16(long iters) { (void)iters; }
#endif
#ifdef OND_ASM_VNNI
#define ASM_INT8 true
static void loop_int8(long iters) { LOOP("vpdpbusd"); }
#else
#define ASM_INT8 false
static void loop_int8(long iters) { (void)iters; }
#endif

static const struct {
    const char *name;
    void (*loop)(long);
    int macs; /* per instruction */
    bool compiled;
} kernels[CLI_PEAK_N] = {
    {"fp32 vfmadd231ps", loop_fp32, 16, ASM_FP32},
    {"bf16 vdpbf16ps", loop_bf16, 32, ASM_BF16},
    {"int8 vpdpbusd", loop_int8, 64, ASM_INT8},
};

/* Whether the CPU has the unit and the OS saves the AVX-512 state (XCR0 bits 1, 2, 5-7). */
static const char *absent(int k)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return "no XSAVE";
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6) != 0xe6)
        return "the OS does not enable the AVX-512 state";
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX512F))
        return "no AVX-512F";
    if (k == 2 && !(c & bit_AVX512VNNI))
        return "no AVX512-VNNI";
    if (k == 1 && (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !(a & bit_AVX512BF16)))
        return "no AVX512-BF16";
    if (!kernels[k].compiled)
        return "the assembler lacks the instruction";
    return NULL;
}

/* G MACs/s of kernel k on `threads` threads at once: the best of reps runs of about 2 ms
 * each, after 20 ms of warm-up. Runs this short fit in one scheduler slice, so on a shared
 * machine the best of many is close to what the unit does when it has the core. */
static double measure(int k, int threads, int reps)
{
    long iters = 1 << 12;
    double best = 0, warm = now_s();
    for (int r = 0; r < reps || now_s() - warm < 0.02; r++) {
        /* Each thread times its own loop: waking the pool's threads is not the unit's time
         * (it takes milliseconds on a busy machine). The slowest thread counts. */
        double dt = 0;
#pragma omp parallel num_threads(threads) reduction(max : dt)
        {
            double t0 = now_s();
            kernels[k].loop(iters);
            dt = now_s() - t0;
        }
        double g = (double)threads * iters * 14 * kernels[k].macs / dt / 1e9;
        if (g > best)
            best = g;
        /* Next run: 2 ms at the best rate seen. */
        iters = (long)(best * 1e9 * 0.002 / threads / 14 / kernels[k].macs);
        if (iters < 1 << 12)
            iters = 1 << 12;
        if (now_s() - warm < 0.02)
            r = -1;
    }
    return best;
}

void cli_peak_measure(int threads, int only, int reps, struct cli_peak *pk)
{
    memset(pk, 0, sizeof *pk);
    pk->threads = threads;
    for (int k = 0; k < CLI_PEAK_N; k++) {
        pk->name[k] = kernels[k].name;
        if ((only >= 0 && k != only) || (pk->absent[k] = absent(k)))
            continue;
        if (only < 0)
            pk->per_core[k] = measure(k, 1, reps);
        pk->all[k] = measure(k, threads, reps);
    }
}
