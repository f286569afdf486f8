/* Shared by hybrid_mpi.c (the two MPICH ranks, FMI ranks 0 and 1) and hybrid_peer.c
 * (the two plain processes, FMI ranks 2 and 3): the layout, the message tags, the
 * patterns every buffer is filled with, and fail-fast checks.
 *
 * A failed check prints one "hybrid: ... FAIL ..." line to stderr (with the FMI error
 * code's name and FMI_Last_error()) and ends the process through hybrid_die, which the
 * MPI program points at MPI_Abort and the peer leaves at exit(1). */
#ifndef HYBRID_H
#define HYBRID_H

#include <fmi.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FMI world: MPI ranks 0 and 1 are FMI ranks 0 and 1, the peers are 2 and 3. */
#define HY_SIZE 4
#define HY_NMPI 2
#define HY_BCAST_ROOT 3 /* an extra process */

/* Tags of the FMI point-to-point traffic. */
#define HY_TAG_PING 11   /* MPI rank m -> peer 2+m */
#define HY_TAG_PONG 12   /* peer 2+m -> MPI rank m */
#define HY_TAG_BIG 13    /* peer 2+m -> MPI rank 1-m (the other MPI rank) */
#define HY_TAG_PEERS 14  /* peer 2 <-> peer 3 */

/* Sizes: HY_BIG and the bcast exceed the default eager limit (64 KiB), so they take
 * FMI's rendezvous protocol; the ping is eager. */
#define HY_PING_N 1000                     /* int32 */
#define HY_BIG_BYTES (1024 * 1024 + 13)    /* bytes */
#define HY_BCAST_N (200 * 1000)            /* int32: 800 KB */
#define HY_RED_N 64                        /* elements of the allreduces */
#define HY_PEERS_N 16                      /* int32 */

static const char *hy_who = "hybrid";
static int hy_fmi_rank = -1;
static void (*hy_die)(void);

static inline uint32_t hy_pat(size_t i, uint32_t salt)
{
    uint32_t x = (uint32_t)i * 2654435761u ^ (salt * 40503u + 0x9e3779b9u);
    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    return x;
}

/* What peer `peer` answers to a ping value. */
static inline uint32_t hy_pong(uint32_t v, int peer)
{
    return v * 3u + (uint32_t)peer;
}

static inline const char *hy_code(int rc)
{
    switch (rc) {
    case FMI_SUCCESS: return "FMI_SUCCESS";
    case FMI_ERR_ARG: return "FMI_ERR_ARG";
    case FMI_ERR_TIMEOUT: return "FMI_ERR_TIMEOUT";
    case FMI_ERR_PEER_LOST: return "FMI_ERR_PEER_LOST";
    case FMI_ERR_TRUNCATE: return "FMI_ERR_TRUNCATE";
    case FMI_ERR_CONNECT: return "FMI_ERR_CONNECT";
    case FMI_ERR_AUTH: return "FMI_ERR_AUTH";
    case FMI_ERR_CONFIG: return "FMI_ERR_CONFIG";
    case FMI_ERR_CHANNEL: return "FMI_ERR_CHANNEL";
    case FMI_ERR_UNSUPPORTED: return "FMI_ERR_UNSUPPORTED";
    case FMI_ERR_INTERNAL: return "FMI_ERR_INTERNAL";
    default: return "FMI_ERR_?";
    }
}

static inline void hy_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hybrid: %s (fmi rank %d): FAIL %s:%d: %s\n", hy_who, hy_fmi_rank, file,
            line, msg);
    fflush(stderr);
    fflush(stdout);
    if (hy_die)
        hy_die();
    exit(1);
}

/* FMI_OK(call): the FMI call must succeed. */
#define FMI_OK(call)                                                                      \
    do {                                                                                  \
        int hy_rc_ = (call);                                                              \
        if (hy_rc_ != FMI_SUCCESS)                                                        \
            hy_fail(__FILE__, __LINE__, "%s -> %s (%d: %s): %s", #call, hy_code(hy_rc_),  \
                    hy_rc_, FMI_Error_string(hy_rc_), FMI_Last_error());                  \
    } while (0)

/* CHECK(cond, printf-args) */
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            char hy_msg_[512];                                                            \
            snprintf(hy_msg_, sizeof hy_msg_, __VA_ARGS__);                               \
            hy_fail(__FILE__, __LINE__, "%s [%s]", hy_msg_, #cond);                       \
        }                                                                                 \
    } while (0)

/* Index of the first element of `got` that differs from hy_pat(i, salt), or n. */
static inline size_t hy_first_bad_u32(const uint32_t *got, size_t n, uint32_t salt)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != hy_pat(i, salt))
            return i;
    return n;
}

static inline void hy_fill_u32(uint32_t *buf, size_t n, uint32_t salt)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = hy_pat(i, salt);
}

static inline void hy_fill_bytes(unsigned char *buf, size_t n, uint32_t salt)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(hy_pat(i, salt) >> 7);
}

static inline size_t hy_first_bad_byte(const unsigned char *got, size_t n, uint32_t salt)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != (unsigned char)(hy_pat(i, salt) >> 7))
            return i;
    return n;
}

/* The allreduce contributions of FMI rank r and their sums over all four ranks. */
static inline int64_t hy_red_i64(int r, size_t i) { return (int64_t)(r + 1) * (int64_t)(i + 1) - 7; }
static inline int64_t hy_red_i64_sum(size_t i) { return 10 * (int64_t)(i + 1) - 4 * 7; }
static inline double hy_red_f64(int r, size_t i) { return 1.5 * r + (double)i; }
static inline double hy_red_f64_max(size_t i) { return 1.5 * (HY_SIZE - 1) + (double)i; }

/* Checksum of the broadcast buffer (same on every rank when the bcast worked). */
static inline uint64_t hy_sum_u32(const uint32_t *buf, size_t n)
{
    uint64_t s = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        s = (s ^ buf[i]) * 1099511628211ull;
    return s;
}

/* Parses "RANK" style integer arguments. */
static inline int hy_int_arg(const char *s, const char *what)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!s[0] || *end || v < 0 || v > 1000000) {
        fprintf(stderr, "hybrid: %s '%s' is not a non-negative integer\n", what, s);
        exit(2);
    }
    return (int)v;
}

#endif
