"""scipy.ndimage filters with kernels: generic_filter, generic_filter1d, geometric_transform.

Each kernel gets its parameters through `user_data`, packed natively once; scipy calls
the kernel for every pixel without touching Python.
"""

import math
import time

import numpy as np
from scipy import ndimage

import nativecall


@nativecall.jit("int32(float64*, intp, float64*, float64)")
def soft_range(values, n, out, gain):
    lo = values[0]
    hi = values[0]
    for i in range(1, n):
        lo = min(lo, values[i])
        hi = max(hi, values[i])
    out[0] = math.tanh(gain * (hi - lo))
    return 1


@nativecall.jit("int32(float64*, intp, float64*, intp, float64)")
def box_blur_line(line, n_in, out, n_out, scale):
    size = n_in - n_out + 1
    for i in range(n_out):
        s = 0.0
        for j in range(size):
            s += line[i + j]
        out[i] = scale * s / size
    return 1


@nativecall.jit("int32(intp*, float64*, int32, int32, float64, float64, float64)")
def rotate(out_coords, in_coords, out_rank, in_rank, angle, cy, cx):
    y = out_coords[0] - cy
    x = out_coords[1] - cx
    in_coords[0] = cy + math.cos(angle) * y - math.sin(angle) * x
    in_coords[1] = cx + math.sin(angle) * y + math.cos(angle) * x
    return 1


image = np.random.default_rng(1).random((256, 256))

llc = soft_range.lowlevelcallable("int (double *, npy_intp, double *, void *)", user_data=(3.0,))
t0 = time.perf_counter()
native = ndimage.generic_filter(image, llc, size=3)
t_native = time.perf_counter() - t0
t0 = time.perf_counter()
python = ndimage.generic_filter(image, lambda v: math.tanh(3.0 * (v.max() - v.min())), size=3)
t_python = time.perf_counter() - t0
assert np.allclose(native, python, rtol=1e-15, atol=0)
print(f"generic_filter 3x3 on 256x256: kernel {t_native * 1e3:.1f} ms, Python {t_python * 1e3:.0f} ms "
      f"({t_python / t_native:.0f}× faster)")  # fmt: skip

blur = box_blur_line.lowlevelcallable("int (double *, npy_intp, double *, npy_intp, void *)", user_data=(1.0,))
blurred = ndimage.generic_filter1d(image, blur, filter_size=5)
assert np.allclose(blurred, ndimage.uniform_filter1d(image, 5, mode="reflect"), atol=1e-12)
print("generic_filter1d box blur matches ndimage.uniform_filter1d")

spin = rotate.lowlevelcallable("int (npy_intp *, double *, int, int, void *)", user_data=(0.3, 127.5, 127.5))
rotated = ndimage.geometric_transform(image, spin, order=1)
print(f"geometric_transform rotation: output {rotated.shape}, mean {rotated.mean():.4f}")
