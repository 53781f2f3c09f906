#!/usr/bin/env bash
# Install a real Triton Inference Server and perf_analyzer beside the venv, into build/triton-server/.
# (A folder name that is not a valid Python module name: build/ is on sys.path of the build scripts, and a
# folder named "triton" there would shadow the triton package.)
#
#   build/triton-server/server/   the nvidia-pytriton 0.7.0 wheel unpacked: pytriton/tritonserver/bin/tritonserver (2.51),
#                          backends/python (libtriton_python.so) + the Python 3.11 stub copied in, and the
#                          wheel's bundled libraries (nvidia_pytriton.libs, found through the binaries' RPATH)
#   build/triton-server/perf/     perf_analyzer from the tritonclient==2.49.0 manylinux wheel, with Debian's libb64-0d
#                          and libcudart.so.12 from nvidia-cuda-runtime-cu12 in perf/lib
#   build/triton-server/env.sh    TRITONSERVER, TRITON_BACKEND_DIR, PERF_ANALYZER, PERF_ANALYZER_LD_LIBRARY_PATH
#
# Nothing is pip-installed into the venv here: the venv keeps its own current tritonclient (build/requirements.txt).
# Idempotent: a second run with the stamp present does nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/build/triton-server"
STAMP="$DEST/.done"
PY="${PY:-$ROOT/.venv/bin/python}"
case "$PY" in /*) ;; */*) PY="$PWD/$PY" ;; esac  # the script changes directory below (no realpath: a venv's python is a symlink)
PYTRITON_VERSION=0.7.0
PERF_CLIENT_VERSION=2.49.0

[ -f "$STAMP" ] && exit 0
rm -rf "$DEST" && mkdir -p "$DEST/downloads" "$DEST/server" "$DEST/perf/lib"
cd "$DEST/downloads"

"$PY" -m pip download -q --no-deps -d . "nvidia-pytriton==$PYTRITON_VERSION" "tritonclient==$PERF_CLIENT_VERSION" "nvidia-cuda-runtime-cu12<13"
"$PY" - <<'EOF'
import glob, zipfile
for wheel, dest in (("nvidia_pytriton-*.whl", "../server"), ("tritonclient-*.whl", "tritonclient"), ("nvidia_cuda_runtime_cu12-*.whl", "cudart")):
    (path,) = glob.glob(wheel)
    with zipfile.ZipFile(path) as z:
        z.extractall(dest)
EOF

SERVER="$DEST/server/pytriton/tritonserver"
PYVER="$("$PY" -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')"
cp "$SERVER/python_backend_stubs/$PYVER/triton_python_backend_stub" "$SERVER/backends/python/"
chmod +x "$SERVER/bin/tritonserver" "$SERVER/backends/python/triton_python_backend_stub"
# pytriton's own Python package is not used: keep only the server tree and its libraries.
rm -rf "$DEST/server/pytriton/"{client,models,model_config,proxy,check,utils,server} "$SERVER/python_backend_stubs"

cp tritonclient/tritonclient-*.data/data/bin/perf_analyzer "$DEST/perf/"
chmod +x "$DEST/perf/perf_analyzer"
cp cudart/nvidia/cuda_runtime/lib/libcudart.so.12 "$DEST/perf/lib/"
if apt-get download libb64-0d >/dev/null 2>&1; then
  dpkg -x libb64-0d_*.deb libb64
  cp libb64/usr/lib/x86_64-linux-gnu/libb64.so.0d "$DEST/perf/lib/"
else
  # The server wheel bundles the same library (renamed by auditwheel).
  cp "$DEST"/server/nvidia_pytriton.libs/libb64-*.so.0d "$DEST/perf/lib/libb64.so.0d"
fi
cd "$DEST" && rm -rf downloads

cat > "$DEST/env.sh" <<EOF
export TRITONSERVER="$SERVER/bin/tritonserver"
export TRITON_BACKEND_DIR="$SERVER/backends"
export PERF_ANALYZER="$DEST/perf/perf_analyzer"
export PERF_ANALYZER_LD_LIBRARY_PATH="$DEST/perf/lib"
EOF
LD_LIBRARY_PATH="$DEST/perf/lib" "$DEST/perf/perf_analyzer" --version >/dev/null 2>&1 || \
  LD_LIBRARY_PATH="$DEST/perf/lib" "$DEST/perf/perf_analyzer" --help >/dev/null
usage="$("$SERVER/bin/tritonserver" --help 2>&1 || true)"  # exits 1 after printing usage
grep -q -- "--model-repository" <<<"$usage"
touch "$STAMP"
echo "tritonserver and perf_analyzer installed in $DEST"
