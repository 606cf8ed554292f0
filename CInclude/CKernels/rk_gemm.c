/*
 * rk_gemm.c - packed-B SGEMM for recurrent steps (see rk_gemm.h).
 *
 * Plain C11. The AVX2/FMA code uses function-level target attributes so the
 * file compiles without -mavx2/-mfma, and is only called after a runtime
 * check. Everything else falls back to a scalar path.
 */
#include "rk_gemm.h"
#include "rk_elementwise.h"

#if defined(__x86_64__) || defined(__i386__)
#define RK_X86 1
#include <immintrin.h>
#include <stdint.h>
#else
#define RK_X86 0
#endif

#define NR RK_GEMM_NR /* 16 columns per panel = 2 ymm */
#define MR 6          /* rows per register tile */
#ifndef RK_KC
#define RK_KC 0       /* K block size; 0 = no K blocking. Measured: blocking K
                         (128..384) was never faster than panel-outer order
                         with the whole K, so it is off by default. */
#endif

/* ------------------------------------------------------------------------ */
/* CPU detection                                                            */
/* ------------------------------------------------------------------------ */

/* rk_cpu_has_avx2_fma() is defined in rk_elementwise.c. */

/* ------------------------------------------------------------------------ */
/* Row tiling                                                               */
/* ------------------------------------------------------------------------ */

/* The row tiles of an m-row product, shared by every kernel so that a row's
   arithmetic (its tile's height decides whether even and odd k run in two
   chains) is the same in each: ntiles tiles, the first ntiles-2 of MR rows,
   the last two r0 and r1 rows. Plain MR,...,MR,r leaves a weak 1..3-row tile,
   so then the last MR+r rows are split in two nearly equal tiles
   (7 -> 4,3; 13 -> 6,4,3; 32 -> 6,6,6,6,4,4; 16 -> 6,6,4). */
struct row_tiling { int ntiles, r0, r1; };

static inline struct row_tiling row_tiling_of(int m)
{
    struct row_tiling rt = { (m + MR - 1) / MR, MR, 0 };
    rt.r1 = m - (rt.ntiles - 1) * MR;
    if (rt.ntiles == 1) rt.r0 = 0;
    else if (rt.r1 < 4) { rt.r0 = (MR + rt.r1 + 1) / 2; rt.r1 = (MR + rt.r1) / 2; }
    return rt;
}

/* The height of tile t. */
static inline int tile_height(struct row_tiling rt, int t)
{
    return t < rt.ntiles - 2 ? MR : (t == rt.ntiles - 2 ? rt.r0 : rt.r1);
}

int rk_gemm_packed_row_chains(int m, int row)
{
    const struct row_tiling rt = row_tiling_of(m);
    const int tile = row / MR < rt.ntiles - 2 ? row / MR
                   : (row < (rt.ntiles - 2) * MR + rt.r0 ? rt.ntiles - 2 : rt.ntiles - 1);
    return tile_height(rt, tile < 0 ? 0 : tile) <= 3 ? 2 : 1;
}

/* ------------------------------------------------------------------------ */
/* Packing                                                                  */
/* ------------------------------------------------------------------------ */

size_t rk_packed_b_count(int n, int k)
{
    if (n <= 0 || k <= 0) return 0;
    size_t panels = ((size_t)n + NR - 1) / NR;
    return panels * NR * (size_t)k;
}

static void pack_b_scalar(int n, int k, const float *w, int ldw, int transposed, float *packed)
{
    const size_t K = (size_t)k;
    const int panels = (n + NR - 1) / NR;
    for (int p = 0; p < panels; p++) {
        float *dst = packed + (size_t)p * NR * K;
        const int j0 = p * NR;
        const int w_cols = (n - j0) < NR ? (n - j0) : NR;
        if (transposed) {
            /* B(kk, j) = w[j*ldw + kk]: 16 sequential read streams (one per
               W row), contiguous writes. */
            const float *src[NR];
            for (int jj = 0; jj < w_cols; jj++) src[jj] = w + (size_t)(j0 + jj) * (size_t)ldw;
            for (size_t kk = 0; kk < K; kk++) {
                float *d = dst + kk * NR;
                int jj = 0;
                for (; jj < w_cols; jj++) d[jj] = src[jj][kk];
                for (; jj < NR; jj++) d[jj] = 0.0f;
            }
        } else {
            /* B(kk, j) = w[kk*ldw + j]: copy row segments. */
            for (size_t kk = 0; kk < K; kk++) {
                const float *src = w + kk * (size_t)ldw + j0;
                float *d = dst + kk * NR;
                int jj = 0;
                for (; jj < w_cols; jj++) d[jj] = src[jj];
                for (; jj < NR; jj++) d[jj] = 0.0f;
            }
        }
    }
}

#if RK_X86
/* Transposed packing (w is N×K) with 8×8 AVX transposes: full 16-column
   panels and K in blocks of 8; the rest goes through the scalar packer. */
