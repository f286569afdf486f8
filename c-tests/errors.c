/* Argument errors: every bad call returns FMI_ERR_ARG quickly (no hang, no crash) with a
 * non-empty FMI_Last_error(); error strings; FMI_Wtime; and the library still works
 * after all of that. */
#include "fmi_test.h"

#include <limits.h>
#include <unistd.h>

static FMI_Comm world;

#define EXPECT_ARG(call)                                                            \
    do {                                                                           \
        if (EXPECT_RC(FMI_ERR_ARG, call))                                          \
            CHECK_LAST_ERROR_SET(#call);                                           \
    } while (0)

static void test_bad_buffers(void)
{
    FMI_Request req = FMI_REQUEST_NULL;
    int buf[4] = {0};
    int right = (g_rank + 1) % g_size;
    EXPECT_ARG(FMI_Send(NULL, 10, FMI_BYTE, right, 1, world));
    EXPECT_ARG(FMI_Isend(NULL, 1, FMI_INT32, right, 1, world, &req));
    EXPECT_ARG(FMI_Recv(NULL, 10, FMI_BYTE, right, 1, world, NULL));
    EXPECT_ARG(FMI_Irecv(NULL, 3, FMI_DOUBLE, right, 1, world, &req));
    EXPECT_ARG(FMI_Sendrecv(NULL, 1, right, 1, buf, 1, right, 1, FMI_INT32, world, NULL));
    EXPECT_ARG(FMI_Sendrecv(buf, 1, right, 1, NULL, 1, right, 1, FMI_INT32, world, NULL));
    CHECK(req == FMI_REQUEST_NULL, "a failed Isend/Irecv produced a request");

    /* a NULL buffer with count 0 is fine */
    {
        FMI_Status st;
        OK(FMI_Irecv(NULL, 0, FMI_BYTE, g_rank, 2, world, &req));
        OK(FMI_Send(NULL, 0, FMI_BYTE, g_rank, 2, world));
        OK(FMI_Wait(&req, &st));
        CHECK(st.bytes == 0 && st.source == g_rank, "empty message to self: bytes %zu source %d",
              st.bytes, st.source);
    }
}

static void test_bad_ranks(void)
{
    int buf[4] = {0};
    int flag = 0;
    FMI_Request req = FMI_REQUEST_NULL;
    FMI_Status st;
    int bad_neg = (FMI_ANY_SOURCE == -3) ? -4 : -3;

    EXPECT_ARG(FMI_Send(buf, 1, FMI_INT32, g_size, 1, world));
    EXPECT_ARG(FMI_Send(buf, 1, FMI_INT32, g_size + 100, 1, world));
    EXPECT_ARG(FMI_Send(buf, 1, FMI_INT32, bad_neg, 1, world));
    EXPECT_ARG(FMI_Send(buf, 1, FMI_INT32, FMI_ANY_SOURCE, 1, world)); /* not a destination */
    EXPECT_ARG(FMI_Send(buf, 1, FMI_INT32, INT_MAX, 1, world));
    EXPECT_ARG(FMI_Isend(buf, 1, FMI_INT32, g_size, 1, world, &req));
    EXPECT_ARG(FMI_Recv(buf, 1, FMI_INT32, g_size, 1, world, &st));
    EXPECT_ARG(FMI_Recv(buf, 1, FMI_INT32, bad_neg, 1, world, &st));
    EXPECT_ARG(FMI_Irecv(buf, 1, FMI_INT32, g_size + 7, 1, world, &req));
    EXPECT_ARG(FMI_Probe(g_size, 1, world, &st));
    EXPECT_ARG(FMI_Iprobe(g_size, 1, world, &flag, &st));
    EXPECT_ARG(FMI_Sendrecv(buf, 1, g_size, 1, buf + 1, 1, 0, 1, FMI_INT32, world, &st));
    EXPECT_ARG(FMI_Sendrecv(buf, 1, 0, 1, buf + 1, 1, g_size, 1, FMI_INT32, world, &st));
    CHECK(req == FMI_REQUEST_NULL, "a failed Isend/Irecv produced a request");
}

static void test_bad_datatypes_tags(void)
{
    int buf[4] = {0};
    FMI_Request req = FMI_REQUEST_NULL;
    int bad_tag = (FMI_ANY_TAG == -7) ? -8 : -7;
    EXPECT_ARG(FMI_Send(buf, 1, (FMI_Datatype)999, g_rank, 1, world));
    EXPECT_ARG(FMI_Send(buf, 1, (FMI_Datatype)-1, g_rank, 1, world));
    EXPECT_ARG(FMI_Isend(buf, 1, (FMI_Datatype)999, g_rank, 1, world, &req));
    EXPECT_ARG(FMI_Recv(buf, 1, (FMI_Datatype)999, g_rank, 1, world, NULL));
    EXPECT_ARG(FMI_Irecv(buf, 1, (FMI_Datatype)999, g_rank, 1, world, &req));
    EXPECT_ARG(FMI_Sendrecv(buf, 1, g_rank, 1, buf + 1, 1, g_rank, 1, (FMI_Datatype)999, world, NULL));

    EXPECT_ARG(FMI_Send(buf, 1, FMI_INT32, g_rank, bad_tag, world));
    EXPECT_ARG(FMI_Send(buf, 1, FMI_INT32, g_rank, FMI_ANY_TAG, world)); /* wildcard is receive-only */
    EXPECT_ARG(FMI_Isend(buf, 1, FMI_INT32, g_rank, bad_tag, world, &req));
    EXPECT_ARG(FMI_Sendrecv(buf, 1, g_rank, bad_tag, buf + 1, 1, g_rank, 1, FMI_INT32, world, NULL));
    CHECK(req == FMI_REQUEST_NULL, "a failed Isend/Irecv produced a request");
}

static void test_overflow(void)
{
    int buf[4] = {0};
    FMI_Request req = FMI_REQUEST_NULL;
    EXPECT_ARG(FMI_Send(buf, SIZE_MAX, FMI_INT32, g_rank, 1, world));
    EXPECT_ARG(FMI_Recv(buf, SIZE_MAX, FMI_INT32, g_rank, 1, world, NULL));
    EXPECT_ARG(FMI_Isend(buf, SIZE_MAX / 8 + 1, FMI_INT64, g_rank, 1, world, &req));
    EXPECT_ARG(FMI_Irecv(buf, SIZE_MAX / 2 + 1, FMI_UINT16, g_rank, 1, world, &req));
    CHECK(req == FMI_REQUEST_NULL, "a failed Isend/Irecv produced a request");
}

static void test_null_handles(void)
{
    int buf[4] = {0}, r = -1, flag = 0;
    FMI_Comm out = NULL, nullcomm = NULL;
    FMI_Request req = FMI_REQUEST_NULL;
    FMI_Status st;

    EXPECT_ARG(FMI_Send(buf, 1, FMI_INT32, 0, 1, NULL));
    EXPECT_ARG(FMI_Recv(buf, 1, FMI_INT32, 0, 1, NULL, &st));
    EXPECT_ARG(FMI_Isend(buf, 1, FMI_INT32, 0, 1, NULL, &req));
    EXPECT_ARG(FMI_Irecv(buf, 1, FMI_INT32, 0, 1, NULL, &req));
    EXPECT_ARG(FMI_Probe(0, 1, NULL, &st));
    EXPECT_ARG(FMI_Iprobe(0, 1, NULL, &flag, &st));
    EXPECT_ARG(FMI_Comm_rank(NULL, &r));
    EXPECT_ARG(FMI_Comm_size(NULL, &r));
    EXPECT_ARG(FMI_Barrier(NULL));
    EXPECT_ARG(FMI_Comm_dup(NULL, &out));
    EXPECT_ARG(FMI_Comm_split(NULL, 0, 0, &out));
    EXPECT_ARG(FMI_Comm_set_hint(NULL, FMI_HINT_FAST));
    EXPECT_ARG(FMI_Comm_free(NULL));
    EXPECT_ARG(FMI_Comm_free(&nullcomm));

    /* NULL out-pointers */
    EXPECT_ARG(FMI_Comm_rank(world, NULL));
    EXPECT_ARG(FMI_Comm_size(world, NULL));
    EXPECT_ARG(FMI_Comm_dup(world, NULL));
    EXPECT_ARG(FMI_Comm_split(world, 0, 0, NULL));
    EXPECT_ARG(FMI_Iprobe(0, 1, world, NULL, &st));
    EXPECT_ARG(FMI_Comm_from_env(NULL));

    /* NULL request pointers */
    EXPECT_ARG(FMI_Isend(buf, 1, FMI_INT32, g_rank, 1, world, NULL));
    EXPECT_ARG(FMI_Irecv(buf, 1, FMI_INT32, g_rank, 1, world, NULL));
    EXPECT_ARG(FMI_Wait(NULL, &st));
    EXPECT_ARG(FMI_Test(NULL, &flag, &st));
    EXPECT_ARG(FMI_Waitall(3, NULL, NULL));
    CHECK(out == NULL && req == FMI_REQUEST_NULL, "a failed call wrote an output handle");
}

static void test_bad_create(void)
{
    FMI_Comm c = NULL;
    EXPECT_ARG(FMI_Comm_create(3, 3, "fmi-errors-test", NULL, &c));
    EXPECT_ARG(FMI_Comm_create(7, 2, "fmi-errors-test", NULL, &c));
    EXPECT_ARG(FMI_Comm_create(-1, 3, "fmi-errors-test", NULL, &c));
    EXPECT_ARG(FMI_Comm_create(0, 0, "fmi-errors-test", NULL, &c));
    EXPECT_ARG(FMI_Comm_create(0, -2, "fmi-errors-test", NULL, &c));
    EXPECT_ARG(FMI_Comm_create(0, 1, "fmi-errors-test", NULL, NULL));
    CHECK(c == NULL, "a failed FMI_Comm_create produced a communicator");
}

/* A malformed configuration file: FMI_ERR_CONFIG naming the file's line, and a file
 * in the original FMI's shape with a wrong type: the same. */
static void test_bad_config(void)
{
    static const char *bad[] = {
        "{\n  \"backends\": {\n    \"Redis\": { \"host\": \"h\" \"port\": 1 }\n  }\n}\n",
        "{\n  \"backends\": {\n    \"Redis\": {\"enabled\": true, \"host\": \"h\",\n      \"port\": \"six\"}\n  }\n}\n",
    };
    static const char *line[] = {":3:", ":4:"};
    char path[64];
    size_t i;
    for (i = 0; i < 2; i++) {
        FMI_Comm c = NULL;
        FILE *f;
        const char *le;
        snprintf(path, sizeof path, "/tmp/fmi-errors-%d-%d.json", (int)getpid(), g_rank);
        f = fopen(path, "w");
        CHECK(f != NULL, "cannot write %s", path);
        if (!f)
            return;
        fputs(bad[i], f);
        fclose(f);
        EXPECT_RC(FMI_ERR_CONFIG, FMI_Comm_create(0, 1, "fmi-errors-test", path, &c));
        le = FMI_Last_error();
        CHECK(le != NULL && strstr(le, path) && strstr(le, line[i]),
              "config error \"%s\" does not name %s%s", le ? le : "(null)", path, line[i]);
        CHECK(c == NULL, "a failed FMI_Comm_create produced a communicator");
        remove(path);
    }
}

static void test_strings_and_time(void)
{
    static const int codes[] = {FMI_SUCCESS, FMI_ERR_ARG, FMI_ERR_TIMEOUT, FMI_ERR_PEER_LOST,
                                FMI_ERR_TRUNCATE, FMI_ERR_CONNECT, FMI_ERR_AUTH, FMI_ERR_CONFIG,
                                FMI_ERR_CHANNEL, FMI_ERR_UNSUPPORTED, FMI_ERR_INTERNAL};
    size_t i, j;
    double t1, t2, prev;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = FMI_Error_string(codes[i]);
        CHECK(s != NULL && s[0] != '\0', "FMI_Error_string(%d) is empty", codes[i]);
        CHECK(i == 0 || codes[i] != FMI_SUCCESS, "error code %zu equals FMI_SUCCESS", i);
        for (j = 0; j < i; j++)
            CHECK(codes[i] != codes[j], "error codes %zu and %zu are both %d", i, j, codes[i]);
    }
    {
        const char *s = FMI_Error_string(12345);
        CHECK(s != NULL && s[0] != '\0', "FMI_Error_string(12345) is empty");
        s = FMI_Error_string(-1);
        CHECK(s != NULL, "FMI_Error_string(-1) is NULL");
    }
    CHECK(FMI_Last_error() != NULL, "FMI_Last_error() returned NULL");

    t1 = FMI_Wtime();
    sleep_ms(30);
    t2 = FMI_Wtime();
    CHECK(t2 - t1 >= 0.025 && t2 - t1 < 5.0, "FMI_Wtime: 30 ms sleep measured as %.6f s", t2 - t1);
    prev = FMI_Wtime();
    for (i = 0; i < 100000; i++) {
        double t = FMI_Wtime();
        if (t < prev) {
            CHECK(t >= prev, "FMI_Wtime went backwards: %.9f after %.9f", t, prev);
            break;
        }
        prev = t;
    }
}

