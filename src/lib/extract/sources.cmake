# SPDX-License-Identifier: MIT
# Text extraction from real documents (include/loki/extract.h): DOCX, PDF, HTML, Markdown,
# plain text and e-mail, with a location map back into the original.
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
pkg_check_modules(POPPLER_GLIB REQUIRED IMPORTED_TARGET poppler-glib)
list(APPEND LOKI_EXTRA_SOURCES
  src/lib/extract/extract.c
  src/lib/extract/extract_emit.c
  src/lib/extract/extract_text.c
  src/lib/extract/extract_html.c
  src/lib/extract/extract_docx.c
  src/lib/extract/extract_pdf.c
  src/lib/extract/extract_eml.c)
# poppler-glib: headers only; the library is opened with dlopen() on the first PDF
# (extract_pdf.c), which keeps its ~40 dependencies out of every start-up.
list(APPEND LOKI_EXTRA_LIBS PkgConfig::LIBZIP PkgConfig::LIBXML2 ${CMAKE_DL_LIBS})
list(APPEND LOKI_EXTRA_INCLUDES ${POPPLER_GLIB_INCLUDE_DIRS})
