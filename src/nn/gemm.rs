//! The dense products of the MLP, for the small shapes DQN uses: `C = A B` and `C = Aᵀ B` on
//! row-major `f32` slices.
//!
//! # Results are the same on every machine
//! Every element of `C` is one chain of fused multiply-adds over the shared index, in index
//! order, starting from 0: `c = fma(a[k-1], b[k-1], ... fma(a[1], b[1], fma(a[0], b[0], 0)))`.
//! The vector lanes run across the columns of `C` (independent chains), never along a chain, so
//! the width of the vectors changes the speed and never a bit of the result. The kernel is
//! compiled three times on x86_64 and the widest the processor has is chosen at run time
//! ([`super::cpu`]): with AVX-512F (8 rows by 32 columns in sixteen 512-bit registers), with AVX2
//! and FMA (4 rows by 16 columns in eight 256-bit registers), and for the baseline (SSE2), where
//! [`f32::mul_add`] is the same correctly rounded fused multiply-add computed in software
//! (slower, the same bits). On aarch64 the fused multiply-add is in the base instruction set. So
//! a seeded run gives bit-identical weights on every x86_64 and aarch64 machine, whatever its
//! vector extensions.
//!
//! # Blocking
//! A block of rows by columns of `C` is accumulated in registers while the shared index runs,
//! with narrower column blocks (16, 8, 4; then 2 and 1 column by eight rows, for a Q-network's
//! few actions) at the right edge and single rows at the bottom; `B`'s rows are read
//! contiguously, `A`'s entries broadcast.

/// Rows of `C` per register block.
const MR: usize = 4;

#[cfg(target_arch = "x86_64")]
use super::cpu::Level;

/// The operands of one product: `c[i, j] = Σ_p a[i * a_row + p * a_col] · b[p * n + j]` for
/// `c` of `m` rows and `n` columns and a shared index `p` in `0..k`.
#[derive(Clone, Copy)]
struct Product<'a> {
    m: usize,
    k: usize,
    n: usize,
    a: &'a [f32],
    a_row: usize,
    a_col: usize,
    b: &'a [f32],
}

/// `c[m, n] = a[m, k] · b[k, n]`, row-major, `c` overwritten.
pub(crate) fn gemm_nn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "gemm_nn shapes");
    // `a[i, p]` is `a[i * k + p]`.
    dispatch(Product { m, k, n, a, a_row: k, a_col: 1, b }, c);
}

/// `c[m, n] = aᵀ · b` for `a[k, m]` and `b[k, n]`, row-major, `c` overwritten.
pub(crate) fn gemm_tn(k: usize, m: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= k * m && b.len() >= k * n && c.len() >= m * n, "gemm_tn shapes");
    // `aᵀ[i, p]` is `a[p * m + i]`.
    dispatch(Product { m, k, n, a, a_row: 1, a_col: m, b }, c);
}

fn dispatch(p: Product<'_>, c: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    match super::cpu::level() {
        Level::Avx512 => {
            // SAFETY: the processor has AVX-512F, AVX2 and FMA (detected at run time).
            unsafe { gemm_avx512(p, c) };
            return;
        }
        Level::Avx2Fma => {
            // SAFETY: the processor has AVX2 and FMA (detected at run time).
            unsafe { gemm_avx2_fma(p, c) };
            return;
        }
        Level::Baseline => {}
    }
    gemm_generic::<16, MR>(p, c);
}

/// The kernel compiled with AVX2 and FMA.
///
/// # Safety
/// The processor must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_avx2_fma(p: Product<'_>, c: &mut [f32]) {
    gemm_generic::<16, MR>(p, c);
}

/// The kernel compiled with AVX-512F: twice the lanes and twice the accumulators of the AVX2
/// one (the register file holds 32 vectors).
///
/// # Safety
/// The processor must have AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn gemm_avx512(p: Product<'_>, c: &mut [f32]) {
    gemm_generic::<32, 8>(p, c);
}

/// Every column block of `c`, each element one fused chain in `p` order: blocks of `NB`
/// columns by `ROWS` rows, then narrower blocks at the right edge.
#[inline(always)]
fn gemm_generic<const NB: usize, const ROWS: usize>(p: Product<'_>, c: &mut [f32]) {
    let mut j = 0;
    while j + NB <= p.n {
        columns::<NB, ROWS>(p, j, c);
        j += NB;
    }
    while j + 16 <= p.n {
        columns::<16, ROWS>(p, j, c);
        j += 16;
    }
    while j + 8 <= p.n {
        columns::<8, ROWS>(p, j, c);
        j += 8;
    }
    while j + 4 <= p.n {
        columns::<4, MR>(p, j, c);
        j += 4;
    }
    // Narrow edges (a Q-network's 2 or 3 actions): more rows at once, for independent chains.
    while j + 2 <= p.n {
        columns::<2, 8>(p, j, c);
        j += 2;
    }
    while j < p.n {
        columns::<1, 8>(p, j, c);
        j += 1;
    }
}

