/*
 * train_step.c - the C twin of workers/train_step.py: data-parallel logistic
 * regression, gradients summed with FMI_Allreduce. Both generate the same dataset
 * (splitmix64, fixed seed), split it into contiguous blocks by rank and print the
 * weights with 17 significant digits; tests/test_train_step.py compares them.
 *
 *   cc -O2 -ffp-contract=off train_step.c $(pkg-config --cflags --libs fmi) -lm
 *   fmirun -n 4 ./a.out
 */
#include <fmi.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 601     /* samples (uneven blocks at 2, 3, 4 ranks) */
#define D 6       /* features */
#define STEPS 100
#define LR 0.5
#define SEED 20240607u

static uint64_t state;

static uint64_t splitmix64(void) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(void) { return (double)(splitmix64() >> 11) * 0x1.0p-53; }

#define CHECK(call)                                                               \
    do {                                                                          \
        int rc_ = (call);                                                         \
        if (rc_ != FMI_SUCCESS) {                                                 \
            fprintf(stderr, "%s failed: %d %s\n", #call, rc_, FMI_Last_error()); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static double X[N][D], Y[N];

int main(void) {
    FMI_Comm comm;
    int rank, size;
    CHECK(FMI_Comm_from_env(&comm));
    CHECK(FMI_Comm_rank(comm, &rank));
    CHECK(FMI_Comm_size(comm, &size));

    /* the dataset: every rank makes all of it and uses its block */
    state = SEED;
    double wtrue[D];
    for (int j = 0; j < D; j++) wtrue[j] = 4.0 * uniform() - 2.0;
    for (int i = 0; i < N; i++) {
        double s = 0.0;
        for (int j = 0; j < D; j++) {
            X[i][j] = 2.0 * uniform() - 1.0;
            s += X[i][j] * wtrue[j];
        }
        s += uniform() - 0.5;
        Y[i] = s > 0.0 ? 1.0 : 0.0;
    }
    int lo = (int)((long)rank * N / size), hi = (int)((long)(rank + 1) * N / size);

    double w[D] = {0}, b = 0.0, g[D + 1];
    for (int step = 0; step < STEPS; step++) {
        for (int j = 0; j <= D; j++) g[j] = 0.0;
        for (int i = lo; i < hi; i++) {
            double z = b;
            for (int j = 0; j < D; j++) z += X[i][j] * w[j];
            double err = 1.0 / (1.0 + exp(-z)) - Y[i];
            for (int j = 0; j < D; j++) g[j] += X[i][j] * err;
            g[D] += err;
        }
        CHECK(FMI_Allreduce(FMI_IN_PLACE, g, D + 1, FMI_DOUBLE, FMI_SUM, comm));
        for (int j = 0; j < D; j++) w[j] -= LR * g[j] / N;
        b -= LR * g[D] / N;
    }

    /* loss of the final weights, also reduced */
    double loss = 0.0;
    for (int i = lo; i < hi; i++) {
        double z = b;
        for (int j = 0; j < D; j++) z += X[i][j] * w[j];
        double p = 1.0 / (1.0 + exp(-z));
        loss -= Y[i] * log(p) + (1.0 - Y[i]) * log(1.0 - p);
    }
    CHECK(FMI_Allreduce(FMI_IN_PLACE, &loss, 1, FMI_DOUBLE, FMI_SUM, comm));

    if (rank == 0) {
        for (int j = 0; j < D; j++) printf("W %d %.17g\n", j, w[j]);
        printf("B %.17g\n", b);
        printf("LOSS %.17g\n", loss / N);
    }
    CHECK(FMI_Comm_free(&comm));
    return 0;
}
