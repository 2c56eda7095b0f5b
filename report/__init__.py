"""What organizers receive after each session, built on the findings of ``rules/``.

The calls other areas use:

* ``proctorbot.config.profiles.load_profile(name_or_path) -> RuleProfile``
* ``report.service.rebuild_report(ctx, session_id, pdf=True) -> WrittenReport``
  (after a session ends; writes ``<recordings>/<id>/report/``)
* ``report.service.report_link(ctx, session_id, person_id=...) -> str``: the signed,
  expiring link for Telegram / e-mail (``report.links.download_link`` underneath)
* ``report.retention.run_retention(ctx, now=None)``: the daily retention job
* ``report.dashboard.setup(app, ctx)``: the dashboard inside ``proctorbot serve``
"""
