# Layers as targets: core <- providers <- mcp; core <- observe, store <- scheduler <- actors <-
# ingest, tools, examples. The build, not a convention, keeps the arrows pointing one way.
#
# A layer is two targets:
# - actorflow_<name>_headers (INTERFACE): the include root of the layer's internal headers, plus
#   the headers of the layers below it. The root lives in the build tree and holds a single
#   link, "<prefix>" -> the layer's folder, so "<prefix>/x.hpp" resolves only in targets that
#   link the layer or a layer above it. An include that points up a layer finds no file.
# - actorflow_<name> (OBJECT): the layer's sources. Object files go into the targets that link
#   the object library directly: actorflow_runtime (the one library users link) and the
#   layer's own tests. Everything else links the library, plus headers where it needs
#   internals.

# actorflow_include_root(<name> <prefix> <folder> <out>): makes the include root in which
# "<prefix>/x.hpp" is <folder>/x.hpp, and nothing else resolves; sets <out> to its path.
function(actorflow_include_root name prefix folder out)
  set(root ${PROJECT_BINARY_DIR}/layers/${name})
  get_filename_component(parent ${root}/${prefix} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  file(CREATE_LINK ${folder} ${root}/${prefix} SYMBOLIC)
  set(${out} ${root} PARENT_SCOPE)
endfunction()

# actorflow_layer(<name> <prefix> <folder>
#                 [HEADERS <targets whose headers the layer's own headers include>...]
#                 [PRIVATE <targets only its sources use>...]
#                 SOURCES <files>...)
function(actorflow_layer name prefix folder)
  cmake_parse_arguments(arg "" "" "HEADERS;PRIVATE;SOURCES" ${ARGN})
  actorflow_include_root(${name} ${prefix} ${folder} root)
  add_library(actorflow_${name}_headers INTERFACE)
  target_include_directories(actorflow_${name}_headers INTERFACE ${root})
  target_link_libraries(actorflow_${name}_headers INTERFACE actorflow_public_headers
                        ${arg_HEADERS})

  add_library(actorflow_${name} OBJECT ${arg_SOURCES})
  if(ACTORFLOW_FUZZ)
    # clang 14's coverage instrumentation fails on some coroutine frames ("Cannot represent a
    # difference across sections"): files with coroutines are built without it. No harness
    # decodes through them (tests/fuzz).
    foreach(source IN LISTS arg_SOURCES)
      set(path ${CMAKE_CURRENT_SOURCE_DIR}/${source})
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path}) # read again if edited
      file(READ ${path} text)
      if(text MATCHES "co_(await|return|yield)")
        set_property(SOURCE ${source} APPEND PROPERTY COMPILE_OPTIONS -fno-sanitize=fuzzer-no-link)
      endif()
    endforeach()
  endif()
  target_link_libraries(actorflow_${name} PUBLIC actorflow_${name}_headers
                        PRIVATE actorflow_settings ${arg_PRIVATE})
endfunction()

# Lets `target` include the internal headers of `layers` (tools and tests, which sit above
# every layer), without linking their objects a second time.
function(actorflow_internal_headers target)
  foreach(layer IN LISTS ARGN)
    target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:actorflow_${layer}_headers>)
  endforeach()
endfunction()
