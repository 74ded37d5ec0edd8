"""Measured values in result files are float32, as the facility's are:
a check that each stored value is the float64 reference (to 1e-12)
correctly rounded to float32, for the Python tests."""
import numpy as np


def f32_is(got, want):
    """got is float32 and each value is want (NumPy's float64, to 1e-12)
    correctly rounded to float32 (NaN where want is NaN)"""
    got, want = np.asarray(got), np.asarray(want, float)
    if got.dtype != np.float32 or got.shape != want.shape:
        return False
    half_ulp = 0.5 * np.spacing(np.abs(want).astype(np.float32)).astype(float)
    diff = np.abs(got.astype(float) - want)
    fin = np.isfinite(want)
    return bool(np.all(diff[fin] <= half_ulp[fin] + 1e-12 * np.abs(want[fin]))
                and np.array_equal(np.isnan(got), np.isnan(want)))
