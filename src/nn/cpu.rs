//! The processor's vector extensions, detected at run time, and [`vectorized!`], which
//! compiles a hot loop once per extension level and runs the widest the processor has.
//!
//! # Why the results do not depend on the level
//! Only the width of the vectors changes between the copies, never an operation or its order:
//! Rust never contracts `a * b + c` into a fused multiply-add, additions and square roots are
//! correctly rounded at every width, the compiler does not reorder floating-point reductions,
//! and [`f32::mul_add`] is the same correctly rounded fused operation in hardware (with FMA) and
//! in software (the baseline). So every copy computes the same bits, which the tests of each
//! kernel check on the machine they run on.

/// The widest vector extension the processor has that the kernels use.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Level {
    /// The target's baseline (SSE2 on x86_64, NEON on aarch64).
    Baseline,
    /// x86_64 with AVX2 and FMA: 256-bit vectors.
    Avx2Fma,
    /// x86_64 with AVX-512F as well: 512-bit vectors and 32 vector registers.
    Avx512,
}

/// The processor's [`Level`], detected once.
#[cfg(target_arch = "x86_64")]
pub(crate) fn level() -> Level {
    #[cfg(test)]
    if let Some(forced) = FORCED.with(std::cell::Cell::get) {
        return forced.min(detected());
    }
    detected()
}

/// The level the processor has, detected once.
#[cfg(target_arch = "x86_64")]
fn detected() -> Level {
    use std::sync::atomic::{AtomicU8, Ordering};
    static DETECTED: AtomicU8 = AtomicU8::new(0); // 0: not yet; else 1 + the level
    match DETECTED.load(Ordering::Relaxed) {
        1 => Level::Baseline,
        2 => Level::Avx2Fma,
        3 => Level::Avx512,
        _ => {
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma");
            let level = match (avx2, std::arch::is_x86_feature_detected!("avx512f")) {
                (true, true) => Level::Avx512,
                (true, false) => Level::Avx2Fma,
                _ => Level::Baseline,
            };
            let level = level.min(cap());
            DETECTED.store(1 + level as u8, Ordering::Relaxed);
            level
        }
    }
}

/// The highest level the environment variable `DEEPQ_SIMD` allows (`baseline`, `avx2` or
/// `avx512`; unset: no cap), so that one machine can measure the speed of a narrower one. The
/// results are the same at every level; only the speed changes. Another value is reported on
/// standard error once and ignored.
#[cfg(target_arch = "x86_64")]
fn cap() -> Level {
    match std::env::var("DEEPQ_SIMD").as_deref() {
        Err(_) | Ok("avx512") => Level::Avx512,
        Ok("avx2") => Level::Avx2Fma,
        Ok("baseline") => Level::Baseline,
        Ok(other) => {
            eprintln!(
                "deepq: DEEPQ_SIMD={other:?} is not baseline, avx2 or avx512; ignored (no cap)"
            );
            Level::Avx512
        }
    }
}

/// The processor's [`Level`]: the baseline on every other architecture.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn level() -> Level {
    Level::Baseline
}

#[cfg(test)]
thread_local! {
    /// A level below the processor's that this thread's kernels use instead (tests only).
    static FORCED: std::cell::Cell<Option<Level>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with the kernels of `level` on this thread (or of the processor's level, if that
/// is lower), so that a test can compare the copies on one machine.
#[cfg(test)]
pub(crate) fn with_level<T>(level: Level, f: impl FnOnce() -> T) -> T {
    FORCED.with(|forced| forced.set(Some(level)));
    let result = f();
    FORCED.with(|forced| forced.set(None));
    result
}

/// Every level this processor can run, lowest first (tests only).
#[cfg(test)]
pub(crate) fn levels() -> Vec<Level> {
    [Level::Baseline, Level::Avx2Fma, Level::Avx512].into_iter().filter(|&l| l <= level()).collect()
}

/// Defines a function whose body is compiled three times on x86_64 (with AVX-512F, with AVX2
/// and FMA, and for the baseline) and runs the copy for the processor's [`level`]; elsewhere
/// it is the plain function. The body must be safe code; the arguments are plain identifiers.
macro_rules! vectorized {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                match $crate::nn::cpu::level() {
                    // SAFETY: the processor has the features (detected at run time).
                    $crate::nn::cpu::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::nn::cpu::Level::Avx2Fma => return unsafe { avx2($($arg),*) },
                    $crate::nn::cpu::Level::Baseline => {}
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use vectorized;
