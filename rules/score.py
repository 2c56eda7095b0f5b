"""Trust score 0–100 that explains itself: every point taken off names its finding.

ProctorEdu's 0–100 trust score [001 §4.3] is the anchor; ours is a plain sum so an
examiner can check it by hand: 100 minus the profile's points per finding severity
(capped per rule) minus points per failed required checklist step. Dismissed findings
cost nothing and are listed as such. A verdict is given only when the profile enables
``verdict.auto_fail``; otherwise the examiner decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from proctorbot.config.profiles import RuleProfile
from proctorbot.rules.findings import Decision, Finding


@dataclass(frozen=True)
class Deduction:
    points: float
    rule: str  # a finding's rule, or "checklist"
    finding_id: str = ""
    step: str = ""  # the checklist step, for rule == "checklist"
    capped: bool = False  # fewer points than the severity asks: the rule's cap was reached
    dismissed: bool = False


@dataclass(frozen=True)
class TrustScore:
    value: int
    deductions: tuple[Deduction, ...] = ()
    verdict: str | None = None  # None (the examiner decides) | "pass" | "fail"
    verdict_reason: str = ""  # catalogue key under report.verdict_reason


def trust_score(
    findings: Iterable[Finding],
    profile: RuleProfile,
    decisions: Mapping[str, Decision] | None = None,
    failed_checklist_steps: Iterable[str] = (),
) -> TrustScore:
    decisions = decisions or {}
    weights = profile.score
    deductions: list[Deduction] = []
    per_rule: dict[str, float] = {}
    live_gross = False
    for finding in findings:
        if not finding.counts:
            continue
        decision = decisions.get(finding.id)
        if decision is not None and decision.dismissed:
            deductions.append(Deduction(0.0, finding.rule, finding.id, dismissed=True))
            continue
        wanted = weights.points(finding.severity)
        room = max(0.0, weights.max_per_rule - per_rule.get(finding.rule, 0.0))
        points = min(wanted, room)
        per_rule[finding.rule] = per_rule.get(finding.rule, 0.0) + points
        deductions.append(Deduction(points, finding.rule, finding.id, capped=points < wanted))
        live_gross = live_gross or finding.severity == "gross"
    for step in failed_checklist_steps:
        deductions.append(Deduction(weights.checklist_step_failed, "checklist", step=step))
    value = int(round(max(0.0, 100.0 - sum(d.points for d in deductions))))
    verdict, reason = None, ""
    if profile.verdict.auto_fail:
        if profile.verdict.fail_on_gross and live_gross:
            verdict, reason = "fail", "gross"
        elif value < profile.verdict.fail_below_score:
            verdict, reason = "fail", "low_score"
        else:
            verdict, reason = "pass", "ok"
    return TrustScore(
        value=value, deductions=tuple(deductions), verdict=verdict, verdict_reason=reason
    )
