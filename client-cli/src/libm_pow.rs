//! `pow`, the one libm function knock-cli uses (indicatif's rate and ETA estimates), defined in the binary
//! so that glibc's libm.so.6 is never loaded, for a function a knock never calls.
//!
//! Kept because it still pays (measured 2026-12-07, release builds of the same commit with and without
//! this module, `hyperfine -N --warmup 200 --runs 3000 'knock-cli --version'`, both orders): 1.4 ms with
//! it, 1.8 ms with libm.so.6 loaded, so libm is 0.4 ms (about a fifth) of every start-up, and knock-cli
//! starts before every SSH deploy. Remove it when that gap closes.
//!
//! The implementation is the `libm` crate's port of musl's `pow` (correctly rounded in nearly all cases;
//! IEEE special cases as C99 requires).
//!
//! glibc Linux only: elsewhere the C library provides `pow` without a separate library to load (and on
//! Windows a second definition would clash with the CRT's). `tests/linking.rs` fails if libm comes back.

#![expect(unsafe_code, reason = "#[no_mangle] on `pow`, which must replace libm's symbol at link time (see above)")]

/// C's `double pow(double, double)`, resolved by the linker before libm.so.6 is searched.
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pow_follows_c99() {
        assert_eq!(super::pow(2.0, 10.0), 1024.0);
        assert_eq!(super::pow(0.5, 2.0), 0.25);
        assert_eq!(super::pow(f64::NAN, 0.0), 1.0);
        assert!(super::pow(-1.0, 0.5).is_nan());
        assert_eq!(super::pow(0.0, -1.0), f64::INFINITY);
        assert!((super::pow(0.1, 0.3) - 0.1f64.powf(0.3)).abs() < 1e-15);
    }
}
