/* FMI demo job: data-parallel training, the FMI paper's case study.
 *
 *   fmirun -n 4 -- ./train [EPOCHS [STEPS_PER_EPOCH]]        (default 10 epochs of 32 steps)
 *
 * Logistic regression with NFEAT features (+ bias) trained by mini-batch SGD on a
 * generated data set: two Gaussian blobs, x = N(0, I) + (2y - 1) * SEP * u for a fixed
 * random unit vector u, so the best possible accuracy is Phi(SEP) ~ 93%. Sample i is
 * made from its own seeded PRNG stream, so every rank makes only its shard (samples
 * with i % size == rank) and the data set is the same at every job size.
 *
 * Every step each rank computes the mean gradient of its share of the global batch;
 * FMI_Allreduce(FMI_SUM, FMI_DOUBLE) adds them up and every rank divides by the size
 * and takes the same step, so the weights stay identical on every rank. The gradient
 * is NFEAT + 1 doubles (2 KiB).
 *
 * Determinism: before the reduction each local gradient is rounded to a multiple of
 * 2^-QBITS (a relative change of ~1e-10 at most). Sums of such numbers are exact in
 * double, so the reduced gradient does not depend on the order in which a channel
 * combines the ranks: the direct and the Redis runs end with bit-identical weights.
 * The program prints a checksum of them (weights=) to compare.
 *
 * Per epoch rank 0 prints the loss, training and held-out accuracy, the communication
 * time of the epoch (time inside FMI_Allreduce, max over ranks) and the epoch's wall
 * time; at the end one machine-readable line:
 *
 *   summary channel=C ranks=N epochs=E steps=S comm_s_per_epoch=X total_s_per_epoch=Y
 *           final_accuracy=A final_loss=L weights=H cost_usd_per_1000_epochs=Z
 *
 * The cost is FMI_Comm_cost (the library's model of AWS Lambda GiB-seconds, storage
 * requests and the channel's servers) of every rank for the measured run, summed
 * over the ranks and scaled to 1000 epochs. Any FMI error: message on stderr, exit 1. */
#include <fmi.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    NFEAT = 255,       /* features; + bias = 256 weights */
    NW = NFEAT + 1,    /* weights (last one is the bias) */
    NTRAIN = 16384,    /* training samples (the whole job's) */
    NTEST = 4096,      /* held-out samples */
    QBITS = 32,        /* gradient quantum 2^-QBITS (see above) */
    NSTAT = 5,         /* epoch statistics reduced together */
};
static const double SEP = 1.5;      /* half the distance between the blob centres */
static const double LR = 0.05;      /* learning rate */
static const double L2 = 1e-4;      /* weight decay */
static const uint64_t SEED = 20230612; /* the data set */

static int rank = -1;

