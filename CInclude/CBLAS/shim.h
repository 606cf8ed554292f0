// The CBLAS interface of OpenBLAS, plus its thread-count controls.
// The include path comes from pkg-config (`openblas`), never hard-coded.
#ifndef RECURRENT_CBLAS_SHIM_H
#define RECURRENT_CBLAS_SHIM_H
#include <cblas.h>

// OpenBLAS extensions; declared here as well because some cblas.h builds hide them.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
