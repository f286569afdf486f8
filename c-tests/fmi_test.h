/* Small helpers shared by the C tests: checks that report rank, file, line and
 * FMI_Last_error(), patterned buffers, and the end-of-test summary.
 *
 * Every check counts a failure and goes on (so one run shows every broken thing);
 * fmi_test_finish() collects the counts on rank 0, prints one summary line there and
 * returns the process exit code (non-zero on any failure). */
#ifndef FMI_TEST_H
#define FMI_TEST_H

#include <fmi.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *g_test = "test";
static int g_rank = -1;
static int g_size = 0;
static long g_fail = 0;
static long g_checks = 0;

/* Tag reserved for the harness (below 32767, the smallest tag bound MPI allows). */
#define TEST_TAG_HARNESS 32000

static inline void test_failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char msg[512];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%s rank %d] FAIL %s:%d: %s\n", g_test, g_rank, file, line, msg);
    fflush(stderr);
    g_fail++;
}

/* CHECK(cond, printf-args): a plain condition. */
#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        g_checks++;                                                                \
        if (!(cond)) {                                                             \
            char check_msg_[384];                                                  \
            snprintf(check_msg_, sizeof check_msg_, __VA_ARGS__);                  \
            test_failf(__FILE__, __LINE__, "%s [%s]", check_msg_, #cond);          \
        }                                                                          \
    } while (0)

/* EXPECT_RC(expected, call): the call returns `expected`; otherwise report the code,
 * its FMI_Error_string and FMI_Last_error(). Evaluates to 1 when it matched. */
#define EXPECT_RC(expected, call) expect_rc_((expected), (call), #call, __FILE__, __LINE__)
#define OK(call) EXPECT_RC(FMI_SUCCESS, call)

static inline int expect_rc_(int expected, int rc, const char *what, const char *file, int line)
{
    g_checks++;
    if (rc == expected)
        return 1;
    {
        const char *es = FMI_Error_string(rc);
        const char *ee = FMI_Error_string(expected);
        const char *le = FMI_Last_error();
        test_failf(file, line, "%s returned %d (%s), expected %d (%s); last error: \"%s\"",
                   what, rc, es ? es : "(null)", expected, ee ? ee : "(null)",
                   le ? le : "(null)");
    }
    return 0;
}

/* A non-empty FMI_Last_error() after an error. */
#define CHECK_LAST_ERROR_SET(what)                                                  \
    do {                                                                           \
        const char *le_ = FMI_Last_error();                                        \
        CHECK(le_ != NULL && le_[0] != '\0', "%s: FMI_Last_error() is empty", what); \
    } while (0)

/* Deterministic byte pattern of message `seed` at byte index i. */
static inline unsigned char pat_byte(uint64_t seed, size_t i)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (unsigned char)x;
}

static inline void pat_fill(void *buf, size_t n, uint64_t seed)
{
    unsigned char *p = (unsigned char *)buf;
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = pat_byte(seed, i);
}

/* Index of the first byte that differs from the pattern, or (size_t)-1. */
static inline size_t pat_first_bad(const void *buf, size_t n, uint64_t seed)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != pat_byte(seed, i))
            return i;
    return (size_t)-1;
}

#define CHECK_PAT(buf, n, seed, ...)                                               \
    do {                                                                           \
        size_t bad_ = pat_first_bad((buf), (n), (seed));                           \
        char what_[256];                                                           \
        snprintf(what_, sizeof what_, __VA_ARGS__);                                \
        CHECK(bad_ == (size_t)-1, "%s: data differs at byte %zu of %zu", what_,    \
              bad_, (size_t)(n));                                                  \
    } while (0)

/* Seed naming one message: who sent it and which message of the test it is. */
static inline uint64_t seed_of(int sender, uint64_t test, uint64_t idx)
{
    return ((uint64_t)(uint32_t)sender << 40) ^ (test << 20) ^ idx;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "[%s rank %d] out of memory (%zu bytes)\n", g_test, g_rank, n);
        exit(2);
    }
    return p;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static inline size_t dt_size(FMI_Datatype dt)
{
    switch (dt) {
    case FMI_BYTE: case FMI_CHAR: case FMI_INT8: case FMI_UINT8: return 1;
    case FMI_INT16: case FMI_UINT16: return 2;
    case FMI_INT32: case FMI_UINT32: case FMI_FLOAT: return 4;
    case FMI_INT64: case FMI_UINT64: case FMI_DOUBLE: return 8;
    default: return 0;
    }
}

/* Communicator from fmirun's environment; exits when there is none. */
static inline FMI_Comm fmi_test_init(const char *name)
{
    FMI_Comm comm = NULL;
    int rc;
    g_test = name;
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = FMI_Comm_from_env(&comm);
    if (rc != FMI_SUCCESS || comm == NULL) {
        const char *le = FMI_Last_error();
        fprintf(stderr, "[%s] FAIL: FMI_Comm_from_env returned %d (%s): %s\n", name, rc,
                FMI_Error_string(rc), le ? le : "(null)");
        exit(1);
    }
    if (FMI_Comm_rank(comm, &g_rank) != FMI_SUCCESS || FMI_Comm_size(comm, &g_size) != FMI_SUCCESS) {
        fprintf(stderr, "[%s] FAIL: FMI_Comm_rank/size: %s\n", name, FMI_Last_error());
        exit(1);
    }
    return comm;
}

/* Sum the failure counts on rank 0, print the summary there, barrier, free the
 * communicator. Returns the exit code for main(). */
static inline int fmi_test_finish(FMI_Comm *comm, double t0)
{
    long remote_fail = 0, remote_checks = 0;
    int remote_failed_ranks = 0;
    int r;
    if (g_rank == 0) {
        for (r = 1; r < g_size; r++) {
            long v[2] = {0, 0};
            if (!OK(FMI_Recv(v, 2 * sizeof(long), FMI_BYTE, r, TEST_TAG_HARNESS, *comm, NULL)))
                continue;
            remote_fail += v[0];
            remote_checks += v[1];
            remote_failed_ranks += v[0] ? 1 : 0;
        }
    } else {
        long v[2];
        v[0] = g_fail;
        v[1] = g_checks;
        OK(FMI_Send(v, 2 * sizeof(long), FMI_BYTE, 0, TEST_TAG_HARNESS, *comm));
    }
    OK(FMI_Barrier(*comm));
    OK(FMI_Comm_free(comm));
    CHECK(*comm == NULL, "FMI_Comm_free did not set the handle to NULL");
    if (g_rank == 0) {
        long total = g_fail + remote_fail;
        printf("%s: %s: %d ranks, %ld checks, %ld failures on %d ranks (%.2f s)\n", g_test,
               total ? "FAILED" : "PASSED", g_size, g_checks + remote_checks, total,
               remote_failed_ranks + (g_fail ? 1 : 0), FMI_Wtime() - t0);
        fflush(stdout);
        return total ? 1 : 0;
    }
    return g_fail ? 1 : 0;
}

#endif
