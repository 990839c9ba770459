# SPDX-License-Identifier: MIT
# The result cache (issue 5): memory LRU, Redis backend (hiredis), breaker, single-flight.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
list(APPEND LOKI_EXTRA_SOURCES
  src/lib/cache/cache.c src/lib/cache/cache_mem.c src/lib/cache/cache_redis.c
  src/lib/cache/cache_breaker.c src/lib/cache/cache_flight.c src/lib/cache/cache_key.c
  src/lib/cache/cache_export.c)
list(APPEND LOKI_EXTRA_LIBS PkgConfig::HIREDIS)
