/* A rank dies mid-job (SIGKILL, no goodbye): every survivor must get FMI_ERR_PEER_LOST
 * within a few seconds, naming the lost rank, from the call blocked on it (a receive
 * from it on rank 0, a collective elsewhere) and from every later call that needs it,
 * while traffic among survivors goes on and freeing the communicator does not hang.
 *
 * Run by expect_loss.sh under fmirun, which must report the killed rank; each
 * survivor prints one "peer_loss: survivor R: PASSED|FAILED" line (rank 0 cannot
 * collect the others' counts: the job is broken by design). */
#include "fmi_test.h"

#include <signal.h>
#include <unistd.h>

#define LIMIT_S 5.0 /* "within a few seconds" at default settings */

static int victim;

/* The call failed with FMI_ERR_PEER_LOST, fast, and the message names the victim. */
static void expect_lost(int rc, double t0, const char *what)
{
    char name[32];
    const char *le = FMI_Last_error();
    double dt = FMI_Wtime() - t0;
    EXPECT_RC(FMI_ERR_PEER_LOST, rc);
    snprintf(name, sizeof name, "rank %d", victim);
    CHECK(le != NULL && strstr(le, name) != NULL, "%s: last error \"%s\" does not name %s", what,
          le ? le : "(null)", name);
    CHECK(dt < LIMIT_S, "%s: took %.2f s to fail", what, dt);
}

int main(void)
{
    double t0 = FMI_Wtime(), t;
    FMI_Comm world = fmi_test_init("peer_loss");
    int x = 1, y = 0;
    FMI_Request req = FMI_REQUEST_NULL;
    victim = g_size - 1;
    if (g_size < 2) {
        printf("SKIP: peer_loss needs at least 2 ranks (has %d)\n", g_size);
        return 0;
    }
    OK(FMI_Barrier(world));

    if (g_rank == victim) {
        /* Every survivor is past the barrier (its messages told us so; without this
         * the barrier's last messages could die with us), then a message rank 0
         * receives, then death in the middle of the exchange. */
        int r;
        for (r = 0; r < victim; r++)
            OK(FMI_Recv(&y, 1, FMI_INT32, r, 9, world, NULL));
        OK(FMI_Send(&x, 1, FMI_INT32, 0, 1, world));
        sleep_ms(300);
        raise(SIGKILL);
        return 3; /* not reached */
    }

    OK(FMI_Send(&x, 1, FMI_INT32, victim, 9, world));

    /* the call blocked on the victim when it dies */
    t = FMI_Wtime();
    if (g_rank == 0) {
        OK(FMI_Recv(&y, 1, FMI_INT32, victim, 1, world, NULL));
        CHECK(y == 1, "first message from the victim: %d", y);
        t = FMI_Wtime();
        expect_lost(FMI_Recv(&y, 1, FMI_INT32, victim, 2, world, NULL), t, "blocked receive");
    } else {
        expect_lost(FMI_Allreduce(&x, &y, 1, FMI_INT32, FMI_SUM, world), t, "blocked allreduce");
    }

    /* later calls that need the victim */
    t = FMI_Wtime();
    expect_lost(FMI_Send(&x, 1, FMI_INT32, victim, 3, world), t, "later send");
    expect_lost(FMI_Recv(&y, 1, FMI_INT32, FMI_ANY_SOURCE, 3, world, NULL), t, "later wildcard receive");
    expect_lost(FMI_Barrier(world), t, "later barrier");
    expect_lost(FMI_Bcast(&x, 1, FMI_INT32, 0, world), t, "later bcast");
    if (OK(FMI_Irecv(&y, 1, FMI_INT32, victim, 4, world, &req)))
        expect_lost(FMI_Wait(&req, NULL), t, "later irecv");

    /* survivors still talk to each other */
    if (g_size >= 3 && g_rank < 2) {
        int peer = 1 - g_rank, got = -1, mine = 100 + g_rank;
        OK(FMI_Sendrecv(&mine, 1, peer, 5, &got, 1, peer, 5, FMI_INT32, world, NULL));
        CHECK(got == 100 + peer, "sendrecv among survivors: got %d", got);
    }

    /* Survivors leave together, so that no one sees another's leave before its
     * own checks (those calls would then fail naming the leaver, rightly). */
    if (g_rank == 0) {
        int r;
        for (r = 1; r < victim; r++)
            OK(FMI_Recv(&y, 1, FMI_INT32, r, 6, world, NULL));
        for (r = 1; r < victim; r++)
            OK(FMI_Send(&x, 1, FMI_INT32, r, 7, world));
    } else {
        OK(FMI_Send(&x, 1, FMI_INT32, 0, 6, world));
        OK(FMI_Recv(&y, 1, FMI_INT32, 0, 7, world, NULL));
    }

    t = FMI_Wtime();
    OK(FMI_Comm_free(&world));
    CHECK(FMI_Wtime() - t < LIMIT_S, "FMI_Comm_free took %.2f s", FMI_Wtime() - t);
    printf("peer_loss: survivor %d: %s (%ld checks, %ld failures, %.2f s)\n", g_rank,
           g_fail ? "FAILED" : "PASSED", g_checks, g_fail, FMI_Wtime() - t0);
    return g_fail ? 1 : 0;
}
