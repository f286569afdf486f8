/* A job for scripts/nat-test.sh: the ranks run in separate network namespaces behind
 * NATs, started by hand with FMI_RANK/FMI_SIZE/FMI_JOB/FMI_RENDEZVOUS/FMI_TOKEN.
 *
 * Point to point (a ring exchange of 8 B, 64 KiB and 4 MiB, content checked) and
 * collectives (barrier, bcast, allreduce, allgather, results checked), one line per
 * check on stdout. Then a barrier, "nat_job rank R: holding N ms" and a sleep of
 * NAT_JOB_HOLD_MS (default 0) with every connection still open, so the script can
 * look at the sockets; then a final barrier, free, and "nat_job rank R: OK".
 *
 * Errors are printed with the code's name (FMI_ERR_AUTH, ...) and FMI_Last_error();
 * a communicator that cannot be created (wrong token) gives exit code 3, a failed
 * check exit code 1 (when the first point-to-point exchange fails it stops there). Not a ctest test: it needs the namespaces the script builds. */
#include "fmi_test.h"

#include <errno.h>

static FMI_Comm world;
static long n_ok, n_bad;

static const char *code_name(int rc)
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

/* Prints "nat_job rank R: <what>: ok (ms)" or "... FAIL: <why>" and counts it. */
static void report(const char *what, int ok, double t0, const char *fmt, ...)
{
    char why[512] = "";
    if (!ok && fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
    }
    if (ok) {
        n_ok++;
        printf("nat_job rank %d: %s: ok (%.1f ms)\n", g_rank, what, (FMI_Wtime() - t0) * 1e3);
    } else {
        n_bad++;
        printf("nat_job rank %d: %s: FAIL: %s\n", g_rank, what, why);
    }
    fflush(stdout);
}

/* A failed call: its code's name, text and the last error. */
static int call_ok(const char *what, int rc, double t0)
{
    if (rc == FMI_SUCCESS)
        return 1;
    {
        const char *le = FMI_Last_error();
        report(what, 0, t0, "returned %d %s (%s): %s", rc, code_name(rc), FMI_Error_string(rc),
               le ? le : "(null)");
    }
    return 0;
}

/* ---- point to point: ring exchange of one size, both directions at two ranks ------- */
static void test_p2p(size_t bytes, int round)
{
    int right = (g_rank + 1) % g_size, left = (g_rank + g_size - 1) % g_size;
    unsigned char *out = xmalloc(bytes), *in = xmalloc(bytes);
    char what[64];
    FMI_Status st;
    double t0 = FMI_Wtime();
    int tag = 100 + round;
    snprintf(what, sizeof what, "p2p %zu bytes", bytes);
    pat_fill(out, bytes, seed_of(g_rank, 1, (uint64_t)round));
    memset(in, 0, bytes);
    memset(&st, 0xff, sizeof st);
    if (call_ok(what, FMI_Sendrecv(out, bytes, right, tag, in, bytes, left, tag, FMI_BYTE, world, &st), t0)) {
        size_t bad = pat_first_bad(in, bytes, seed_of(left, 1, (uint64_t)round));
        if (bad != (size_t)-1)
            report(what, 0, t0, "data from rank %d differs at byte %zu", left, bad);
        else if (st.source != left || st.tag != tag || st.bytes != bytes)
            report(what, 0, t0, "status source %d tag %d bytes %zu, expected %d %d %zu", st.source,
                   st.tag, st.bytes, left, tag, bytes);
        else
            report(what, 1, t0, NULL);
    }
    free(out);
    free(in);
}

/* ---- collectives ------------------------------------------------------------------- */
static void test_barrier(void)
{
    double t0 = FMI_Wtime();
    if (call_ok("barrier", FMI_Barrier(world), t0))
        report("barrier", 1, t0, NULL);
}

static void test_bcast(size_t bytes, int root)
{
    unsigned char *buf = xmalloc(bytes);
    char what[64];
    double t0 = FMI_Wtime();
    snprintf(what, sizeof what, "bcast %zu bytes from %d", bytes, root);
    if (g_rank == root)
        pat_fill(buf, bytes, seed_of(root, 2, bytes));
    else
        memset(buf, 0, bytes);
    if (call_ok(what, FMI_Bcast(buf, bytes, FMI_BYTE, root, world), t0)) {
        size_t bad = pat_first_bad(buf, bytes, seed_of(root, 2, bytes));
        if (bad != (size_t)-1)
            report(what, 0, t0, "differs at byte %zu", bad);
        else
            report(what, 1, t0, NULL);
    }
    free(buf);
}

static int64_t contrib(int r, size_t i) { return (int64_t)(r + 1) * 1000003 + (int64_t)(i % 9973) - 4000; }

