# SPDX-License-Identifier: MIT
# Profiler and metrics (issue 5).
list(APPEND LOKI_EXTRA_SOURCES
  src/lib/obs/profiler.c src/lib/obs/profiler_report.c src/lib/obs/obs_hist.c
  src/lib/obs/metrics.c)
