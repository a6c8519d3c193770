//! A GPU is trusted only if it sums long rows right. Mesa's software Vulkan adapter
//! (lavapipe, on llvmpipe) ends every loop of a kernel thread after 65,535 iterations in
//! all, silently (gallivm's guard against hangs), and burn 0.22's reductions give each row
//! to one thread: rows of more than about 262,000 values per thread come out short, some
//! of them 0 (`tests/gpu_ops_agreement.rs` shows the limit and where sums go wrong). A
//! batch norm reduces exactly such rows: its channel's values over the whole batch,
//! 131,072 of them at the first stage of the reference encoder at 64 pairs of 32x32 views
//! (a thread sums four rows there). Training there is silently wrong, so a device that
//! fails this check, for that reason or any other, is refused with the evidence, before
//! any run trusts it.

use burn::tensor::{Device, Tensor, TensorData};

/// Set to 1, a device that fails the check is used anyway (for tests that stay below the
/// sizes where the sums go wrong).
pub const ALLOW_WRONG_SUMS: &str = "CW_ALLOW_WRONG_GPU_SUMS";

/// The checked shape: a batch norm's rows at the first stage of a 64-pair batch.
const ROWS: usize = 32;
const ROW_LEN: usize = 131_072;

/// Whether `device` sums `ROWS` rows of `ROW_LEN` small integers exactly (every partial sum
/// is an integer below 2^24, so any order of summation gives the exact value in `f32`).
/// Skipped when `ALLOW_WRONG_SUMS` is set.
pub fn check(device: &Device) -> Result<(), String> {
    if std::env::var(ALLOW_WRONG_SUMS).as_deref() == Ok("1") {
        return Ok(());
    }
    verify(device)
}

/// [`check`], whatever the environment says.
pub fn verify(device: &Device) -> Result<(), String> {
    let (got, expected) = row_sums_on(device, ROWS, ROW_LEN)?;
    match wrong_rows(&got, &expected).first() {
        None => Ok(()),
        Some(&row) => Err(format!(
            "its kernels sum long rows wrong (row {row} of a {ROWS}x{ROW_LEN} sum gave {} \
             instead of {}; Mesa's llvmpipe stops a kernel's loops after 65,535 iterations), \
             so every batch norm over {ROW_LEN} values would be wrong; {ALLOW_WRONG_SUMS}=1 \
             uses it anyway",
            got.get(row).map_or("nothing".into(), f32::to_string),
            expected[row]
        )),
    }
}

/// The rows of a `rows` x `len` sum of small integers that `device` gets wrong: the
/// check's measurement at any shape (the tests map where a device goes wrong with it).
pub fn wrong_rows_on(device: &Device, rows: usize, len: usize) -> Result<Vec<usize>, String> {
    let (got, expected) = row_sums_on(device, rows, len)?;
    Ok(wrong_rows(&got, &expected))
}

/// `device`'s row sums of `rows` x `len` small integers, and the exact ones.
fn row_sums_on(device: &Device, rows: usize, len: usize) -> Result<(Vec<f32>, Vec<f32>), String> {
    let values: Vec<f32> = (0..rows * len)
        .map(|i| ((i * 7 + i / len) % 5) as f32)
        .collect();
    let expected = row_sums(&values, len);
    let device = device.clone();
    let got = std::panic::catch_unwind(move || {
        Tensor::<2>::from_data(TensorData::new(values, [rows, len]), &device)
            .sum_dim(1)
            .into_data()
            .iter::<f32>()
            .collect::<Vec<f32>>()
    })
    .map_err(|panic| crate::worker::panic_message(panic.as_ref()))?;
    Ok((got, expected))
}

/// Each row's sum, exactly (in `f64`).
fn row_sums(values: &[f32], row_len: usize) -> Vec<f32> {
    values
        .chunks(row_len)
        .map(|row| row.iter().map(|&v| f64::from(v)).sum::<f64>() as f32)
        .collect()
}

/// The rows whose sum is not the expected one (or that are missing).
fn wrong_rows(got: &[f32], expected: &[f32]) -> Vec<usize> {
    (0..expected.len())
        .filter(|&row| got.get(row) != Some(&expected[row]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_passes_the_check() {
        assert_eq!(check(&Device::flex()), Ok(()));
    }

    #[test]
    fn a_short_partial_or_zero_sum_is_caught() {
        let values: Vec<f32> = (0..4 * 8).map(|i| (i % 5) as f32).collect();
        let expected = row_sums(&values, 8);
        assert_eq!(expected, vec![13.0, 17.0, 16.0, 15.0]);
        assert_eq!(wrong_rows(&expected, &expected), Vec::<usize>::new());
        // What lavapipe gave: the last rows short of a few values, or 0.
        assert_eq!(wrong_rows(&[13.0, 17.0, 16.0, 0.0], &expected), vec![3]);
        assert_eq!(
            wrong_rows(&[13.0, 13.0, 0.0, 0.0], &expected),
            vec![1, 2, 3]
        );
        assert_eq!(wrong_rows(&[13.0, 17.0], &expected), vec![2, 3]);
        assert_eq!(wrong_rows(&[f32::NAN; 4], &expected), vec![0, 1, 2, 3]);
    }
}
