// fmi.hpp errors: every failure is an fmi::Error (a std::runtime_error) with the FMI
// code, the library's message and the call in what(); bad ranks, tags, roots, hints,
// ops and sizes give FMI_ERR_ARG, a message larger than the buffer FMI_ERR_TRUNCATE
// (from recv, wait, test and wait_all), a bad config file FMI_ERR_CONFIG; an exception
// thrown by a user reduction comes out of the collective on that rank; and the
// communicator keeps working after each of them.
#include "check.hpp"

#include <cstdio>
#include <stdlib.h> // mkstemp
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int left = 0, right = 0;

void test_error_object(const fmi::Communicator &comm) {
    try {
        comm.send(1, comm.size(), 0);
        CHECK(false, "send to rank size() did not throw");
    } catch (const std::runtime_error &e) { // fmi::Error is a std::runtime_error
        const auto *fe = dynamic_cast<const fmi::Error *>(&e);
        CHECK(fe != nullptr, "not an fmi::Error: %s", e.what());
        if (fe) {
            CHECK(fe->code() == FMI_ERR_ARG, "code %d", fe->code());
            CHECK(!fe->message().empty(), "empty message");
            const std::string w = e.what();
            CHECK(w.find("FMI_Send") != std::string::npos, "what() does not name the call: %s", w.c_str());
            std::string detail = fe->message(); // what() does not repeat the call's name
            if (detail.rfind("FMI_Send: ", 0) == 0)
                detail = detail.substr(10);
            CHECK(w.find(detail) != std::string::npos, "what() lacks the message: %s", w.c_str());
            CHECK(w.rfind("FMI_Send: ", 0) == 0 && w.find("FMI_Send", 1) == std::string::npos,
                  "what() should name the call once, first: %s", w.c_str());
            CHECK(w.find(fmi::error_string(FMI_ERR_ARG)) != std::string::npos,
                  "what() lacks the code's text: %s", w.c_str());
            fmi::Error copy = *fe; // copies keep code and message
            CHECK(copy.code() == fe->code() && copy.message() == fe->message(), "copied error");
        }
    }
    fmi::Error own(FMI_ERR_TIMEOUT, "mine", "detail");
    CHECK(own.code() == FMI_ERR_TIMEOUT && own.message() == "detail" &&
              std::string(own.what()).find("mine") == 0,
          "constructed error: %s", own.what());
}

void test_arguments(const fmi::Communicator &comm) {
    const int n = comm.size();
    int v = 0;
    std::vector<int> vec(4);
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.send(v, n, 0));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.send(v, -7, 0));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.send(vec, right, -5));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.recv(v, n + 3, 0));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.isend(vec, n, 0));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.irecv(vec, n, 0));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.probe(n, 0));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.set_hint(static_cast<fmi::Hint>(7)));
    NO_THROW(comm.set_hint(fmi::Hint::cheap));
    NO_THROW(comm.set_hint(fmi::Hint::fast));
    // collectives whose arguments every rank gets wrong in the same way
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.bcast(v, n));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.reduce(v, v, fmi::Op::sum, -1));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.allreduce(1.5, fmi::Op::bxor)); // bitwise on double
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.allreduce(v, static_cast<fmi::Op>(55)));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.gather(v, n));
    // sizes the wrapper checks before calling FMI
    std::vector<int> small(std::size_t(n) - 1);
    if (n > 1) {
        std::vector<int> odd(std::size_t(n) + 1);
        EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.alltoall(odd, odd));
        EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.allgather(fmi::in_place, odd));
        EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.reduce_scatter_block(fmi::in_place, odd, fmi::Op::sum));
    }
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.allgather(v, small)); // n - 1 < n
    std::vector<double> two(2), one(1);
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.allreduce(two, one, fmi::Op::sum));
    std::vector<std::size_t> counts(std::size_t(n) + 1, 1);
    std::vector<int> out(std::size_t(n) + 1);
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.allgatherv(v, out, counts)); // one count too many
    std::vector<std::size_t> ones(std::size_t(n), 1), far(std::size_t(n), 1000);
    EXPECT_FMI_ERROR(FMI_ERR_ARG, comm.allgatherv(v, out, ones, far)); // outside the buffer
    // still usable
    NO_THROW(comm.barrier());
    CHECK(comm.allreduce(1, fmi::Op::sum) == n, "allreduce after the errors");
}