#define CALL(x)                                                                       \
    do {                                                                              \
        int rc_ = (x);                                                                \
        if (rc_ != FMI_SUCCESS) {                                                     \
            fprintf(stderr, "train rank %d: %s failed: %s (%s)\n", rank, #x,          \
                    FMI_Error_string(rc_), FMI_Last_error());                         \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* ---- deterministic random numbers: splitmix64 ------------------------------------ */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s) /* in (0, 1) */
{
    return ((double)(splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double gauss(uint64_t *s) /* Box-Muller, one value per call (simple, not fast) */
{
    double u1 = uniform01(s), u2 = uniform01(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* the blob direction u (unit vector), the same on every rank */
static void make_direction(double *u)
{
    uint64_t s = SEED ^ 0xD1B54A32D192ED03ull;
    double n = 0;
    int j;
    for (j = 0; j < NFEAT; j++) {
        u[j] = gauss(&s);
        n += u[j] * u[j];
    }
    n = sqrt(n);
    for (j = 0; j < NFEAT; j++)
        u[j] /= n;
}

/* sample `id` (0 .. NTRAIN + NTEST - 1): features into x, label returned */
static int make_sample(uint64_t id, const double *u, double *x)
{
    uint64_t s = SEED * 0x100000001B3ull + id * 0x9E3779B97F4A7C15ull;
    int y = (int)(splitmix64(&s) & 1), j;
    double shift = (2 * y - 1) * SEP;
    for (j = 0; j < NFEAT; j++)
        x[j] = gauss(&s) + shift * u[j];
    return y;
}

/* a local shard: samples first, first + stride, ... below end */
typedef struct {
    int n;
    double *x; /* n * NFEAT */
    int *y;
} Shard;

static void make_shard(Shard *sh, int first, int end, int stride, const double *u)
{
    int i, k = 0;
    sh->n = first < end ? (end - first + stride - 1) / stride : 0;
    sh->x = malloc((size_t)(sh->n ? sh->n : 1) * NFEAT * sizeof(double));
    sh->y = malloc((size_t)(sh->n ? sh->n : 1) * sizeof(int));
    if (!sh->x || !sh->y) {
        fprintf(stderr, "train rank %d: out of memory\n", rank);
        exit(1);
    }
    for (i = first; i < end; i += stride, k++)
        sh->y[k] = make_sample((uint64_t)i, u, sh->x + (size_t)k * NFEAT);
}

static double dot(const double *w, const double *x)
{
    double z = w[NFEAT]; /* bias */
    int j;
    for (j = 0; j < NFEAT; j++)
        z += w[j] * x[j];
    return z;
}

static double sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* log loss of one sample, stable for large |z| */
static double logloss(double z, int y)
{
    double m = y ? -z : z; /* loss = log(1 + e^m) */
    return m > 0 ? m + log1p(exp(-m)) : log1p(exp(m));
}

static double quantize(double v)
{
    return ldexp(nearbyint(ldexp(v, QBITS)), -QBITS);
}

/* FMI_Allreduce that adds its time to *comm_s */
static void allreduce(const void *in, void *out, size_t n, FMI_Datatype dt, FMI_Op op,
                      FMI_Comm comm, double *comm_s)
{
    double t0 = FMI_Wtime();
    CALL(FMI_Allreduce(in, out, n, dt, op, comm));
    *comm_s += FMI_Wtime() - t0;
}

/* FNV-1a over the bytes of the weights */
static uint64_t checksum(const double *w, size_t n)
{
    const unsigned char *p = (const unsigned char *)w;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n * sizeof(double); i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int parse_arg(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 100000) {
        if (rank == 0)
            fprintf(stderr, "train: %s must be a number from 1 to 100000, not '%s'\n", what, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    FMI_Comm world = NULL;
    int size = 0, epochs = 10, steps = 32, e, s, i, j;
    static double u[NFEAT], w[NW], grad[NW], sum[NW], warm[NW];
    Shard train, test;
    const char *channel = getenv("FMI_CHANNEL");
    double run_comm_s = 0, run_s, t_run, final_acc = 0, final_loss = 0, usd = 0, job_usd = 0;
    uint64_t perm_seed;
    int *order;

    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows through fmirun's pipe */
    if (!channel || !*channel)
        channel = "direct";
    CALL(FMI_Comm_from_env(&world));
    CALL(FMI_Comm_rank(world, &rank));
    CALL(FMI_Comm_size(world, &size));
    if (argc > 1)
        epochs = parse_arg(argv[1], "EPOCHS");
    if (argc > 2)
        steps = parse_arg(argv[2], "STEPS_PER_EPOCH");

    make_direction(u);
    make_shard(&train, rank, NTRAIN, size, u);
    make_shard(&test, NTRAIN + rank, NTRAIN + NTEST, size, u);
    order = malloc((size_t)(train.n ? train.n : 1) * sizeof(int));
    if (!order) {
        fprintf(stderr, "train rank %d: out of memory\n", rank);
        return 1;
    }
    for (i = 0; i < train.n; i++)
        order[i] = i;
    perm_seed = SEED + 7919u * (uint64_t)rank;

    if (rank == 0) {
        printf("train: logistic regression, %d features, %d training + %d held-out samples, "
               "%d ranks, channel %s\n",
               NFEAT, NTRAIN, NTEST, size, channel);
        printf("train: %d epochs x %d steps, global batch ~%d, gradient %zu bytes per "
               "FMI_Allreduce\n",
               epochs, steps, NTRAIN / steps, sizeof grad);
        printf("%5s %9s %10s %9s %12s %12s\n", "epoch", "loss", "train_acc", "test_acc",
               "comm_ms", "epoch_ms");
    }

    /* one untimed reduction of the gradient's size first: connections are made on
     * first use, which is not what the epochs should measure */
    memset(warm, 0, sizeof warm);
    CALL(FMI_Allreduce(FMI_IN_PLACE, warm, NW, FMI_DOUBLE, FMI_SUM, world));
    CALL(FMI_Barrier(world));

    t_run = FMI_Wtime();
    for (e = 1; e <= epochs; e++) {
        double t_epoch = FMI_Wtime(), comm_s = 0, stat[NSTAT], tot[NSTAT], times[2], maxt[2];

        /* this epoch's order of the local samples (Fisher-Yates, seeded) */
        for (i = train.n - 1; i > 0; i--) {
            int k = (int)(splitmix64(&perm_seed) % (uint64_t)(i + 1)), t = order[i];
            order[i] = order[k];
            order[k] = t;
        }

        for (s = 0; s < steps; s++) {
            int lo = (int)((long)train.n * s / steps), hi = (int)((long)train.n * (s + 1) / steps);
            memset(grad, 0, sizeof grad);
            for (i = lo; i < hi; i++) {
                const double *x = train.x + (size_t)order[i] * NFEAT;
                double r = sigmoid(dot(w, x)) - train.y[order[i]];
                for (j = 0; j < NFEAT; j++)
                    grad[j] += r * x[j];
                grad[NFEAT] += r;
            }
            for (j = 0; j < NW; j++)
                grad[j] = quantize(hi > lo ? grad[j] / (hi - lo) : 0.0);
            allreduce(grad, sum, NW, FMI_DOUBLE, FMI_SUM, world, &comm_s);
            for (j = 0; j < NW; j++)
                w[j] -= LR * (sum[j] / size + (j < NFEAT ? L2 * w[j] : 0.0));
        }

        /* loss and accuracies over the whole data set (sums of integers and of
         * quantized losses: exact, like the gradients) */
        memset(stat, 0, sizeof stat);
        for (i = 0; i < train.n; i++) {
            double z = dot(w, train.x + (size_t)i * NFEAT);
            stat[0] += logloss(z, train.y[i]);
            stat[1] += (z >= 0) == (train.y[i] == 1);
        }
        stat[0] = quantize(stat[0]);
        stat[2] = train.n;
        for (i = 0; i < test.n; i++)
            stat[3] += (dot(w, test.x + (size_t)i * NFEAT) >= 0) == (test.y[i] == 1);
        stat[4] = test.n;
        allreduce(stat, tot, NSTAT, FMI_DOUBLE, FMI_SUM, world, &comm_s);

        /* the epoch's times, max over ranks (not part of the epoch's measured time) */
        times[0] = comm_s;
        times[1] = FMI_Wtime() - t_epoch;
        run_comm_s += comm_s;
        CALL(FMI_Allreduce(times, maxt, 2, FMI_DOUBLE, FMI_MAX, world));
        final_loss = tot[0] / tot[2];
        final_acc = tot[3] / tot[4];
        if (rank == 0)
            printf("%5d %9.6f %10.4f %9.4f %12.3f %12.3f\n", e, final_loss, tot[1] / tot[2],
                   final_acc, maxt[0] * 1e3, maxt[1] * 1e3);
    }
    run_s = FMI_Wtime() - t_run;

    /* the run's comm and wall time (max over ranks), and its modelled cost: every
     * rank's share for the run's duration, added up */
    {
        double mine[2] = {run_comm_s, run_s}, most[2];
        uint64_t h = checksum(w, NW), hmin = 0, hmax = 0;
        CALL(FMI_Allreduce(mine, most, 2, FMI_DOUBLE, FMI_MAX, world));
        CALL(FMI_Comm_cost(world, most[1], &usd));
        CALL(FMI_Allreduce(&usd, &job_usd, 1, FMI_DOUBLE, FMI_SUM, world));
        CALL(FMI_Allreduce(&h, &hmin, 1, FMI_UINT64, FMI_MIN, world));
        CALL(FMI_Allreduce(&h, &hmax, 1, FMI_UINT64, FMI_MAX, world));
        if (rank == 0) {
            if (hmin != hmax) {
                fprintf(stderr, "train: the ranks ended with different weights\n");
                return 1;
            }
            printf("train: %d epochs in %.3f s, %.3f s of it in FMI_Allreduce; "
                   "modelled cost of the run $%.8f\n",
                   epochs, most[1], most[0], job_usd);
            printf("summary channel=%s ranks=%d epochs=%d steps=%d comm_s_per_epoch=%.6f "
                   "total_s_per_epoch=%.6f final_accuracy=%.6f final_loss=%.9f "
                   "weights=%016llx cost_usd_per_1000_epochs=%.6f\n",
                   channel, size, epochs, steps, most[0] / epochs, most[1] / epochs,
                   final_acc, final_loss, (unsigned long long)h,
                   job_usd / epochs * 1000.0);
        }
    }

    CALL(FMI_Comm_free(&world));
    free(order);
    free(train.x);
    free(train.y);
    free(test.x);
    free(test.y);
    return 0;
}
