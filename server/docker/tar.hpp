// A one-file ustar archive, the body Docker's archive API (PUT /containers/{id}/archive) takes. Pure.
#pragma once
#include <string>
#include <string_view>

namespace berth::docker {

std::string tar_single_file(std::string_view name, std::string_view content, unsigned mode = 0444);

}  // namespace berth::docker
