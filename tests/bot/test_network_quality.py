"""Network quality from aiortc's receive stats: the numbers and the equipment verdict."""

from types import SimpleNamespace

from proctorbot.bot.network_quality import NetworkQuality, quality_from_stats


def inbound(kind: str, received: int, lost: int, jitter: int) -> SimpleNamespace:
    return SimpleNamespace(
        type="inbound-rtp", kind=kind, packetsReceived=received, packetsLost=lost, jitter=jitter
    )


def test_sums_streams_and_converts_jitter_to_milliseconds() -> None:
    stats = [
        inbound("video", 900, 100, 9000),  # 9000 / 90 kHz = 100 ms
        inbound("audio", 1000, 0, 480),  # 480 / 48 kHz = 10 ms
        SimpleNamespace(type="transport"),
    ]
    quality = quality_from_stats(stats)
    assert (quality.packets_received, quality.packets_lost) == (1900, 100)
    assert abs(quality.loss_ratio - 0.05) < 1e-9
    assert abs(quality.jitter_ms - 100.0) < 1e-9


def test_verdict() -> None:
    assert NetworkQuality(1000, 10, 20.0).acceptable()
    assert not NetworkQuality(1000, 200, 20.0).acceptable()  # 17 % lost
    assert not NetworkQuality(1000, 0, 250.0).acceptable()  # jittery
    assert not NetworkQuality(0, 0, 0.0).acceptable()  # nothing arrives


async def test_real_connection_reports_received_packets() -> None:
    """Two aiortc peers on loopback: the receiving side counts packets, none lost."""
    import asyncio

    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack
    from proctorbot.bot.loopback import restrict_to_loopback
    from proctorbot.bot.network_quality import measure

    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    try:
        sender.addTrack(AudioStreamTrack())
        restrict_to_loopback(sender)  # never a packet to another address
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        restrict_to_loopback(receiver)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        for _ in range(100):
            quality = await measure(receiver)
            if quality.packets_received > 20:
                break
            await asyncio.sleep(0.1)
        assert quality.packets_received > 20
        assert quality.packets_lost == 0
        assert quality.acceptable()
    finally:
        await sender.close()
        await receiver.close()
