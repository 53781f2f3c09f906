"""Text encoder parity with ltx-core: feature extractor + connectors, and prompt -> (video, audio) contexts
through the reference's ModelLedger + encode_prompts on the tiny Gemma 3 made by build/tiny_gemma.py."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ltx_backend.loading.model_path import find_gemma
from ltx_backend.models.text_encoder import build_embeddings_processor, checkpoint_key, embeddings_processor_key, uses_feature_extractor_v2
from ltx_backend.models.text_encoder.encoder import load_text_encoder
from ltx_backend.models.text_encoder.gemma import load_gemma_encoder, load_gemma_text_config
from ltx_testing.tiny_configs import tiny_connector_config
from reference_env import use_tiny_gemma_config

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ("2", "2.3")
PROMPTS = ["A cat sits on the windowsill while the sun sets, soft piano music plays.", ""]

# The transformer's own keys that the text path reads too (written by the transformer's tiny config).
TRANSFORMER_KEYS = {
    "2": {"num_attention_heads": 2, "attention_head_dim": 16, "audio_num_attention_heads": 2,
          "audio_attention_head_dim": 8},
    "2.3": {"num_attention_heads": 2, "attention_head_dim": 16, "audio_num_attention_heads": 2,
            "audio_attention_head_dim": 8, "rope_type": "split", "frequencies_precision": "float64"},
}


def full_config(version: str) -> dict:
    return {"transformer": {**TRANSFORMER_KEYS[version], **tiny_connector_config(version)}}


def _load_maker():
    spec = importlib.util.spec_from_file_location("tiny_gemma", ROOT / "build" / "tiny_gemma.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gemma_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_ckpt")
    _load_maker().make_tiny_gemma(root, seed=0)
    return root


@pytest.fixture
def tiny_reference_gemma(gemma_root, monkeypatch):
    """Substitute the tiny Gemma config for the reference's hard-coded Gemma 3 12B config."""
    return use_tiny_gemma_config(gemma_root, monkeypatch)


