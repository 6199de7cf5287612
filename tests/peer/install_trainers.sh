#!/usr/bin/env bash
# Installs LLaMA-Factory and ms-swift for tests/peer/test_trainer_formats.py, each in its own virtual
# environment under .venv-trainers/ (or $MSTAR_TRAINERS_VENV), without pulling a CUDA torch:
#
#   .venv-trainers/llamafactory   llamafactory 0.9.5 with transformers 5.6.0, datasets 4.0.0, trl 0.24.0,
#                                 peft 0.18.1, accelerate 1.11.0 (the newest its pins allow)
#   .venv-trainers/swift          ms-swift 4.6.0 with transformers 5.19.0, datasets 4.8.4, trl 0.29.1,
#                                 peft 0.20.0 (the newest its pins allow)
#
# Two environments because the pins exclude each other: LLaMA-Factory 0.9.5 wants datasets<=4.0.0 and
# ms-swift 4.6.0 imports datasets.features.Json, which 4.0.0 lacks. Both are made with
# --system-site-packages and reuse the system's CPU torch (pinned by a constraint: pip can never replace
# it), numpy, pillow, pyarrow, pandas...; the newer transformers, datasets, trl of the system are shadowed
# by the pinned ones. The trainers themselves go in with --no-deps (their declared dependencies pull
# torchvision/torchaudio builds for CUDA torch, gradio, tensorboard...); each environment then gets what its
# dataset readers, templates, argument parsers and training entry point import:
#   - kernels<0.15 for LLaMA-Factory: transformers 5.6 fails at import beside the system's kernels 0.19;
#   - torchaudio for LLaMA-Factory, which imports it at the top of its multimodal plugin (audio only): PyPI's
#     wheel is built for CUDA torch, so its native libraries are removed and it imports in its
#     pure-Python mode (its own fallback when they are absent).
# About 75 s and 470 MB from an empty pip cache (llamafactory 40 s, 194 MB; swift 33 s, 272 MB).
#
# Idempotent: a finished environment holds a stamp with its recipe, written after a full import of what
# the tests use passed; it is kept while the stamp matches and the package is there (about 1 s), else
# rebuilt. Never fails the caller: when something cannot be installed it says so, removes the half-made
# environment and exits 0; the tests that need it are then skipped.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
base="${MSTAR_TRAINERS_VENV:-$root/.venv-trainers}"
python="${PYTHON:-python3}"
say() { echo "install_trainers: $*" >&2; }

torch_version=$("$python" -c "import torch; print(torch.__version__)" 2>/dev/null || true)
case "$torch_version" in
  "") say "no torch in $python (scripts/test installs the CPU wheel from /opt/wheels); LLaMA-Factory and ms-swift not installed, their tests will be skipped"; exit 0 ;;
  *+cpu*) ;;
  *) say "note: system torch is $torch_version (not a +cpu build); reusing it as it is" ;;
esac

# One entry per environment: the packages installed without their dependencies (the trainer itself),
# then the ones installed with theirs (resolved by pip under the torch constraint), then a smoke import.
LF_NODEPS="llamafactory==0.9.5 torchaudio==2.11.1"
LF_DEPS="transformers==5.6.0 datasets==4.0.0 trl==0.24.0 peft==0.18.1 accelerate==1.11.0 omegaconf==2.4.0 kernels==0.14.1"
LF_QUICK="import llamafactory"
LF_SMOKE="import llamafactory, torchaudio; from llamafactory.hparams import get_train_args; from llamafactory.data import get_dataset, get_template_and_fix_tokenizer; from llamafactory.model import load_tokenizer; from llamafactory.train.tuner import run_exp"
SWIFT_NODEPS="ms-swift==4.6.0"
SWIFT_DEPS="transformers==5.19.0 datasets==4.8.4 trl==0.29.1 peft==0.20.0 modelscope==1.40.2 json-repair==0.64.6 einops==0.8.2"
SWIFT_QUICK="import swift.version"
SWIFT_SMOKE="import swift; from swift import load_dataset, get_processor, get_template; from swift.arguments import SftArguments; from swift.pipelines import sft_main; from swift.cli.main import parse_yaml_args"

build() {  # name nodeps deps quick-import smoke-import
  local name=$1 nodeps=$2 deps=$3 quick=$4 smoke=$5
  local venv="$base/$name" recipe="torch==$torch_version | $nodeps | $deps"
  if [ -f "$venv/.mstar-recipe" ] && [ "$(cat "$venv/.mstar-recipe")" = "$recipe" ] \
     && "$venv/bin/python" -c "$quick" >/dev/null 2>&1; then
    say "$name: up to date in $venv"
    return 0
  fi
  local start=$SECONDS log
  log=$(mktemp)
  say "$name: creating $venv (--system-site-packages, torch==$torch_version from the system)"
  rm -rf "$venv"
  mkdir -p "$base"
  echo "torch==$torch_version" > "$base/constraints.txt"
  local pip=("$venv/bin/python" -m pip install --disable-pip-version-check --quiet -c "$base/constraints.txt")
  if ! "$python" -m venv --system-site-packages "$venv" >"$log" 2>&1; then
    say "$name: could not create the virtual environment:"; tail -5 "$log" >&2
    rm -rf "$venv" "$log"; return 1
  fi
  say "$name: pip install --no-deps $nodeps"
  if ! "${pip[@]}" --no-deps $nodeps >"$log" 2>&1; then
    say "$name: install failed:"; tail -5 "$log" >&2; rm -rf "$venv" "$log"; return 1
  fi
  say "$name: pip install $deps (and what they need)"
  if ! "${pip[@]}" $deps >"$log" 2>&1; then
    say "$name: install failed:"; tail -5 "$log" >&2; rm -rf "$venv" "$log"; return 1
  fi
  if [ "$name" = llamafactory ]; then
    # LLaMA-Factory's multimodal plugin imports torchaudio at the top (for audio only). PyPI's torchaudio
    # is built against CUDA torch and its native extension cannot load beside a CPU torch; without the
    # extension files torchaudio imports in its pure-Python mode (its own fallback for packagings that
    # lack them), which is all the image path needs.
    say "$name: removing torchaudio's CUDA-built extension libraries (pure-Python torchaudio)"
    rm -f "$venv"/lib/python*/site-packages/torchaudio/lib/*.so
  fi
  if ! "$venv/bin/python" -c "$smoke" >"$log" 2>&1; then
    say "$name: installed but does not import:"; tail -5 "$log" >&2; rm -rf "$venv" "$log"; return 1
  fi
  echo "$recipe" > "$venv/.mstar-recipe"
  rm -f "$log"
  say "$name: ready in $((SECONDS - start)) s, $(du -sh "$venv" | cut -f1) ($venv)"
}

build llamafactory "$LF_NODEPS" "$LF_DEPS" "$LF_QUICK" "$LF_SMOKE" \
  || say "llamafactory: not installed; the LLaMA-Factory tests will be skipped"
build swift "$SWIFT_NODEPS" "$SWIFT_DEPS" "$SWIFT_QUICK" "$SWIFT_SMOKE" \
  || say "swift: not installed; the ms-swift tests will be skipped"
exit 0
