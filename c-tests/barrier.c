/* FMI_Barrier: nobody leaves before everybody has entered; barrier traffic never
 * matches user receives; many barriers back to back.
 *
 * The cross-process check uses CLOCK_MONOTONIC, which all ranks on one host share;
 * FMI_Wtime's epoch is not promised to be common to processes, so it is used only for
 * durations measured inside one process. */
#include "fmi_test.h"

#include <time.h>

static FMI_Comm world;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Each rank sleeps a different time (the longest, (size-1)*10 ms, rotates between
 * ranks), notes when it entered, passes the barrier and notes when it left. Then the
 * entry times are exchanged: every exit must come after every entry. */
static void test_no_early_exit(int iters)
{
    double *enter = xmalloc(sizeof(double) * (size_t)g_size);
    FMI_Request *sreq = xmalloc(sizeof(FMI_Request) * (size_t)g_size);
    int it, r;
    for (it = 0; it < iters; it++) {
        int slot = (g_rank + it) % g_size; /* 0..size-1 */
        double my_enter, my_exit, latest = 0;
        int latest_rank = -1;
        OK(FMI_Barrier(world)); /* start together */
        sleep_ms((long)slot * 10);
        my_enter = mono_now();
        OK(FMI_Barrier(world));
        my_exit = mono_now();

        /* everyone tells everyone its entry time */
        for (r = 0; r < g_size; r++) {
            sreq[r] = FMI_REQUEST_NULL;
            if (r != g_rank)
                OK(FMI_Isend(&my_enter, 1, FMI_DOUBLE, r, 100 + it, world, &sreq[r]));
        }
        for (r = 0; r < g_size; r++) {
            if (r == g_rank) {
                enter[r] = my_enter;
                continue;
            }
            enter[r] = 0;
            OK(FMI_Recv(&enter[r], 1, FMI_DOUBLE, r, 100 + it, world, NULL));
        }
        for (r = 0; r < g_size; r++)
            if (r != g_rank)
                OK(FMI_Wait(&sreq[r], NULL));
        for (r = 0; r < g_size; r++)
            if (enter[r] > latest) {
                latest = enter[r];
                latest_rank = r;
            }
        CHECK(my_exit >= latest, "iteration %d: left the barrier %.3f ms before rank %d entered it",
              it, (latest - my_exit) * 1e3, latest_rank);
    }
    free(enter);
    free(sreq);
}

/* one rank is very late: the others must wait for it (and may sleep meanwhile) */
static void test_late_rank(void)
{
    double w0, w1;
    OK(FMI_Barrier(world));
    w0 = FMI_Wtime();
    if (g_rank == g_size - 1)
        sleep_ms(300);
    OK(FMI_Barrier(world));
    w1 = FMI_Wtime();
    CHECK(w1 - w0 >= 0.25, "a rank waited only %.3f ms for a rank 300 ms late", (w1 - w0) * 1e3);
}

/* a wildcard receive posted across barriers must not be matched by barrier messages */
static void test_barrier_vs_wildcard(void)
{
    int v = -1, flag = 1, out = 9000 + g_rank, i;
    int left = (g_rank + g_size - 1) % g_size, right = (g_rank + 1) % g_size;
    FMI_Request req;
    FMI_Status st;
    OK(FMI_Irecv(&v, 1, FMI_INT32, FMI_ANY_SOURCE, FMI_ANY_TAG, world, &req));
    for (i = 0; i < 3; i++)
        OK(FMI_Barrier(world));
    OK(FMI_Test(&req, &flag, &st));
    CHECK(flag == 0, "a wildcard receive was matched during barriers (source %d tag %d bytes %zu)",
          st.source, st.tag, st.bytes);
    OK(FMI_Barrier(world)); /* everybody has tested before anybody sends */
    OK(FMI_Send(&out, 1, FMI_INT32, right, 0, world));
    if (!flag) {
        OK(FMI_Wait(&req, &st));
        CHECK(v == 9000 + left && st.source == left && st.tag == 0,
              "wildcard receive after barriers got %d from %d tag %d", v, st.source, st.tag);
    }
    OK(FMI_Barrier(world));
}

static void test_many_barriers(void)
{
    const int n = 500;
    int i;
    double t0, t1;
    OK(FMI_Barrier(world));
    t0 = FMI_Wtime();
    for (i = 0; i < n; i++)
        if (!OK(FMI_Barrier(world)))
            break;
    t1 = FMI_Wtime();
    if (g_rank == 0)
        printf("barrier: %d ranks: %.1f us per barrier (%d back to back)\n", g_size,
               (t1 - t0) / n * 1e6, n);
}

int main(void)
{
    double t0 = FMI_Wtime();
    world = fmi_test_init("barrier");
    test_no_early_exit(2 * g_size > 6 ? 2 * g_size : 6);
    test_late_rank();
    test_barrier_vs_wildcard();
    test_many_barriers();
    return fmi_test_finish(&world, t0);
}
