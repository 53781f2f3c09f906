#!/usr/bin/env bash
# Issue #5's GPU measurements as one prepared run on the device machine (H100/H200, torch 2.11, triton 3.6,
# no network), so a session that is lent one spends its 15 minutes measuring, not setting up.
#
#   here, once:      bash build/gpu_session.sh fetch-wheels          # .whl/ (~50 MB, ignored by git)
#   here, before:    bash build/gpu_session.sh set-aside .whl        # a run sends at most 64 MiB (tracked files,
#                    untracked files git does not ignore, carried paths): the trained fixture checkpoint alone is
#                    88 MB, so tracked files over 4 MiB and tests/fixtures/ are untracked and moved into .git/ meanwhile
#   device:          run(command="bash build/gpu_session.sh kernels e2e-snapshot", carry=[".whl"], timeout_s=590)
#   here, after:     bash build/gpu_session.sh restore               # puts them back (git status clean again);
#                    never commit while they are set aside (the commit would delete them)
#   any time:        bash build/gpu_session.sh travel-size .whl      # what a run would send, against 64 MiB
#   A session's 15 minutes of device time include the machine's start (minutes) and no machine starts with
#   under 4 minutes left: plan ONE such run per session. Each pair's section limits + ~40 s of set-up fit in
#   590 s; a section cut short keeps every result printed so far (rows print as they are measured).
#   later sessions:  "e2e-compiled kernels-compile", then "e2e-sglang e2e-resident" (timeout_s=590 each); an SGLang
#                    case eager and compiled, e.g. "ltx_2_two_stage_t2v ltx_2_two_stage_t2v:compiled"
#   check here:      bash build/gpu_session.sh cpu-check             # the same wiring on tiny shapes, CPU
#                    (PYTHON=/path/to/python: with that environment, e.g. torch 2.11 + triton 3.6 as on the GPU)
#   the served run:  bash build/gpu_session.sh fetch-served          # here: .triton-pack/ (tritonserver 2.51 with the
#                    Python 3.12 stub, 25 MB; av, numpy 1.26, tritonclient... for 3.12, 38 MB); then set-aside
#                    .triton-pack (62 MiB travel); device: run(command="bash build/gpu_session.sh served",
#                    carry=[".triton-pack"], timeout_s=590); its wiring here: cpu-served (both packs made for this
#                    Python, a tiny model folder, the tiny request; 2026-12-07 it ran in a venv with numpy 2.4 in its
#                    site-packages, transformers 5.25 and huggingface_hub 2.4, as the image has 2.5 / 5.17 / 1.33)
#
# Sections write their output to $OUT/<section>.txt (and JSON where the script has it); record the numbers
# with the device and date in docs/benchmarks.md.
#   kernels        build/bench_kernels.py: Triton attention vs SDPA's best backend, fused norm/RoPE/AdaLN vs
#                  unfused torch, the full-size LTX-2.3 step vs ltx-core 1.0.0's (random bf16 weights)
#   kernels-compile  the full-size step eager vs --enable-torch-compile's compiled blocks (SDPA, Triton, and
#                  Triton with CUDA graphs: mode reduce-overhead); two graphs to compile per variant
#   e2e-snapshot   build/bench_e2e.py: two-stage LTX-2 768x512x121, 40 stage-1 steps, snapshot device mode
#   e2e-compiled   the same with the blocks compiled, mode reduce-overhead (the warm-up request compiles)
#   e2e-sglang     the same with SGLang's LTX-2 guidance (CFG 4.0 only: 2 passes per stage-1 step, not 4)
#   e2e-resident   the same, resident device mode (both transformers on the GPU: with Gemma 98 GiB of bf16 weights,
#                  an H200's run; on an H100 loading refuses it after the first transformer, build/memory_budget.py)
#   fp8-mm         #14: fp8-scaled-mm's matmul vs its dequantised reference, and its time vs bf16, per Linear shape
#   e2e-fp8        e2e-snapshot with --quantization fp8-scaled-mm
#   e2e-distilled  LTX2DistilledPipeline, 1536x1024x121 (8 + 3 steps)
#   <SGLang case>  #16: bench_e2e.py --case: one of SGLang's five LTX performance cases on this one GPU, against
#                  SGLang's H100 time and the goal (half of it): ltx_2_two_stage_t2v, ltx_2.3_two_stage_t2v_2gpus,
#                  ltx_2_3_two_stage_ti2v_2gpus, ltx_2.3_one_stage_ti2v, ltx_2_3_hq_pipeline (each loads its model:
#                  two or three per 590 s run); CASE:compiled, the same with the blocks compiled (reduce-overhead: CUDA
#                  graphs), +100 s: at 25 frames a stage-1 step's 3,300-4,100 kernel launches cost about what its math does
#                  (an HQ case and its :compiled twin: 620 s of limits, a run each)
#   startup        #16's start-up from files: build/write_random_model.py writes full-size random LTX-2.3 in the published
#                  layout (55 GB of files on the disk, Gemma's 24 GB on /dev/shm where it has room), then
#                  bench_e2e.py --model-path loads it as `generate` does (the load time: the engine's start-up) and times
#                  ltx_2.3_two_stage_t2v_2gpus through it (a run of its own)
#   served         #16's served start-up and latency, a run of its own (the carried server, not .whl): the same files,
#                  then bench_served.py: `ltx-triton serve` to ready, the case through gRPC and `generate --url`
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-session-out}
mkdir -p "$OUT"
WHEELS=(av==18.1.0 transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.36.2 ltx-core==1.0.0 ltx-pipelines==1.0.0)
# The served run (section `served`) carries a server instead of the reference: tritonserver 2.51 from the
# nvidia-pytriton wheel with its Python 3.12 stub (the image's python3), and the packages it needs beside the
# image's, both packed as tar.xz into .triton-pack/. numpy 1.26 is among them: 2.51's stub cannot pass BYTES tensors
# under numpy 2 (the image has 2.5; serve refuses the pair); and so ml_dtypes 0.5.4 (tritonclient imports it; 0.7
# needs numpy 2's C API). The image's transformers 5, huggingface_hub, grpcio,
# protobuf and aiohttp serve as they are (tests/test_transformers_versions.py).
SERVED_PACKAGES=(av==18.1.0 numpy==1.26.4 ml_dtypes==0.5.4 tritonclient==2.73.0 python-rapidjson==1.23)
PYTRITON_VERSION=0.7.0
PYTRITON_SERVER_VERSION=2.51.0  # the tritonserver that wheel holds
# Wheels and packs for the GPU image's Python (3.12 unless PACK_PYTHON says otherwise): the platforms pip may take.
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
    --platform manylinux2014_x86_64)
