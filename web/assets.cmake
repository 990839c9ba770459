# SPDX-License-Identifier: MIT
# The web page (issue 9): web/* is embedded in the binary as byte arrays, so `loki serve`
# serves it at / with nothing installed beside it. Sets LOKI_WEB_ASSETS_C.
set(LOKI_WEB_FILES ${PROJECT_SOURCE_DIR}/web/index.html ${PROJECT_SOURCE_DIR}/web/app.css
  ${PROJECT_SOURCE_DIR}/web/app.js)
set(LOKI_WEB_ASSETS_C ${CMAKE_BINARY_DIR}/web_assets.c)
add_custom_command(OUTPUT ${LOKI_WEB_ASSETS_C}
  COMMAND ${CMAKE_COMMAND} -DOUTPUT=${LOKI_WEB_ASSETS_C}
    -DHEADER=${PROJECT_SOURCE_DIR}/src/server/web_assets.h
    "-DINPUTS=${LOKI_WEB_FILES}" -P ${PROJECT_SOURCE_DIR}/web/embed.cmake
  DEPENDS ${LOKI_WEB_FILES} ${PROJECT_SOURCE_DIR}/web/embed.cmake
    ${PROJECT_SOURCE_DIR}/src/server/web_assets.h
  COMMENT "Embedding web/ into web_assets.c" VERBATIM)
