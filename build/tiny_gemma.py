"""Make a tiny random-weight Gemma 3 text encoder and its tokenizer, offline and deterministically.

Layout written under ``root`` (our official checkpoint layout; passing ``root`` as the reference's
``gemma_root`` works too, because the reference finds ``tokenizer.model``, ``preprocessor_config.json``
and ``model*.safetensors`` anywhere below it):

    root/text_encoder/config.json           Gemma3ForConditionalGeneration config (tiny text + vision towers)
    root/text_encoder/model.safetensors     hub key layout: language_model.model.*, vision_tower.*,
                                            multi_modal_projector.* (no lm_head: tied to embed_tokens)
    root/tokenizer/tokenizer.model          SentencePiece BPE with byte fallback, trained on CORPUS below
    root/tokenizer/tokenizer.json           the same tokenizer for `tokenizers` (built the way transformers'
                                            GemmaConverter builds it; no protobuf needed to load it)
    root/tokenizer/tokenizer_config.json, special_tokens_map.json
    root/tokenizer/preprocessor_config.json Gemma3ImageProcessor settings (the reference loads a processor)

Usage: ``python build/tiny_gemma.py OUT_DIR [--seed N]``.
"""
from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path

import torch

TEXT_ENCODER_DIR = "text_encoder"
TOKENIZER_DIR = "tokenizer"
VOCAB_SIZE = 512  # embedding rows; the trained tokenizer uses at most this many ids

# Gemma's fixed ids (0..3) then the special pieces Gemma 3 uses for chat and images.
BASE_PIECES = {"pad": "<pad>", "eos": "<eos>", "bos": "<bos>", "unk": "<unk>"}
CHAT_TOKENS = ["<start_of_turn>", "<end_of_turn>"]
IMAGE_TOKENS = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}
SPECIAL_PIECES = [*CHAT_TOKENS, *IMAGE_TOKENS.values()]  # ids 4..8
# Gemma 3's published chat template (google/gemma-3-*-it tokenizer_config.json): the prompt enhancer chats with it.
CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}"
)

CORPUS = [
    "A cat sits on the windowsill while the sun sets over the quiet harbor.",
    "The camera slowly pans across a misty pine forest at dawn, birds singing softly in the distance.",
    "A woman in a red coat walks through a busy city street as rain begins to fall.",
    "Close-up of a steaming cup of coffee on a wooden table, morning light streaming in.",
    "An old man plays the violin on a bridge; people stop to listen and clap.",
    "Waves crash against black volcanic rocks under a dramatic stormy sky.",
    "A golden retriever runs across a green meadow chasing a bright yellow ball.",
    "Neon signs flicker above a narrow alley at night, reflections shimmering in puddles.",
    "A chef tosses vegetables in a sizzling wok, flames leaping up around the pan.",
    "Snow falls gently on a small village with warm lights glowing in every window.",
    "A child laughs while blowing soap bubbles in a sunny backyard garden.",
    "The spacecraft drifts past a giant blue planet, stars glittering behind it.",
    "Two friends talk and laugh at a cafe table, the street noise humming around them.",
    "A drone shot rises over a winding mountain road lined with autumn trees.",
    "Slow motion: a drop of water falls into a still pond, sending out perfect ripples.",
    "A musician strums an acoustic guitar by a campfire as sparks drift into the night.",
    "Cinematic wide shot of a desert at noon, heat haze rippling above the sand dunes.",
    "A train speeds through the countryside, fields of wheat swaying in the wind.",
    "The narrator says: \"Welcome to the future of video.\" Soft piano music plays.",
    "12 lanterns float up into the sky; 3 boats drift on the river below at 9 pm.",
    "Blurry, low quality, distorted, jittery, overexposed, watermark, text, artifacts.",
    "Worst quality, inconsistent motion, flickering, out of focus, bad anatomy.",
]

