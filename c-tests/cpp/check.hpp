// Checks for the C++ binding tests (fmi.hpp): every check counts a failure and goes
// on; run() builds the communicator from fmirun's environment, runs the test body,
// catches what escapes it, and prints one summary line on rank 0 (the same lines as
// the C tests, which ctest's FAIL_REGULAR_EXPRESSION watches).
#ifndef FMI_CPP_CHECK_HPP
#define FMI_CPP_CHECK_HPP

#include <fmi.hpp>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

namespace t {

inline const char *name = "cpp";
inline int rank = -1;
inline int size = 0;
inline long fails = 0;
inline long checks = 0;

inline void fail(const char *file, int line, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "[%s rank %d] FAIL %s:%d: %s\n", name, rank, file, line, msg);
    std::fflush(stderr);
    fails++;
}

} // namespace t

// CHECK(cond, printf-args)
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        t::checks++;                                                                       \
        if (!(cond)) {                                                                     \
            char check_msg_[512];                                                          \
            std::snprintf(check_msg_, sizeof check_msg_, __VA_ARGS__);                     \
            t::fail(__FILE__, __LINE__, "%s [%s]", check_msg_, #cond);                     \
        }                                                                                  \
    } while (0)

// EXPECT_FMI_ERROR(code, statement): the statement throws fmi::Error with `code`, a
// non-empty message and a what() that names the code's text.
#define EXPECT_FMI_ERROR(expected, ...)                                                    \
    do {                                                                                   \
        t::checks++;                                                                       \
        try {                                                                              \
            __VA_ARGS__;                                                                   \
            t::fail(__FILE__, __LINE__, "%s did not throw (expected code %d)", #__VA_ARGS__, \
                    int(expected));                                                        \
        } catch (const fmi::Error &e_) {                                                   \
            if (e_.code() != (expected))                                                   \
                t::fail(__FILE__, __LINE__, "%s threw code %d (%s), expected %d: %s",      \
                        #__VA_ARGS__, e_.code(), fmi::error_string(e_.code()),             \
                        int(expected), e_.what());                                         \
            else if (e_.message().empty() ||                                               \
                     std::strstr(e_.what(), fmi::error_string(e_.code())) == nullptr)      \
                t::fail(__FILE__, __LINE__, "%s: no message in the error: \"%s\"",          \
                        #__VA_ARGS__, e_.what());                                          \
        } catch (const std::exception &e_) {                                               \
            t::fail(__FILE__, __LINE__, "%s threw a non-FMI exception: %s", #__VA_ARGS__,  \
                    e_.what());                                                            \
        }                                                                                  \
    } while (0)

// NO_THROW(statement): the statement does not throw.
#define NO_THROW(...)                                                                      \
    do {                                                                                   \
        t::checks++;                                                                       \
        try {                                                                              \
            __VA_ARGS__;                                                                   \
        } catch (const std::exception &e_) {                                               \
            t::fail(__FILE__, __LINE__, "%s threw: %s", #__VA_ARGS__, e_.what());          \
        }                                                                                  \
    } while (0)

namespace t {

inline fmi::Communicator world_from_env() { return fmi::Communicator(fmi::from_env); }

// Runs body(comm) on the communicator make() returns (by default the one from the
// environment); returns main's exit code.
template <class Body, class Make = fmi::Communicator (*)()>
int run(const char *test_name, Body body, Make make = &world_from_env) {
    name = test_name;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const double t0 = fmi::wtime();
    fmi::Communicator comm;
    try {
        comm = make();
        rank = comm.rank();
        size = comm.size();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "[%s] FAIL: joining the job: %s\n", name, e.what());
        return 1;
    }
    try {
        body(comm);
    } catch (const std::exception &e) {
        fail(__FILE__, __LINE__, "uncaught exception: %s", e.what());
        std::fflush(stderr);
        return 1; // the other ranks may wait for this one: let fmirun end the job
    }
    // Collect the counts on rank 0 through the C API, independent of what is tested.
    long mine[2] = {fails, checks}, all[2] = {0, 0};
    int rc = FMI_Reduce(mine, all, 2, FMI_INT64, FMI_SUM, 0, comm.native());
    if (rc != FMI_SUCCESS)
        fail(__FILE__, __LINE__, "FMI_Reduce of the counts: %s", FMI_Last_error());
    try {
        comm.barrier();
        comm.free();
    } catch (const std::exception &e) {
        fail(__FILE__, __LINE__, "barrier/free: %s", e.what());
    }
    if (rank == 0) {
        long total = all[0] + (rc == FMI_SUCCESS ? 0 : fails);
        std::printf("%s: %s: %d ranks, %ld checks, %ld failures (%.2f s)\n", name,
                    total ? "FAILED" : "PASSED", size, all[1], total, fmi::wtime() - t0);
        std::fflush(stdout);
        return total ? 1 : 0;
    }
    return fails ? 1 : 0;
}

// Deterministic value of element i of message `seed`, as T.
template <class T>
T pat(unsigned long seed, std::size_t i) {
    unsigned long long x = seed * 0x9E3779B97F4A7C15ull + i;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    if constexpr (std::is_floating_point_v<T>)
        return static_cast<T>(static_cast<long long>(x % 2000001) - 1000000) / T(8);
    else if constexpr (std::is_same_v<T, std::byte>)
        return static_cast<std::byte>(x);
    else
        return static_cast<T>(x);
}

} // namespace t

#endif
