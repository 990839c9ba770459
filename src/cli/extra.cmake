# SPDX-License-Identifier: MIT
# `loki redact` (src/cli/cmd_redact.c), dispatched from main.c under LOKI_HAVE_REDACT.
list(APPEND LOKI_CLI_EXTRA_SOURCES src/cli/cmd_redact.c)
add_compile_definitions(LOKI_HAVE_REDACT=1)
list(APPEND LOKI_CLI_EXTRA_SOURCES src/cli/cmd_cache.c) # `loki cache warm` (uses src/server/)
