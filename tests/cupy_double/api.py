"""The CuPy/cupyx API subset that funcgrad uses -- what the test double implements.

The double (``fake_cupy.py``, ``fake_cupyx.py``) serves exactly these names and
refuses any other, so running funcgrad through it proves that funcgrad touches
no CuPy attribute outside this list; ``tests/test_cupy_conformance.py`` checks
that the installed CuPy has every one of them (and the keywords listed in
``KEYWORDS``).  Add a name here only after checking that CuPy has it.
"""

# Top-level cupy functions (NumPy-compatible; implemented by NumPy in the double).
CUPY_FUNCTIONS = frozenset("""
    exp log log1p expm1 sqrt sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh
    arccosh arctanh abs absolute sign floor ceil round around trunc floor_divide isnan
    isfinite isinf logical_not equal not_equal less less_equal greater greater_equal
    logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor invert add
    subtract negative multiply divide true_divide power maximum minimum arctan2 remainder
    where mod fmod clip square reciprocal conj real imag exp2 log2 log10 hypot logaddexp
    logaddexp2 copysign signbit
    sum prod max min amax amin argmax argmin cumsum cumprod mean var std all any
    count_nonzero nan_to_num
    reshape broadcast_to broadcast_arrays transpose concatenate stack flip moveaxis
    swapaxes expand_dims squeeze ravel take_along_axis take diagonal diag trace tril triu
    tri eye identity zeros ones full empty zeros_like ones_like full_like empty_like
    arange linspace asarray array ascontiguousarray copyto sort argsort searchsorted
    matmul einsum tensordot dot nonzero unique asnumpy get_array_module result_type
    shape ndim size isscalar
""".split())

# Non-function attributes of cupy.
CUPY_ATTRIBUTES = frozenset("ndarray float16 float32 float64 int32 int64 bool_ dtype "
                            "__version__".split())

CUPY_LINALG = frozenset("solve inv det slogdet cholesky eigh svd qr pinv norm".split())
CUPY_RANDOM = frozenset(["default_rng"])
CUPY_STRIDE_TRICKS = frozenset(["as_strided"])
CUPY_CUDA = frozenset(["Device"])
CUPY_CUDA_RUNTIME = frozenset("getDeviceCount getDevice setDevice deviceSynchronize "
                              "CUDARuntimeError".split())
CUPYX_FUNCTIONS = frozenset("scatter_add scatter_max scatter_min errstate".split())
CUPYX_SCIPY_SPECIAL = frozenset(["erf"])

# cupy.ndarray attributes funcgrad uses (the double's array is a NumPy subclass
# and has them all; this list is what the conformance test checks).
NDARRAY_ATTRIBUTES = frozenset("""
    get device astype copy reshape ravel fill item tolist nonzero max min sum flags
    strides T ndim shape dtype size nbytes view __getitem__ __setitem__ __array_ufunc__
    __array_function__
""".split())

# cupy.random.Generator methods the backend's rng() promises.
GENERATOR_METHODS = frozenset("random uniform integers standard_normal".split())

# Keyword arguments funcgrad passes: function -> keywords.  Where CuPy's
# signature differs from NumPy's, the double follows CuPy's (see fake_cupy).
KEYWORDS = {
    "sum": ("axis", "keepdims"), "prod": ("axis", "keepdims"), "max": ("axis", "keepdims"),
    "min": ("axis", "keepdims"), "argmax": ("axis",), "argmin": ("axis",),
    "cumsum": ("axis",), "cumprod": ("axis",), "sort": ("axis", "kind"),
    "argsort": ("axis", "kind"), "searchsorted": ("side",), "full": ("dtype",),
    "zeros": ("dtype",), "ones": ("dtype",), "eye": ("k", "dtype"), "tri": ("k", "dtype"),
    "arange": ("dtype",), "linspace": ("endpoint", "retstep", "dtype", "axis"),
    "asarray": ("dtype",), "copyto": ("where",), "concatenate": ("axis",),
    "take_along_axis": ("axis",), "diagonal": ("axis1", "axis2"),
    "flip": ("axis",), "round": ("decimals",),
}
LINALG_KEYWORDS = {"svd": ("full_matrices", "compute_uv"), "pinv": ("rcond",)}
