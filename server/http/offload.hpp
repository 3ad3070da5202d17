// Runs blocking work (SQLite, Docker calls) on the blocking pool and resumes the calling coroutine on its
// own executor with the result (or its exception).
#pragma once
#include <type_traits>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace berth::http {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> offload(boost::asio::thread_pool& pool, F f) {
  using R = std::invoke_result_t<F>;
  co_return co_await boost::asio::co_spawn(
      pool.get_executor(), [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); },
      boost::asio::use_awaitable);
}

}  // namespace berth::http
