/* MPI_IN_PLACE as the MPI library's own header defines it (Open MPI, MPICH and its
 * derivatives spell it differently); the `mpi` crate does not export it. */
#include <mpi.h>

void *duet_mpi_in_place(void) { return MPI_IN_PLACE; }