SERVER_PACK=.triton-pack/tritonserver-py3.12.tar.xz
SITE_PACK=.triton-pack/served-site-py3.12.tar.xz
SERVER_DIR=/tmp/ltx-tritonserver
SITE=/tmp/ltx-site
PYTHON_GIVEN=${PYTHON:-}
PYTHON=${PYTHON:-python3}

TRAVEL_LIMIT=$((64 * 1024 * 1024))  # the device tool's bound on what one run sends
BIG_FILE=$((4 * 1024 * 1024))       # tracked files above this (and tests/fixtures/) are set aside for device runs
ASIDE="$(git rev-parse --absolute-git-dir 2>/dev/null)/gpu-session-aside"  # inside .git: never sent (no .git on the device)
# The sections (an SGLang case of build/bench_e2e.py --case is one too); `served` is a run of its own.
SECTIONS=(kernels kernels-compile e2e-snapshot e2e-compiled e2e-sglang e2e-resident fp8-mm e2e-fp8 e2e-distilled startup served)

# Bytes a device run would send: tracked and untracked-not-ignored files as they are on disk, and the carried paths.
travel_size() {
    { git ls-files -z --cached --others --exclude-standard; [ $# -gt 0 ] && find "$@" -type f -print0; } | sort -zu |
        xargs -0 -r stat -c %s -- 2>/dev/null | awk '{ total += $1 } END { printf "%.0f\n", total }'
}

report_travel_size() {
    local bytes
    bytes=$(travel_size "$@")
    echo "a run would send $((bytes / 1024 / 1024)) MiB ($bytes bytes; limit $((TRAVEL_LIMIT / 1024 / 1024)) MiB)${*:+, carrying $*}"
    [ "$bytes" -le "$TRAVEL_LIMIT" ]
}

# Idempotent and resumable: the list is written whole before anything moves, a file already in $ASIDE is not moved
# again, and restore puts back what is there and unstages every listed path (an interrupted call is finished by
# calling it again).
set_aside() {
    mkdir -p "$ASIDE"
    if [ ! -s "$ASIDE/list" ]; then
        # tracked files over 4 MiB, and the test fixtures (no device run reads them)
        git ls-files -z | xargs -0 -r stat -c '%s %n' -- |
            awk -v big="$BIG_FILE" '{ path = substr($0, index($0, " ") + 1) } $1 > big || path ~ /^tests\/fixtures\// { print path }' \
            >"$ASIDE/list.new" && mv "$ASIDE/list.new" "$ASIDE/list" || return 1
    fi
    local path
    while IFS= read -r path; do
        [ -e "$ASIDE/$path" ] && continue
        git rm -q --cached --ignore-unmatch -- "$path" && mkdir -p "$ASIDE/$(dirname "$path")" && mv -- "$path" "$ASIDE/$path" || return 1
    done <"$ASIDE/list"
    echo "set aside $(wc -l <"$ASIDE/list") tracked files ($(head -1 "$ASIDE/list"), ...) until \`bash build/gpu_session.sh restore\`: do not commit before"
    report_travel_size "$@"
}

restore() {
    [ -s "$ASIDE/list" ] || { echo "nothing is set aside"; return 0; }
    local path failed=0
    while IFS= read -r path; do
        if [ -e "$ASIDE/$path" ]; then
            mkdir -p "$(dirname "$path")" && mv -- "$ASIDE/$path" "$path" || { failed=1; continue; }
        fi
        git reset -q -- "$path" || failed=1
    done <"$ASIDE/list"
    [ "$failed" = 0 ] || { echo "not all restored: what is left is in $ASIDE (call restore again)"; return 1; }
    echo "restored $(wc -l <"$ASIDE/list") tracked files"
    rm -rf "$ASIDE"
}

exclude_from_git() {  # an ignored folder of this checkout (.git/info/exclude: nothing committed changes)
    local exclude
    exclude="$(git rev-parse --git-path info/exclude)"  # also right in a linked worktree
    mkdir -p "$(dirname "$exclude")"
    grep -qx "/$1/" "$exclude" 2>/dev/null || echo "/$1/" >>"$exclude"
}

# Wheels for the GPU image's Python 3.12 into the ignored folder $1.
download_wheels() {
    local folder=$1
    shift
    rm -rf "$folder"  # no wheel of an earlier list left beside (two versions of one package stop the install)
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
        -d "$folder" "$@" || return 1
    exclude_from_git "$folder"
    du -sh "$folder"
}

# SERVED_PACKAGES installed for Python $PACK_PYTHON (3.12: the GPU image's) and packed as one tar.xz (38 MB; the
# wheels are 56 MB as zip).
pack_site() {  # [output path]
    local python_version=${PACK_PYTHON:-3.12} out=${1:-$SITE_PACK} work
    work=$(mktemp -d)
    "$PYTHON" -m pip install -q --no-deps --no-compile --only-binary=:all: --python-version "$python_version" --implementation cp \
        "${PLATFORMS[@]}" --target "$work" "${SERVED_PACKAGES[@]}" || return 1
    rm -rf "$work/bin"
    write_pack "$work" "$out" .
}

# The folder $1's paths $3... as the tar.xz $2 (made ignored where it is .triton-pack's); $1 is removed. A failed
# tar or xz leaves no pack.
write_pack() {
    local work=$1 out=$2
    shift 2
    mkdir -p "$(dirname "$out")"
    [ "$(dirname "$out")" != "$(dirname "$SITE_PACK")" ] || exclude_from_git "$(dirname "$out")"
    tar -C "$work" -cf - "$@" | xz -9e -T2 >"$out" || { rm -rf "$work" "$out"; return 1; }
    rm -rf "$work"
}

# tritonserver's tree from the nvidia-pytriton wheel as install_triton.sh lays it out (the binaries find their
# libraries through RPATH), with the stub of Python $PACK_PYTHON (3.12: the GPU image's) and without the
# bundled libpython 3.13 and perf_analyzer: 25 MB as tar.xz.
pack_server() {  # [output path]
    local python_version=${PACK_PYTHON:-3.12} out=${1:-$SERVER_PACK} work server
    work=$(mktemp -d)
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_35_x86_64 -d "$work" \
        "nvidia-pytriton==$PYTRITON_VERSION" || return 1
    (cd "$work" && unzip -q nvidia_pytriton-*.whl 'pytriton/tritonserver/*' 'nvidia_pytriton.libs/*') || return 1
    server="$work/pytriton/tritonserver"
    cp "$server/python_backend_stubs/$python_version/triton_python_backend_stub" "$server/backends/python/" || return 1
    rm -rf "$server/python_backend_stubs" "$work"/nvidia_pytriton.libs/libpython3*
    write_pack "$work" "$out" pytriton nvidia_pytriton.libs
}

# The carried server unpacked into $SERVER_DIR; TRITONSERVER points `serve` at it. Fails, saying what is missing,
# where a library the binaries need is not on this machine (the stub needs the image's libpython3.12.so.1.0).
unpack_server() {
    local pack=$1
    rm -rf "$SERVER_DIR" && mkdir -p "$SERVER_DIR" && tar -C "$SERVER_DIR" -xJf "$pack" || return 1
    export TRITONSERVER="$SERVER_DIR/pytriton/tritonserver/bin/tritonserver"
    # The stub embeds libpython: the one of the Python that runs `serve` where it has one (its stdlib's extension
    # modules are built against it), else the system's. Only that library goes on LD_LIBRARY_PATH (a link in a
    # folder of its own): the whole LIBDIR there would put the system's CUDA libraries before torch's own.
    local libpython
    libpython=$("$PYTHON" -c 'import os, sysconfig as c; p = os.path.join(c.get_config_var("LIBDIR") or "", c.get_config_var("INSTSONAME") or ""); print(p if os.path.isfile(p) else "")')
    if [ -n "$libpython" ]; then
        mkdir -p "$SERVER_DIR/libpython" && ln -sf "$libpython" "$SERVER_DIR/libpython/"
        export LD_LIBRARY_PATH="$SERVER_DIR/libpython${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    local missing
    missing=$(ldd "$TRITONSERVER" "$SERVER_DIR"/pytriton/tritonserver/backends/python/* 2>/dev/null | grep "not found" | sort -u)
    [ -z "$missing" ] || { echo "tritonserver cannot run here, missing: $missing"; return 1; }
    local usage
    usage=$("$TRITONSERVER" --help 2>&1)  # exits 1 after printing its usage
    grep -q -- "--model-repository" <<<"$usage" || { echo "tritonserver does not start: $usage"; return 1; }
    echo "tritonserver unpacked into $SERVER_DIR"
}

# tritonserver's Python stubs run isolated (PYTHONPATH ignored: sys.flags.isolated) and import from the site-packages
# of the python3 first on PATH: a .pth file there puts what PYTHONPATH holds first on their path too (so the carried
# numpy 1.26 comes before the image's numpy 2). Removed on exit.
SITE_PTH=""
stubs_see_pythonpath() {
    SITE_PTH="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ltx-gpu-session.pth"
    "$PYTHON" -c 'import os, sys; print("import sys; sys.path[:0] = %r" % os.environ["PYTHONPATH"].split(os.pathsep))' \
        >"$SITE_PTH" || return 1
    trap 'rm -f "$SITE_PTH"' EXIT
}

# The served run's set-up, also what cpu-served checks: the site pack $1 unpacked as the site, the server pack $2
# unpacked, the stubs shown PYTHONPATH; then the versions the run will use.
served_setup() {
    prepare_site ""
    tar -C "$SITE" -xJf "$1" || return 1
    stubs_see_pythonpath || return 1
    unpack_server "$2" >"$OUT/served-setup.txt" 2>&1  # not in a pipeline: its exports must stay in this shell
    local unpacked=$?
    cat "$OUT/served-setup.txt"
    [ "$unpacked" = 0 ] || return 1
    "$PYTHON" -c "import av, grpc, google.protobuf, numpy, tritonclient.grpc, transformers, huggingface_hub as h; print('av', \
av.__version__, 'grpcio', grpc.__version__, 'protobuf', google.protobuf.__version__, 'numpy', numpy.__version__, 'transformers', \
transformers.__version__, 'huggingface_hub', h.__version__)" 2>&1 | tee -a "$OUT/served-setup.txt" || return 1
    # what the stubs will import, as they import it (isolated: the .pth, not PYTHONPATH), checked in seconds with
    # serve's own check, which would otherwise refuse the server only after the full-size model had loaded
    "$PYTHON" -I -c "import av, ltx_backend, numpy, tritonclient.grpc; from ltx_client.server import numpy_incompatibility as f; \
problem = f('$PYTRITON_SERVER_VERSION', numpy.__version__); assert not problem, problem; print('stubs import numpy', numpy.__version__)" \
        2>&1 | tee -a "$OUT/served-setup.txt"
}

# Our packages without installing (src layout: each top-level folder holds its package), the carried wheels beside them.
prepare_site() {
    local wheels=$1  # a folder of wheels to install, or "" for none
    rm -rf "$SITE" && mkdir -p "$SITE"
    if [ -n "$wheels" ]; then
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$wheels"/*.whl || exit 1
    fi
    export PYTHONPATH="$SITE:$PWD/python_backend:$PWD/kernels:$PWD/client${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
}

FAILED=0
section() {  # name timeout command... -> the command's status (also counted in FAILED, the run's exit status)
    local name=$1 limit=$2 status
    shift 2
    echo "=== $name ($(date -u +%FT%TZ), limit ${limit}s)"
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
    status=${PIPESTATUS[0]}
    echo "=== $name exit $status"
    [ "$status" = 0 ] || FAILED=$((FAILED + 1))
    return "$status"
}

# Every name known, before any section spends its minutes (a typo found after the first one would cost the second)
check_sections() {
    local cases name
    cases=$("$PYTHON" -c "import sys; sys.path.insert(0, 'build'); import bench_e2e; print(' '.join(bench_e2e.SGLANG_CASES))") || return 1
    for name in "$@"; do
        [[ " ${SECTIONS[*]} $cases " == *" ${name%:compiled} "* && ( $name != *:compiled || $name == ltx_2* ) ]] ||
            { echo "unknown section $name (${SECTIONS[*]}, or an SGLang case: $cases; a case + :compiled)"; return 1; }
    done
}

if [ $# -eq 0 ]; then
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { print }' "$0"
    exit 2
fi
case $1 in
fetch-wheels) download_wheels .whl "${WHEELS[@]}"; exit ;;
fetch-served) pack_site && pack_server && ls -la .triton-pack; exit ;;
cpu-served)  # the served run's wiring here: both packs made for this Python, a tiny model, the tiny request
    if [ -z "$PYTHON_GIVEN" ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; fi
    version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    # kept outside the checkout: .triton-pack travels whole, and holds the GPU image's Python's packs only
    site_pack="/tmp/ltx-cpu-served/site-py$version.tar.xz" server_pack="/tmp/ltx-cpu-served/tritonserver-py$version.tar.xz"
    [ -f "$site_pack" ] || PACK_PYTHON=$version pack_site "$site_pack" || exit 1
    [ -f "$server_pack" ] || PACK_PYTHON=$version pack_server "$server_pack" || exit 1
    served_setup "$site_pack" "$server_pack" || exit 1
    section cpu-write-model 120 "$PYTHON" build/write_random_model.py /tmp/ltx-random-tiny --version 2.3 --size tiny --device cpu &&
    section cpu-served 600 "$PYTHON" build/bench_served.py /tmp/ltx-random-tiny --case ltx_2.3_two_stage_t2v_2gpus \
        --tiny-request --device cpu --iters 1
    rm -rf /tmp/ltx-random-tiny "$SERVER_DIR"
    exit "$FAILED"
    ;;
set-aside) shift && set_aside "$@"; exit ;;
restore) restore; exit ;;
travel-size) shift && report_travel_size "$@"; exit ;;
cpu-check)  # PYTHON=... to check with another environment (e.g. the GPU image's torch 2.11 / triton 3.6)
    if [ -z "$PYTHON_GIVEN" ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; fi
    prepare_site ""
    section cpu-kernels 300 env TRITON_INTERPRET=1 "$PYTHON" build/bench_kernels.py --dry-run --compile
    section cpu-e2e 300 "$PYTHON" build/bench_e2e.py --tiny --device cpu --iters 1
    section cpu-sglang-case 300 "$PYTHON" build/bench_e2e.py --case ltx_2_3_two_stage_ti2v_2gpus --tiny --device cpu \
        --width 128 --height 128 --steps 2 --iters 1
    section cpu-write-model 120 "$PYTHON" build/write_random_model.py /tmp/ltx-random-tiny --version 2.3 --size tiny --device cpu &&
    section cpu-startup 300 "$PYTHON" build/bench_e2e.py --model-path /tmp/ltx-random-tiny --case ltx_2.3_two_stage_t2v_2gpus \
        --device cpu --width 128 --height 128 --num-frames 9 --steps 2 --iters 1
    rm -rf /tmp/ltx-random-tiny
    exit "$FAILED"
    ;;
esac

check_sections "$@" || exit 2
if [[ " $* " == *" served "* ]]; then  # its own run: carry .triton-pack, not .whl
    [ $# -eq 1 ] || { echo "served is a run of its own (its set-up is not the other sections'): $*"; exit 2; }
    served_setup "$SITE_PACK" "$SERVER_PACK" || exit 1
else
    prepare_site .whl
fi
{ nvidia-smi; "$PYTHON" -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"; } 2>&1 | tee "$OUT/device.txt"
for name in "$@"; do
    case $name in
    kernels)
        section kernels 240 "$PYTHON" build/bench_kernels.py
        ;;
    kernels-compile) section kernels-compile 240 "$PYTHON" build/bench_kernels.py --sections step --compile ;;
    e2e-snapshot) section e2e-snapshot 270 "$PYTHON" build/bench_e2e.py --device-mode snapshot --iters 2 --json "$OUT/e2e-snapshot.json" ;;
    e2e-compiled)
        section e2e-compiled 300 "$PYTHON" build/bench_e2e.py --device-mode snapshot --torch-compile-mode reduce-overhead \
            --iters 2 --json "$OUT/e2e-compiled.json"
        ;;
    e2e-sglang)
        section e2e-sglang 240 "$PYTHON" build/bench_e2e.py --device-mode snapshot --guidance sglang --iters 2 \
            --json "$OUT/e2e-sglang.json"
        ;;
    e2e-resident) section e2e-resident 300 "$PYTHON" build/bench_e2e.py --device-mode resident --iters 2 --json "$OUT/e2e-resident.json" ;;
    fp8-mm)  # fp8-scaled-mm's torch._scaled_mm against its dequantised reference, and its time vs bf16 (tests/test_gpu.py)
        section fp8-mm 120 "$PYTHON" build/check_fp8_mm.py ;;
    e2e-fp8)
        section e2e-fp8 300 "$PYTHON" build/bench_e2e.py --device-mode snapshot --quantization fp8-scaled-mm --iters 2 \
            --json "$OUT/e2e-fp8.json"
        ;;
    e2e-distilled)
        section e2e-distilled 240 "$PYTHON" build/bench_e2e.py --pipeline distilled --width 1536 --height 1024 --iters 2 \
            --json "$OUT/e2e-distilled.json"
        ;;
    startup)
        section write-model 230 "$PYTHON" build/write_random_model.py /tmp/ltx-random-2.3 --version 2.3 --gemma-dir auto &&
        section startup 300 "$PYTHON" build/bench_e2e.py --model-path /tmp/ltx-random-2.3 --case ltx_2.3_two_stage_t2v_2gpus \
            --iters 2 --json "$OUT/startup.json"
        rm -rf /tmp/ltx-random-2.3 /dev/shm/ltx-random-2.3-gemma
        ;;
    served)  # serve to ready and the case through gRPC and generate --url, on full-size random LTX-2.3 files
        section write-model 230 "$PYTHON" build/write_random_model.py /tmp/ltx-random-2.3 --version 2.3 --gemma-dir auto &&
        section served 300 "$PYTHON" build/bench_served.py /tmp/ltx-random-2.3 --case ltx_2.3_two_stage_t2v_2gpus --iters 2
        rm -rf /tmp/ltx-random-2.3 /dev/shm/ltx-random-2.3-gemma
        ;;
    ltx_2*)  # an SGLang case (bench_e2e.py SGLANG_CASES names them; check_sections knows them); HQ is 1920x1088.
        # CASE:compiled: its blocks compiled with CUDA graphs (mode reduce-overhead; the warm-up request compiles)
        limit=$([[ $name == *hq* ]] && echo 260 || echo 200) compile=() label=${name/:/-}
        [[ $name == *:compiled ]] && limit=$((limit + 100)) compile=(--torch-compile-mode reduce-overhead)
        section "$label" "$limit" "$PYTHON" build/bench_e2e.py --case "${name%:compiled}" "${compile[@]}" --iters 2 \
            --json "$OUT/$label.json" ;;
    esac
done
exit "$FAILED"
