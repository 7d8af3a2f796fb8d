#!/usr/bin/env bash
# The GPU check: run funcgrad's CuPy backend for real, on a machine with an NVIDIA GPU.
#
#   bash scripts/gpu_check.sh            # install the gpu extra, run every stage
#   SKIP_INSTALL=1 bash scripts/gpu_check.sh
#   QUICK=1 bash scripts/gpu_check.sh     # skip the full suite and the benchmarks
#
# Stages (a summary table is printed at the end):
#   1. install  pip install -e ".[test,gpu]"
#   2. detect   funcgrad.device.gpu_status(): CuPy imports, a device, a kernel compiles
#   3. conform  tests/test_cupy_conformance.py: the installed CuPy has every attribute used
#   4. device   tests/test_cupy_double.py and tests/test_backends.py on the REAL CuPy
#               (FUNCGRAD_GPU_TESTS=1): every primitive spec's forward, VJP, JVP and vmap
#               on GPU arrays must equal the NumPy backend's values, results stay on the GPU
#   5. suite    the whole test suite with FUNCGRAD_DEVICE=cuda (factories make GPU arrays)
#   6. bench    python benchmarks/run.py --quick with FUNCGRAD_DEVICE=cuda, if present
# Stages 2-4 decide the exit status; 5 and 6 are reported (tests that compare device
# results with np.asarray fail there by design until the suite is backend-parameterised).
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
LOG_DIR=${LOG_DIR:-gpu_check_logs}
mkdir -p "$LOG_DIR"
declare -a NAMES STATUS NOTES
REQUIRED_FAILED=0

record() {  # name status note required
    NAMES+=("$1"); STATUS+=("$2"); NOTES+=("$3")
    if [[ "$2" != "ok" && "$2" != "skipped" && "$4" == "required" ]]; then
        REQUIRED_FAILED=1
    fi
}

run_stage() {  # name required command...
    local name=$1 required=$2
    shift 2
    echo "== $name: $*"
    if "$@" >"$LOG_DIR/$name.log" 2>&1; then
        record "$name" ok "$(tail -n 1 "$LOG_DIR/$name.log")" "$required"
    else
        record "$name" FAILED "$(tail -n 1 "$LOG_DIR/$name.log") (see $LOG_DIR/$name.log)" \
            "$required"
    fi
}

# 1. install
if [[ -z "${SKIP_INSTALL:-}" ]]; then
    run_stage install required "$PY" -m pip install -e ".[test,gpu]"
else
    record install skipped "SKIP_INSTALL set" optional
fi

# 2. detect (fails fast: nothing else is meaningful without a usable GPU)
run_stage detect required "$PY" -c '
import sys
from funcgrad.device import gpu_status, cuda_device_count
s = gpu_status()
print(s)
sys.exit(0 if s.ok else 1)'

if [[ "${STATUS[-1]}" == "ok" ]]; then
    # 3. conformance with the installed CuPy
    run_stage conform required "$PY" -m pytest -q -p no:cacheprovider \
        tests/test_cupy_conformance.py
    # 4. the spec table and the device tests on the real GPU
    run_stage device required env FUNCGRAD_GPU_TESTS=1 "$PY" -m pytest -q \
        -p no:cacheprovider tests/test_cupy_double.py tests/test_backends.py
    if [[ -z "${QUICK:-}" ]]; then
        # 5. the whole suite with GPU factories
        run_stage suite optional env FUNCGRAD_DEVICE=cuda "$PY" -m pytest -q \
            -p no:cacheprovider tests
        # 6. benchmarks
        if [[ -f benchmarks/run.py ]]; then
            run_stage bench optional env FUNCGRAD_DEVICE=cuda "$PY" benchmarks/run.py --quick
        else
            record bench skipped "no benchmarks/run.py" optional
        fi
    else
        record suite skipped "QUICK set" optional
        record bench skipped "QUICK set" optional
    fi
else
    for s in conform device suite bench; do
        record "$s" skipped "no usable GPU (see $LOG_DIR/detect.log)" optional
    done
fi

echo
echo "GPU check summary ($(date -u +%Y-%m-%dT%H:%MZ), $(hostname))"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | \
        sed 's/^/  GPU: /'
fi
printf '  %-8s %-8s %s\n' stage status note
for i in "${!NAMES[@]}"; do
    printf '  %-8s %-8s %s\n' "${NAMES[$i]}" "${STATUS[$i]}" "${NOTES[$i]:0:110}"
done
if [[ $REQUIRED_FAILED -ne 0 ]]; then
    echo "GPU check: FAILED"
    exit 1
fi
echo "GPU check: passed"
