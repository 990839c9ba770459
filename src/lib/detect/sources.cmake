# SPDX-License-Identifier: MIT
# Universal detectors (PII, contradictions, claims, promotion risk) and loki_redact().
list(APPEND LOKI_EXTRA_SOURCES
  src/lib/detect/detect.c
  src/lib/detect/detect_claims.c
  src/lib/detect/detect_lex.c
  src/lib/detect/detect_pii.c
  src/lib/detect/detect_validate.c
  src/lib/detect/redact.c)
