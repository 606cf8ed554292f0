// Private to CKernels: the vector forms of the activations (8 lanes for AVX2 + FMA, 16 for
// AVX-512), shared by the buffer kernels (rk_elementwise.c) and the fused recurrent cells
// (rk_cells.c). The 16-lane functions are the 8-lane ones instruction for instruction, so the
// two kernel sets give the same bits; both compute the formulas of
// Sources/LinearAlgebra/Elementwise.swift (same range reduction, same polynomial).
#ifndef RECURRENT_RK_VECMATH_H
#define RECURRENT_RK_VECMATH_H
#include <stddef.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RK_X86 1
#else
#define RK_X86 0
#endif

/// The kernel level this process runs (see rk_cpu_level in rk_elementwise.h).
int rk_cpu_level(void);

#if RK_X86
#define RK_AVX2 __attribute__((target("avx2,fma")))
#define RK_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))

// MARK: - Eight lanes

RK_AVX2 static inline __m256 rk_expm1_reduced8(__m256 r) {
    __m256 r2 = _mm256_mul_ps(r, r), r4 = _mm256_mul_ps(r2, r2);
    __m256 pa = _mm256_fmadd_ps(_mm256_set1_ps(1.6666665459e-1f), r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 pb = _mm256_fmadd_ps(_mm256_set1_ps(8.3334519073e-3f), r, _mm256_set1_ps(4.1665795894e-2f));
    __m256 pc = _mm256_fmadd_ps(_mm256_set1_ps(1.9875691500e-4f), r, _mm256_set1_ps(1.3981999507e-3f));
    __m256 p = _mm256_fmadd_ps(r4, pc, _mm256_fmadd_ps(r2, pb, pa));
    return _mm256_fmadd_ps(r2, p, r);
}

RK_AVX2 static inline __m256 rk_tanh8(__m256 x) {
    const __m256 signMask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 sign = _mm256_and_ps(x, signMask);
    __m256 a = _mm256_andnot_ps(signMask, x);
    // min(9.1, a) returns its second operand for NaN: NaN stays NaN.
    __m256 c = _mm256_min_ps(_mm256_set1_ps(9.1f), a);
    __m256 t = _mm256_fmadd_ps(c, _mm256_set1_ps(2.88539008177792682f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693147182464599609375f), _mm256_add_ps(c, c));
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
    __m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
    __m256 e = _mm256_fmadd_ps(s, rk_expm1_reduced8(r), _mm256_sub_ps(s, _mm256_set1_ps(1.0f)));
    __m256 result = _mm256_div_ps(e, _mm256_add_ps(e, _mm256_set1_ps(2.0f)));
    return _mm256_or_ps(result, sign);
}

RK_AVX2 static inline __m256 rk_exp8(__m256 x) {
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    // min/max return their second operand for NaN: NaN stays NaN.
    __m256 c = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
    c = _mm256_max_ps(_mm256_set1_ps(-104.0f), c);
    __m256 t = _mm256_fmadd_ps(c, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), c);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_add_ps(rk_expm1_reduced8(r), _mm256_set1_ps(1.0f));
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
    __m256i k1 = _mm256_srai_epi32(k, 1);
    __m256i k2 = _mm256_sub_epi32(k, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
}

RK_AVX2 static inline __m256 rk_sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = rk_exp8(_mm256_xor_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

// MARK: - Sixteen lanes (the same instructions on 512-bit registers)
//
// Each is written for n vectors (1 or 2), each instruction done for every vector before the
// next: the same arithmetic on each lane whatever n, so the same bits, with n independent
// chains side by side. One activation is a chain of some fifteen dependent instructions
// ending in a division; with only one in flight, the core waits on it (the LSTM cell runs two
// and was about 9 % faster). The one-vector forms are n = 1.

#define RK_AVX512_N static inline __attribute__((always_inline, target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))

RK_AVX512_N void rk_expm1_reduced16n(__m512 *r, const int n) {
    __m512 r2[2], r4[2], pa[2], pb[2], pc[2], p[2];
    for (int q = 0; q < n; q++) { r2[q] = _mm512_mul_ps(r[q], r[q]); }
    for (int q = 0; q < n; q++) { r4[q] = _mm512_mul_ps(r2[q], r2[q]); }
    for (int q = 0; q < n; q++) pa[q] = _mm512_fmadd_ps(_mm512_set1_ps(1.6666665459e-1f), r[q], _mm512_set1_ps(5.0000001201e-1f));
    for (int q = 0; q < n; q++) pb[q] = _mm512_fmadd_ps(_mm512_set1_ps(8.3334519073e-3f), r[q], _mm512_set1_ps(4.1665795894e-2f));
    for (int q = 0; q < n; q++) pc[q] = _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500e-4f), r[q], _mm512_set1_ps(1.3981999507e-3f));
    for (int q = 0; q < n; q++) p[q] = _mm512_fmadd_ps(r4[q], pc[q], _mm512_fmadd_ps(r2[q], pb[q], pa[q]));
    for (int q = 0; q < n; q++) r[q] = _mm512_fmadd_ps(r2[q], p[q], r[q]);
}

