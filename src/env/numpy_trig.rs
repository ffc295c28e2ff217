//! numpy's `float32` `np.sin` and `np.cos`, bit for bit.
//!
//! Gymnasium's Acrobot draws its start state as `float32` and computes the first observation
//! with `numpy.cos` and `numpy.sin` on those `float32` values. numpy 2.x does not call the C
//! library's `cosf`/`sinf` there but its own SIMD kernel (`simd_sincos_f32` in
//! `numpy/_core/src/umath/loops_trigonometric.dispatch.cpp`, written with Highway), compiled
//! for CPUs with fused multiply-add (on x86-64 its AVX2/FMA3 and AVX-512 targets; without FMA3
//! numpy calls `cosf`/`sinf` instead): a Cody-Waite reduction by `pi / 2` in three `f32`
//! parts, then a degree-8 cosine or degree-9 sine polynomial evaluated with fused
//! multiply-adds, and the C library's `cosf`/`sinf` only for `|x|` beyond the reduction's
//! range. This module repeats that kernel one lane at a time with the same constants and the
//! same operations. `f32::mul_add` is a correctly rounded fused multiply-add, as Highway's
//! `MulAdd` is on FMA hardware, and each lane of the kernel is independent of the others.
//!
//! Checked against numpy 2.4.6 (AVX-512 machine) on all 2^32 `f32` inputs: every result is
//! equal, bit for bit (NaN inputs give NaN). `tests/acrobot_parity.rs` re-checks 14 million
//! inputs, among them every `f32` in `[0.05, 0.1]`.

/// `2 / pi` (`0x1.45f306p-1`).
const TWO_OVER_PI: f32 = f32::from_bits(0x3f22_f983);
/// `-pi / 2` in three parts for Cody-Waite's reduction: `-0x1.921fb0p+00`, `-0x1.5110b4p-22`,
/// `-0x1.846988p-48`.
const MINUS_PI_OVER_2: [f32; 3] =
    [f32::from_bits(0xbfc9_0fd8), f32::from_bits(0xb4a8_885a), f32::from_bits(0xa7c2_34c4)];
/// `0x1.8p+23`: adding and subtracting it rounds an `f32` below `2^22` to the nearest integer.
const RINT_MAGIC: f32 = f32::from_bits(0x4b40_0000);
/// Beyond this `|x|` numpy's sine falls back to the C library (`117435.992f`).
const SIN_MAX_REDUCIBLE: f32 = f32::from_bits(0x47e5_5dff);
/// Beyond this `|x|` numpy's cosine falls back to the C library (`71476.0625f`).
const COS_MAX_REDUCIBLE: f32 = f32::from_bits(0x478b_9a08);
/// Cosine polynomial in `x^2`, highest degree first: `0x1.98e616p-16`, `-0x1.6c06dcp-10`,
/// `0x1.55553cp-05`, `-0.5`, `1`.
const COS_POLY: [f32; 5] = [
    f32::from_bits(0x37cc_730b),
    f32::from_bits(0xbab6_036e),
    f32::from_bits(0x3d2a_aa9e),
    f32::from_bits(0xbf00_0000),
    f32::from_bits(0x3f80_0000),
];
/// Sine polynomial in `x^2` (times `x`), highest degree first: `0x1.7d3bbcp-19`,
/// `-0x1.a06bbap-13`, `0x1.11119ap-07`, `-0x1.555556p-03`.
const SIN_POLY: [f32; 4] = [
    f32::from_bits(0x363e_9dde),
    f32::from_bits(0xb950_35dd),
    f32::from_bits(0x3c08_88cd),
    f32::from_bits(0xbe2a_aaab),
];

/// numpy's `np.sin` of an `f32`.
pub(crate) fn sin(x: f32) -> f32 {
    sin_or_cos(x, false)
}

/// numpy's `np.cos` of an `f32`.
pub(crate) fn cos(x: f32) -> f32 {
    sin_or_cos(x, true)
}

/// One lane of `simd_sincos_f32`.
fn sin_or_cos(x: f32, cosine: bool) -> f32 {
    if x.is_nan() {
        // numpy writes its own NaN (`NPY_NANF`) for a NaN input.
        return f32::NAN;
    }
    let max = if cosine { COS_MAX_REDUCIBLE } else { SIN_MAX_REDUCIBLE };
    if x.abs() > max {
        // The C library's cosf/sinf, as numpy calls them for these lanes.
        return if cosine { x.cos() } else { x.sin() };
    }
    // The quadrant: x * 2 / pi rounded to the nearest integer (ties to even). numpy's source
    // writes a product then a sum; the compiler fuses them (GCC contracts by default), so the
    // product is not rounded on its own. (With a rounded product, 163 of 120 million results
    // on a sample of inputs, none below |x| = 390, took the neighbouring quadrant and differed
    // in the last bit.)
    let quadrant = x.mul_add(TWO_OVER_PI, RINT_MAGIC) - RINT_MAGIC;
    let mut reduced = quadrant.mul_add(MINUS_PI_OVER_2[0], x);
    reduced = quadrant.mul_add(MINUS_PI_OVER_2[1], reduced);
    reduced = quadrant.mul_add(MINUS_PI_OVER_2[2], reduced);
    let reduced2 = reduced * reduced;
    // An integral f32 below 2^22: the conversion is exact.
    let quadrant = quadrant as i32 + i32::from(cosine);
    let value = if quadrant & 1 == 0 {
        let mut r = SIN_POLY[0].mul_add(reduced2, SIN_POLY[1]);
        r = r.mul_add(reduced2, SIN_POLY[2]);
        r = r.mul_add(reduced2, SIN_POLY[3]);
        // A fused multiply-add with +0, as numpy's kernel has it (it differs from a plain
        // product only in the sign of a zero).
        r = r.mul_add(reduced2, 0.0);
        r.mul_add(reduced, reduced)
    } else {
        let mut r = COS_POLY[0].mul_add(reduced2, COS_POLY[1]);
        r = r.mul_add(reduced2, COS_POLY[2]);
        r = r.mul_add(reduced2, COS_POLY[3]);
        r.mul_add(reduced2, COS_POLY[4])
    };
    // numpy negates by subtracting from +0.
    if quadrant & 2 == 2 { 0.0 - value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_numpys_hex_literals() {
        assert_eq!(TWO_OVER_PI, std::f32::consts::FRAC_2_PI);
        assert_eq!(RINT_MAGIC, 12_582_912.0);
        // numpy's decimal literals, parsed as C parses them.
        assert_eq!(SIN_MAX_REDUCIBLE, "117435.992".parse::<f32>().unwrap());
        assert_eq!(COS_MAX_REDUCIBLE, "71476.0625".parse::<f32>().unwrap());
        assert_eq!(COS_POLY[3], -0.5);
    }

    #[test]
    fn close_to_the_c_library_and_exact_at_zero() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.01;
            assert!((sin(x) - x.sin()).abs() <= 2.0 * f32::EPSILON, "sin {x}");
            assert!((cos(x) - x.cos()).abs() <= 2.0 * f32::EPSILON, "cos {x}");
        }
        assert_eq!(cos(0.0), 1.0);
        assert_eq!(sin(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(sin(-0.0).to_bits(), (-0.0f32).to_bits());
        assert!(sin(f32::NAN).is_nan() && cos(f32::INFINITY).is_nan());
    }
}
