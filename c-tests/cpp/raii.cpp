// fmi.hpp ownership: communicators, requests and user ops free their handles on
// destruction, exactly once; moved-from objects are empty; free(), release() and
// adopt(); many communicators made and dropped in a loop; a pending request's
// destructor waits for it; ops registered for one call are freed after it; and the
// constructors: Communicator::from_env() (this test's world) and the original FMI's
// (peer_id, num_peers, config_path, comm_name) joining a second job.
#include "check.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

static_assert(!std::is_copy_constructible_v<fmi::Communicator>);
static_assert(!std::is_copy_assignable_v<fmi::Communicator>);
static_assert(std::is_nothrow_move_constructible_v<fmi::Communicator>);
static_assert(std::is_nothrow_move_assignable_v<fmi::Communicator>);
static_assert(!std::is_copy_constructible_v<fmi::Request>);
static_assert(std::is_nothrow_move_constructible_v<fmi::Request>);
static_assert(!std::is_copy_constructible_v<fmi::UserOp<int>>);
static_assert(std::is_nothrow_move_constructible_v<fmi::UserOp<int>>);
static_assert(std::is_nothrow_copy_constructible_v<fmi::Error>);

namespace {

int left = 0, right = 0;

void test_communicator_moves(const fmi::Communicator &world) {
    const int n = world.size();
    fmi::Communicator a = world.dup();
    FMI_Comm raw = a.native();
    CHECK(a.valid() && raw != nullptr, "dup gave an empty communicator");
    fmi::Communicator b = std::move(a);
    CHECK(!a.valid() && a.native() == nullptr && b.native() == raw, "move construction"); // NOLINT
    EXPECT_FMI_ERROR(FMI_ERR_ARG, (void)a.rank());
    EXPECT_FMI_ERROR(FMI_ERR_ARG, a.barrier());
    CHECK(b.rank() == world.rank() && b.size() == n, "moved-to communicator rank/size");
    CHECK(b.allreduce(1, fmi::Op::sum) == n, "moved-to communicator works");
    // move assignment over a live communicator frees the old one
    fmi::Communicator c = world.dup();
    c = std::move(b);
    CHECK(c.native() == raw && !b.valid(), "move assignment"); // NOLINT
    CHECK(c.allreduce(2, fmi::Op::sum) == 2 * n, "move-assigned communicator works");
    // explicit free, then the destructor does nothing
    c.free();
    CHECK(!c.valid(), "free() left the communicator valid");
    NO_THROW(c.free());
    // release and adopt
    fmi::Communicator d = world.dup();
    FMI_Comm r = d.release();
    CHECK(!d.valid() && r != nullptr, "release");
    {
        fmi::Communicator e = fmi::Communicator::adopt(r);
        CHECK(e.valid() && e.rank() == world.rank(), "adopt");
        e.barrier();
    } // e frees r here
    CHECK(!fmi::Communicator::adopt(nullptr).valid(), "adopt(nullptr)");
    // std::optional and containers of communicators
    std::vector<fmi::Communicator> many;
    for (int i = 0; i < 5; i++)
        many.push_back(world.dup());
    int sum = 0;
    for (auto &m : many)
        sum += m.allreduce(1, fmi::Op::sum);
    CHECK(sum == 5 * n, "vector of communicators");
    many.clear();
    world.barrier();
}

// Many communicators made and dropped: each one's handle is freed on the way.
void test_churn(const fmi::Communicator &world) {
    const int n = world.size();
    bool ok = true;
    for (int i = 0; i < 40; i++) {
        fmi::Communicator d = world.dup();
        std::optional<fmi::Communicator> s = d.split(world.rank() % 2, world.rank());
        ok = ok && d.allreduce(i, fmi::Op::max) == i;
        ok = ok && s && s->allreduce(1, fmi::Op::sum) == s->size();
        if (i % 10 == 0) {
            fmi::Communicator other = world.dup();
            d = std::move(other); // frees the first dup
            ok = ok && d.allreduce(1, fmi::Op::sum) == n;
        }
    }
    CHECK(ok, "dup/split churn");
    world.barrier();
}

// A request's destructor waits for the operation; so does assigning over it.
void test_request_lifetime(const fmi::Communicator &world) {
    std::vector<long> in(50000, -1), out(50000, world.rank());
    {
        fmi::Request r = world.irecv(in, left, 5);
        fmi::Request s = world.isend(out, right, 5);
        // both go out of scope pending (or maybe done): destructors wait
    }
    CHECK(in.front() == left && in.back() == left, "data after a request's destructor waited");
    // assignment over a pending request waits for the old one first
    int a = -1, b = -1;
    const int mine = world.rank();
    fmi::Request s1 = world.isend(mine, right, 6);
    fmi::Request s2 = world.isend(mine, right, 7);
    fmi::Request r = world.irecv(a, left, 6);
    r = world.irecv(b, left, 7);
    CHECK(a == left, "assignment over a pending request did not wait for it");
    r.wait();
    CHECK(b == left, "second receive");
    // release: the C handle completes with FMI_Wait
    fmi::Request s3 = world.isend(mine, right, 8);
    int c = -1;
    fmi::Request r3 = world.irecv(c, left, 8);
    FMI_Request raw = r3.release();
    CHECK(!r3.active() && raw != nullptr, "request release");
    CHECK(FMI_Wait(&raw, nullptr) == FMI_SUCCESS && raw == nullptr && c == left, "released request");
    world.barrier();
}

// User ops: freed when the UserOp goes, and a Function passed to a collective is
// registered for that call only.
void test_op_lifetime(const fmi::Communicator &world) {
    const int n = world.size();
    FMI_Op first = FMI_OP_NULL;
    {
        fmi::UserOp<int> op([](int a, int b) { return a + b; }, true, true);
        first = op.handle();
        CHECK(world.allreduce(1, op) == n, "UserOp");
        fmi::UserOp<int> moved(std::move(op));
        CHECK(op.handle() == FMI_OP_NULL && moved.handle() == first, "moved UserOp"); // NOLINT
        fmi::UserOp<int> assigned([](int a, int b) { return a * b; }, true, true);
        FMI_Op replaced = assigned.handle();
        assigned = std::move(moved); // frees `replaced`
        FMI_Op h = replaced;
        CHECK(FMI_Op_free(&h) == FMI_ERR_ARG, "op replaced by move assignment was not freed");
        CHECK(world.allreduce(2, assigned) == 2 * n, "move-assigned UserOp");
    }
    FMI_Op h = first;
    CHECK(FMI_Op_free(&h) == FMI_ERR_ARG, "UserOp destructor did not free op %d", int(first));
    // ops made for single calls (handles are handed out in increasing order)
    fmi::UserOp<int> before([](int a, int b) { return a + b; }, true, true);
    fmi::Function<int> plus([](int a, int b) { return a + b; }, true, true);
    const int calls = 10;
    for (int i = 0; i < calls; i++)
        CHECK(world.allreduce(i, plus) == i * n, "Function allreduce %d", i);
    fmi::UserOp<int> after([](int a, int b) { return a + b; }, true, true);
    CHECK(after.handle() - before.handle() == calls + 1, "ops between: %d",
          int(after.handle() - before.handle()));
    bool all_freed = true;
    for (FMI_Op k = before.handle() + 1; k < after.handle(); k++) {
        FMI_Op kk = k;
        all_freed = all_freed && FMI_Op_free(&kk) == FMI_ERR_ARG;
    }
    CHECK(all_freed, "an op registered for one call was not freed");
}

// The original FMI's constructor: rank, size, config file, communicator name. This
// joins a second job on the same rendezvous server (fmirun's environment gives its
// address and the token; the name keeps the jobs apart).
void test_original_constructor(const fmi::Communicator &world) {
    const char *job = std::getenv("FMI_JOB");
    const std::string name = std::string(job ? job : "cpp-raii") + "-second";
    {
        fmi::Communicator second(world.rank(), world.size(), "", name);
        CHECK(second.rank() == world.rank() && second.size() == world.size(),
              "second job: rank %d size %d", second.rank(), second.size());
        CHECK(second.allreduce(world.rank(), fmi::Op::max) == world.size() - 1, "second job allreduce");
        int got = second.sendrecv(world.rank(), right, left);
        CHECK(got == left, "second job sendrecv");
        second.barrier();
    }
    // with a config file in the original FMI's shape (the environment overrides it)
    char path[] = "/tmp/fmi-cpp-raii-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) {
        FILE *f = fdopen(fd, "w");
        std::fputs("{\"backends\": {\"Direct\": {\"host\": \"127.0.0.1\", \"port\": 10000, "
                   "\"max_timeout\": 60000}}}\n",
                   f);
        std::fclose(f);
        {
            fmi::Communicator third(world.rank(), world.size(), path, name + "-cfg");
            CHECK(third.allreduce(1, fmi::Op::sum) == world.size(), "job from a config file");
            third.barrier();
        }
        std::remove(path);
    }
    world.barrier();
}

} // namespace

int main() {
    return t::run(
        "cpp_raii",
        [](fmi::Communicator &world) {
            left = (world.rank() + world.size() - 1) % world.size();
            right = (world.rank() + 1) % world.size();
            test_communicator_moves(world);
            test_churn(world);
            test_request_lifetime(world);
            test_op_lifetime(world);
            test_original_constructor(world);
        },
        [] { return fmi::Communicator::from_env(); });
}