RK_AVX512_N void rk_tanh16n(__m512 *x, const int n) {
    const __m512 signMask = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 sign[2], c[2], t[2], m[2], r[2], s[2], e[2];
    for (int q = 0; q < n; q++) {
        sign[q] = _mm512_and_ps(x[q], signMask);
        // min(9.1, a) returns its second operand for NaN: NaN stays NaN.
        c[q] = _mm512_min_ps(_mm512_set1_ps(9.1f), _mm512_andnot_ps(signMask, x[q]));
    }
    for (int q = 0; q < n; q++) t[q] = _mm512_fmadd_ps(c[q], _mm512_set1_ps(2.88539008177792682f), magic);
    for (int q = 0; q < n; q++) m[q] = _mm512_sub_ps(t[q], magic);
    for (int q = 0; q < n; q++) r[q] = _mm512_fnmadd_ps(m[q], _mm512_set1_ps(0.693147182464599609375f), _mm512_add_ps(c[q], c[q]));
    for (int q = 0; q < n; q++) {
        __m512i k = _mm512_sub_epi32(_mm512_castps_si512(t[q]), _mm512_set1_epi32(0x4B400000));
        s[q] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k, _mm512_set1_epi32(127)), 23));
    }
    rk_expm1_reduced16n(r, n);
    for (int q = 0; q < n; q++) e[q] = _mm512_fmadd_ps(s[q], r[q], _mm512_sub_ps(s[q], _mm512_set1_ps(1.0f)));
    for (int q = 0; q < n; q++) x[q] = _mm512_or_ps(_mm512_div_ps(e[q], _mm512_add_ps(e[q], _mm512_set1_ps(2.0f))), sign[q]);
}

RK_AVX512_N void rk_exp16n(__m512 *x, const int n) {
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    const __m512i bias = _mm512_set1_epi32(127);
    __m512 c[2], t[2], m[2], r[2], s1[2], s2[2];
    // min/max return their second operand for NaN: NaN stays NaN.
    for (int q = 0; q < n; q++) c[q] = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x[q]));
    for (int q = 0; q < n; q++) t[q] = _mm512_fmadd_ps(c[q], _mm512_set1_ps(1.44269504088896341f), magic);
    for (int q = 0; q < n; q++) m[q] = _mm512_sub_ps(t[q], magic);
    for (int q = 0; q < n; q++) r[q] = _mm512_fnmadd_ps(m[q], _mm512_set1_ps(0.693359375f), c[q]);
    for (int q = 0; q < n; q++) r[q] = _mm512_fnmadd_ps(m[q], _mm512_set1_ps(-2.12194440e-4f), r[q]);
    for (int q = 0; q < n; q++) {
        __m512i k = _mm512_sub_epi32(_mm512_castps_si512(t[q]), _mm512_set1_epi32(0x4B400000));
        __m512i k1 = _mm512_srai_epi32(k, 1), k2 = _mm512_sub_epi32(k, k1);
        s1[q] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k1, bias), 23));
        s2[q] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k2, bias), 23));
    }
    rk_expm1_reduced16n(r, n);
    for (int q = 0; q < n; q++) x[q] = _mm512_mul_ps(_mm512_mul_ps(_mm512_add_ps(r[q], _mm512_set1_ps(1.0f)), s1[q]), s2[q]);
}

RK_AVX512_N void rk_sigmoid16n(__m512 *x, const int n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int q = 0; q < n; q++) x[q] = _mm512_xor_ps(x[q], _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u)));
    rk_exp16n(x, n);
    for (int q = 0; q < n; q++) x[q] = _mm512_div_ps(one, _mm512_add_ps(one, x[q]));
}

RK_AVX512 static inline __m512 rk_tanh16(__m512 x) { rk_tanh16n(&x, 1); return x; }
RK_AVX512 static inline __m512 rk_exp16(__m512 x) { rk_exp16n(&x, 1); return x; }
RK_AVX512 static inline __m512 rk_sigmoid16(__m512 x) { rk_sigmoid16n(&x, 1); return x; }

#endif /* RK_X86 */
#endif