__attribute__((target("avx2,fma")))
static void pack_bt_avx2(int n, int k, const float *w, int ldw, float *packed)
{
    const size_t K = (size_t)k, LDW = (size_t)ldw;
    const int full = n / NR;
    const size_t k8 = K & ~(size_t)7;
    for (int p = 0; p < full; p++) {
        float *dst = packed + (size_t)p * NR * K;
        for (size_t kk = 0; kk < k8; kk += 8) {
            for (int h = 0; h < 2; h++) {
                const float *src = w + (size_t)(p * NR + h * 8) * LDW;
                __m256 r0 = _mm256_loadu_ps(src + 0 * LDW + kk), r1 = _mm256_loadu_ps(src + 1 * LDW + kk);
                __m256 r2 = _mm256_loadu_ps(src + 2 * LDW + kk), r3 = _mm256_loadu_ps(src + 3 * LDW + kk);
                __m256 r4 = _mm256_loadu_ps(src + 4 * LDW + kk), r5 = _mm256_loadu_ps(src + 5 * LDW + kk);
                __m256 r6 = _mm256_loadu_ps(src + 6 * LDW + kk), r7 = _mm256_loadu_ps(src + 7 * LDW + kk);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
                __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
                __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
                __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                float *d = dst + kk * NR + h * 8;
                _mm256_storeu_ps(d + 0 * NR, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_storeu_ps(d + 1 * NR, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_storeu_ps(d + 2 * NR, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_storeu_ps(d + 3 * NR, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_storeu_ps(d + 4 * NR, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_storeu_ps(d + 5 * NR, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_storeu_ps(d + 6 * NR, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_storeu_ps(d + 7 * NR, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
        }
        for (size_t kk = k8; kk < K; kk++)
            for (int jj = 0; jj < NR; jj++)
                dst[kk * NR + jj] = w[(size_t)(p * NR + jj) * LDW + kk];
    }
    if (full * NR < n) /* last, partial panel */
        pack_b_scalar(n - full * NR, k, w + (size_t)full * NR * LDW, ldw, 1,
                      packed + (size_t)full * NR * K);
}
#endif

#if RK_X86
/* Packing without transposing (w is K×N, row-major), for a long K (a whole sequence's states
   or inputs, for the weight gradients): blocks of RK_PACK_KB rows of w, each copied panel by
   panel. The scalar packer walks one panel down all K rows before the next, a row of w
   (ldw floats) apart each time: every panel crosses the whole matrix again, and a matrix out
   of cache is read from memory once per panel's worth of lines. A block of rows stays in L1
   while all its panels are copied. The same floats land in the same places. */
#define RK_PACK_KB 32
__attribute__((target("avx2,fma")))
static void pack_b_rows_avx2(int n, int k, const float *w, int ldw, float *packed)
{
    const size_t K = (size_t)k, LDW = (size_t)ldw;
    const int panels = (n + NR - 1) / NR;
    for (size_t k0 = 0; k0 < K; k0 += RK_PACK_KB) {
        const size_t k1 = k0 + RK_PACK_KB < K ? k0 + RK_PACK_KB : K;
        for (int p = 0; p < panels; p++) {
            float *dst = packed + (size_t)p * NR * K;
            const float *src = w + (size_t)p * NR;
            const int cols = n - p * NR;
            if (cols >= NR) {
                for (size_t kk = k0; kk < k1; kk++) {
                    _mm256_storeu_ps(dst + kk * NR, _mm256_loadu_ps(src + kk * LDW));
                    _mm256_storeu_ps(dst + kk * NR + 8, _mm256_loadu_ps(src + kk * LDW + 8));
                }
            } else {
                for (size_t kk = k0; kk < k1; kk++) {
                    int jj = 0;
                    for (; jj < cols; jj++) dst[kk * NR + jj] = src[kk * LDW + jj];
                    for (; jj < NR; jj++) dst[kk * NR + jj] = 0.0f;
                }
            }
        }
    }
}
#endif

void rk_pack_b(int n, int k, const float *w, int ldw, int transposed, float *packed)
{
    if (n <= 0 || k <= 0) return;
#if RK_X86
    if (transposed && rk_cpu_has_avx2_fma()) {
        pack_bt_avx2(n, k, w, ldw, packed);
        return;
    }
    if (!transposed && rk_cpu_has_avx2_fma()) {
        pack_b_rows_avx2(n, k, w, ldw, packed);
        return;
    }
#endif
    pack_b_scalar(n, k, w, ldw, transposed, packed);
}


/* ------------------------------------------------------------------------ */
/* Scalar fallback                                                          */
/* ------------------------------------------------------------------------ */

static void gemm_scalar(int m, int n, int k, const float *a, int lda,
                        const float *packed, float beta, float *c, int ldc)
{
    const size_t K = (size_t)k;
    for (int i = 0; i < m; i++) {
        const float *ai = a + (size_t)i * (size_t)lda;
        float *ci = c + (size_t)i * (size_t)ldc;
        for (int j0 = 0; j0 < n; j0 += NR) {
            const float *bp = packed + (size_t)(j0 / NR) * NR * K;
            const int cols = (n - j0) < NR ? (n - j0) : NR;
            float acc[NR];
            for (int jj = 0; jj < NR; jj++) acc[jj] = 0.0f;
            for (size_t kk = 0; kk < K; kk++) {
                const float av = ai[kk];
                const float *br = bp + kk * NR;
                for (int jj = 0; jj < NR; jj++) acc[jj] += av * br[jj];
            }
            for (int jj = 0; jj < cols; jj++) {
                float r = acc[jj];
                if (beta != 0.0f) r += beta * ci[j0 + jj];
                ci[j0 + jj] = r;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* AVX2 / FMA path                                                          */
/* ------------------------------------------------------------------------ */

#if RK_X86
#define RK_AVX __attribute__((target("avx2,fma")))
#define RK_AVX_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* Store one 8-lane accumulator to c (mask used when partial), honouring beta.
   beta == 0 never reads c. */
RK_AVX_INLINE void store8(float *c, __m256 v, float beta, int partial, __m256i mask)
{
    if (!partial) {
        if (beta == 0.0f) {
            _mm256_storeu_ps(c, v);
        } else if (beta == 1.0f) {
            _mm256_storeu_ps(c, _mm256_add_ps(v, _mm256_loadu_ps(c)));
        } else {
            _mm256_storeu_ps(c, _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(c), v));
        }
    } else {
        if (beta == 0.0f) {
            _mm256_maskstore_ps(c, mask, v);
        } else if (beta == 1.0f) {
            _mm256_maskstore_ps(c, mask, _mm256_add_ps(v, _mm256_maskload_ps(c, mask)));
        } else {
            _mm256_maskstore_ps(c, mask, _mm256_fmadd_ps(_mm256_set1_ps(beta),
                                                         _mm256_maskload_ps(c, mask), v));
        }
    }
}

/*
 * mr×16 register tile: c[0..mr)[0..cols) = A[0..mr)[0..k) · panel + beta·c.
 * b points at row 0 of this K-slice of the panel (16 floats per kk).
 * cols in 1..16; cols < 16 uses masked loads/stores (never touches c past cols).
 * For small mr the k loop alternates between two accumulator sets to hide the
 * FMA latency (4 cycles × 2 pipes needs >= 8 independent chains).
 * mr is a compile-time constant at every call site, so the arrays live in
 * registers and the i loops are fully unrolled.
 */
RK_AVX_INLINE void tile(const int mr, const int dopf, int k, const float *a, size_t lda,
                        const float *b, float *c, size_t ldc, float beta, int cols,
                        const float *pf)
{
    const int dual = mr <= 3;
    __m256 c0[MR], c1[MR], d0[MR], d1[MR];
    for (int i = 0; i < mr; i++) {
        c0[i] = _mm256_setzero_ps(); c1[i] = _mm256_setzero_ps();
        d0[i] = _mm256_setzero_ps(); d1[i] = _mm256_setzero_ps();
    }
    const float *ar[MR];
    for (int i = 0; i < mr; i++) ar[i] = a + (size_t)i * lda;
    /* C's rows, wanted after the k loop: asked for now (see tile512). */
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + 15), _MM_HINT_T0);
    }

    int kk = 0;
    if (dual) {
        for (; kk + 2 <= k; kk += 2) {
            if (dopf) {
                _mm_prefetch((const char *)(pf + (size_t)kk * NR), _MM_HINT_T1);
                _mm_prefetch((const char *)(pf + (size_t)kk * NR + 16), _MM_HINT_T1);
            }
            const __m256 b0 = _mm256_loadu_ps(b + (size_t)kk * NR);
            const __m256 b1 = _mm256_loadu_ps(b + (size_t)kk * NR + 8);
            const __m256 e0 = _mm256_loadu_ps(b + (size_t)kk * NR + 16);
            const __m256 e1 = _mm256_loadu_ps(b + (size_t)kk * NR + 24);
            for (int i = 0; i < mr; i++) {
                const __m256 av = _mm256_broadcast_ss(ar[i] + kk);
                c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
                c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
                const __m256 aw = _mm256_broadcast_ss(ar[i] + kk + 1);
                d0[i] = _mm256_fmadd_ps(aw, e0, d0[i]);
                d1[i] = _mm256_fmadd_ps(aw, e1, d1[i]);
            }
        }
    }
    for (; kk < k; kk++) {
        if (dopf) _mm_prefetch((const char *)(pf + (size_t)kk * NR), _MM_HINT_T1);
        const __m256 b0 = _mm256_loadu_ps(b + (size_t)kk * NR);
        const __m256 b1 = _mm256_loadu_ps(b + (size_t)kk * NR + 8);
        for (int i = 0; i < mr; i++) {
            const __m256 av = _mm256_broadcast_ss(ar[i] + kk);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
    }
    if (dual) {
        for (int i = 0; i < mr; i++) {
            c0[i] = _mm256_add_ps(c0[i], d0[i]);
            c1[i] = _mm256_add_ps(c1[i], d1[i]);
        }
    }

    if (cols >= NR) {
        for (int i = 0; i < mr; i++) {
            float *ci = c + (size_t)i * ldc;
            store8(ci, c0[i], beta, 0, _mm256_setzero_si256());
            store8(ci + 8, c1[i], beta, 0, _mm256_setzero_si256());
        }
    } else {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane);
        const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8), lane);
        const int hi = cols > 8;
        for (int i = 0; i < mr; i++) {
            float *ci = c + (size_t)i * ldc;
            if (cols >= 8) store8(ci, c0[i], beta, 0, m0);
            else store8(ci, c0[i], beta, 1, m0);
            if (hi) store8(ci + 8, c1[i], beta, 1, m1);
        }
    }
}

typedef void (*tile_fn)(int, const float *, size_t, const float *, float *, size_t, float, int,
                        const float *);

/* tileR: R-row tile; tileRp: same, and also prefetches (into L2) the K rows of
   the panel at pf (the next panel) while computing. */
#define RK_TILE_FN(R) \
    static RK_AVX void tile##R(int k, const float *a, size_t lda, const float *b, \
                               float *c, size_t ldc, float beta, int cols, const float *pf) \
    { (void)pf; tile(R, 0, k, a, lda, b, c, ldc, beta, cols, pf); } \
    static RK_AVX void tile##R##p(int k, const float *a, size_t lda, const float *b, \
                                  float *c, size_t ldc, float beta, int cols, const float *pf) \
    { tile(R, 1, k, a, lda, b, c, ldc, beta, cols, pf); }
RK_TILE_FN(1)
RK_TILE_FN(2)
RK_TILE_FN(3)
RK_TILE_FN(4)
RK_TILE_FN(5)
RK_TILE_FN(6)

static RK_AVX void gemm_avx2(int m, int n, int k, const float *a, int lda,
                             const float *packed, float beta, float *c, int ldc, int kc, int prefetch,
                             int descending)
{
    static const tile_fn tiles[MR + 1] = { 0, tile1, tile2, tile3, tile4, tile5, tile6 };
    static const tile_fn tilesp[MR + 1] = { 0, tile1p, tile2p, tile3p, tile4p, tile5p, tile6p };
    const size_t K = (size_t)k, LDA = (size_t)lda, LDC = (size_t)ldc;
    const int panels = (n + NR - 1) / NR;
    if (kc <= 0) kc = k;
    const struct row_tiling rt = row_tiling_of(m);
    /* Loop order: (K block) > panel > row tile. A panel (64·K bytes) stays in
       L1/L2 while the row tiles of A stream over it. */
    for (int k0 = 0; k0 < k; k0 += kc) {
        const int kb = (k - k0) < kc ? (k - k0) : kc;
        const float bt = (k0 == 0) ? beta : 1.0f;
        for (int q = 0; q < panels; q++) {
            const int p = descending ? panels - 1 - q : q;
            const int j0 = p * NR;
            const int cols = (n - j0) < NR ? (n - j0) : NR;
            const float *bp = packed + (size_t)p * NR * K + (size_t)k0 * NR;
            /* The first row tile of each panel prefetches the next panel in the order of the
               loop (same K slice) into L2, so streaming B from L3/DRAM overlaps with
               computing on the current panel. */
            const int next = descending ? p - 1 : p + 1;
            const float *pf = (next >= 0 && next < panels) ? packed + (size_t)next * NR * K + (size_t)k0 * NR : bp;
            int i = 0;
            for (int t = 0; t < rt.ntiles; t++) {
                const int rows = tile_height(rt, t);
                const tile_fn f = (t == 0 && prefetch) ? tilesp[rows] : tiles[rows];
                f(kb, a + i * LDA + k0, LDA, bp, c + i * LDC + j0, LDC, bt, cols, pf);
                i += rows;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* AVX-512 path                                                             */
/* ------------------------------------------------------------------------ */

/*
 * The same packed layout (16-column panels), read two panels at a time: an
 * mr×32 register tile of 512-bit accumulators. Each output element takes
 * exactly the AVX2 tile's arithmetic (fused multiply-adds over k in order;
 * even and odd k in two chains added at the end when mr <= 3; the same beta
 * step), so both kernel sets, and any split of the columns between calls,
 * give the same bits. Columns past n are masked, never touched.
 */
#define RK_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#define RK_AVX512_FN __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))

RK_AVX512_INLINE void store16(float *c, __m512 v, float beta, __mmask16 m)
{
    if (beta == 0.0f) {
        _mm512_mask_storeu_ps(c, m, v);
    } else if (beta == 1.0f) {
        _mm512_mask_storeu_ps(c, m, _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c)));
    } else {
        _mm512_mask_storeu_ps(c, m, _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, c), v));
    }
}

RK_AVX512_INLINE __mmask16 mask16(int cols)
{
    if (cols >= 16) return (__mmask16)0xFFFF;
    if (cols <= 0) return (__mmask16)0;
    return (__mmask16)((1u << cols) - 1);
}

/* mr×(16·two) tile: panel b0 (and b1, the next one, when two), cols in 1..32. */
RK_AVX512_INLINE void tile512(const int mr, const int two, const int dopf, const int at, int k, const float *a, size_t lda,
                              const float *b0, const float *b1, float *c, size_t ldc, float beta, int cols,
                              const float *pf)
{
    /* A(i, kk) is a[i*lda + kk], or a[kk*lda + i] when at (A stored transposed, k × m). */
#define RK_A(i, kk) (at ? a[(size_t)(kk) * lda + (i)] : ar[i][kk])
    const int dual = mr <= 3;
    __m512 c0[MR], c1[MR], d0[MR], d1[MR];
    for (int i = 0; i < mr; i++) {
        c0[i] = _mm512_setzero_ps(); c1[i] = _mm512_setzero_ps();
        d0[i] = _mm512_setzero_ps(); d1[i] = _mm512_setzero_ps();
    }
    const float *ar[MR];
    for (int i = 0; i < mr; i++) ar[i] = at ? a : a + (size_t)i * lda;
    /* The tile's rows of C are read (beta != 0) or written only after the k loop: ask for
       them now, so that a C that is not in cache (a step's slice of the input projection,
       written many steps ago) arrives while the tile computes. Prefetches change no value. */
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + 15), _MM_HINT_T0);
        if (two) _mm_prefetch((const char *)(c + (size_t)i * ldc + 31), _MM_HINT_T0);
    }

    int kk = 0;
    if (dual) {
        for (; kk + 2 <= k; kk += 2) {
            if (dopf) {
                _mm_prefetch((const char *)(pf + (size_t)kk * NR), _MM_HINT_T1);
                _mm_prefetch((const char *)(pf + (size_t)kk * NR + 16), _MM_HINT_T1);
            }
            const __m512 p0 = _mm512_loadu_ps(b0 + (size_t)kk * NR);
            const __m512 q0 = _mm512_loadu_ps(b0 + (size_t)kk * NR + 16);
            __m512 p1 = p0, q1 = q0;
            if (two) { p1 = _mm512_loadu_ps(b1 + (size_t)kk * NR); q1 = _mm512_loadu_ps(b1 + (size_t)kk * NR + 16); }
            for (int i = 0; i < mr; i++) {
                const __m512 av = _mm512_set1_ps(RK_A(i, kk));
                c0[i] = _mm512_fmadd_ps(av, p0, c0[i]);
                if (two) c1[i] = _mm512_fmadd_ps(av, p1, c1[i]);
                const __m512 aw = _mm512_set1_ps(RK_A(i, kk + 1));
                d0[i] = _mm512_fmadd_ps(aw, q0, d0[i]);
                if (two) d1[i] = _mm512_fmadd_ps(aw, q1, d1[i]);
            }
        }
    }
    for (; kk < k; kk++) {
        if (dopf) _mm_prefetch((const char *)(pf + (size_t)kk * NR), _MM_HINT_T1);
        const __m512 p0 = _mm512_loadu_ps(b0 + (size_t)kk * NR);
        __m512 p1 = p0;
        if (two) p1 = _mm512_loadu_ps(b1 + (size_t)kk * NR);
        for (int i = 0; i < mr; i++) {
            const __m512 av = _mm512_set1_ps(RK_A(i, kk));
            c0[i] = _mm512_fmadd_ps(av, p0, c0[i]);
            if (two) c1[i] = _mm512_fmadd_ps(av, p1, c1[i]);
        }
    }
#undef RK_A
    if (dual) {
        for (int i = 0; i < mr; i++) {
            c0[i] = _mm512_add_ps(c0[i], d0[i]);
            if (two) c1[i] = _mm512_add_ps(c1[i], d1[i]);
        }
    }
    const __mmask16 m0 = mask16(cols), m1 = mask16(cols - 16);
    for (int i = 0; i < mr; i++) {
        float *ci = c + (size_t)i * ldc;
        store16(ci, c0[i], beta, m0);
        if (two && cols > 16) store16(ci + 16, c1[i], beta, m1);
    }
}

typedef void (*tile512_fn)(int, const float *, size_t, const float *, const float *, float *, size_t, float, int,
                           const float *);

#define RK_TILE512_FN(R) \
    static RK_AVX512_FN void tile512_##R##_1(int k, const float *a, size_t lda, const float *b0, const float *b1, \
                                             float *c, size_t ldc, float beta, int cols, const float *pf) \
    { tile512(R, 0, 0, 0, k, a, lda, b0, b1, c, ldc, beta, cols, pf); } \
    static RK_AVX512_FN void tile512_##R##_2(int k, const float *a, size_t lda, const float *b0, const float *b1, \
                                             float *c, size_t ldc, float beta, int cols, const float *pf) \
    { tile512(R, 1, 0, 0, k, a, lda, b0, b1, c, ldc, beta, cols, pf); } \
    static RK_AVX512_FN void tile512_##R##_2p(int k, const float *a, size_t lda, const float *b0, const float *b1, \
                                              float *c, size_t ldc, float beta, int cols, const float *pf) \
    { tile512(R, 1, 1, 0, k, a, lda, b0, b1, c, ldc, beta, cols, pf); } \
    static RK_AVX512_FN void tile512t_##R##_1(int k, const float *a, size_t lda, const float *b0, const float *b1, \
                                              float *c, size_t ldc, float beta, int cols, const float *pf) \
    { tile512(R, 0, 0, 1, k, a, lda, b0, b1, c, ldc, beta, cols, pf); } \
    static RK_AVX512_FN void tile512t_##R##_2(int k, const float *a, size_t lda, const float *b0, const float *b1, \
                                              float *c, size_t ldc, float beta, int cols, const float *pf) \
    { tile512(R, 1, 0, 1, k, a, lda, b0, b1, c, ldc, beta, cols, pf); }
