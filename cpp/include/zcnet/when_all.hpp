// zcnet/when_all.hpp - WhenAll and WhenAny over Tasks.
//
// WhenAll(a, b, ...) runs the tasks concurrently and completes with a tuple of
// their results once all are done (the first exception is rethrown after all
// finished). WhenAny(tasks) completes with (index, result) of the first task
// to finish; the others are abandoned (their requests cancelled, see task.hpp)
// and WhenAny completes only once they are freed, so buffers the losers were
// receiving into may be reused as soon as it returns.
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
  PromiseBase* waiter_promise = nullptr;
};

// One child: runs a task and stores its result; suspended at the end so its
// owner reads the result before destroying it.
struct JoinChild {
  struct promise_type : PromiseBase {
    JoinState* state = nullptr;
    size_t index = 0;
    std::exception_ptr error;
    JoinChild get_return_object() noexcept {
      auto h = std::coroutine_handle<promise_type>::from_promise(*this);
      self = h;
      return JoinChild{h};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        JoinState* s = h.promise().state;
        if (s->any) {
          if (s->winner != static_cast<size_t>(-1)) return std::noop_coroutine();
          s->winner = h.promise().index;
          return s->waiter ? ResumeWaiter(s) : std::noop_coroutine();
        }
        if (--s->remaining == 0 && s->waiter) return ResumeWaiter(s);
        return std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  static std::coroutine_handle<> ResumeWaiter(JoinState* s) noexcept {
    if (s->waiter_promise) s->waiter_promise->suspended_on = nullptr;
    return s->waiter;
  }

  JoinChild(JoinChild&& o) noexcept : handle(std::exchange(o.handle, nullptr)) {}
  explicit JoinChild(std::coroutine_handle<promise_type> h) : handle(h) {}
  // A child still running is abandoned with its Task (see task.hpp).
  ~JoinChild() {
    if (handle) DestroyOrAbandon(handle, handle.promise());
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
// Abandoning the waiting frame abandons the children still running.
struct JoinAwaiter : Suspension {
  JoinState* state;
  std::vector<JoinChild>* children;
  JoinAwaiter(JoinState* s, std::vector<JoinChild>* c) : state(s), children(c) {
    abandon = [](Suspension* self, PromiseBase* root) {
      size_t pending = 0;
      for (JoinChild& c : *static_cast<JoinAwaiter*>(self)->children)
        if (c.handle && !c.handle.done()) pending += AbandonFrame(c.handle.promise(), root);
      return pending;
    };
  }
  bool await_ready() const noexcept { return children->empty(); }
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h) noexcept {
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
    state->waiter_promise = SuspendOn(h, this);
    return true;
  }
  void await_resume() const noexcept {}
};

// Abandons every child but @keep and suspends until all of them are freed.
struct LosersFreedAwaiter : Suspension {
  std::vector<JoinChild>* children;
  size_t keep;
  size_t remaining = 0;
  std::coroutine_handle<> waiter;
  PromiseBase* waiter_promise = nullptr;
  PromiseBase* abandoned_root = nullptr;

  LosersFreedAwaiter(std::vector<JoinChild>* c, size_t k) : children(c), keep(k) {
    abandon = [](Suspension* self, PromiseBase* root) {
      auto* w = static_cast<LosersFreedAwaiter*>(self);
      w->abandoned_root = root;
      return w->remaining;  // each loser freed completes one
    };
  }
  static void OnLoserFreed(void* ctx) {
    auto* w = static_cast<LosersFreedAwaiter*>(ctx);
    if (w->abandoned_root) {
      AbandonedCompletion(w->abandoned_root);
      return;
    }
    if (--w->remaining == 0 && w->waiter) {
      if (w->waiter_promise) w->waiter_promise->suspended_on = nullptr;
      w->waiter.resume();
    }
  }
  bool await_ready() noexcept {
    for (size_t i = 0; i < children->size(); i++) {
      auto& h = (*children)[i].handle;
      if (i == keep || !h || h.done()) continue;
      auto& p = h.promise();
      p.on_freed = &LosersFreedAwaiter::OnLoserFreed;
      p.on_freed_ctx = this;
      auto child = std::exchange(h, nullptr);
      remaining++;
      AbandonRoot(p);  // may free it at once (and call OnLoserFreed)
      (void)child;
    }
    return remaining == 0;
  }
  template <typename Promise>
  void await_suspend(std::coroutine_handle<Promise> h) noexcept {
    waiter = h;
    waiter_promise = SuspendOn(h, this);
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
  co_await detail::JoinAwaiter(&state, &children);
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
  co_await detail::JoinAwaiter(&state, &children);
  size_t w = state.winner;
  co_await detail::LosersFreedAwaiter(&children, w);  // cancelled and freed
  if (auto e = children[w].handle.promise().error) std::rethrow_exception(e);
  co_return std::pair<size_t, T>(w, std::move(*slots[w].value));
}

}  // namespace zcnet
