"""What our Gemma code computes on a tiny checkpoint, as one dict of tensors: the text encoder's hidden states for
two prompts, and the prompt enhancer's logits for a chat turn (prefill) and greedy decoding with a cache.
tests/test_transformers_versions.py runs this in-process (the main venv: transformers 4) and as a script in the
diffusers venv (transformers 5), and compares.

    python tests/text_encoder_outputs.py CHECKPOINT_DIR OUT.pt   (PYTHONPATH: python_backend, kernels, client)
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

PROMPTS = ["A red fox runs through fresh snow at dawn", "  two\nlines  "]
DECODE_STEPS = 8


def text_encoder_outputs(checkpoint_dir: Path) -> dict[str, torch.Tensor | str]:
    import transformers

    from ltx_backend.models.text_encoder import enhancer
    from ltx_backend.models.text_encoder.gemma import GemmaFiles, load_gemma_encoder

    torch.manual_seed(0)
    gemma = load_gemma_encoder(GemmaFiles(checkpoint_dir / "text_encoder", checkpoint_dir / "tokenizer"), "cpu", torch.float32)
    states, mask = gemma.encode(PROMPTS)
    chat = enhancer.build_prompt_enhancer(gemma)
    tokenizer = chat.processor.tokenizer
    messages = [{"role": "system", "content": enhancer.system_prompt("t2v")}, {"role": "user", "content": "user prompt: A red fox"}]
    inputs = chat.processor(text=tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True),
                            images=None, return_tensors="pt")
    enhancer._pad_to_alignment(inputs, tokenizer.pad_token_id or 0)  # right-padded, as the enhancer sends it
    with torch.inference_mode():
        prefill = chat.model(**inputs, use_cache=False).logits[0, -1]
        greedy = chat.model.generate(**inputs, max_new_tokens=DECODE_STEPS, do_sample=False, output_scores=True,
                                     return_dict_in_generate=True)
    return {
        "transformers": transformers.__version__,
        "hidden_states": torch.stack([s.clone() for s in states]),  # [layers + 1, 2, 1024, hidden]
        "attention_mask": mask,
        "prefill_logits": prefill,
        "greedy_tokens": greedy.sequences[0, inputs.input_ids.shape[1]:],
        "greedy_scores": torch.stack(greedy.scores)[:, 0],  # [steps, vocab]
    }


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    torch.save(text_encoder_outputs(Path(sys.argv[1])), sys.argv[2])
