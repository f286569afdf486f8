/* FMI's MPI shim: MPI-IO's declarations are part of mpi.h (MPI-IO itself is not
 * supported; its functions fail through the error handler). */
#include "mpi.h"
