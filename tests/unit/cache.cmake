# SPDX-License-Identifier: MIT
# Cache and profiler tests (issue 5). Each runs in its own process; the Redis tests start and
# stop their own redis-server on a temporary unix socket / port.
find_program(LOKI_REDIS_SERVER redis-server)
foreach(t cache cache_redis obs)
  add_executable(test_${t} unit/test_${t}.c)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
  target_link_libraries(test_${t} PRIVATE loki_static PkgConfig::CMOCKA)
  target_compile_options(test_${t} PRIVATE ${LOKI_WARNINGS})
  add_test(NAME unit.${t} COMMAND test_${t})
  set_tests_properties(unit.${t} PROPERTIES LABELS "unit" TIMEOUT 300
    ENVIRONMENT "LOKI_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp;LOKI_REDIS_SERVER=${LOKI_REDIS_SERVER}")
endforeach()
set_tests_properties(unit.cache_redis PROPERTIES SKIP_RETURN_CODE 77)

# Benchmarks (not tests): cache hit latency and profiler overhead.
add_executable(loki-cache-bench ${PROJECT_SOURCE_DIR}/bench/cache_bench.c)
target_include_directories(loki-cache-bench PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
target_link_libraries(loki-cache-bench PRIVATE loki_static)
set_target_properties(loki-cache-bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
