// The collectives from C++: std::vector buffers, a captureless lambda as a user op
// with a context object, FMI_IN_PLACE, and a split communicator.
#include <fmi.h>

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <vector>

static int failures = 0;
#define EXPECT(cond, what)                                                             \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            std::fprintf(stderr, "coll_cxx FAIL %s:%d: %s (last error: %s)\n", __FILE__, \
                         __LINE__, what, FMI_Last_error());                            \
            failures++;                                                                \
        }                                                                              \
    } while (0)

struct Counter {
    long calls = 0;
};

int main()
{
    FMI_Comm world = nullptr;
    if (FMI_Comm_from_env(&world) != FMI_SUCCESS) {
        std::fprintf(stderr, "coll_cxx FAIL: FMI_Comm_from_env: %s\n", FMI_Last_error());
        return 1;
    }
    int rank = 0, size = 0;
    FMI_Comm_rank(world, &rank);
    FMI_Comm_size(world, &size);

    // allreduce of doubles, then the same in place
    std::vector<double> x(1000), y(1000);
    std::iota(x.begin(), x.end(), double(rank));
    EXPECT(FMI_Allreduce(x.data(), y.data(), x.size(), FMI_DOUBLE, FMI_SUM, world) == FMI_SUCCESS, "allreduce");
    bool good = true;
    for (size_t i = 0; i < y.size(); i++)
        good = good && y[i] == double(size) * double(i) + double(size * (size - 1) / 2);
    EXPECT(good, "allreduce sum");

    // a user op from a lambda: max of absolute values, counting calls in ctx
    Counter counter;
    FMI_Op absmax = -1;
    auto fn = [](const void *in, void *inout, size_t n, FMI_Datatype, void *ctx) {
        auto a = static_cast<const int32_t *>(in);
        auto b = static_cast<int32_t *>(inout);
        for (size_t i = 0; i < n; i++) {
            int32_t p = a[i] < 0 ? -a[i] : a[i], q = b[i] < 0 ? -b[i] : b[i];
            b[i] = p > q ? p : q;
        }
        static_cast<Counter *>(ctx)->calls++;
    };
    EXPECT(FMI_Op_create(fn, 1, 1, &counter, &absmax) == FMI_SUCCESS, "op create");
    std::vector<int32_t> v{-rank, rank * 2, rank % 2 ? -7 : 7};
    EXPECT(FMI_Allreduce(FMI_IN_PLACE, v.data(), v.size(), FMI_INT32, absmax, world) == FMI_SUCCESS, "user allreduce");
    EXPECT(v[0] == size - 1 && v[1] == 2 * (size - 1) && v[2] == 7, "user allreduce result");
    long calls = counter.calls; // ranks folded into a partner need not call it
    FMI_Allreduce(FMI_IN_PLACE, &calls, 1, FMI_INT64, FMI_SUM, world);
    EXPECT(size == 1 || calls > 0, "user function called");
    EXPECT(FMI_Op_free(&absmax) == FMI_SUCCESS, "op free");

    // bcast and alltoall of bytes
    std::vector<unsigned char> msg(70000, 0);
    if (rank == size - 1)
        for (size_t i = 0; i < msg.size(); i++)
            msg[i] = static_cast<unsigned char>(i * 13);
    EXPECT(FMI_Bcast(msg.data(), msg.size(), FMI_BYTE, size - 1, world) == FMI_SUCCESS, "bcast");
    good = true;
    for (size_t i = 0; i < msg.size(); i++)
        good = good && msg[i] == static_cast<unsigned char>(i * 13);
    EXPECT(good, "bcast data");

    std::vector<int16_t> s(size), r(size);
    for (int j = 0; j < size; j++)
        s[j] = static_cast<int16_t>(rank * 100 + j);
    EXPECT(FMI_Alltoall(s.data(), r.data(), 1, FMI_INT16, world) == FMI_SUCCESS, "alltoall");
    for (int j = 0; j < size; j++)
        EXPECT(r[j] == j * 100 + rank, "alltoall data");

    // a dup communicator
    FMI_Comm dup = nullptr;
    EXPECT(FMI_Comm_dup(world, &dup) == FMI_SUCCESS, "dup");
    std::vector<uint64_t> all(size);
    uint64_t mine = 1000 + rank;
    EXPECT(FMI_Allgather(&mine, all.data(), 1, FMI_UINT64, dup) == FMI_SUCCESS, "allgather");
    for (int j = 0; j < size; j++)
        EXPECT(all[j] == 1000u + unsigned(j), "allgather data");
    FMI_Comm_free(&dup);

    long total = failures;
    FMI_Allreduce(FMI_IN_PLACE, &total, 1, FMI_INT64, FMI_SUM, world);
    FMI_Comm_free(&world);
    if (rank == 0)
        std::printf("coll_cxx: %s: %d ranks, %ld failures\n", total ? "FAILED" : "PASSED", size, total);
    return failures ? 1 : 0;
}
