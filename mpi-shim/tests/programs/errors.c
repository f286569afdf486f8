/* errors.c: environment and error handling: Initialized/Finalized before and after,
 * Init_thread(MPI_THREAD_FUNNELED), Query_thread, Is_thread_main, Get_version,
 * Get_library_version, Get_processor_name, Wtime, Wtick; MPI_ERRORS_RETURN on
 * MPI_COMM_WORLD (and MPI_COMM_SELF) and the error class of invalid calls
 * (MPI_Error_class), MPI_Error_string, Comm_get_errhandler, a user error handler.
 * Any number of ranks. Prints nothing implementation-specific (no thread level, no
 * error texts, no names). */
#define _POSIX_C_SOURCE 200809L
#include "mt.h"

#include <time.h>

static const char *class_name(int c)
{
    switch (c) {
    case MPI_SUCCESS: return "MPI_SUCCESS";
    case MPI_ERR_RANK: return "MPI_ERR_RANK";
    case MPI_ERR_TAG: return "MPI_ERR_TAG";
    case MPI_ERR_COMM: return "MPI_ERR_COMM";
    case MPI_ERR_COUNT: return "MPI_ERR_COUNT";
    case MPI_ERR_TYPE: return "MPI_ERR_TYPE";
    case MPI_ERR_TRUNCATE: return "MPI_ERR_TRUNCATE";
    case MPI_ERR_ROOT: return "MPI_ERR_ROOT";
    case MPI_ERR_OP: return "MPI_ERR_OP";
    case MPI_ERR_BUFFER: return "MPI_ERR_BUFFER";
    case MPI_ERR_ARG: return "MPI_ERR_ARG";
    case MPI_ERR_OTHER: return "MPI_ERR_OTHER";
    case MPI_ERR_INTERN: return "MPI_ERR_INTERN";
    case MPI_ERR_REQUEST: return "MPI_ERR_REQUEST";
    default: return "(another class)";
    }
}

/* rc must be an error of class want; its string must be non-empty. */
static void expect(const char *what, int rc, int want)
{
    int cls = -1, len = -1;
    char msg[MPI_MAX_ERROR_STRING];
    CHECKF(rc != MPI_SUCCESS, "%s: returned MPI_SUCCESS, want %s", what, class_name(want));
    MPI_OK(MPI_Error_class(rc, &cls));
    CHECKF(cls == want, "%s: error class %d (%s), want %s", what, cls, class_name(cls), class_name(want));
    msg[0] = 0;
    MPI_OK(MPI_Error_string(rc, msg, &len));
    CHECKF(len > 0 && len < MPI_MAX_ERROR_STRING && (size_t)len == strlen(msg), "%s: error string of length %d",
           what, len);
    out("  %-40s %s\n", what, class_name(cls));
}

static int handler_calls = 0, handler_last = MPI_SUCCESS;
static void my_handler(MPI_Comm *comm, int *code, ...)
{
    (void)comm;
    handler_calls++;
    handler_last = *code;
}

