// AVX2 + FMA versions of LinearAlgebra's float activation kernels (tanh, sigmoid, exp).
//
// The library is compiled for baseline x86-64 (SwiftPM offers no per-target CPU flags
// without `unsafeFlags`), so its own Swift kernels run on 4-lane SSE without FMA. These
// functions carry `__attribute__((target("avx2,fma")))` instead, and LinearAlgebra calls
// them only when `rk_cpu_has_avx2_fma()` says the CPU can run them. They compute the same
// formulas as `Elementwise.tanh/sigmoid/exp(_: Float)` (same range reduction, same
// polynomial), 8 lanes at a time with fused multiply-adds, so results agree with the Swift
// kernels to within 4 ULP and keep the accuracy bounds documented there.
#ifndef RECURRENT_RK_ELEMENTWISE_H
#define RECURRENT_RK_ELEMENTWISE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The kernel level this process runs: 2 for AVX-512 (F, DQ, VL, BW, with AVX2 + FMA), 1 for
/// AVX2 + FMA, 0 for none (portable code; always 0 off x86-64). It is the machine's level
/// (rk_cpu_machine_level), lowered by the environment variable RECURRENT_CPU_CAPABILITY
/// (`portable`, `avx2` or `avx512`) when that names a lower one, or by rk_cpu_set_level.
/// Cheap to call (a relaxed atomic load after the first call).
int rk_cpu_level(void);

/// The highest level this CPU and operating system support (as rk_cpu_level, without the
/// environment variable).
int rk_cpu_machine_level(void);

/// Sets the level the kernels run from now on (clamped to 0...rk_cpu_machine_level()) and
/// returns the previous one: for tests and benchmarks that compare the kernel sets in one
/// process. Not meant to be called while other threads run kernels.
int rk_cpu_set_level(int level);

/// 1 when rk_cpu_level() >= 1 (the AVX2 + FMA kernels run), 0 otherwise.
int rk_cpu_has_avx2_fma(void);

/// y[i] = tanh(x[i]) for i < count. x may equal y; otherwise the ranges must not overlap.
/// No alignment needed. Meant for rk_cpu_has_avx2_fma() == 1; elsewhere it falls back on
/// libm's tanhf (correct, not fast).
void rk_tanh_f32(const float *x, float *y, size_t count);

/// y[i] = 1 / (1 + exp(-x[i])) for i < count; as rk_tanh_f32.
void rk_sigmoid_f32(const float *x, float *y, size_t count);

/// y[i] = exp(x[i]) for i < count; +inf above 88.72, gradual underflow to 0 below -103.97;
/// as rk_tanh_f32.
void rk_exp_f32(const float *x, float *y, size_t count);

/// The sum of x[0..<count], accumulated in 32 float lanes (four 8-lane registers) that are
/// added pairwise at the end: faster than one running sum, and each lane adds only count/32
/// values, so the rounding error is smaller. Same contract as rk_tanh_f32.
float rk_sum_f32(const float *x, size_t count);

/// y[r*ldy + j] = tanh(x[r*ldx + j] + bias[j]) for r < rows, j < cols (x alone when bias is
/// NULL): the activation of one step of a plain RNN, whose rows are strided in its sequence
/// buffers, with the layer's bias added on the way. The sum is one float addition; the tanh is
/// rk_tanh_f32's. x may equal y (same leading dimension); otherwise no overlap.
void rk_tanh_rows_f32(const float *x, size_t ldx, const float *bias, float *y, size_t ldy,
                      size_t rows, size_t cols);

/// dx = (dy + g) * (1 - y*y) elementwise over rows x cols matrices with leading dimensions
/// ldy, lddy, ldg, lddx (dy * (1 - y*y) when g is NULL): the gradient through y = tanh(x) of a
/// value reached along two paths (a recurrent layer's output and its next step), over the
/// strided rows of one step. Multiplies and adds are not fused, so the results equal the
/// portable Swift loop's bit for bit. dx may equal dy or g (same leading dimension); otherwise
/// no overlap.
void rk_tanh_backward_rows_f32(const float *y, size_t ldy, const float *dy, size_t lddy, const float *g, size_t ldg,
                               float *dx, size_t lddx, size_t rows, size_t cols);

/// dx = y > 0 ? dy + g : 0 elementwise (dy alone when g is NULL): the gradient through
/// y = max(x, 0), from its output; as rk_tanh_backward_rows_f32.
void rk_relu_backward_rows_f32(const float *y, size_t ldy, const float *dy, size_t lddy, const float *g, size_t ldg,
                               float *dx, size_t lddx, size_t rows, size_t cols);

#ifdef __cplusplus
}
#endif
#endif
