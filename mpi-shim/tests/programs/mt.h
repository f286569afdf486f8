/* mt.h: small helpers shared by the MPI test programs (plain C11, standard MPI only).
 *
 * Conventions: every rank checks its own results; on a mismatch it prints
 * "FAIL rank R file:line: ..." to stderr and calls MPI_Abort(MPI_COMM_WORLD, 1).
 * Only rank 0 prints to stdout, and only values that do not depend on timing or
 * on the MPI implementation, so that outputs can be compared byte for byte. */
#ifndef MT_H
#define MT_H

#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GCC 12 warns (-Wstringop-overflow) when MPI_STATUSES_IGNORE, the constant pointer
 * (MPI_Status *)1, is passed to an array parameter: a false positive. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

static int mt_rank = -1, mt_size = -1;

/* Call right after MPI_Init. */
static inline void mt_init(void)
{
    MPI_Comm_rank(MPI_COMM_WORLD, &mt_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mt_size);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4), noreturn))
#endif
static inline void mt_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL rank %d %s:%d: ", mt_rank, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1); /* not reached */
}

/* CHECK(cond): fail with the text of the condition. CHECKF(cond, fmt, ...): with a message. */
#define CHECK(cond) \
    do { \
        if (!(cond)) mt_fail(__FILE__, __LINE__, "%s", #cond); \
    } while (0)
#define CHECKF(cond, ...) \
    do { \
        if (!(cond)) mt_fail(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
/* An MPI call that must return MPI_SUCCESS. */
#define MPI_OK(call) \
    do { \
        int mt_rc_ = (call); \
        if (mt_rc_ != MPI_SUCCESS) mt_fail(__FILE__, __LINE__, "%s returned %d", #call, mt_rc_); \
    } while (0)

/* Print from rank 0 only, flushed at once. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static inline void out(const char *fmt, ...)
{
    va_list ap;
    if (mt_rank != 0) return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* FNV-1a over 64-bit values, for deterministic checksums. */
typedef struct { uint64_t h; } mt_hash;
static inline void mh_init(mt_hash *m) { m->h = 1469598103934665603ULL; }
static inline void mh_u64(mt_hash *m, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        m->h ^= (v >> (8 * i)) & 0xff;
        m->h *= 1099511628211ULL;
    }
}
static inline void mh_i64(mt_hash *m, int64_t v) { mh_u64(m, (uint64_t)v); }
static inline void mh_bytes(mt_hash *m, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        m->h ^= c[i];
        m->h *= 1099511628211ULL;
    }
}
static inline unsigned long long mh_get(const mt_hash *m) { return (unsigned long long)m->h; }

/* A deterministic byte pattern: byte i of a message identified by (a, b). */
static inline unsigned char mt_pat(int a, int b, size_t i)
{
    return (unsigned char)((i * 131u + (size_t)a * 7919u + (size_t)b * 104729u + (i >> 8)) & 0xff);
}
static inline void mt_fill(unsigned char *p, size_t n, int a, int b)
{
    for (size_t i = 0; i < n; i++) p[i] = mt_pat(a, b, i);
}
/* Returns the index of the first wrong byte, or -1. */
static inline long mt_verify(const unsigned char *p, size_t n, int a, int b)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != mt_pat(a, b, i)) return (long)i;
    return -1;
}

/* End of a test section: gathers every rank's hash to rank 0, which prints one line
 * "NAME ok HASH" (hashes combined in rank order), then a barrier. */
static inline void mt_end(const char *name, const mt_hash *h)
{
    uint64_t mine = h->h, all[1024];
    CHECKF(mt_size <= 1024, "too many ranks");
    MPI_OK(MPI_Gather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));
    if (mt_rank == 0) {
        mt_hash t;
        mh_init(&t);
        for (int r = 0; r < mt_size; r++) mh_u64(&t, all[r]);
        out("%s ok %016llx\n", name, mh_get(&t));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

/* mt_end for n sections at once (one Gather): rank 0 prints "NAMES[i] ok HASH" lines. */
static inline void mt_end_multi(const char *const *names, const uint64_t *hashes, int n)
{
    uint64_t *all = NULL;
    if (mt_rank == 0) {
        all = malloc(sizeof(uint64_t) * (size_t)n * (size_t)mt_size);
        CHECK(all != NULL);
    }
    MPI_OK(MPI_Gather(hashes, n, MPI_UINT64_T, all, n, MPI_UINT64_T, 0, MPI_COMM_WORLD));
    if (mt_rank == 0) {
        for (int i = 0; i < n; i++) {
            mt_hash t;
            mh_init(&t);
            for (int r = 0; r < mt_size; r++) mh_u64(&t, all[(size_t)r * (size_t)n + (size_t)i]);
            out("%s ok %016llx\n", names[i], mh_get(&t));
        }
        free(all);
    }
}

static inline void *mt_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    CHECKF(p != NULL, "out of memory (%zu bytes)", n);
    return p;
}

#endif
