// The AVX-512 instances (16 lanes) of the layer-normalised cells' row kernels
// (rk_layernorm_cells_body.h); rk_layernorm_cells.c calls them where rk_cpu_level() is 2.
#include "rk_vecmath.h"

#if RK_X86
#define LN_W 16
#include "rk_layernorm_cells_body.h"

LN_DEFINE_INSTANCES(RK_AVX512, _avx512_impl)
#endif