static void test_allreduce(size_t count)
{
    int64_t *in = xmalloc(count * 8), *out = xmalloc(count * 8);
    char what[64];
    double t0 = FMI_Wtime();
    size_t i;
    int r;
    snprintf(what, sizeof what, "allreduce sum %zu int64", count);
    for (i = 0; i < count; i++) {
        in[i] = contrib(g_rank, i);
        out[i] = -1;
    }
    if (call_ok(what, FMI_Allreduce(in, out, count, FMI_INT64, FMI_SUM, world), t0)) {
        for (i = 0; i < count; i++) {
            int64_t want = 0;
            for (r = 0; r < g_size; r++)
                want += contrib(r, i);
            if (out[i] != want)
                break;
        }
        if (i < count)
            report(what, 0, t0, "element %zu is %lld", i, (long long)out[i]);
        else
            report(what, 1, t0, NULL);
    }
    {
        double x = (double)g_rank + 0.5, mx = -1.0;
        t0 = FMI_Wtime();
        if (call_ok("allreduce max double", FMI_Allreduce(&x, &mx, 1, FMI_DOUBLE, FMI_MAX, world), t0))
            report("allreduce max double", mx == (double)(g_size - 1) + 0.5, t0, "got %g, expected %g", mx,
                   (double)(g_size - 1) + 0.5);
    }
    free(in);
    free(out);
}

static void test_allgather(size_t count)
{
    int32_t *in = xmalloc(count * 4), *out = xmalloc(count * 4 * (size_t)g_size);
    char what[64];
    double t0 = FMI_Wtime();
    size_t i;
    int r;
    snprintf(what, sizeof what, "allgather %zu int32", count);
    for (i = 0; i < count; i++)
        in[i] = g_rank * 100000 + (int32_t)i;
    memset(out, 0xff, count * 4 * (size_t)g_size);
    if (call_ok(what, FMI_Allgather(in, out, count, FMI_INT32, world), t0)) {
        int bad_r = -1;
        size_t bad_i = 0;
        for (r = 0; r < g_size && bad_r < 0; r++)
            for (i = 0; i < count; i++)
                if (out[(size_t)r * count + i] != r * 100000 + (int32_t)i) {
                    bad_r = r;
                    bad_i = i;
                    break;
                }
        if (bad_r >= 0)
            report(what, 0, t0, "block %d element %zu is %d", bad_r, bad_i,
                   out[(size_t)bad_r * count + bad_i]);
        else
            report(what, 1, t0, NULL);
    }
    free(in);
    free(out);
}

static long env_ms(const char *name)
{
    const char *v = getenv(name);
    char *end = NULL;
    long ms;
    if (!v || !*v)
        return 0;
    errno = 0;
    ms = strtol(v, &end, 10);
    if (errno || !end || *end || ms < 0) {
        fprintf(stderr, "nat_job: %s=%s is not a number of milliseconds; ignored\n", name, v);
        return 0;
    }
    return ms;
}

int main(void)
{
    double t0 = FMI_Wtime();
    long hold = env_ms("NAT_JOB_HOLD_MS");
    int rc, round = 0;
    size_t sizes[3] = {8, 64 * 1024, 4 * 1024 * 1024};
    size_t k;

    g_test = "nat_job";
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = FMI_Comm_from_env(&world);
    if (rc != FMI_SUCCESS || world == NULL) {
        const char *le = FMI_Last_error();
        const char *r = getenv("FMI_RANK");
        fprintf(stderr, "nat_job rank %s: FMI_Comm_from_env failed: %d %s (%s): %s\n", r ? r : "?", rc,
                code_name(rc), FMI_Error_string(rc), le ? le : "(null)");
        return 3;
    }
    FMI_Comm_rank(world, &g_rank);
    FMI_Comm_size(world, &g_size);
    printf("nat_job rank %d: of %d, communicator after %.1f ms\n", g_rank, g_size,
           (FMI_Wtime() - t0) * 1e3);

    for (k = 0; k < 3; k++)
        test_p2p(sizes[k], round++);
    if (n_bad) {
        /* no connection to the peer: every further check would wait out the timeout */
        printf("nat_job rank %d: FAILED: point to point does not work; stopping (%.2f s)\n", g_rank,
               FMI_Wtime() - t0);
        return 1;
    }
    /* once more the other way round: the connection is made, now it is only used */
    for (k = 3; k-- > 0;)
        test_p2p(sizes[k], round++);
    test_barrier();
    test_bcast(8, 0);
    test_bcast(1024 * 1024, g_size - 1);
    test_allreduce(1);
    test_allreduce(100000);
    test_allgather(1);
    test_allgather(65536);

    {
        double th = FMI_Wtime();
        if (call_ok("barrier before hold", FMI_Barrier(world), th)) {
            printf("nat_job rank %d: holding %ld ms\n", g_rank, hold);
            fflush(stdout);
            if (hold > 0)
                sleep_ms(hold);
            th = FMI_Wtime();
            if (call_ok("barrier after hold", FMI_Barrier(world), th))
                report("barrier after hold", 1, th, NULL);
        }
    }
    {
        double tf = FMI_Wtime();
        if (call_ok("free", FMI_Comm_free(&world), tf))
            report("free", world == NULL, tf, "handle not NULL after FMI_Comm_free");
    }
    if (n_bad) {
        printf("nat_job rank %d: FAILED: %ld of %ld checks (%.2f s)\n", g_rank, n_bad, n_ok + n_bad,
               FMI_Wtime() - t0);
        return 1;
    }
    printf("nat_job rank %d: OK (%ld checks, %.2f s)\n", g_rank, n_ok, FMI_Wtime() - t0);
    return 0;
}