def randomize_(module: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(module.named_parameters()):
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith("norm.weight"):
                value = 1.0 + 0.1 * noise
            elif name.endswith("learnable_registers"):
                value = noise
            elif param.ndim >= 2:
                value = noise / param.shape[-1] ** 0.5
            else:
                value = 0.1 * noise
            param.data = value.to(torch.float32)


def reference_processor(version: str, seed: int):
    from ltx_core.text_encoders.gemma import EmbeddingsProcessorConfigurator

    processor = EmbeddingsProcessorConfigurator.from_config(full_config(version))
    randomize_(processor, seed)
    return processor.float().eval()


def our_processor(version: str, state_dict: dict, gemma_config):
    with torch.device("meta"):
        processor = build_embeddings_processor(full_config(version), gemma_config)
    processor.load_state_dict(state_dict, strict=True, assign=True)
    return processor.eval()


def assert_close(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    assert torch.isfinite(ours).all()
    err = (ours.float() - ref.float()).abs().max().item()
    assert err <= 1e-4 * max(1.0, ref.abs().max().item()), err
    return err


@pytest.mark.parametrize("version", VERSIONS)
def test_embeddings_processor_parity(version, gemma_root, tiny_reference_gemma):
    gemma_config = load_gemma_text_config(gemma_root / "text_encoder")
    ref = reference_processor(version, seed=1)
    ours = our_processor(version, ref.state_dict(), gemma_config)
    assert type(ours.feature_extractor).__name__ == type(ref.feature_extractor).__name__
    assert uses_feature_extractor_v2(full_config(version)["transformer"]) == (version == "2.3")

    generator = torch.Generator().manual_seed(2)
    layers, t, d = gemma_config.num_hidden_layers + 1, 1024, gemma_config.hidden_size
    hidden = [torch.randn(2, t, d, generator=generator) * (1 + i) for i in range(layers)]
    mask = torch.zeros(2, t, dtype=torch.int64)
    mask[0, -9:] = 1
    mask[1, -1:] = 1  # an empty prompt is just <bos>

    with torch.no_grad():
        batched = ours(hidden, mask)
        for row in range(2):
            expected = ref.process_hidden_states(tuple(h[row : row + 1] for h in hidden), mask[row : row + 1])
            assert_close(batched.video[row : row + 1], expected.video_encoding)
            assert_close(batched.audio[row : row + 1], expected.audio_encoding)
            assert torch.equal(batched.mask[row : row + 1], expected.attention_mask)
    assert batched.video.shape == (2, t, 64 if version == "2" else 32)
    assert batched.audio.shape == (2, t, 64 if version == "2" else 16)


def test_checkpoint_key_map_matches_reference(gemma_root, tiny_reference_gemma):
    from ltx_core.text_encoders.gemma import EMBEDDINGS_PROCESSOR_KEY_OPS

    for version in VERSIONS:
        for key in reference_processor(version, seed=0).state_dict():
            stored = checkpoint_key(key)
            assert EMBEDDINGS_PROCESSOR_KEY_OPS.apply_to_key(stored) == key
            assert embeddings_processor_key(stored) == key
    for other in ("model.diffusion_model.transformer_blocks.0.attn1.to_q.weight", "vae.decoder.conv_in.weight",
                  "model.diffusion_model.caption_projection.linear_1.weight"):
        assert embeddings_processor_key(other) is None
        assert EMBEDDINGS_PROCESSOR_KEY_OPS.apply_to_key(other) is None


def test_v2_config_checks():
    full = tiny_connector_config("2.3")
    partial = {k: v for k, v in full.items() if k != "caption_proj_input_norm"}
    with pytest.raises(ValueError, match="caption_proj_input_norm"):
        uses_feature_extractor_v2(partial)
    with pytest.raises(ValueError, match="caption_projection_first_linear=True"):
        uses_feature_extractor_v2({**full, "caption_projection_first_linear": True})
    with pytest.raises(ValueError, match="rope_type"):
        build_embeddings_processor({"transformer": {"rope_type": "spiral"}}, tiny_text_config())


def tiny_text_config():
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(hidden_size=64, num_hidden_layers=2, head_dim=32, num_attention_heads=2,
                            num_key_value_heads=1, intermediate_size=128, vocab_size=512)


def test_tokenizer_files_agree(gemma_root):
    import sentencepiece as spm

    encoder = load_gemma_encoder(find_gemma(str(gemma_root)), "cpu", torch.float32)
    sp = spm.SentencePieceProcessor(model_file=str(gemma_root / "tokenizer" / "tokenizer.model"))
    texts = [PROMPTS[0], "Zebra ünïcode 日本 \t tabs  and  spaces", "<start_of_turn>user hi", ""]
    ids, mask = encoder.tokenize(texts)
    assert ids.shape == mask.shape == (len(texts), 1024)
    for row, text in enumerate(texts):
        expected = [2, *sp.encode(text.strip())]  # <bos> + pieces, left-padded with <pad> = 0
        length = int(mask[row].sum())
        assert ids[row, -length:].tolist() == expected and length == len(expected)
        assert not ids[row, :-length].any()


def write_ltx_checkpoint(path: Path, version: str, processor: torch.nn.Module) -> None:
    tensors = {checkpoint_key(k): v.contiguous() for k, v in processor.state_dict().items()}
    metadata = {"config": json.dumps(full_config(version)), "model_version": "2.3.0" if version == "2.3" else "2.0.0"}
    save_file(tensors, str(path), metadata=metadata)


@pytest.mark.parametrize("version", VERSIONS)
def test_prompt_encoding_parity(version, gemma_root, tiny_reference_gemma, tmp_path):
    from ltx_pipelines.utils.helpers import encode_prompts
    from ltx_pipelines.utils.model_ledger import ModelLedger

    checkpoint = tmp_path / f"ltx-{version}-tiny.safetensors"
    write_ltx_checkpoint(checkpoint, version, reference_processor(version, seed=3))
    ledger = ModelLedger(dtype=torch.float32, device=torch.device("cpu"), checkpoint_path=str(checkpoint),
                         gemma_root_path=str(gemma_root))
    expected = encode_prompts(PROMPTS, ledger)

    ours = load_text_encoder(find_gemma(str(gemma_root)), checkpoint, "cpu", torch.float32).encode(PROMPTS)
    for row, ref in enumerate(expected):
        assert_close(ours.video[row : row + 1], ref.video_encoding)
        assert_close(ours.audio[row : row + 1], ref.audio_encoding)
        assert torch.equal(ours.mask[row : row + 1], ref.attention_mask)
    assert [e.video_encoding.shape for e in expected] == [o.video.shape for o in ours.unbind()]


def test_gemma_matches_reference_text_encoder(gemma_root, tiny_reference_gemma, tmp_path):
    """The reference loads our tiny Gemma fully; our text tower holds the same weights and gives the same
    hidden states (prompt lengths differ, so the batched left padding is exercised)."""
    from ltx_pipelines.utils.model_ledger import ModelLedger

    checkpoint = tmp_path / "ltx-2-tiny.safetensors"
    write_ltx_checkpoint(checkpoint, "2", reference_processor("2", seed=0))
    ledger = ModelLedger(dtype=torch.float32, device=torch.device("cpu"), checkpoint_path=str(checkpoint),
                         gemma_root_path=str(gemma_root))
    reference = ledger.text_encoder()
    meta = [n for n, t in [*reference.named_parameters(), *reference.named_buffers()] if t.is_meta]
    assert not meta, meta  # the reference loads non-strictly: check everything was filled
    assert reference.processor is not None and reference.tokenizer is not None

    ours = load_gemma_encoder(find_gemma(str(gemma_root)), "cpu", torch.float32)
    # the reference re-registers the RoPE tables and the embedding scale as persistent buffers
    ref_text = reference.model.model.language_model.state_dict()
    our_text = {**ours.model.state_dict(), **dict(ours.model.named_buffers())}
    assert ref_text.keys() == our_text.keys()
    assert all(torch.equal(ref_text[k], our_text[k]) for k in ref_text)

    hidden, mask = ours.encode(PROMPTS)
    assert len(hidden) == 3
    with torch.no_grad():
        for row, prompt in enumerate(PROMPTS):
            ref_hidden, ref_mask = reference.encode(prompt)
            assert torch.equal(mask[row : row + 1], ref_mask)
            real = ref_mask[0].bool()
            for ours_h, ref_h in zip(hidden, ref_hidden, strict=True):
                assert_close(ours_h[row : row + 1][:, real], ref_h[:, real])


def test_maker_is_deterministic(gemma_root, tmp_path):
    _load_maker().make_tiny_gemma(tmp_path, seed=0)
    made = sorted(p.relative_to(gemma_root) for p in gemma_root.rglob("*") if p.is_file() and p.parent.name in
                  ("text_encoder", "tokenizer"))
    assert [str(p) for p in made] == [
        "text_encoder/config.json", "text_encoder/model.safetensors", "tokenizer/chat_template.jinja",
        "tokenizer/preprocessor_config.json", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer.json", "tokenizer/tokenizer.model",
        "tokenizer/tokenizer_config.json",
    ]
    for relative in made:
        assert (tmp_path / relative).read_bytes() == (gemma_root / relative).read_bytes(), relative


def test_bfloat16_close_to_float32(gemma_root, tiny_reference_gemma, tmp_path):
    checkpoint = tmp_path / "ltx-2.3-tiny.safetensors"
    write_ltx_checkpoint(checkpoint, "2.3", reference_processor("2.3", seed=4))
    full = load_text_encoder(find_gemma(str(gemma_root)), checkpoint, "cpu", torch.float32).encode(PROMPTS)
    half = load_text_encoder(find_gemma(str(gemma_root)), checkpoint, "cpu", torch.bfloat16).encode(PROMPTS)
    assert half.video.dtype == torch.bfloat16
    for ours, ref in ((half.video, full.video), (half.audio, full.audio)):
        assert (ours.float() - ref).abs().max() <= 0.1 * ref.abs().max()
