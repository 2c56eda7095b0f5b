"""A minimal Janus configuration folder: VideoRoom and the HTTP transport only.

Janus 1.1.2 refuses loopback ICE candidates: it is told the one interface (and its
address) to gather on. Its plugins and transports folders hold just the two libraries
used, so no other plugin, transport, event handler or logger loads.
"""

from __future__ import annotations

from pathlib import Path

JANUS_LIB_DIRS = (
    Path("/usr/lib/x86_64-linux-gnu/janus"),
    Path("/usr/lib/aarch64-linux-gnu/janus"),
    Path("/usr/lib/janus"),
    Path("/opt/janus/lib/janus"),
)


def janus_lib_dir() -> Path | None:
    for folder in JANUS_LIB_DIRS:
        if (folder / "plugins" / "libjanus_videoroom.so").exists():
            return folder
    return None


def write_janus_config(
    folder: Path,
    *,
    http_port: int,
    ice_address: str,
    ice_interface: str,
    record_dir: Path,
    api_secret: str | None = None,
    http_ip: str = "127.0.0.1",
) -> Path:
    """Write the folder's ``janus.jcfg`` (and the two plug-ins' files); its path."""
    lib = janus_lib_dir()
    if lib is None:
        raise FileNotFoundError("Janus plug-ins not found (Debian package: janus)")
    plugins, transports, empty = folder / "plugins", folder / "transports", folder / "none"
    for sub in (plugins, transports, empty, record_dir):
        sub.mkdir(parents=True, exist_ok=True)
    for link, target in (
        (plugins / "libjanus_videoroom.so", lib / "plugins" / "libjanus_videoroom.so"),
        (transports / "libjanus_http.so", lib / "transports" / "libjanus_http.so"),
    ):
        if not link.exists():
            link.symlink_to(target)
    secret_line = f'\tapi_secret = "{api_secret}"\n' if api_secret else ""
    (folder / "janus.jcfg").write_text(
        "general: {\n"
        f'\tconfigs_folder = "{folder}"\n'
        f'\tplugins_folder = "{plugins}"\n'
        f'\ttransports_folder = "{transports}"\n'
        f'\tevents_folder = "{empty}"\n'
        f'\tloggers_folder = "{empty}"\n'
        f'\tinterface = "{ice_address}"\n'
        "\tdebug_level = 4\n"
        "\tsession_timeout = 60\n"
        f"{secret_line}"
        "}\n"
        "media: {\n\tno_media_timer = 2\n}\n"
        "nat: {\n"
        f'\tice_enforce_list = "{ice_interface}"\n'
        "\tnice_debug = false\n"
        "\tignore_mdns = true\n"
        "\tfull_trickle = false\n"
        "}\n"
        "plugins: {\n}\n"
        "transports: {\n}\n"
        "loggers: {\n}\n"
        "events: {\n\tbroadcast = false\n}\n"
    )
    (folder / "janus.transport.http.jcfg").write_text(
        "general: {\n"
        '\tjson = "plain"\n'
        '\tbase_path = "/janus"\n'
        "\thttp = true\n"
        f"\tport = {http_port}\n"
        f'\tip = "{http_ip}"\n'
        "\thttps = false\n"
        "}\n"
        "admin: {\n\tadmin_http = false\n\tadmin_https = false\n}\n"
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return folder / "janus.jcfg"
