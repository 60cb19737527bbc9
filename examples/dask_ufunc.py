"""A nativecall ufunc in Dask: the threaded scheduler and a LocalCluster of processes.

Ufuncs (and kernels) pickle by source and signature and are compiled again where they
land, in about a millisecond, so they travel to worker processes like any function.
"""

import math

import dask.array as da
import numpy as np

import nativecall


@nativecall.vectorize(["float64(float64)"])
def damped(x):
    return math.exp(-x * x) * math.cos(x)


def main():
    x = da.linspace(-3.0, 3.0, 2_000_000, chunks=250_000)
    want = np.exp(-x.compute() ** 2) * np.cos(x.compute())

    threaded = damped(x).compute(scheduler="threads")  # direct ufunc application
    blocks = x.map_blocks(damped).compute(scheduler="threads")
    assert np.allclose(threaded, want) and np.allclose(blocks, want)
    print("threaded scheduler: ufunc application and map_blocks agree with NumPy")

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            distributed = damped(x).sum().compute()
            mapped = x.map_blocks(damped).compute()
            workers = len(client.scheduler_info()["workers"])
    assert math.isclose(distributed, want.sum(), rel_tol=1e-12) and np.allclose(mapped, want)
    print(f"LocalCluster with {workers} worker processes: sum {distributed:.6f} (NumPy {want.sum():.6f})")


if __name__ == "__main__":
    main()
