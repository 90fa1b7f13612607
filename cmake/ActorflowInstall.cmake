# `cmake --install`: the public headers, actorflow::runtime and actorflow::ingest, a CMake package
# (find_package(actorflow)) and pkg-config files (actorflow, actorflow-ingest).
include(CMakePackageConfigHelpers)

set(ACTORFLOW_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/actorflow)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/actorflow
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(TARGETS actorflow_runtime actorflow_ingest
        EXPORT actorflowTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT actorflowTargets
        NAMESPACE actorflow::
        DESTINATION ${ACTORFLOW_CMAKE_DIR})

# A static library's users link what it links: the package config finds those again (CAF with
# the same module this build used, since Debian's CAF has no package config of its own).
if(BUILD_SHARED_LIBS)
  set(ACTORFLOW_STATIC_PACKAGE OFF)
else()
  set(ACTORFLOW_STATIC_PACKAGE ON)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/actorflowConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/actorflowConfig.cmake
                              INSTALL_DESTINATION ${ACTORFLOW_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/actorflowConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion) # 0.x: minors may break
install(FILES ${PROJECT_BINARY_DIR}/actorflowConfig.cmake
              ${PROJECT_BINARY_DIR}/actorflowConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/FindCAF.cmake
        DESTINATION ${ACTORFLOW_CMAKE_DIR})

# pkg-config. A static library lists what it links under Libs itself, so that a plain
# `pkg-config --libs actorflow` links (pkg-config keeps Libs.private for --static only).
if(ACTORFLOW_STATIC_PACKAGE)
  set(ACTORFLOW_PC_LIBS_DEPS
      "-lcaf_openssl -lcaf_io -lcaf_core -lcurl -lsqlite3 -lpq -pthread")
  set(ACTORFLOW_PC_LIBS_PRIVATE "")
else()
  set(ACTORFLOW_PC_LIBS_DEPS "")
  set(ACTORFLOW_PC_LIBS_PRIVATE
      "-lcaf_openssl -lcaf_io -lcaf_core -lcurl -lsqlite3 -lpq -pthread")
endif()
if(ACTORFLOW_SANITIZERS) # as actorflow_runtime's link options say
  string(APPEND ACTORFLOW_PC_LIBS_DEPS " -fsanitize=${ACTORFLOW_SANITIZERS}")
endif()
# Relocatable: the prefix is found from where the .pc file lies, so that an install moved (or
# made with `cmake --install --prefix`) still points at itself.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(ACTORFLOW_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" up "${up}")
  set(ACTORFLOW_PC_PREFIX "\${pcfiledir}/${up}")
endif()
foreach(pc actorflow actorflow-ingest)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
