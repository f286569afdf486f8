/* Run only on FMI's MPI shim: functions the shim does not implement must fail
 * loudly (MPI_ERR_OTHER, a message naming the function) and never reach a real MPI
 * library. Built with MPICH's mpicc and run with LD_PRELOAD, or built with fmicc.
 * With an argument ("fatal"), the same call under the default MPI_ERRORS_ARE_FATAL
 * must end the job. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void expect_unsupported(const char *name, int rc)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0, cls = -1;
    MPI_Error_class(rc, &cls);
    MPI_Error_string(rc, msg, &len);
    if (cls != MPI_ERR_OTHER || strstr(msg, name) == NULL) {
        fprintf(stderr, "FAIL %s: class %d, message \"%s\"\n", name, cls, msg);
        failures++;
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc > 1 && strcmp(argv[1], "fatal") == 0) {
        MPI_Win win;
        MPI_Win_create(NULL, 0, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win);
        printf("FAIL: MPI_Win_create returned under MPI_ERRORS_ARE_FATAL\n");
        return 0;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Win win;
    expect_unsupported("MPI_Win_create",
                       MPI_Win_create(NULL, 0, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    MPI_Comm graph;
    int index[1] = {0}, edges[1] = {0};
    expect_unsupported("MPI_Graph_create",
                       MPI_Graph_create(MPI_COMM_WORLD, 1, index, edges, 0, &graph));
    MPI_File fh;
    expect_unsupported("MPI_File_open",
                       MPI_File_open(MPI_COMM_WORLD, "/nonexistent", MPI_MODE_RDONLY,
                                     MPI_INFO_NULL, &fh));
    MPI_Info info;
    expect_unsupported("MPI_Info_create", MPI_Info_create(&info));
    /* the profiling entry point fails the same way */
    expect_unsupported("MPI_Graph_create",
                       PMPI_Graph_create(MPI_COMM_WORLD, 1, index, edges, 0, &graph));
    if (failures == 0)
        printf("unsupported: rank %d ok\n", rank);
    MPI_Finalize();
    return failures != 0;
}
