# SPDX-License-Identifier: MIT
# Service files: the hardened systemd unit, the example configuration (also copied to
# /etc/loki/loki.conf by nobody: the admin does, see docs/deploy.md), the deploy docs and the
# example nginx config.
install(FILES packaging/loki.service DESTINATION lib/systemd/system)
install(FILES packaging/loki.conf.example DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES deploy/nginx.conf DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples RENAME nginx-loki.conf)
install(FILES docs/deploy.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
