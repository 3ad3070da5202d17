// The dashboard's files, compiled into berthd by cmake/embed_assets.cmake.
#pragma once
#include <string_view>
#include <vector>

namespace berth::http {

struct embedded_asset {
  std::string_view name;
  std::string_view data;
};

const std::vector<embedded_asset>& embedded_assets();
const embedded_asset* find_asset(std::string_view name);
std::string_view content_type_for(std::string_view name);

}  // namespace berth::http
