/* Channel benchmark: point-to-point and allreduce latency over whatever channel the
 * environment selects (FMI_CHANNEL=direct|redis|s3; unset means direct TCP).
 *
 *   fmirun -n 4 -- ./channels [ITERS_SMALL [ITERS_LARGE]]     (default 1000 and 100)
 *
 * BENCH_ITERS_SMALL / BENCH_ITERS_LARGE in the environment are used when the arguments
 * are missing. "Small" is 8 bytes, "large" is 1 MiB. Each measurement runs
 * max(2, iters / 10) untimed warm-up iterations first.
 *
 * Measurements, in this order:
 *   pingpong  8 B and 1 MiB between ranks 0 and 1 (FMI_BYTE); every other rank waits
 *             in FMI_Barrier meanwhile. Rank 0 times each round trip; the latency is
 *             half of it (one way).
 *   allreduce 1 double (8 B) and 131072 doubles (1 MiB), FMI_DOUBLE, FMI_SUM, on every
 *             rank. Each rank times each call; the time of an iteration is the largest
 *             over the ranks (reduced with FMI_MAX after the timed loop).
 * Per measurement rank 0 prints one line:
 *
 *   result channel=C op=pingpong|allreduce bytes=B ranks=N iters=I usec=MEDIAN
 *          mean_usec=M min_usec=L max_usec=H
 *
 * usec is the median per-operation latency in microseconds.
 *
 * Every result is checked outside the timed region: the ping-pong payload (a pattern
 * that changes every iteration, echoed back by rank 1, checked by both) and every
 * element of every allreduce result (exact integer sums). Any FMI error or wrong
 * result: a message with FMI_Last_error() on stderr and exit status 1. This program
 * prints speeds; it does not judge them. */
#include <fmi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SMALL = 8,
    LARGE = 1 << 20,
    TAG_PING = 1,
    TAG_PONG = 2,
};

static int rank = -1, size = 0;
static const char *channel = "direct";