void test_truncation(const fmi::Communicator &comm) {
    std::vector<int> ten(10), five(5, -1);
    for (int i = 0; i < 10; i++)
        ten[std::size_t(i)] = comm.rank() * 100 + i;
    // blocking recv
    fmi::Request s = comm.isend(ten, right, 1);
    EXPECT_FMI_ERROR(FMI_ERR_TRUNCATE, comm.recv(five, left, 1));
    s.wait();
    CHECK(five[0] == left * 100 && five[4] == left * 100 + 4, "truncated recv keeps the first part");
    // the next message still arrives
    s = comm.isend(ten, right, 2);
    std::vector<int> all(10);
    NO_THROW(comm.recv(all, left, 2));
    s.wait();
    CHECK(all[9] == left * 100 + 9, "message after a truncation");
    // recv<T>() of a larger message
    const double dd[2] = {1.0, 2.0};
    s = comm.isend(dd, right, 3);
    EXPECT_FMI_ERROR(FMI_ERR_TRUNCATE, comm.recv<double>(left, 3));
    s.wait();
    // irecv + wait: the request is inactive afterwards
    fmi::Request r = comm.irecv(five, left, 4);
    s = comm.isend(ten, right, 4);
    EXPECT_FMI_ERROR(FMI_ERR_TRUNCATE, r.wait());
    CHECK(!r.active(), "request active after a failed wait");
    s.wait();
    // irecv + test
    r = comm.irecv(five, left, 5);
    s = comm.isend(ten, right, 5);
    bool thrown = false, completed = false;
    double t0 = fmi::wtime();
    while (!thrown && !completed && fmi::wtime() - t0 < 60) {
        try {
            completed = r.test().has_value();
        } catch (const fmi::Error &e) {
            thrown = true;
            CHECK(e.code() == FMI_ERR_TRUNCATE, "test() threw code %d", e.code());
        }
    }
    CHECK(!completed, "test() completed a truncated receive without an error");
    CHECK(thrown && !r.active(), "test() on a truncated receive");
    s.wait();
    // wait_all: one of three fails, all complete, the error is the truncation
    std::vector<int> a(10), b(5), c(10);
    std::vector<fmi::Request> reqs;
    reqs.push_back(comm.irecv(a, left, 6));
    reqs.push_back(comm.irecv(b, left, 7));
    reqs.push_back(comm.irecv(c, left, 8));
    std::vector<fmi::Request> sends;
    for (int tag = 6; tag <= 8; tag++)
        sends.push_back(comm.isend(ten, right, tag));
    EXPECT_FMI_ERROR(FMI_ERR_TRUNCATE, fmi::wait_all(reqs));
    CHECK(!reqs[0].active() && !reqs[1].active() && !reqs[2].active(), "wait_all left requests active");
    CHECK(a[9] == left * 100 + 9 && c[9] == left * 100 + 9, "wait_all: the good receives completed");
    NO_THROW(fmi::wait_all(sends));
    comm.barrier();
}

void test_user_op_exception(const fmi::Communicator &comm) {
    // a reduction that throws on every call: the exception comes out of the
    // collective on every rank that called it (at least one, with 2 or more ranks)
    fmi::Function<int> bad([](int, int) -> int { throw std::domain_error("no reduction today"); },
                           true, true);
    int threw = 0;
    try {
        (void)comm.allreduce(std::vector<int>(100, 1), bad);
    } catch (const std::domain_error &e) {
        threw = 1;
        CHECK(std::string(e.what()) == "no reduction today", "rethrown: %s", e.what());
    } catch (const std::exception &e) {
        CHECK(false, "wrong exception from a throwing reduction: %s", e.what());
    }
    const int ranks_threw = comm.allreduce(threw, fmi::Op::sum);
    CHECK(comm.size() == 1 || ranks_threw >= 1, "no rank saw the reduction's exception");
    // no stale exception: the next reduction with a good op is fine
    NO_THROW(CHECK(comm.allreduce(2, fmi::Op::sum) == 2 * comm.size(), "allreduce after a throw"));
    fmi::UserOp<int> good([](int a, int b) { return a + b; }, true, true);
    NO_THROW(CHECK(comm.allreduce(3, good) == 3 * comm.size(), "user allreduce after a throw"));
}

void test_construction() {
    EXPECT_FMI_ERROR(FMI_ERR_ARG, fmi::Communicator(5, 2));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, fmi::Communicator(0, 0));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, fmi::Communicator(-1, 3, "", "x"));
    EXPECT_FMI_ERROR(FMI_ERR_CONFIG,
                     fmi::Communicator(0, 1, "/nonexistent/fmi-cpp-test.json", "cpp-errors-cfg"));
    // a malformed JSON file
    char path[] = "/tmp/fmi-cpp-errors-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "w");
        std::fputs("{\"backends\": {\"Direct\": {\"host\": ", f);
        std::fclose(f);
        EXPECT_FMI_ERROR(FMI_ERR_CONFIG, fmi::Communicator(0, 1, path, "cpp-errors-cfg"));
        std::remove(path);
    }
    // an empty communicator
    fmi::Communicator empty;
    CHECK(!empty.valid() && !empty && empty.native() == nullptr, "default communicator not empty");
    EXPECT_FMI_ERROR(FMI_ERR_ARG, (void)empty.rank());
    EXPECT_FMI_ERROR(FMI_ERR_ARG, (void)empty.size());
    EXPECT_FMI_ERROR(FMI_ERR_ARG, empty.barrier());
    EXPECT_FMI_ERROR(FMI_ERR_ARG, empty.send(1, 0, 0));
    EXPECT_FMI_ERROR(FMI_ERR_ARG, (void)empty.dup());
    NO_THROW(empty.free()); // freeing an empty communicator is a no-op
}

} // namespace

int main() {
    return t::run("cpp_errors", [](fmi::Communicator &comm) {
        left = (comm.rank() + comm.size() - 1) % comm.size();
        right = (comm.rank() + 1) % comm.size();
        test_error_object(comm);
        test_arguments(comm);
        test_truncation(comm);
        test_user_op_exception(comm);
        test_construction();
        comm.barrier();
    });
}
