/* One message larger than 2^32 bytes (4.5 GiB) from rank 0 to rank 1, checked at
 * every 4096th byte and over the first and last pages. Needs 2 ranks and about 9 GiB
 * of memory; when a buffer cannot be allocated the test prints "SKIP:" and passes. */
#include "fmi_test.h"

#define BIG ((size_t)9 << 29) /* 4.5 GiB */
#define PAGE ((size_t)4096)

static unsigned char expect_at(size_t i)
{
    if (i < PAGE || i >= BIG - PAGE || i % PAGE == 0)
        return pat_byte(0xB16, i);
    return (unsigned char)0xA5;
}

/* MemAvailable in bytes, or (size_t)-1 when unknown. malloc() alone says little:
 * with overcommit it succeeds and the OOM killer strikes later. */
static size_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    size_t kb = (size_t)-1;
    if (!f)
        return (size_t)-1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1)
            break;
    fclose(f);
    return kb == (size_t)-1 ? kb : kb * 1024;
}

int main(void)
{
    double t0 = FMI_Wtime();
    FMI_Comm world = fmi_test_init("bigmsg");
    unsigned char *buf = NULL;
    int ok_here, ok_there = 0;
    size_t i;

    if (sizeof(size_t) < 8) {
        if (g_rank == 0)
            printf("bigmsg: SKIP: size_t is %zu bytes\n", sizeof(size_t));
        return 0;
    }
    if (g_size != 2) {
        if (g_rank == 0)
            fprintf(stderr, "bigmsg: run with exactly 2 ranks (have %d)\n", g_size);
        return 1;
    }

    /* both ranks usually share this host: room for two buffers and some slack */
    ok_here = mem_available() >= 2 * BIG + ((size_t)1 << 29);
    if (ok_here) {
        buf = malloc(BIG);
        ok_here = buf != NULL;
    }
    OK(FMI_Sendrecv(&ok_here, 1, 1 - g_rank, 1, &ok_there, 1, 1 - g_rank, 1, FMI_INT32, world, NULL));
    if (!ok_here || !ok_there) {
        if (g_rank == 0)
            printf("bigmsg: SKIP: not enough memory for 2 x %zu bytes (rank %d; MemAvailable %zu MiB)\n", BIG,
                   ok_here ? 1 : 0, mem_available() >> 20);
        free(buf);
        return fmi_test_finish(&world, t0);
    }

    if (g_rank == 0) {
        double t1, t2;
        memset(buf, 0xA5, BIG);
        for (i = 0; i < BIG; i += PAGE)
            buf[i] = expect_at(i);
        for (i = 0; i < PAGE; i++) {
            buf[i] = expect_at(i);
            buf[BIG - PAGE + i] = expect_at(BIG - PAGE + i);
        }
        OK(FMI_Barrier(world));
        t1 = FMI_Wtime();
        OK(FMI_Send(buf, BIG, FMI_BYTE, 1, 2, world));
        t2 = FMI_Wtime();
        printf("bigmsg: sent %zu bytes in %.2f s (%.2f GB/s)\n", BIG, t2 - t1, (double)BIG / (t2 - t1) / 1e9);
    } else {
        FMI_Status st;
        size_t bad = 0, first_bad = 0;
        memset(buf, 0, BIG);
        OK(FMI_Barrier(world));
        memset(&st, 0xff, sizeof st);
        OK(FMI_Recv(buf, BIG, FMI_BYTE, 0, 2, world, &st));
        CHECK(st.bytes == BIG, "status.bytes %zu, expected %zu", st.bytes, BIG);
        CHECK(st.source == 0 && st.tag == 2 && st.error == FMI_SUCCESS, "status source %d tag %d error %d",
              st.source, st.tag, st.error);
        for (i = 0; i < BIG; i += PAGE) {
            /* the sampled byte, and one filler byte in the middle of the page */
            if (buf[i] != expect_at(i) || buf[i + PAGE / 2 + 1] != expect_at(i + PAGE / 2 + 1)) {
                if (!bad++)
                    first_bad = i;
            }
        }
        for (i = 0; i < PAGE; i++) {
            if (buf[i] != expect_at(i) && !bad++)
                first_bad = i;
            if (buf[BIG - PAGE + i] != expect_at(BIG - PAGE + i) && !bad++)
                first_bad = BIG - PAGE + i;
        }
        CHECK(bad == 0, "%zu sampled bytes differ, the first near offset %zu (%.2f GiB)", bad,
              first_bad, (double)first_bad / (1 << 30));
    }
    free(buf);
    return fmi_test_finish(&world, t0);
}
