# SPDX-License-Identifier: MIT
# LLM provider layer (issue 7): adapters (Anthropic, OpenAI-compatible, Gemini), SSE parser
# and stream decoders, native error bodies, libcurl client with a handle pool, and the retry
# loop. cJSON parses upstream responses.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
list(APPEND LOKI_EXTRA_SOURCES
  src/lib/providers/sse.c src/lib/providers/prov_codec.c src/lib/providers/prov_anthropic.c
  src/lib/providers/prov_openai.c src/lib/providers/prov_gemini.c src/lib/providers/http.c
  src/lib/providers/provider.c)
list(APPEND LOKI_EXTRA_LIBS PkgConfig::CURL PkgConfig::CJSON)
