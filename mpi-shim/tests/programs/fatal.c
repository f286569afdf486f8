/* fatal.c: the default error handler MPI_ERRORS_ARE_FATAL aborts the job. Rank 0 sends
 * to rank = size (an invalid rank); the other ranks wait in a receive from rank 0 that
 * never comes, so the whole job must be torn down. The runner expects a non-zero exit
 * status and a message on stderr; the output itself is not compared. */
#include "mt.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    int x = 1;
    if (mt_rank == 0) {
        MPI_Send(&x, 1, MPI_INT, mt_size, 0, MPI_COMM_WORLD);
        /* Not reached with a correct MPI. Release the others and exit 0: the runner then
         * reports the failure (it wants a non-zero exit status) instead of timing out. */
        fprintf(stderr, "FAIL rank 0: MPI_Send to rank %d returned under MPI_ERRORS_ARE_FATAL\n", mt_size);
        for (int r = 1; r < mt_size; r++) MPI_Send(&x, 1, MPI_INT, r, 0, MPI_COMM_WORLD);
    } else {
        MPI_Recv(&x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    MPI_Finalize();
    return 0;
}
