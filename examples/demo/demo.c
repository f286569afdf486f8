/* FMI demo: run with `fmirun -n 4 -- ./demo`.
 *
 *  1. pi by numerical integration: every rank integrates its share of 4/(1+x^2) on
 *     [0,1] and sends its partial sum to rank 0 (FMI_Send/FMI_Recv);
 *  2. a token passed around the ring of ranks, three times;
 *  3. FMI_Barrier;
 *  4. ping-pong between ranks 0 and 1: half round-trip latency at 8 B and 1 KiB,
 *     bandwidth at 1 MiB and 4 MiB.
 * Rank 0 prints the results. The exit code is non-zero if anything went wrong. */
#include <fmi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int rank = -1;

/* stop with a message on any error: the demo has no recovery to show */
#define CALL(x)                                                                       \
    do {                                                                              \
        int rc_ = (x);                                                                \
        if (rc_ != FMI_SUCCESS) {                                                     \
            fprintf(stderr, "demo rank %d: %s failed: %s (%s)\n", rank, #x,           \
                    FMI_Error_string(rc_), FMI_Last_error());                         \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

enum { TAG_PI = 1, TAG_TOKEN = 2, TAG_PING = 3, TAG_PONG = 4 };

static double ping_pong(FMI_Comm comm, char *buf, size_t bytes, int iters)
{
    /* returns the half round-trip time in seconds (measured on rank 0) */
    int i, warmup = iters / 10 + 1;
    double t0 = 0;
    for (i = 0; i < warmup + iters; i++) {
        if (i == warmup)
            t0 = FMI_Wtime();
        if (rank == 0) {
            CALL(FMI_Send(buf, bytes, FMI_BYTE, 1, TAG_PING, comm));
            CALL(FMI_Recv(buf, bytes, FMI_BYTE, 1, TAG_PONG, comm, NULL));
        } else if (rank == 1) {
            CALL(FMI_Recv(buf, bytes, FMI_BYTE, 0, TAG_PING, comm, NULL));
            CALL(FMI_Send(buf, bytes, FMI_BYTE, 0, TAG_PONG, comm));
        }
    }
    return (FMI_Wtime() - t0) / iters / 2;
}

int main(void)
{
    FMI_Comm world = NULL;
    int size = 0, ok = 1;
    const long steps = 40000000;
    double t0, t_pi;

    CALL(FMI_Comm_from_env(&world));
    CALL(FMI_Comm_rank(world, &rank));
    CALL(FMI_Comm_size(world, &size));
    if (rank == 0)
        printf("FMI demo: %d ranks\n", size);

    /* 1. pi */
    {
        const double h = 1.0 / (double)steps;
        double partial = 0.0;
        long i;
        t0 = FMI_Wtime();
        for (i = rank; i < steps; i += size) {
            double x = h * ((double)i + 0.5);
            partial += 4.0 / (1.0 + x * x);
        }
        partial *= h;
        if (rank == 0) {
            double pi = partial;
            int src;
            for (src = 1; src < size; src++) {
                double p = 0;
                FMI_Status st;
                CALL(FMI_Recv(&p, 1, FMI_DOUBLE, src, TAG_PI, world, &st));
                pi += p;
            }
            t_pi = FMI_Wtime() - t0;
            printf("  pi        = %.15f  (error %.2e, %ld intervals, %.3f s)\n", pi,
                   fabs(pi - M_PI), steps, t_pi);
            if (fabs(pi - M_PI) > 1e-9) {
                printf("  pi is wrong\n");
                ok = 0;
            }
        } else {
            CALL(FMI_Send(&partial, 1, FMI_DOUBLE, 0, TAG_PI, world));
        }
    }

    /* 2. token ring: each rank adds its rank + 1; three laps (rank 0 resets the token
     *    after the warm-up lap, the others just add to what they receive) */
    {
        const int laps = 3;
        int lap;
        long token = 0;
        int next = (rank + 1) % size, prev = (rank + size - 1) % size;
        /* lap -1 is a warm-up (connections are made on first use) and is not counted */
        for (lap = -1; lap < laps; lap++) {
            if (lap == 0) {
                token = 0;
                t0 = FMI_Wtime();
            }
            if (rank == 0) {
                token += 1;
                if (size > 1) {
                    CALL(FMI_Send(&token, 1, FMI_INT64, next, TAG_TOKEN, world));
                    CALL(FMI_Recv(&token, 1, FMI_INT64, prev, TAG_TOKEN, world, NULL));
                }
            } else {
                CALL(FMI_Recv(&token, 1, FMI_INT64, prev, TAG_TOKEN, world, NULL));
                token += rank + 1;
                CALL(FMI_Send(&token, 1, FMI_INT64, next, TAG_TOKEN, world));
            }
        }
        if (rank == 0) {
            long want = (long)laps * size * (size + 1) / 2;
            printf("  token     = %ld after %d laps of the ring (expected %ld, %.1f us per hop)\n",
                   token, laps, want, (FMI_Wtime() - t0) / (laps * size) * 1e6);
            if (token != want)
                ok = 0;
        }
    }

    /* 3. barrier */
    t0 = FMI_Wtime();
    CALL(FMI_Barrier(world));
    if (rank == 0)
        printf("  barrier   passed (%.1f us)\n", (FMI_Wtime() - t0) * 1e6);

    /* 4. ping-pong between ranks 0 and 1 */
    if (size >= 2) {
        static const struct { size_t bytes; int iters; int bw; } runs[] = {
            {8, 2000, 0}, {1024, 2000, 0}, {1u << 20, 50, 1}, {4u << 20, 20, 1}};
        size_t k;
        char *buf = malloc(4u << 20);
        if (!buf) {
            fprintf(stderr, "demo: out of memory\n");
            return 1;
        }
        memset(buf, rank, 4u << 20);
        if (rank == 0)
            printf("  ping-pong between ranks 0 and 1:\n");
        for (k = 0; k < sizeof runs / sizeof runs[0]; k++) {
            double half = ping_pong(world, buf, runs[k].bytes, runs[k].iters);
            if (rank == 0) {
                if (runs[k].bw)
                    printf("    %7zu B: bandwidth %8.1f MB/s  (half round trip %.1f us)\n",
                           runs[k].bytes, (double)runs[k].bytes / half / 1e6, half * 1e6);
                else
                    printf("    %7zu B: latency   %8.2f us (half round trip)\n", runs[k].bytes,
                           half * 1e6);
            }
        }
        free(buf);
    } else if (rank == 0) {
        printf("  ping-pong skipped: needs 2 ranks\n");
    }

    CALL(FMI_Barrier(world));
    CALL(FMI_Comm_free(&world));
    if (rank == 0)
        printf("FMI demo %s\n", ok ? "done" : "FAILED");
    return ok ? 0 : 1;
}
