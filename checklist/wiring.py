"""Builds a session's ChecklistRunner from the database, the rule profile and the bot."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from proctorbot.checklist.checks import CheckThresholds
from proctorbot.checklist.detectors import ChecklistDetectors, SessionBotLike
from proctorbot.checklist.notify import OutboxNotifier
from proctorbot.checklist.plan import ChecklistPlan
from proctorbot.checklist.recording_probe import BotRecordingProbe
from proctorbot.checklist.runner import ChecklistRunner
from proctorbot.checklist.session_facts import load_session_facts
from proctorbot.checklist.store import ChecklistStore
from proctorbot.checklist.trial import trial_plan

from proctorbot.context import AppContext

log = logging.getLogger(__name__)


def plan_for_profile(name: str) -> ChecklistPlan:
    from proctorbot.config.profiles import ProfileError, load_profile

    try:
        return ChecklistPlan.from_profile(load_profile(name))
    except ProfileError:
        log.exception("rule profile %r is unusable: the default checklist is used", name)
        return ChecklistPlan.default()


async def build_runner(
    ctx: AppContext,
    bot: SessionBotLike,
    session_id: str,
    detectors: ChecklistDetectors,
    thresholds: CheckThresholds | None = None,
) -> ChecklistRunner | None:
    """None when the session has no student (nobody to check)."""
    facts = await asyncio.to_thread(load_session_facts, ctx, session_id)
    if facts is None or not facts.student_name:
        log.info("session %s: no student on the roster, no checklist", session_id)
        return None
    plan = await asyncio.to_thread(plan_for_profile, facts.profile)
    trial = facts.kind == "trial"  # a test call: consent and the equipment steps only
    if trial:
        plan = trial_plan(plan)
    if detectors.recording is None:  # per session: it asks this session's bot
        detectors = replace(detectors, recording=BotRecordingProbe(bot))
    return ChecklistRunner(
        bot,
        session_id=session_id,
        plan=plan,
        store=ChecklistStore(ctx.db, bot.session_dir),
        student_name=facts.student_name,
        student_person_id=facts.student_person_id or "",
        language=facts.language,
        profile_name=facts.profile,
        detectors=detectors,
        # a trial's result goes to the organizers in one list the day before (scheduling)
        notifier=None if trial else OutboxNotifier(ctx, facts),
        thresholds=thresholds,
        trial=trial,
    )


def trial_sample_seconds(profile_name: str) -> float:
    """How long a trial call records once its checks are decided (``[trial_call]``)."""
    from proctorbot.config.profiles import ProfileError, TrialCall, load_profile

    try:
        return load_profile(profile_name).trial_call.sample_seconds
    except ProfileError:
        return TrialCall().sample_seconds
