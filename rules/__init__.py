"""Events in, findings out: the session's rule profile applied to detector events.

The same code runs live (the bot's alerts, while the session goes on) and after the
session (the report); both consume the findings, neither re-implements a rule.

* ``rules.engine.evaluate(events, profile) -> list[Finding]``
* ``rules.score.trust_score(findings, profile, decisions, failed_steps) -> TrustScore``
* ``rules.findings``: ``Finding``, ``Decision`` (the examiner's word), ``finding_id``,
  ``findings_annotation`` (findings as a pyannote ``Annotation``, for pyannote.metrics)
* ``rules.episodes.merge_episodes(events)``: events of a track merged on pyannote.core
  spans (``Timeline.support()``)
"""
