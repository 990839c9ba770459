# SPDX-License-Identifier: MIT
# `loki serve` (src/server/): the REST API on libmicrohttpd, audit log in SQLite.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
add_compile_definitions(LOKI_HAVE_SERVE=1)
list(APPEND LOKI_CLI_EXTRA_SOURCES
  src/server/serve.c src/server/http.c src/server/routes.c src/server/validate.c
  src/server/config.c src/server/ratelimit.c src/server/audit.c
  src/server/metrics.c src/server/sbuf.c)
# Several instances: shared rate limits in Redis, instance id (hiredis, as the cache uses).
list(APPEND LOKI_CLI_EXTRA_SOURCES src/server/ratelimit_redis.c src/server/cluster.c)
list(APPEND LOKI_CLI_EXTRA_LIBS PkgConfig::MHD PkgConfig::SQLITE m)
if(TARGET PkgConfig::HIREDIS)
  list(APPEND LOKI_CLI_EXTRA_LIBS PkgConfig::HIREDIS)
endif()
# issue 9: the web page at / (web/ embedded by web/assets.cmake) and its audit view.
include(${PROJECT_SOURCE_DIR}/web/assets.cmake)
list(APPEND LOKI_CLI_EXTRA_SOURCES src/server/static.c src/server/audit_recent.c
  ${LOKI_WEB_ASSETS_C})
# issue 7: the interceptor (/v1/messages, /v1/chat/completions) on libloki's provider layer.
list(APPEND LOKI_CLI_EXTRA_SOURCES src/server/proxy.c src/server/proxy_stream.c)
