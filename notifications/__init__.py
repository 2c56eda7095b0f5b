"""Notifications to organizers, examiners and students: an outbox, Telegram, e-mail."""
