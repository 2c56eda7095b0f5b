"""proctorbot: a silent WebRTC bot for oral exams and interviews.

The product lives in one top-level folder per responsibility (bot/, conference/,
scheduling/, recording/, detection/, config/, storage/, report/); each is installed
as ``proctorbot.<folder>``. This package holds only the composition root and the CLI.
"""

__version__ = "0.1.0"