int main(int argc, char **argv)
{
    int flag = -1, provided = -1, q = -1;
    MPI_OK(MPI_Initialized(&flag));
    CHECK(flag == 0);
    const int init_before = flag;
    MPI_OK(MPI_Finalized(&flag));
    CHECK(flag == 0);
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    mt_init();
    const int P = mt_size, me = mt_rank;
    out("errors: %d ranks\n", P);
    MPI_OK(MPI_Initialized(&flag));
    CHECK(flag == 1);
    out("initialized: before init %d, after init %d\n", init_before, flag);
    MPI_OK(MPI_Finalized(&flag));
    CHECK(flag == 0);

    /* Thread level: any valid level (implementations differ); Query_thread agrees. */
    CHECK(MPI_THREAD_SINGLE < MPI_THREAD_FUNNELED && MPI_THREAD_FUNNELED < MPI_THREAD_SERIALIZED &&
          MPI_THREAD_SERIALIZED < MPI_THREAD_MULTIPLE);
    CHECKF(provided >= MPI_THREAD_SINGLE && provided <= MPI_THREAD_MULTIPLE, "provided %d", provided);
    MPI_OK(MPI_Query_thread(&q));
    CHECKF(q == provided, "Query_thread %d, Init_thread provided %d", q, provided);
    MPI_OK(MPI_Is_thread_main(&flag));
    CHECK(flag);

    int v = -1, sv = -1, len = -1;
    MPI_OK(MPI_Get_version(&v, &sv));
    CHECKF(v == MPI_VERSION && sv == MPI_SUBVERSION, "Get_version %d.%d, header %d.%d", v, sv, MPI_VERSION,
           MPI_SUBVERSION);
    out("version %d.%d\n", v, sv);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    MPI_OK(MPI_Get_library_version(lib, &len));
    CHECK(len > 0 && len < MPI_MAX_LIBRARY_VERSION_STRING);
    char name[MPI_MAX_PROCESSOR_NAME];
    MPI_OK(MPI_Get_processor_name(name, &len));
    CHECKF(len > 0 && len < MPI_MAX_PROCESSOR_NAME && (size_t)len == strlen(name), "processor name length %d", len);

    /* Wtime: monotonic, in seconds; Wtick positive. */
    double prev = MPI_Wtime();
    const double t0 = prev;
    for (int i = 0; i < 10000; i++) {
        const double t = MPI_Wtime();
        CHECKF(t >= prev, "MPI_Wtime went back: %.9f after %.9f", t, prev);
        prev = t;
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    const double dt = MPI_Wtime() - t0, tick = MPI_Wtick();
    CHECKF(dt >= 0.015 && dt < 10, "MPI_Wtime over a 20 ms sleep: %g s", dt);
    CHECKF(tick > 0 && tick < 1, "MPI_Wtick %g", tick);
    out("wtime monotonic, wtick > 0: yes\n");

    /* Error handlers. */
    MPI_Errhandler eh = MPI_ERRHANDLER_NULL;
    MPI_OK(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &eh));
    CHECKF(eh == MPI_ERRORS_ARE_FATAL, "default error handler of MPI_COMM_WORLD is not MPI_ERRORS_ARE_FATAL");
    MPI_OK(MPI_Errhandler_free(&eh));
    CHECK(eh == MPI_ERRHANDLER_NULL);
    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN));
    MPI_OK(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &eh));
    CHECK(eh == MPI_ERRORS_RETURN);
    MPI_OK(MPI_Errhandler_free(&eh));

    int cls = -1;
    MPI_OK(MPI_Error_class(MPI_SUCCESS, &cls));
    CHECK(cls == MPI_SUCCESS);
    const int classes[] = {MPI_ERR_RANK, MPI_ERR_TAG, MPI_ERR_COMM, MPI_ERR_COUNT, MPI_ERR_TYPE, MPI_ERR_TRUNCATE,
                           MPI_ERR_ROOT, MPI_ERR_OP};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        MPI_OK(MPI_Error_class(classes[i], &cls));
        CHECK(cls == classes[i] && classes[i] > MPI_SUCCESS && classes[i] <= MPI_ERR_LASTCODE);
        MPI_OK(MPI_Error_string(classes[i], name, &len));
        CHECK(len > 0 && (size_t)len == strlen(name));
    }

    out("error classes with MPI_ERRORS_RETURN:\n");
    int x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8];
    MPI_Request rq = MPI_REQUEST_NULL;
    expect("Send to rank = size", MPI_Send(x, 1, MPI_INT, P, 0, MPI_COMM_WORLD), MPI_ERR_RANK);
    expect("Send to rank -7", MPI_Send(x, 1, MPI_INT, -7, 0, MPI_COMM_WORLD), MPI_ERR_RANK);
    expect("Recv from rank = size", MPI_Recv(y, 1, MPI_INT, P, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE), MPI_ERR_RANK);
    expect("Isend with tag -5", MPI_Isend(x, 1, MPI_INT, me, -5, MPI_COMM_WORLD, &rq), MPI_ERR_TAG);
    expect("Irecv with tag -5", MPI_Irecv(y, 1, MPI_INT, me, -5, MPI_COMM_WORLD, &rq), MPI_ERR_TAG);
    expect("Send on MPI_COMM_NULL", MPI_Send(x, 1, MPI_INT, 0, 0, MPI_COMM_NULL), MPI_ERR_COMM);
    expect("Comm_size of MPI_COMM_NULL", MPI_Comm_size(MPI_COMM_NULL, &v), MPI_ERR_COMM);
    expect("Isend with count -1", MPI_Isend(x, -1, MPI_INT, me, 0, MPI_COMM_WORLD, &rq), MPI_ERR_COUNT);
    expect("Isend of MPI_DATATYPE_NULL", MPI_Isend(x, 1, MPI_DATATYPE_NULL, me, 0, MPI_COMM_WORLD, &rq),
           MPI_ERR_TYPE);
    MPI_OK(MPI_Isend(x, 4, MPI_INT, me, 11, MPI_COMM_WORLD, &rq));
    expect("Recv of 4 ints into 2", MPI_Recv(y, 2, MPI_INT, me, 11, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
           MPI_ERR_TRUNCATE);
    MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    expect("Bcast with root = size", MPI_Bcast(x, 1, MPI_INT, P, MPI_COMM_WORLD), MPI_ERR_ROOT);
    expect("Reduce with root = size + 1", MPI_Reduce(x, y, 1, MPI_INT, MPI_SUM, P + 1, MPI_COMM_WORLD), MPI_ERR_ROOT);
    expect("Allreduce with MPI_OP_NULL", MPI_Allreduce(x, y, 1, MPI_INT, MPI_OP_NULL, MPI_COMM_WORLD), MPI_ERR_OP);

    /* The communicator still works. */
    int one = 1, sum = 0;
    MPI_OK(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    CHECK(sum == P);

    /* A user error handler on a duplicate: called with the error code, then the call
     * returns that code. */
    MPI_Comm dup;
    MPI_Errhandler mine;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    MPI_OK(MPI_Comm_create_errhandler(my_handler, &mine));
    MPI_OK(MPI_Comm_set_errhandler(dup, mine));
    MPI_OK(MPI_Errhandler_free(&mine));
    CHECK(mine == MPI_ERRHANDLER_NULL);
    const int rc = MPI_Send(x, 1, MPI_INT, P + 3, 0, dup);
    CHECKF(handler_calls == 1 && handler_last == rc, "user handler: %d calls", handler_calls);
    expect("Send to rank = size + 3 (user handler)", rc, MPI_ERR_RANK);
    MPI_OK(MPI_Comm_free(&dup));

    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_ARE_FATAL));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_Finalize();
    /* After MPI_Finalize: no MPI_Abort any more, plain exit status. */
    int still = 0;
    MPI_Finalized(&flag);
    MPI_Initialized(&still);
    if (flag != 1 || still != 1) {
        fprintf(stderr, "FAIL rank %d: after MPI_Finalize: Finalized %d Initialized %d\n", me, flag, still);
        return 1;
    }
    if (me == 0) {
        printf("finalized: after finalize %d, initialized still %d\n", flag, still);
        printf("errors: done\n");
    }
    return 0;
}
