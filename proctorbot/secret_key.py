"""The key that signs every link (call, download, dashboard cookie): never the published one.

``server.secret_key`` ships with a default that anybody can read in the source, so a
link signed with it proves nothing. Resolved once by the composition root:

- a key set in the settings (file or ``PROCTORBOT_SERVER__SECRET_KEY``) is used as is;
- left at the default, the server uses a random key of its own, made on the first start
  and kept in ``<data_dir>/secret_key`` (mode 0600), so links survive a restart;
- `proctorbot serve` refuses to listen on a non-loopback address, or to hand out links
  to a non-loopback public URL, while the setting is left at the default
  (``check_key_for_serving``): several servers, or a server whose data folder is
  replaced, must share one key that the operator chose.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import urlsplit

from proctorbot.config.settings import DEFAULT_SECRET_KEY, Settings

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secret_key"
MIN_KEY_CHARS = 32
SETTING_HINT = "server.secret_key (or PROCTORBOT_SERVER__SECRET_KEY)"


class SecretKeyError(Exception):
    """The key cannot be used as configured; the message says which setting to change."""


def uses_default_key(settings: Settings) -> bool:
    return settings.server.secret_key.get_secret_value() == DEFAULT_SECRET_KEY


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost`` (what only this machine can reach)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_key_for_serving(settings: Settings) -> None:
    """Raise SecretKeyError when the server would be reachable from other machines (or
    hand out links to a public address) while signing with the published default key."""
    if not uses_default_key(settings):
        return
    server = settings.server
    public_host = urlsplit(server.public_url).hostname or ""
    if not is_loopback(server.host):
        where = f"on {server.host}"
    elif not is_loopback(public_host):
        where = f"for {server.public_url}"
    else:
        return
    raise SecretKeyError(
        f"refusing to serve {where} with the default secret key: set {SETTING_HINT}"
        f" to a random value of at least {MIN_KEY_CHARS} characters"
        " (e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
    )


def resolve_secret_key(settings: Settings) -> bytes:
    """The key to sign with: the configured one, or this data folder's own random key."""
    if not uses_default_key(settings):
        return settings.server.secret_key.get_secret_value().encode()
    return data_folder_key(settings.data_dir / KEY_FILE_NAME)


def data_folder_key(path: Path) -> bytes:
    """Read the key kept at ``path``, or make it (random, mode 0600) if there is none.

    Two processes starting at once agree: the key is written to a file of its own, then
    linked into place (which fails if the other was first; then its key is read)."""
    if path.exists():
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: no race to lose there
            os.replace(draft, path)
    except FileExistsError:
        return _read_key(path)
    finally:
        draft.unlink(missing_ok=True)
    log.info("made a secret key for this data folder: %s (mode 0600)", path)
    return key.encode()


def _read_key(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("%s was readable by others (mode %o); now 0600", path, mode)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_KEY_CHARS:
        raise SecretKeyError(
            f"{path} holds no usable key (under {MIN_KEY_CHARS} characters): delete it to"
            f" make a new one (links already sent stop working), or set {SETTING_HINT}"
        )
    return key.encode()
