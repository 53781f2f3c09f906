"""Our Gemma code under transformers 4 (the main venv, beside Lightricks' reference) and 5 (the diffusers venv,
what a user's current environment has): the text encoder's hidden states and the prompt enhancer's logits agree.
transformers 5 rebuilt Gemma 3's rotary embeddings (one module, a table per layer type) and flattened SigLIP's
vision model; loading from the meta device must fit both."""
from __future__ import annotations

import os
import subprocess

import pytest
import torch

from conftest import ROOT, THREADS
from text_encoder_outputs import DECODE_STEPS, text_encoder_outputs

DIFFUSERS_PYTHON = ROOT / ".venv-diffusers" / "bin" / "python"


@pytest.fixture(scope="module", params=["2", "2.3"])
def both(request, tiny_checkpoints, tmp_path_factory):
    assert DIFFUSERS_PYTHON.exists(), f"{DIFFUSERS_PYTHON} is missing: `make setup` (build/setup_diffusers_env.sh) makes it"
    directory = tiny_checkpoints[request.param]
    out = tmp_path_factory.mktemp("transformers5") / "outputs.pt"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("python_backend", "kernels", "client")))
    subprocess.run([str(DIFFUSERS_PYTHON), str(ROOT / "tests" / "text_encoder_outputs.py"), str(directory), str(out), str(THREADS)],
                   check=True, capture_output=True, env=env, cwd=ROOT, timeout=300)
    return text_encoder_outputs(directory), torch.load(out)


def test_the_two_venvs_hold_transformers_4_and_5(both):
    four, five = both
    assert four["transformers"].startswith("4.") and five["transformers"].startswith("5."), (four["transformers"], five["transformers"])


def test_text_encoder_hidden_states_agree(both):
    four, five = both
    assert torch.equal(four["attention_mask"], five["attention_mask"])
    scale = four["hidden_states"].abs().max()
    torch.testing.assert_close(five["hidden_states"], four["hidden_states"], rtol=0, atol=1e-5 * scale)


def test_prompt_enhancer_logits_agree(both):
    """The chat's prefill (no cache) and greedy decoding with each version's cache: logits within float noise
    (measured: equal at prefill, 1e-6 apart per decoding step; so sampled enhanced text can part after many tokens)."""
    four, five = both
    scale = four["prefill_logits"].abs().max()
    torch.testing.assert_close(five["prefill_logits"], four["prefill_logits"], rtol=0, atol=1e-5 * scale)
    assert torch.equal(five["greedy_tokens"], four["greedy_tokens"])
    assert four["greedy_scores"].shape[0] == DECODE_STEPS
    torch.testing.assert_close(five["greedy_scores"], four["greedy_scores"], rtol=0, atol=1e-4 * scale)
