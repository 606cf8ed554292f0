// The C interface to LAPACK (LAPACKE). The include path comes from pkg-config (`lapacke`).
#ifndef RECURRENT_CLAPACKE_SHIM_H
#define RECURRENT_CLAPACKE_SHIM_H
#include <lapacke.h>
#endif
