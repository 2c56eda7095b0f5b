"""The pre-exam checklist: steps from the rule profile, run by the silent bot, examiner in control."""