# Dimensions agreed for the tiny checkpoints (hidden 64, 2 layers, 2 heads, 1 kv head, head_dim 32).
# Field names follow ltx_core.text_encoders.gemma.config.Gemma3TextConfig / Gemma3VisionConfig.
TEXT_CONFIG = {
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "cache_implementation": "hybrid",
    "final_logit_softcapping": None,
    "head_dim": 32,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "max_position_embeddings": 131072,
    "model_type": "gemma3_text",
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "num_key_value_heads": 1,
    "query_pre_attn_scalar": 32,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "rope_theta": 1000000,
    "sliding_window": 16,  # short, so the sliding-window layer really differs from the global one
    "sliding_window_pattern": 2,  # layer 0 sliding, layer 1 global
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": VOCAB_SIZE,
}
VISION_CONFIG = {
    "attention_dropout": 0.0,
    "hidden_act": "gelu_pytorch_tanh",
    "hidden_size": 16,
    "image_size": 64,
    "intermediate_size": 32,
    "layer_norm_eps": 1e-06,
    "model_type": "siglip_vision_model",
    "num_attention_heads": 2,
    "num_channels": 3,
    "num_hidden_layers": 1,
    "patch_size": 4,
    "torch_dtype": "float32",
    "vision_use_head": False,
}
# 16x16 tokens from the 16x16 patch grid: 256, as the published Gemma 3 has them (ltx-core's prompt enhancer builds its
# Gemma3Processor with the processor's default image_seq_length, 256; another count fails its image-to-video chat)
MM_TOKENS_PER_IMAGE = 256


def gemma_config(token_ids: dict[str, int]) -> dict:
    """The full Gemma3ForConditionalGeneration config.json (same fields as the reference's Gemma3ConfigData)."""
    return {
        "architectures": ["Gemma3ForConditionalGeneration"],
        "boi_token_index": token_ids[IMAGE_TOKENS["boi_token"]],
        "eoi_token_index": token_ids[IMAGE_TOKENS["eoi_token"]],
        "eos_token_id": [token_ids[BASE_PIECES["eos"]], token_ids["<end_of_turn>"]],
        "image_token_index": token_ids[IMAGE_TOKENS["image_token"]],
        "initializer_range": 0.02,
        "mm_tokens_per_image": MM_TOKENS_PER_IMAGE,
        "model_type": "gemma3",
        "text_config": dict(TEXT_CONFIG),
        "torch_dtype": "float32",
        "transformers_version": "4.51.0",
        "vision_config": dict(VISION_CONFIG),
    }


# --- tokenizer -------------------------------------------------------------------------------------


def train_sentencepiece(vocab_size: int = 400) -> bytes:
    """A Gemma-style SentencePiece BPE model (byte fallback, no dummy prefix, identity normalisation)."""
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=buffer,
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        pad_piece=BASE_PIECES["pad"], eos_piece=BASE_PIECES["eos"],
        bos_piece=BASE_PIECES["bos"], unk_piece=BASE_PIECES["unk"],
        user_defined_symbols=SPECIAL_PIECES,
        byte_fallback=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    return buffer.getvalue()


def fast_tokenizer_from_sentencepiece(model_proto: bytes):
    """Build the `tokenizers` object the way transformers' GemmaConverter does (BPE + byte fallback)."""
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from transformers.convert_slow_tokenizer import generate_merges

    sp = spm.SentencePieceProcessor(model_proto=model_proto)
    vocab_scores = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    vocab_scores[:3] = [(BASE_PIECES["pad"], 0.0), (BASE_PIECES["eos"], 0.0), (BASE_PIECES["bos"], 0.0)]
    if not any(piece == "\t" for piece, _ in vocab_scores):  # Gemma maps tab to a real piece
        tab = next(i for i, (piece, _) in enumerate(vocab_scores) if piece == "<0x09>")
        vocab_scores[tab] = ("\t", 0.0)
    vocab = {piece: i for i, (piece, _) in enumerate(vocab_scores)}
    merges = generate_merges(vocab, vocab_scores)

    tokenizer = Tokenizer(BPE(vocab, merges, unk_token=BASE_PIECES["unk"], fuse_unk=True, byte_fallback=True))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    added = [piece for i, (piece, _) in enumerate(vocab_scores) if sp.is_control(i) or piece in SPECIAL_PIECES]
    tokenizer.add_tokens([AddedToken(piece, normalized=False, special=True) for piece in added])
    return tokenizer