/* after all the errors: no stray message, and p2p and barrier work */
static void test_still_works(void)
{
    int left = (g_rank + g_size - 1) % g_size, right = (g_rank + 1) % g_size;
    int flag = 1, v = -1, out = 4242 + g_rank;
    FMI_Status st;
    FMI_Request req;
    OK(FMI_Barrier(world));
    OK(FMI_Iprobe(FMI_ANY_SOURCE, FMI_ANY_TAG, world, &flag, &st));
    CHECK(flag == 0, "a failed call left a message behind (source %d tag %d bytes %zu)", st.source,
          st.tag, st.bytes);
    OK(FMI_Barrier(world)); /* everybody has probed before anybody sends */
    OK(FMI_Irecv(&v, 1, FMI_INT32, left, 3, world, &req));
    OK(FMI_Send(&out, 1, FMI_INT32, right, 3, world));
    OK(FMI_Wait(&req, &st));
    CHECK(v == 4242 + left && st.source == left, "ring after errors: got %d from %d", v, st.source);
    OK(FMI_Barrier(world));
}

int main(void)
{
    double t0 = FMI_Wtime();
    world = fmi_test_init("errors");
    test_bad_buffers();
    test_bad_ranks();
    test_bad_datatypes_tags();
    test_overflow();
    test_null_handles();
    test_bad_create();
    test_bad_config();
    test_strings_and_time();
    test_still_works();
    return fmi_test_finish(&world, t0);
}
