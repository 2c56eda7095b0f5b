"""Appending to a media file so that a full disk never leaves half a frame behind.

An unbuffered ``write`` on a nearly full disk may write part of the bytes and return
(no error), and the next one fails with ENOSPC. A file with a torn frame at its end
is what players choke on. ``append_whole`` writes all of a frame or none of it: when
the disk takes only part (or nothing), the file is cut back to where the frame began
and an ``OSError`` says why, so a segment always ends on a whole frame.
"""

from __future__ import annotations

import errno
import os
from typing import BinaryIO


def append_whole(handle: BinaryIO, data: bytes, size: int) -> int:
    """Append ``data`` at ``size`` (the file's length so far); returns the new length."""
    try:
        written = handle.write(data)
        if written is not None and written < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError:
        try:
            os.ftruncate(handle.fileno(), size)  # shrinking a file always works
            handle.seek(size)
        except OSError:
            pass
        raise
    return size + len(data)