def write_tokenizer(directory: Path) -> dict[str, int]:
    """Write the tokenizer files; returns the vocabulary (piece -> id)."""
    from transformers import GemmaTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    model_proto = train_sentencepiece()
    (directory / "tokenizer.model").write_bytes(model_proto)
    backend = fast_tokenizer_from_sentencepiece(model_proto)
    tokenizer = GemmaTokenizerFast(
        tokenizer_object=backend,
        vocab_file=str(directory / "tokenizer.model"),
        extra_special_tokens=dict(IMAGE_TOKENS),
        additional_special_tokens=list(CHAT_TOKENS),
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )
    tokenizer.save_pretrained(str(directory))
    vocab = tokenizer.get_vocab()
    if len(vocab) > VOCAB_SIZE:
        raise RuntimeError(f"tokenizer has {len(vocab)} ids, more than the model's {VOCAB_SIZE} embeddings")
    return vocab


def write_preprocessor_config(directory: Path) -> None:
    size = VISION_CONFIG["image_size"]
    config = {
        "image_processor_type": "Gemma3ImageProcessor",
        "processor_class": "Gemma3Processor",
        "do_convert_rgb": None,
        "do_normalize": True,
        "do_pan_and_scan": None,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "image_seq_length": MM_TOKENS_PER_IMAGE,
        "resample": 2,
        "rescale_factor": 1 / 255,
        "size": {"height": size, "width": size},
    }
    (directory / "preprocessor_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


# --- weights ---------------------------------------------------------------------------------------

# Gemma3ForConditionalGeneration module names -> the hub's (pre-4.52) checkpoint key layout.
_HUB_PREFIXES = (
    ("model.language_model.", "language_model.model."),
    ("model.vision_tower.", "vision_tower."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
)


def _hub_key(module_key: str) -> str | None:
    for module_prefix, hub_prefix in _HUB_PREFIXES:
        if module_key.startswith(module_prefix):
            return hub_prefix + module_key[len(module_prefix) :]
    return None  # lm_head.weight: tied to the token embedding, not stored


def random_gemma_weights(config: dict, seed: int) -> dict[str, torch.Tensor]:
    """Seeded random values for every stored tensor, scaled so activations stay O(1)."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    with torch.device("meta"):
        model = Gemma3ForConditionalGeneration(Gemma3Config.from_dict(config))
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name, meta in sorted(model.state_dict().items()):
        key = _hub_key(name)
        if key is None:
            continue
        values = torch.randn(meta.shape, generator=generator, dtype=torch.float32)
        if meta.ndim == 1:
            values = values * 0.1  # biases, and norm weights (Gemma norms scale by 1 + w)
            if "layer_norm" in name or "post_layernorm" in name:
                values = values + 1.0  # SigLIP LayerNorm scales by w
        else:
            values = values / math.sqrt(meta.shape[-1])
        weights[key] = values.contiguous()
    return weights


def make_tiny_gemma(root: Path, seed: int = 0) -> None:
    """Write the tiny Gemma 3 (text_encoder/) and its tokenizer (tokenizer/) under ``root``."""
    from safetensors.torch import save_file

    root = Path(root)
    tokenizer_dir = root / TOKENIZER_DIR
    vocab = write_tokenizer(tokenizer_dir)
    write_preprocessor_config(tokenizer_dir)

    config = gemma_config(vocab)
    text_encoder_dir = root / TEXT_ENCODER_DIR
    text_encoder_dir.mkdir(parents=True, exist_ok=True)
    (text_encoder_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    save_file(random_gemma_weights(config, seed), str(text_encoder_dir / "model.safetensors"), metadata={"format": "pt"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    make_tiny_gemma(args.root, args.seed)


if __name__ == "__main__":
    main()
