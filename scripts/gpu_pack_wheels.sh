#!/usr/bin/env bash
# Pack the wheels of ../shared/gpu/fetch-wheels.sh (.whl/a + .whl/b) into one group, .whl/all
# (~39 MB), that one GPU call can carry with the working tree: bitsandbytes keeps only its
# CUDA 13 libraries (the GPU image has torch 2.11+cu130), unsloth drops its studio front end.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
[ -d .whl/a ] && [ -d .whl/b ] || ../shared/gpu/fetch-wheels.sh
rm -rf .whl/all && mkdir -p .whl/all && cp .whl/a/*.whl .whl/b/*.whl .whl/all/
cd .whl/all
zip -q -d bitsandbytes-*.whl 'bitsandbytes/libbitsandbytes_rocm*' 'bitsandbytes/libbitsandbytes_cuda1[12]*'
zip -q -d unsloth-2026*.whl 'studio/frontend/*'
du -sh .
