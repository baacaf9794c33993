// zcnet/when_all.hpp - WhenAll and WhenAny over Tasks.
//
// WhenAll(a, b, ...) runs the tasks concurrently and completes with a tuple of
// their results once all are done (the first exception is rethrown after all
// finished). WhenAny(tasks) completes with (index, result) of the first task
// to finish; the others are destroyed at once, which cancels their pending
// requests (their frames are freed at those requests' final CQEs).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <variant>
#include <utility>
#include <vector>

#include "zcnet/task.hpp"

namespace zcnet {

namespace detail {

struct JoinState {
  size_t remaining = 0;  // children still running, +1 while starting
  bool any = false;      // WhenAny: the first finisher resumes the waiter
  size_t winner = static_cast<size_t>(-1);
  std::coroutine_handle<> waiter;
};

// One child: runs a task and stores its result; suspended at the end so its
// owner reads the result before destroying it.
struct JoinChild {
  struct promise_type {
    JoinState* state = nullptr;
    size_t index = 0;
    std::exception_ptr error;
    JoinChild get_return_object() noexcept {
      return JoinChild{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        JoinState* s = h.promise().state;
        if (s->any) {
          if (s->winner != static_cast<size_t>(-1)) return std::noop_coroutine();
          s->winner = h.promise().index;
          return s->waiter ? s->waiter : std::noop_coroutine();
        }
        if (--s->remaining == 0 && s->waiter) return s->waiter;
        return std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  JoinChild(JoinChild&& o) noexcept : handle(std::exchange(o.handle, nullptr)) {}
  explicit JoinChild(std::coroutine_handle<promise_type> h) : handle(h) {}
  // The child is suspended on its Task (never on a request itself):
  // destroying it destroys that Task, which cancels and abandons it.
  ~JoinChild() {
    if (handle) handle.destroy();
  }
  std::coroutine_handle<promise_type> handle;
};

template <typename T>
struct Slot {
  std::optional<T> value;
};
template <>
struct Slot<void> {
  std::optional<std::monostate> value;
};

template <typename T>
JoinChild RunInto(Task<T> task, Slot<T>& slot) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    slot.value.emplace();
  } else {
    slot.value.emplace(co_await std::move(task));
  }
}

// Starts @children with @state and suspends until the join condition holds.
struct JoinAwaiter {
  JoinState* state;
  std::vector<JoinChild>* children;
  bool await_ready() const noexcept { return children->empty(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    state->remaining = children->size() + 1;
    for (size_t i = 0; i < children->size(); i++) {
      auto& p = (*children)[i].handle.promise();
      p.state = state;
      p.index = i;
      (*children)[i].handle.resume();
      if (state->any && state->winner != static_cast<size_t>(-1)) return false;
    }
    if (!state->any && --state->remaining == 0) return false;
    state->waiter = h;
    return true;
  }
  void await_resume() const noexcept {}
};

}  // namespace detail

template <typename... Ts>
Task<std::tuple<std::conditional_t<std::is_void_v<Ts>, std::monostate, Ts>...>> WhenAll(
    Task<Ts>... tasks) {
  std::tuple<detail::Slot<Ts>...> slots;
  detail::JoinState state;
  std::vector<detail::JoinChild> children;
  children.reserve(sizeof...(Ts));
  [&]<size_t... I>(std::index_sequence<I...>) {
    (children.push_back(detail::RunInto(std::move(tasks), std::get<I>(slots))), ...);
  }(std::index_sequence_for<Ts...>{});
  co_await detail::JoinAwaiter{&state, &children};
  for (auto& c : children)
    if (c.handle.promise().error) std::rethrow_exception(c.handle.promise().error);
  co_return std::apply([](auto&... s) { return std::make_tuple(std::move(*s.value)...); },
                       slots);
}

template <typename T>
Task<std::pair<size_t, T>> WhenAny(std::vector<Task<T>> tasks) {
  std::vector<detail::Slot<T>> slots(tasks.size());
  detail::JoinState state;
  state.any = true;
  std::vector<detail::JoinChild> children;
  children.reserve(tasks.size());
  for (size_t i = 0; i < tasks.size(); i++)
    children.push_back(detail::RunInto(std::move(tasks[i]), slots[i]));
  co_await detail::JoinAwaiter{&state, &children};
  size_t w = state.winner;
  if (auto e = children[w].handle.promise().error) std::rethrow_exception(e);
  T value = std::move(*slots[w].value);
  children.clear();  // the losers: cancelled and abandoned
  co_return std::pair<size_t, T>(w, std::move(value));
}

}  // namespace zcnet
