/* A rank dies (SIGKILL) in the middle of collectives through a mediated channel
 * (FMI_CHANNEL=redis or s3). Storage cannot tell that a writer died, so the
 * survivors must get an error within the timeout (FMI_TIMEOUT_MS), and freeing the
 * communicator after that must clear every key of the job: run by
 * scripts/channel-test.sh, which then counts the keys left (none may be).
 *
 * Each survivor prints one "store_loss: survivor R: PASSED|FAILED" line. */
#include "fmi_test.h"

#include <signal.h>
#include <stdlib.h>

int main(void)
{
    FMI_Comm world = fmi_test_init("store_loss");
    const char *tms = getenv("FMI_TIMEOUT_MS");
    double limit = (tms ? atof(tms) / 1000.0 : 120.0) + 3.0;
    int victim = g_size - 1, i, rc = FMI_SUCCESS;
    double x[64], y[64], last_ok = FMI_Wtime(), dt;
    if (g_size < 2) {
        printf("SKIP: store_loss needs at least 2 ranks (has %d)\n", g_size);
        return 0;
    }
    for (i = 0; i < 64; i++)
        x[i] = g_rank + i;
    for (i = 0; i < 1000 && rc == FMI_SUCCESS; i++) {
        if (g_rank == victim && i == 20)
            raise(SIGKILL);
        rc = FMI_Allreduce(x, y, 64, FMI_DOUBLE, FMI_SUM, world);
        if (rc == FMI_SUCCESS) {
            last_ok = FMI_Wtime();
            CHECK(y[1] == g_size + (double)g_size * (g_size - 1) / 2, "allreduce %d: got %g", i,
                  y[1]);
        }
    }
    dt = FMI_Wtime() - last_ok;
    CHECK(rc == FMI_ERR_TIMEOUT || rc == FMI_ERR_PEER_LOST,
          "the collective the victim left ended with %s, not a timeout or lost peer",
          FMI_Error_string(rc));
    CHECK(dt < limit, "the error came %.2f s after the last success (limit %.2f s)", dt, limit);
    CHECK(i > 20, "only %d allreduces before the error", i);
    printf("store_loss: rank %d: %s after %.2f s: %s\n", g_rank, FMI_Error_string(rc), dt,
           FMI_Last_error());
    OK(FMI_Comm_free(&world));
    printf("store_loss: survivor %d: %s\n", g_rank, g_fail ? "FAILED" : "PASSED");
    return g_fail ? 1 : 0;
}
