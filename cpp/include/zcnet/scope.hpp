// zcnet/scope.hpp - structured concurrency: a Scope owns the tasks spawned
// into it and joins them; none outlives it.
//
// Spawn() starts a Task<void> at once (it runs until its first suspension).
// co_await scope.Join() resumes when every child has finished. Destroying a
// Scope with children still running abandons them: each child's pending
// io_uring request is cancelled and its frame freed at the request's final
// CQE, so no memory the kernel may write is released early. Buffers a child
// passed to the kernel must outlive it: Join() before destroying them.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>

#include "zcnet/task.hpp"

namespace zcnet {

class Scope;

namespace detail {

// The wrapper coroutine of one spawned child: linked into its scope while it
// runs, unlinks and destroys itself when done.
struct ScopeChild {
  struct promise_type {
    Scope* scope = nullptr;
    promise_type* prev = nullptr;
    promise_type* next = nullptr;

    ScopeChild get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept;
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept;
  };
  std::coroutine_handle<promise_type> handle;
};

}  // namespace detail

class Scope {
 public:
  Scope() = default;
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  ~Scope();

  // Spawn starts @task as a child of this scope.
  void Spawn(Task<void> task);

  // Join completes when no child is running, and rethrows the first
  // exception a child let escape, if any.
  auto Join() {
    struct Awaiter {
      Scope* scope;
      bool await_ready() const noexcept { return scope->active_ == 0; }
      void await_suspend(std::coroutine_handle<> h) noexcept { scope->joiner_ = h; }
      void await_resume() const {
        if (scope->error_) std::rethrow_exception(std::exchange(scope->error_, nullptr));
      }
    };
    return Awaiter{this};
  }

  size_t active() const { return active_; }

 private:
  friend struct detail::ScopeChild::promise_type;
  using ChildPromise = detail::ScopeChild::promise_type;

  void Unlink(ChildPromise* p) noexcept;

  ChildPromise* head_ = nullptr;
  size_t active_ = 0;
  std::coroutine_handle<> joiner_;
  std::exception_ptr error_;
};

}  // namespace zcnet