/// Columns `j..j + NB` of `c`, `ROWS` rows at a time.
///
/// The caller guarantees the shapes (`gemm_nn` and `gemm_tn` assert them): every index below is
/// in bounds, so the inner loop reads without bounds checks.
#[inline(always)]
fn columns<const NB: usize, const ROWS: usize>(p: Product<'_>, j: usize, c: &mut [f32]) {
    let Product { m, k, n, a, a_row, a_col, b } = p;
    debug_assert!(j + NB <= n);
    debug_assert!(m == 0 || k == 0 || (m - 1) * a_row + (k - 1) * a_col < a.len());
    debug_assert!(k == 0 || (k - 1) * n + j + NB <= b.len());
    let (a, b) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    while i + ROWS <= m {
        let mut acc = [[0.0f32; NB]; ROWS];
        for q in 0..k {
            // SAFETY: q < k and j + NB <= n, so q * n + j + NB <= k * n <= b.len(); the rows
            // i..i + ROWS are < m, so every `a` index is at most (m - 1) * a_row + (k - 1) * a_col.
            let row: [f32; NB] = unsafe { std::ptr::read_unaligned(b.add(q * n + j).cast()) };
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = unsafe { *a.add((i + r) * a_row + q * a_col) };
                for (s, &y) in acc.iter_mut().zip(&row) {
                    *s = x.mul_add(y, *s);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            c[(i + r) * n + j..(i + r) * n + j + NB].copy_from_slice(acc);
        }
        i += ROWS;
    }
    while i < m {
        let mut acc = [0.0f32; NB];
        for q in 0..k {
            // SAFETY: as above, for the single row i < m.
            let row: [f32; NB] = unsafe { std::ptr::read_unaligned(b.add(q * n + j).cast()) };
            let x = unsafe { *a.add(i * a_row + q * a_col) };
            for (s, &y) in acc.iter_mut().zip(&row) {
                *s = x.mul_add(y, *s);
            }
        }
        c[i * n + j..i * n + j + NB].copy_from_slice(&acc);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: one fused chain per element, in index order, in f32.
    fn reference(
        m: usize,
        k: usize,
        n: usize,
        at: impl Fn(usize, usize) -> f32,
        b: &[f32],
    ) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f32;
                for p in 0..k {
                    s = at(i, p).mul_add(b[p * n + j], s);
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        // A small deterministic generator with values of mixed sign and magnitude.
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32 - 0.5) * 3.0
            })
            .collect()
    }

    #[test]
    fn both_products_are_the_fused_chain_bit_for_bit_on_every_shape() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (64, 4, 64),
            (64, 64, 64),
            (64, 64, 2),
            (2, 64, 64),
            (7, 5, 37),
            (33, 17, 19),
            (4, 0, 8),
            (0, 3, 3),
        ] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let mut c = vec![f32::NAN; m * n];
            gemm_nn(m, k, n, &a, &b, &mut c);
            let expected = reference(m, k, n, |i, p| a[i * k + p], &b);
            assert!(
                c.iter().zip(&expected).all(|(x, y)| x.to_bits() == y.to_bits()),
                "nn {m}x{k}x{n}"
            );
            // Aᵀ B with A stored [k, m].
            let at = values(k * m, 3);
            gemm_tn(k, m, n, &at, &b, &mut c);
            let expected = reference(m, k, n, |i, p| at[p * m + i], &b);
            assert!(
                c.iter().zip(&expected).all(|(x, y)| x.to_bits() == y.to_bits()),
                "tn {m}x{k}x{n}"
            );
        }
    }

    #[test]
    fn the_baseline_and_the_vector_kernels_agree_bit_for_bit() {
        for &(m, k, n) in &[(37, 64, 45), (64, 64, 64), (64, 4, 64), (2, 64, 64), (64, 64, 2)] {
            let a = values(m * k, 4);
            let b = values(k * n, 5);
            let mut generic = vec![0.0; m * n];
            let product = Product { m, k, n, a: &a, a_row: k, a_col: 1, b: &b };
            gemm_generic::<16, MR>(product, &mut generic);
            let expected = reference(m, k, n, |i, p| a[i * k + p], &b);
            assert!(generic.iter().zip(&expected).all(|(x, y)| x.to_bits() == y.to_bits()));
            #[cfg(target_arch = "x86_64")]
            {
                use crate::nn::cpu::level;
                let level = level();
                if level != Level::Baseline {
                    let mut fast = vec![0.0; m * n];
                    // SAFETY: the level says the processor has AVX2 and FMA.
                    unsafe { gemm_avx2_fma(product, &mut fast) };
                    assert!(fast.iter().zip(&generic).all(|(x, y)| x.to_bits() == y.to_bits()));
                }
                if level == Level::Avx512 {
                    let mut fast = vec![0.0; m * n];
                    // SAFETY: the level says the processor has AVX-512F.
                    unsafe { gemm_avx512(product, &mut fast) };
                    assert!(fast.iter().zip(&generic).all(|(x, y)| x.to_bits() == y.to_bits()));
                }
            }
        }
    }
}
