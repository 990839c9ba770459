# SPDX-License-Identifier: MIT
# `loki serve` (src/server/): the REST API on libmicrohttpd, audit log in SQLite.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
add_compile_definitions(LOKI_HAVE_SERVE=1)
set(LOKI_SERVER_SOURCES
  src/server/serve.c src/server/http.c src/server/routes.c src/server/validate.c
  src/server/config.c src/server/ratelimit.c src/server/audit.c
  src/server/metrics.c src/server/sbuf.c src/server/embed.c)
# Several instances: shared rate limits in Redis, instance id (hiredis, as the cache uses).
list(APPEND LOKI_SERVER_SOURCES src/server/ratelimit_redis.c src/server/cluster.c)
set(LOKI_SERVER_LIBS PkgConfig::MHD PkgConfig::SQLITE PkgConfig::CJSON m)
if(TARGET PkgConfig::HIREDIS)
  list(APPEND LOKI_SERVER_LIBS PkgConfig::HIREDIS)
endif()
# issue 9: the web page at / (web/ embedded by web/assets.cmake) and its audit view.
include(${PROJECT_SOURCE_DIR}/web/assets.cmake)
list(APPEND LOKI_SERVER_SOURCES src/server/static.c src/server/audit_recent.c
  ${LOKI_WEB_ASSETS_C})
# issue 7: the interceptor (/v1/messages, /v1/chat/completions) on libloki's provider layer.
list(APPEND LOKI_SERVER_SOURCES src/server/proxy.c src/server/proxy_stream.c)

# One object library, linked into `loki` and into the tests that run the server in-process
# (tests/unit/server.cmake). serve.c calls the CLI's path helpers (src/cli/util.c), which
# `loki` compiles and those tests compile alongside.
add_library(loki_server OBJECT ${LOKI_SERVER_SOURCES})
target_compile_options(loki_server PRIVATE ${LOKI_WARNINGS})
target_link_libraries(loki_server PUBLIC loki_static ${LOKI_SERVER_LIBS})
list(APPEND LOKI_CLI_EXTRA_SOURCES $<TARGET_OBJECTS:loki_server>)
list(APPEND LOKI_CLI_EXTRA_LIBS ${LOKI_SERVER_LIBS})
