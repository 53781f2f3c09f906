# GPU serving image: NGC Triton Inference Server (python backend included) + this project.
#   docker build -t ltx-triton .
#   docker run --gpus all --shm-size=8g -p 8000:8000 -p 8001:8001 -p 8002:8002 -e HF_TOKEN \
#       -v $HOME/.cache/huggingface:/root/.cache/huggingface ltx-triton --model-path Lightricks/LTX-2.3
# LTX-2.3's Gemma is google/gemma-3-12b-it-qat-q4_0-unquantized, gated on the hub: HF_TOKEN of an account that
# accepted its terms (or --text-encoder-path /models/gemma). Only the files of the served classes are downloaded.
# Air-gapped: fill the cache once where the hub can be reached, then run from it offline:
#   ltx-triton download --model-path Lightricks/LTX-2.3 --pipeline-class-name LTX2TwoStagePipeline
#   docker run ... -e HF_HUB_OFFLINE=1 -v $HOME/.cache/huggingface:/root/.cache/huggingface ltx-triton \
#       --model-path Lightricks/LTX-2.3 --pipeline-class-name LTX2TwoStagePipeline
# 25.08: a release with the HTTP front-end fixes NVIDIA's security bulletins list from 25.07 on (2.51, NGC 24.10, the
# version the tests run against from the nvidia-pytriton wheel, segfaults on deeply nested JSON bodies: README).
# The python backend API this project uses is the same in both.
FROM nvcr.io/nvidia/tritonserver:25.08-py3

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
WORKDIR /opt/ltx-triton
# The python backend stub runs the image's system python3: install torch (CUDA build) and the project into it.
RUN python3 -m pip install --upgrade pip && python3 -m pip install "torch>=2.7" triton
COPY pyproject.toml README.md ./
COPY python_backend python_backend
COPY kernels kernels
COPY client client
COPY model_repository model_repository
RUN python3 -m pip install . && python3 -c "import ltx_backend, ltx_kernels, ltx_client"

EXPOSE 8000 8001 8002
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s CMD curl -sf localhost:8000/v2/health/ready || exit 1
# `ltx-triton serve` finds /opt/tritonserver/bin/tritonserver, renders the repository for its flags (KIND_GPU
# instances when a GPU is visible) and forwards SIGTERM/Ctrl-C as a clean shutdown.
ENTRYPOINT ["ltx-triton", "serve", "--run-dir", "/tmp/ltx-triton", "--host", "0.0.0.0"]
CMD ["--model-path", "Lightricks/LTX-2.3"]