RK_TILE512_FN(1)
RK_TILE512_FN(2)
RK_TILE512_FN(3)
RK_TILE512_FN(4)
RK_TILE512_FN(5)
RK_TILE512_FN(6)

/* mr×64 tile, mr in 4..6: four consecutive full panels from b (each K·16 floats). Each
   element takes tile512's arithmetic for a tile of 4 rows or more (one chain of fused
   multiply-adds over k in order, then the beta step), so the bits are the two-panel tiles'.
   Four panels a k (24 accumulators at 6 rows) load 10 vectors for 24 multiply-adds where two
   load 8 for 12. Measured against the two-panel tiles (one core, Zen 5, GFLOP/s, a few runs
   each): 64 rows, 1024 columns, depth 512 (half an lstm-large step, W_hh from L3) 262-266
   against 252-255; 16 × 1760 × 1760 (deepbench) 257-267 against 237-244; 32 × 512 × 128
   (lstm-medium) 257-265 against 255-262; 5 × 2048 × 512 229 against 194.
   No software prefetch of the next block: asking for its four panels a k at a time made the
   first two 2-5 % slower than leaving it to the hardware (unlike the two-panel tiles'). */
RK_AVX512_INLINE void tile512q(const int mr, int k, const float *a, size_t lda, const float *b, size_t K,
                               float *c, size_t ldc, float beta)
{
    __m512 acc[MR][4];
    for (int i = 0; i < mr; i++)
        for (int p = 0; p < 4; p++) acc[i][p] = _mm512_setzero_ps();
    const size_t PS = (size_t)NR * K; /* floats per panel */
    for (int i = 0; i < mr; i++)
        for (int p = 0; p < 4; p++) _mm_prefetch((const char *)(c + (size_t)i * ldc + 16 * p), _MM_HINT_T0);
    for (int kk = 0; kk < k; kk++) {
        const size_t off = (size_t)kk * NR;
        const __m512 b0 = _mm512_loadu_ps(b + off), b1 = _mm512_loadu_ps(b + PS + off);
        const __m512 b2 = _mm512_loadu_ps(b + 2 * PS + off), b3 = _mm512_loadu_ps(b + 3 * PS + off);
        for (int i = 0; i < mr; i++) {
            const __m512 av = _mm512_set1_ps(a[(size_t)i * lda + kk]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(av, b2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(av, b3, acc[i][3]);
        }
    }
    /* One loop per beta (store16's cases), so that the accumulators are stored from their
       registers rather than through the stack. */
    if (beta == 0.0f) {
        for (int i = 0; i < mr; i++)
            for (int p = 0; p < 4; p++) _mm512_storeu_ps(c + (size_t)i * ldc + 16 * p, acc[i][p]);
    } else if (beta == 1.0f) {
        for (int i = 0; i < mr; i++)
            for (int p = 0; p < 4; p++) {
                float *cp = c + (size_t)i * ldc + 16 * p;
                _mm512_storeu_ps(cp, _mm512_add_ps(acc[i][p], _mm512_loadu_ps(cp)));
            }
    } else {
        const __m512 bv = _mm512_set1_ps(beta);
        for (int i = 0; i < mr; i++)
            for (int p = 0; p < 4; p++) {
                float *cp = c + (size_t)i * ldc + 16 * p;
                _mm512_storeu_ps(cp, _mm512_fmadd_ps(bv, _mm512_loadu_ps(cp), acc[i][p]));
            }
    }
}

typedef void (*tile512q_fn)(int, const float *, size_t, const float *, size_t, float *, size_t, float);
#define RK_TILE512Q_FN(R) \
    static RK_AVX512_FN void tile512q_##R(int k, const float *a, size_t lda, const float *b, size_t K, float *c, size_t ldc, \
                                          float beta) \
    { tile512q(R, k, a, lda, b, K, c, ldc, beta); }
RK_TILE512Q_FN(4)
RK_TILE512Q_FN(5)
RK_TILE512Q_FN(6)

static RK_AVX512_FN void gemm_avx512(int m, int n, int k, const float *a, int lda,
                                     const float *packed, float beta, float *c, int ldc, int prefetch,
                                     int descending)
{
    static const tile512_fn one[MR + 1] = { 0, tile512_1_1, tile512_2_1, tile512_3_1, tile512_4_1, tile512_5_1, tile512_6_1 };
    static const tile512_fn two[MR + 1] = { 0, tile512_1_2, tile512_2_2, tile512_3_2, tile512_4_2, tile512_5_2, tile512_6_2 };
    static const tile512_fn twop[MR + 1] = { 0, tile512_1_2p, tile512_2_2p, tile512_3_2p, tile512_4_2p, tile512_5_2p, tile512_6_2p };
    const size_t K = (size_t)k, LDA = (size_t)lda, LDC = (size_t)ldc;
    const int panels = (n + NR - 1) / NR;
    const struct row_tiling rt = row_tiling_of(m);
    const int pairs = (panels + 1) / 2;
    /* Blocks of four full panels first, with the four-panel tiles (rows of tiles under 4 high,
       which take two chains, go through the two-panel ones), where the rows are many enough
       to be compute-bound; then the rest in pairs. Which tile computes an element changes
       which runs first, never its arithmetic. Few rows (descending) stay in pairs. */
    int firstPair = 0;
    if (m >= 5 && !descending) {
        static const tile512q_fn quad[MR + 1] = { 0, 0, 0, 0, tile512q_4, tile512q_5, tile512q_6 };
        const int quads = (n / NR) / 4;
        for (int b4 = 0; b4 < quads; b4++) {
            const int p = 4 * b4, j0 = p * NR;
            const float *b = packed + (size_t)p * NR * K;
            int i = 0;
            for (int t = 0; t < rt.ntiles; t++) {
                const int rows = tile_height(rt, t);
                if (rows >= 4) {
                    quad[rows](k, a + i * LDA, LDA, b, K, c + i * LDC + j0, LDC, beta);
                } else {
                    two[rows](k, a + i * LDA, LDA, b, b + (size_t)NR * K, c + i * LDC + j0, LDC, beta, 2 * NR, b);
                    two[rows](k, a + i * LDA, LDA, b + (size_t)2 * NR * K, b + (size_t)3 * NR * K, c + i * LDC + j0 + 2 * NR,
                              LDC, beta, 2 * NR, b);
                }
                i += rows;
            }
        }
        firstPair = 2 * quads;
    }
    for (int q = firstPair; q < pairs; q++) {
        /* The pairs of panels are always (0, 1), (2, 3), ...: the order of the loop changes
           which pair runs first, never an element's arithmetic. */
        const int p = 2 * (descending ? pairs - 1 - (q - firstPair) : q);
        const int j0 = p * NR;
        const int pair = p + 1 < panels;
        const int cols = (n - j0) < 2 * NR ? (n - j0) : 2 * NR;
        const float *b0 = packed + (size_t)p * NR * K;
        const float *b1 = pair ? b0 + (size_t)NR * K : b0;
        const int next = descending ? p - 2 : p + 2;
        const float *pf = (next >= 0 && next < panels) ? packed + (size_t)next * NR * K : b0;
        int i = 0;
        for (int t = 0; t < rt.ntiles; t++) {
            const int rows = tile_height(rt, t);
            const tile512_fn f = !pair ? one[rows] : (t == 0 && prefetch) ? twop[rows] : two[rows];
            f(k, a + i * LDA, LDA, b0, b1, c + i * LDC + j0, LDC, beta, cols, pf);
            i += rows;
        }
    }
}

/* C = Aᵀ·B + beta·C with A stored k × m (lda >= m): the weight gradients Σ_t dG_tᵀ·x_t of a
   sequence, whose depth k (the steps × batch) is long. K is blocked (RK_AT_KC rows of A and
   of the packed B per block); each block's products are added to C in order, so the bits
   depend on k, m and the row tiling only. Within a block, a strip of whole row tiles of A's
   columns is first copied into a contiguous kb × width buffer (read in place, each k is a
   row lda floats from the last: a new page every few k, which the FMA loop cannot hide),
   then each of its tiles is multiplied with every pair of panels of a column block of B
   small enough to stay in L2 (RK_AT_NC_BYTES). The order of the loops and
   the copy change no element's arithmetic (the same fused multiply-adds over k in order,
   the same tile heights), only what stays in cache. */
#define RK_AT_KC 384
#define RK_AT_PREFETCH 16
#define RK_AT_NC_BYTES (512 * 1024)
#define RK_AT_STRIP 48 /* columns of A copied at once: whole row tiles, three cache lines a k; the copy (72 KB) lives on the stack, which a Dispatch or Swift-concurrency thread has only 512 KB of */
static RK_AVX512_FN void gemm_at_avx512(int m, int n, int k, const float *a, int lda,
                                        const float *packed, float beta, float *c, int ldc)
{
    static const tile512_fn one[MR + 1] = { 0, tile512t_1_1, tile512t_2_1, tile512t_3_1, tile512t_4_1, tile512t_5_1, tile512t_6_1 };
    static const tile512_fn two[MR + 1] = { 0, tile512t_1_2, tile512t_2_2, tile512t_3_2, tile512t_4_2, tile512t_5_2, tile512t_6_2 };
    float strip[RK_AT_KC * RK_AT_STRIP] __attribute__((aligned(64)));
    const size_t K = (size_t)k, LDA = (size_t)lda, LDC = (size_t)ldc;
    const int panels = (n + NR - 1) / NR;
    const struct row_tiling rt = row_tiling_of(m);
    for (int k0 = 0; k0 < k; k0 += RK_AT_KC) {
        const int kb = (k - k0) < RK_AT_KC ? (k - k0) : RK_AT_KC;
        const float bt = k0 == 0 ? beta : 1.0f;
        /* Panels per column block: an even number whose K slices fit RK_AT_NC_BYTES. */
        int block = (int)(RK_AT_NC_BYTES / ((size_t)kb * NR * sizeof(float)));
        block = block < 2 ? 2 : block & ~1;
        for (int pb = 0; pb < panels; pb += block) {
            const int pend = pb + block < panels ? pb + block : panels;
            int i = 0;
            for (int t = 0; t < rt.ntiles;) {
                /* A strip of whole row tiles, at most RK_AT_STRIP columns of A. */
                int t1 = t, width = 0;
                while (t1 < rt.ntiles && width + tile_height(rt, t1) <= RK_AT_STRIP) width += tile_height(rt, t1++);
                const float *src = a + (size_t)k0 * LDA + i;
                for (int kk = 0; kk < kb; kk++, src += LDA) {
                    /* The strip's row RK_AT_PREFETCH rows on, requested now: rows lda floats
                       apart are a pattern the hardware prefetchers follow late, and a copy
                       that waits on memory for each row (a gradient written long before, out
                       of cache) costs more than the products. A prefetch never faults. */
                    const uintptr_t ahead = (uintptr_t)src + (uintptr_t)RK_AT_PREFETCH * LDA * sizeof(float);
                    for (int line = 0; line < width; line += 16) _mm_prefetch((const char *)(ahead + 4 * (uintptr_t)line), _MM_HINT_T0);
                    float *dst = strip + (size_t)kk * width;
                    for (int j = 0; j < width; j += 16) {
                        const __mmask16 copy = mask16(width - j);
                        _mm512_mask_storeu_ps(dst + j, copy, _mm512_maskz_loadu_ps(copy, src + j));
                    }
                }
                int offset = 0;
                for (; t < t1; t++) {
                    const int rows = tile_height(rt, t);
                    for (int p = pb; p < pend; p += 2) {
                        const int j0 = p * NR;
                        const int pair = p + 1 < pend;
                        const int span = (pair ? 2 : 1) * NR;
                        const int cols = (n - j0) < span ? (n - j0) : span;
                        const float *b0 = packed + (size_t)p * NR * K + (size_t)k0 * NR;
                        const float *b1 = pair ? b0 + (size_t)NR * K : b0;
                        const tile512_fn f = pair ? two[rows] : one[rows];
                        f(kb, strip + offset, (size_t)width, b0, b1, c + (i + offset) * LDC + j0, LDC, bt, cols, b0);
                    }
                    offset += rows;
                }
                i += width;
            }
        }
    }
}
#endif /* RK_X86 */

/* ------------------------------------------------------------------------ */
/* Public entry                                                             */
/* ------------------------------------------------------------------------ */

static void scale_c(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * (size_t)ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < n; j++) ci[j] = 0.0f;
        } else if (beta != 1.0f) {
            for (int j = 0; j < n; j++) ci[j] *= beta;
        }
    }
}


