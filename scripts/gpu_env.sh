# Sourced (not run) by the scripts/gpu_*.sh drivers, from the project root on the GPU machine:
# the offline environment, and the wheels of .whl/all (scripts/gpu_pack_wheels.sh) installed
# into /tmp/site once per machine. PY: the interpreter (python3); GPU_CHECK: the modules whose
# import says the wheels are already installed.
PY=${PY:-python3}
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1 \
  TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TQDM_DISABLE=1 PYTHONUNBUFFERED=1 \
  TOKENIZERS_PARALLELISM=false HF_DATASETS_CACHE=/tmp/hf-datasets
if [ -d .whl/all ] && ! $PY -c "import ${GPU_CHECK:-trl, datasets, bitsandbytes}" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/all/*.whl
fi