#define CALL(x)                                                                       \
    do {                                                                              \
        int rc_ = (x);                                                                \
        if (rc_ != FMI_SUCCESS) {                                                     \
            fprintf(stderr, "channels rank %d (%s): %s failed: %s (%s)\n", rank,       \
                    channel, #x, FMI_Error_string(rc_), FMI_Last_error());            \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static void die(const char *what)
{
    fprintf(stderr, "channels rank %d (%s): %s\n", rank, channel, what);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static long parse_iters(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 10000000) {
        if (rank == 0)
            fprintf(stderr, "channels: %s must be a number from 1 to 10000000, not '%s'\n",
                    what, s);
        exit(2);
    }
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Prints the result line for `n` per-iteration times in seconds (sorts them). */
static void report(const char *op, size_t bytes, double *t, long n)
{
    double sum = 0, median;
    long i;
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    for (i = 0; i < n; i++)
        sum += t[i];
    median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    printf("result channel=%s op=%s bytes=%zu ranks=%d iters=%ld usec=%.2f mean_usec=%.2f "
           "min_usec=%.2f max_usec=%.2f\n",
           channel, op, bytes, size, n, median * 1e6, sum / (double)n * 1e6, t[0] * 1e6,
           t[n - 1] * 1e6);
}

/* ---- ping-pong ------------------------------------------------------------------- */

/* The payload of iteration `it`: changes every iteration, so a stale buffer fails. */
static uint8_t pattern(size_t i, long it)
{
    uint64_t z = (uint64_t)i * 0x9E3779B97F4A7C15ull + (uint64_t)it * 0xBF58476D1CE4E5B9ull;
    return (uint8_t)(z >> 56) ^ (uint8_t)i;
}

static void fill(uint8_t *buf, size_t bytes, long it)
{
    size_t i;
    for (i = 0; i < bytes; i++)
        buf[i] = pattern(i, it);
}

static void check_payload(const uint8_t *buf, size_t bytes, long it, const FMI_Status *st)
{
    size_t i;
    char msg[200];
    if (st->bytes != bytes) {
        snprintf(msg, sizeof msg, "ping-pong %zu B iteration %ld: received %zu bytes", bytes,
                 it, st->bytes);
        die(msg);
    }
    for (i = 0; i < bytes; i++)
        if (buf[i] != pattern(i, it)) {
            snprintf(msg, sizeof msg,
                     "ping-pong %zu B iteration %ld: byte %zu is %u, expected %u", bytes, it,
                     i, buf[i], pattern(i, it));
            die(msg);
        }
}

static void pingpong(FMI_Comm comm, size_t bytes, long warmup, long iters)
{
    uint8_t *buf = xmalloc(bytes);
    double *t = xmalloc((size_t)iters * sizeof *t);
    FMI_Status st;
    long it;

    CALL(FMI_Barrier(comm));
    for (it = -warmup; it < iters; it++) {
        if (rank == 0) {
            double t0;
            fill(buf, bytes, it);
            t0 = FMI_Wtime();
            CALL(FMI_Send(buf, bytes, FMI_BYTE, 1, TAG_PING, comm));
            memset(&st, 0, sizeof st);
            CALL(FMI_Recv(buf, bytes, FMI_BYTE, 1, TAG_PONG, comm, &st));
            if (it >= 0)
                t[it] = (FMI_Wtime() - t0) / 2;
            check_payload(buf, bytes, it, &st);
            memset(buf, 0, bytes); /* the next pong must really arrive */
        } else if (rank == 1) {
            memset(&st, 0, sizeof st);
            CALL(FMI_Recv(buf, bytes, FMI_BYTE, 0, TAG_PING, comm, &st));
            CALL(FMI_Send(buf, bytes, FMI_BYTE, 0, TAG_PONG, comm));
            check_payload(buf, bytes, it, &st); /* after the echo: off rank 0's clock */
            memset(buf, 0, bytes);
        }
    }
    CALL(FMI_Barrier(comm)); /* ranks 2.. wait here during the whole measurement */
    if (rank == 0)
        report("pingpong", bytes, t, iters);
    free(buf);
    free(t);
}

/* ---- allreduce ------------------------------------------------------------------- */

/* Rank r's element j in iteration it: small integers, so every sum is exact. */
static double element(int r, size_t j, long it)
{
    return (double)((r + 1) * 3 + (long)(j % 1021) + (it + 1000) % 977);
}

static void allreduce(FMI_Comm comm, size_t count, long warmup, long iters)
{
    double *send = xmalloc(count * sizeof *send);
    double *recv = xmalloc(count * sizeof *recv);
    double *t = xmalloc((size_t)iters * sizeof *t);
    double *tmax = xmalloc((size_t)iters * sizeof *tmax);
    double rank_part = 3.0 * size * (size + 1) / 2; /* sum over r of (r + 1) * 3 */
    size_t j;
    long it;
    char msg[200];

    CALL(FMI_Barrier(comm));
    for (it = -warmup; it < iters; it++) {
        double t0;
        for (j = 0; j < count; j++)
            send[j] = element(rank, j, it);
        memset(recv, 0xff, count * sizeof *recv); /* NaN: a skipped write shows */
        t0 = FMI_Wtime();
        CALL(FMI_Allreduce(send, recv, count, FMI_DOUBLE, FMI_SUM, comm));
        if (it >= 0)
            t[it] = FMI_Wtime() - t0;
        for (j = 0; j < count; j++) {
            double want = rank_part + (double)size * ((long)(j % 1021) + (it + 1000) % 977);
            if (recv[j] != want) {
                snprintf(msg, sizeof msg,
                         "allreduce %zu doubles iteration %ld: element %zu is %.17g, "
                         "expected %.17g",
                         count, it, j, recv[j], want);
                die(msg);
            }
        }
    }
    /* an iteration takes as long as its slowest rank */
    CALL(FMI_Allreduce(t, tmax, (size_t)iters, FMI_DOUBLE, FMI_MAX, comm));
    if (rank == 0)
        report("allreduce", count * sizeof(double), tmax, iters);
    free(send);
    free(recv);
    free(t);
    free(tmax);
}

int main(int argc, char **argv)
{
    FMI_Comm world = NULL;
    const char *env_ch = getenv("FMI_CHANNEL");
    const char *s;
    long small_iters = 1000, large_iters = 100;
    double t_start;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (env_ch && *env_ch)
        channel = env_ch;
    CALL(FMI_Comm_from_env(&world));
    CALL(FMI_Comm_rank(world, &rank));
    CALL(FMI_Comm_size(world, &size));

    if (argc > 3) {
        if (rank == 0)
            fprintf(stderr, "usage: fmirun -n N -- %s [ITERS_SMALL [ITERS_LARGE]]\n", argv[0]);
        return 2;
    }
    if (argc > 1)
        small_iters = parse_iters(argv[1], "ITERS_SMALL");
    else if ((s = getenv("BENCH_ITERS_SMALL")) && *s)
        small_iters = parse_iters(s, "BENCH_ITERS_SMALL");
    if (argc > 2)
        large_iters = parse_iters(argv[2], "ITERS_LARGE");
    else if ((s = getenv("BENCH_ITERS_LARGE")) && *s)
        large_iters = parse_iters(s, "BENCH_ITERS_LARGE");
    if (size < 2) {
        if (rank == 0)
            fprintf(stderr, "channels: needs at least 2 ranks (fmirun -n 4), got %d\n", size);
        return 2;
    }

    if (rank == 0)
        printf("channels: channel %s, %d ranks, %ld iterations at %d B, %ld at %d B "
               "(+ %ld / %ld warm-up)\n",
               channel, size, small_iters, SMALL, large_iters, LARGE,
               small_iters / 10 > 2 ? small_iters / 10 : 2,
               large_iters / 10 > 2 ? large_iters / 10 : 2);
    t_start = FMI_Wtime();

#define WARM(n) ((n) / 10 > 2 ? (n) / 10 : 2)
    pingpong(world, SMALL, WARM(small_iters), small_iters);
    pingpong(world, LARGE, WARM(large_iters), large_iters);
    allreduce(world, SMALL / sizeof(double), WARM(small_iters), small_iters);
    allreduce(world, LARGE / sizeof(double), WARM(large_iters), large_iters);
#undef WARM

    if (rank == 0)
        printf("channels: done in %.2f s, all results checked\n", FMI_Wtime() - t_start);
    CALL(FMI_Comm_free(&world));
    return 0;
}
