// CKernels: the library's own C kernels, for what OpenBLAS does not offer. Compiled for
// baseline x86-64 like the rest of the package, with AVX2 + FMA and AVX-512 code paths
// selected per function (`__attribute__((target(...)))`) and used only when the CPU has them,
// and the worker pool of the recurrent layers.
#ifndef RECURRENT_CKERNELS_H
#define RECURRENT_CKERNELS_H
#include "rk_elementwise.h"
#include "rk_gemm.h"
#include "rk_cells.h"
#include "rk_layernorm_cells.h"
#include "rk_team.h"
#include "rk_peak.h"
#endif
