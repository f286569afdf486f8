/* Reductions on long double, long double _Complex and {long double; int} pairs for
 * FMI's MPI shim: Rust has no extended-precision type. Packed data need not be
 * aligned, so every value is moved with memcpy. `op` is the MPI_Op handle value of
 * MPICH's ABI. inout[i] = in[i] (op) inout[i] for i < n; returns 0, or -1 for an op
 * that is not defined on the type. */
#include <complex.h>
#include <stddef.h>
#include <string.h>

enum { MAX = 0x58000001, MIN, SUM, PROD, LAND, BAND, LOR, BOR, LXOR, BXOR, MINLOC, MAXLOC };

int fmi_mpi_ld_reduce(int op, const unsigned char *in, unsigned char *inout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long double a, b, r;
        memcpy(&a, in + 16 * i, sizeof a);
        memcpy(&b, inout + 16 * i, sizeof b);
        switch (op) {
        case MAX: r = b > a ? b : a; break;
        case MIN: r = b < a ? b : a; break;
        case SUM: r = a + b; break;
        case PROD: r = a * b; break;
        default: return -1;
        }
        memcpy(inout + 16 * i, &r, sizeof r);
    }
    return 0;
}

int fmi_mpi_ldc_reduce(int op, const unsigned char *in, unsigned char *inout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long double _Complex a, b, r;
        memcpy(&a, in + 32 * i, sizeof a);
        memcpy(&b, inout + 32 * i, sizeof b);
        switch (op) {
        case SUM: r = a + b; break;
        case PROD: r = a * b; break;
        default: return -1;
        }
        memcpy(inout + 32 * i, &r, sizeof r);
    }
    return 0;
}

/* Packed pairs: 16 bytes of value, then the int. */
int fmi_mpi_ldi_reduce(int op, const unsigned char *in, unsigned char *inout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long double a, b;
        int ia, ib;
        memcpy(&a, in + 20 * i, sizeof a);
        memcpy(&ia, in + 20 * i + 16, sizeof ia);
        memcpy(&b, inout + 20 * i, sizeof b);
        memcpy(&ib, inout + 20 * i + 16, sizeof ib);
        int take_a;
        if (op == MINLOC)
            take_a = a < b || (a == b && ia < ib);
        else if (op == MAXLOC)
            take_a = a > b || (a == b && ia < ib);
        else
            return -1;
        if (take_a) {
            memcpy(inout + 20 * i, &a, sizeof a);
            memcpy(inout + 20 * i + 16, &ia, sizeof ia);
        }
    }
    return 0;
}
