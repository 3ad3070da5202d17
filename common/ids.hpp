// Run ids: 26-character, time-ordered, random (ULID layout, Crockford base32). Sorting ids sorts runs by
// creation, so they double as the paging cursor, and two berthd instances on one engine never collide.
#pragma once
#include <cstdint>
#include <string>

namespace berth {

std::string new_run_id();
std::string make_run_id(std::int64_t ms, std::uint64_t rand_hi, std::uint64_t rand_lo);
bool is_valid_run_id(std::string_view id);

}  // namespace berth