void rk_gemm_packed(int m, int n, int k, const float *a, int lda,
                    const float *packed, float beta, float *c, int ldc)
{
    rk_gemm_packed_ordered(m, n, k, a, lda, packed, beta, c, ldc, 0);
}

void rk_gemm_packed_ordered(int m, int n, int k, const float *a, int lda,
                            const float *packed, float beta, float *c, int ldc, int descending)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { scale_c(m, n, beta, c, ldc); return; }
#if RK_X86
    const int level = rk_cpu_level();
    if (level >= 2) {
        const int prefetch = m >= 5 && (size_t)n * (size_t)k > ((size_t)1 << 18);
        gemm_avx512(m, n, k, a, lda, packed, beta, c, ldc, prefetch, descending);
        return;
    }
    if (level == 1) {
        /* Prefetching the next panel pays off only when B does not stay in L2
           (> 1 MB packed) and the tiles are tall enough (m >= 5) that FMA
           work, not the B stream, is the bottleneck (measured: it helps
           (6..64, 1760, 1760) by ~10%, hurts m = 1..3 by 5-20%). */
        const int prefetch = m >= 5 && (size_t)n * (size_t)k > ((size_t)1 << 18);
        gemm_avx2(m, n, k, a, lda, packed, beta, c, ldc, RK_KC, prefetch, descending);
        return;
    }
#endif
    gemm_scalar(m, n, k, a, lda, packed, beta, c, ldc);
}

int rk_gemm_at_packed(int m, int n, int k, const float *a, int lda,
                      const float *packed, float beta, float *c, int ldc)
{
#if RK_X86
    if (rk_cpu_level() < 2) return 0;
    if (m <= 0 || n <= 0) return 1;
    if (k <= 0) { scale_c(m, n, beta, c, ldc); return 1; }
    gemm_at_avx512(m, n, k, a, lda, packed, beta, c, ldc);
    return 1;
#else
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)beta; (void)c; (void)ldc;
    return 0;
#endif
}
