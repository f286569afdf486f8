/* Compile-only check of include/fmi.h against the C API contract (C-API.md): every
 * function with exactly its signature, every constant, every type. Built by ctest as
 * C99 and as C++17 with -Wall -Wextra -Wpedantic -Werror, so a header that renames,
 * reshapes or warns fails a test (not the whole build). The collectives and user ops
 * are checked with -DFMI_CONTRACT_COLLECTIVES, which CMakeLists.txt adds once the
 * header declares FMI_Allreduce. */
#include <fmi.h>

#include <stddef.h>
#include <stdint.h>

#define STATIC_CHECK(name, cond) typedef char static_check_##name[(cond) ? 1 : -1]

STATIC_CHECK(success_is_zero, FMI_SUCCESS == 0);
STATIC_CHECK(any_source_negative, FMI_ANY_SOURCE < 0);
STATIC_CHECK(any_tag_negative, FMI_ANY_TAG < 0);
STATIC_CHECK(datatype_is_int32, sizeof(FMI_Datatype) == sizeof(int32_t));
STATIC_CHECK(op_is_int32, sizeof(FMI_Op) == sizeof(int32_t));
STATIC_CHECK(status_source, offsetof(FMI_Status, source) == 0);
STATIC_CHECK(status_tag, offsetof(FMI_Status, tag) == 4);
STATIC_CHECK(status_error, offsetof(FMI_Status, error) == 8);
STATIC_CHECK(status_bytes, offsetof(FMI_Status, bytes) == 16);

/* error codes, datatypes, ops and hints are integer constants usable in a switch */
int classify(int code);
int classify(int code)
{
    switch (code) {
    case FMI_SUCCESS: return 0;
    case FMI_ERR_ARG: return 1;
    case FMI_ERR_TIMEOUT: return 2;
    case FMI_ERR_PEER_LOST: return 3;
    case FMI_ERR_TRUNCATE: return 4;
    case FMI_ERR_CONNECT: return 5;
    case FMI_ERR_AUTH: return 6;
    case FMI_ERR_CONFIG: return 7;
    case FMI_ERR_CHANNEL: return 8;
    case FMI_ERR_UNSUPPORTED: return 9;
    case FMI_ERR_INTERNAL: return 10;
    default: return -1;
    }
}

int dt_index(FMI_Datatype dt);
int dt_index(FMI_Datatype dt)
{
    switch (dt) {
    case FMI_BYTE: return 0;
    case FMI_CHAR: return 1;
    case FMI_INT8: return 2;
    case FMI_UINT8: return 3;
    case FMI_INT16: return 4;
    case FMI_UINT16: return 5;
    case FMI_INT32: return 6;
    case FMI_UINT32: return 7;
    case FMI_INT64: return 8;
    case FMI_UINT64: return 9;
    case FMI_FLOAT: return 10;
    case FMI_DOUBLE: return 11;
    default: return -1;
    }
}

int op_index(FMI_Op op);
int op_index(FMI_Op op)
{
    switch (op) {
    case FMI_SUM: return 0;
    case FMI_PROD: return 1;
    case FMI_MIN: return 2;
    case FMI_MAX: return 3;
    case FMI_LAND: return 4;
    case FMI_LOR: return 5;
    case FMI_LXOR: return 6;
    case FMI_BAND: return 7;
    case FMI_BOR: return 8;
    case FMI_BXOR: return 9;
    default: return -1;
    }
}

int hint_index(int hint);
int hint_index(int hint)
{
    switch (hint) {
    case FMI_HINT_FAST: return 0;
    case FMI_HINT_CHEAP: return 1;
    default: return -1;
    }
}

static void user_fn(const void *in, void *inout, size_t count, FMI_Datatype dt, void *ctx)
{
    (void)in; (void)inout; (void)count; (void)dt; (void)ctx;
}

