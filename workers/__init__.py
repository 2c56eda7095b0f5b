"""The work plane of the scale-out mode (issue 15): each session's bot and each hand-over
as a Dramatiq job on Redis, run by worker processes (``proctorbot worker``); leases in
PostgreSQL keep one bot per session. Off while ``[cluster] redis_url`` is empty."""
