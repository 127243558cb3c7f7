# cmake --install and the .deb (cpack -G DEB). Layout under the prefix, where
# harness/driver/binaries.py looks: refserver-* in bin (users run them), loadgen and the heap shim in
# libexec/memgate (only the driver runs them), the driver in share/memgate/python behind bin/memgate,
# scenarios and the default baseline in share/memgate, the docs in share/doc/memgate.
include(GNUInstallDirs)
set(MEMGATE_LIBEXEC_DIR ${CMAKE_INSTALL_LIBEXECDIR}/memgate)
set(MEMGATE_SHARE_DIR ${CMAKE_INSTALL_DATADIR}/memgate)

foreach(alloc IN LISTS MEMGATE_ALLOCATORS)
  install(TARGETS refserver-${alloc} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endforeach()
install(TARGETS loadgen RUNTIME DESTINATION ${MEMGATE_LIBEXEC_DIR} COMPONENT runtime)
if(TARGET memgate_heapshim)
  install(TARGETS memgate_heapshim LIBRARY DESTINATION ${MEMGATE_LIBEXEC_DIR} COMPONENT runtime)
endif()

install(PROGRAMS cmake/memgate-installed.sh DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME memgate COMPONENT runtime)
# Every Python package (a directory with __init__.py) under harness/ and analysis/, found rather than
# listed so a new subpackage cannot be left out; the test fixtures are not shipped, as in pyproject.toml.
file(GLOB_RECURSE _memgate_package_markers CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}
     ${PROJECT_SOURCE_DIR}/harness/__init__.py ${PROJECT_SOURCE_DIR}/analysis/__init__.py)
foreach(_marker IN LISTS _memgate_package_markers)
  get_filename_component(_package ${_marker} DIRECTORY)
  if(_package MATCHES "^harness/testservers(/|$)")
    continue()
  endif()
  # *.c: a source a package compiles when it runs (profile/jeprof_ctl.c).
  file(GLOB _modules CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${_package}/*.py ${PROJECT_SOURCE_DIR}/${_package}/*.c)
  list(FILTER _modules EXCLUDE REGEX "/(test_[^/]*|conftest)\\.py$")
  install(FILES ${_modules} DESTINATION ${MEMGATE_SHARE_DIR}/python/${_package} COMPONENT runtime)
endforeach()

install(DIRECTORY scenarios DESTINATION ${MEMGATE_SHARE_DIR} COMPONENT runtime
        FILES_MATCHING PATTERN "*.toml")
install(FILES ci/baselines/default.json ci/baselines/default.calibration.json DESTINATION ${MEMGATE_SHARE_DIR}/baselines COMPONENT runtime)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

set(CPACK_PACKAGE_NAME memgate)
set(CPACK_PACKAGE_CONTACT "memgate maintainers <memgate@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Memory-behaviour regression gate for HTTP/1.1 and HTTP/2 servers")
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_COMPONENTS_ALL runtime)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # memgate_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# The shared libraries (libnghttp2, libssl, Boost, jemalloc, mimalloc) come from dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-pytest, python3-h2, heaptrack, util-linux")
include(CPack)
