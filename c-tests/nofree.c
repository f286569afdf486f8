/* Ranks that return from main without FMI_Comm_free (as MPI programs without
 * MPI_Finalize do) still deliver what they sent: the library leaves the job at exit.
 * Every rank but 0 sends right after joining, before its connection to rank 0 can
 * exist, so without that the messages would die queued with the process. */
#include "fmi_test.h"

#define MSGS 100
#define LEN 1024

int main(void)
{
    double t0 = FMI_Wtime();
    FMI_Comm world = fmi_test_init("nofree");
    unsigned char buf[LEN];
    int i, r;
    if (g_rank != 0) {
        for (i = 0; i < MSGS; i++) {
            pat_fill(buf, LEN, seed_of(g_rank, 1, (uint64_t)i));
            OK(FMI_Send(buf, LEN, FMI_BYTE, 0, i, world));
        }
        return g_fail ? 1 : 0; /* no FMI_Comm_free */
    }
    for (r = 1; r < g_size; r++)
        for (i = 0; i < MSGS; i++) {
            FMI_Status st;
            if (OK(FMI_Recv(buf, LEN, FMI_BYTE, r, i, world, &st)))
                CHECK_PAT(buf, LEN, seed_of(r, 1, (uint64_t)i), "message %d from rank %d", i, r);
        }
    OK(FMI_Comm_free(&world));
    printf("nofree: %s: %d ranks, %ld checks, %ld failures (%.2f s)\n", g_fail ? "FAILED" : "PASSED",
           g_size, g_checks, g_fail, FMI_Wtime() - t0);
    return g_fail ? 1 : 0;
}