/* every function, assigned to a pointer of exactly the contract's type */
void take_all(void);
void take_all(void)
{
    FMI_Request r = FMI_REQUEST_NULL;
    const void *in_place = FMI_IN_PLACE;
    FMI_User_function uf = user_fn;

    int (*comm_create)(int, int, const char *, const char *, FMI_Comm *) = FMI_Comm_create;
    int (*comm_from_env)(FMI_Comm *) = FMI_Comm_from_env;
    int (*comm_rank)(FMI_Comm, int *) = FMI_Comm_rank;
    int (*comm_size)(FMI_Comm, int *) = FMI_Comm_size;
    int (*comm_dup)(FMI_Comm, FMI_Comm *) = FMI_Comm_dup;
    int (*comm_split)(FMI_Comm, int, int, FMI_Comm *) = FMI_Comm_split;
    int (*comm_set_hint)(FMI_Comm, int) = FMI_Comm_set_hint;
    int (*comm_free)(FMI_Comm *) = FMI_Comm_free;

    int (*send)(const void *, size_t, FMI_Datatype, int, int, FMI_Comm) = FMI_Send;
    int (*recv)(void *, size_t, FMI_Datatype, int, int, FMI_Comm, FMI_Status *) = FMI_Recv;
    int (*sendrecv)(const void *, size_t, int, int, void *, size_t, int, int, FMI_Datatype,
                    FMI_Comm, FMI_Status *) = FMI_Sendrecv;
    int (*isend)(const void *, size_t, FMI_Datatype, int, int, FMI_Comm, FMI_Request *) = FMI_Isend;
    int (*irecv)(void *, size_t, FMI_Datatype, int, int, FMI_Comm, FMI_Request *) = FMI_Irecv;
    int (*wait)(FMI_Request *, FMI_Status *) = FMI_Wait;
    int (*test)(FMI_Request *, int *, FMI_Status *) = FMI_Test;
    int (*waitall)(size_t, FMI_Request *, FMI_Status *) = FMI_Waitall;
    int (*probe)(int, int, FMI_Comm, FMI_Status *) = FMI_Probe;
    int (*iprobe)(int, int, FMI_Comm, int *, FMI_Status *) = FMI_Iprobe;

    int (*barrier)(FMI_Comm) = FMI_Barrier;
    const char *(*error_string)(int) = FMI_Error_string;
#ifdef FMI_CONTRACT_COLLECTIVES
    int (*bcast)(void *, size_t, FMI_Datatype, int, FMI_Comm) = FMI_Bcast;
    int (*reduce)(const void *, void *, size_t, FMI_Datatype, FMI_Op, int, FMI_Comm) = FMI_Reduce;
    int (*allreduce)(const void *, void *, size_t, FMI_Datatype, FMI_Op, FMI_Comm) = FMI_Allreduce;
    int (*scan)(const void *, void *, size_t, FMI_Datatype, FMI_Op, FMI_Comm) = FMI_Scan;
    int (*exscan)(const void *, void *, size_t, FMI_Datatype, FMI_Op, FMI_Comm) = FMI_Exscan;
    int (*rsb)(const void *, void *, size_t, FMI_Datatype, FMI_Op, FMI_Comm) = FMI_Reduce_scatter_block;
    int (*gather)(const void *, void *, size_t, FMI_Datatype, int, FMI_Comm) = FMI_Gather;
    int (*scatter)(const void *, void *, size_t, FMI_Datatype, int, FMI_Comm) = FMI_Scatter;
    int (*allgather)(const void *, void *, size_t, FMI_Datatype, FMI_Comm) = FMI_Allgather;
    int (*alltoall)(const void *, void *, size_t, FMI_Datatype, FMI_Comm) = FMI_Alltoall;
    int (*gatherv)(const void *, size_t, void *, const size_t *, const size_t *, FMI_Datatype, int,
                   FMI_Comm) = FMI_Gatherv;
    int (*scatterv)(const void *, const size_t *, const size_t *, void *, size_t, FMI_Datatype, int,
                    FMI_Comm) = FMI_Scatterv;
    int (*allgatherv)(const void *, size_t, void *, const size_t *, const size_t *, FMI_Datatype,
                      FMI_Comm) = FMI_Allgatherv;
    int (*alltoallv)(const void *, const size_t *, const size_t *, void *, const size_t *,
                     const size_t *, FMI_Datatype, FMI_Comm) = FMI_Alltoallv;

    int (*op_create)(FMI_User_function, int, int, void *, FMI_Op *) = FMI_Op_create;
    int (*op_free)(FMI_Op *) = FMI_Op_free;
#endif
    const char *(*last_error)(void) = FMI_Last_error;
    double (*wtime)(void) = FMI_Wtime;
    int (*abort_)(FMI_Comm, int) = FMI_Abort;

    (void)r; (void)in_place; (void)uf;
    (void)comm_create; (void)comm_from_env; (void)comm_rank; (void)comm_size; (void)comm_dup;
    (void)comm_split; (void)comm_set_hint; (void)comm_free; (void)send; (void)recv;
    (void)sendrecv; (void)isend; (void)irecv; (void)wait; (void)test; (void)waitall;
    (void)probe; (void)iprobe; (void)barrier; (void)error_string; (void)last_error; (void)wtime;
    (void)abort_;
#ifdef FMI_CONTRACT_COLLECTIVES
    (void)bcast; (void)reduce; (void)allreduce; (void)scan; (void)exscan; (void)rsb;
    (void)gather; (void)scatter; (void)allgather; (void)alltoall; (void)gatherv; (void)scatterv;
    (void)allgatherv; (void)alltoallv; (void)op_create; (void)op_free;
#endif
}
