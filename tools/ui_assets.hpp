#pragma once
// The page of `actorflow ui` (tools/ui/: index.html, app.js, style.css), embedded into the
// binary at build time (tools/ui/embed.cmake writes ui_assets.cpp), so that the tool serves it
// from anywhere, offline, with nothing installed beside it.

#include <span>
#include <string_view>

namespace actorflow::tools {

struct UiAsset {
  std::string_view path;         ///< as served: "/", "/app.js", "/style.css"
  std::string_view content_type; ///< e.g. "text/html; charset=utf-8"
  std::string_view body;
};

[[nodiscard]] std::span<const UiAsset> ui_assets();

} // namespace actorflow::tools
