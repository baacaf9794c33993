// zcnet/scope.hpp - structured concurrency: a Scope owns the tasks spawned
// into it and joins them; none outlives it.
//
// Spawn() starts a Task<void> at once (it runs until its first suspension).
// co_await scope.Join() resumes when every child has finished. Destroying a
// Scope with children still running abandons them (see task.hpp): each
// child's chain of frames is kept until the requests beneath it are
// cancelled and complete, so memory inside a child is never released under
// the kernel. Memory a child borrows from outside itself (a buffer of the
// Scope's owner) must outlive it: co_await Join() before freeing that, or
// give each child what it uses (by value).
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
  struct promise_type : PromiseBase {
    Scope* scope = nullptr;
    promise_type* prev = nullptr;
    promise_type* next = nullptr;

    ScopeChild get_return_object() noexcept {
      auto h = std::coroutine_handle<promise_type>::from_promise(*this);
      self = h;
      return {h};
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
  // Abandoning a frame waiting in Join() detaches it; the children go on
  // until the Scope itself is destroyed.
  class JoinAwaiter;
  JoinAwaiter Join();

  size_t active() const { return active_; }

 private:
  friend struct detail::ScopeChild::promise_type;
  using ChildPromise = detail::ScopeChild::promise_type;

  void Unlink(ChildPromise* p) noexcept;

  ChildPromise* head_ = nullptr;
  size_t active_ = 0;
  std::coroutine_handle<> joiner_;
  detail::PromiseBase* joiner_promise_ = nullptr;
  std::exception_ptr error_;
};

class Scope::JoinAwaiter : public detail::Suspension {
 public:
  explicit JoinAwaiter(Scope* s) : scope_(s) { abandon = &JoinAwaiter::Detach; }
  bool await_ready() const noexcept { return scope_->active_ == 0; }
  template <typename Promise>
  void await_suspend(std::coroutine_handle<Promise> h) noexcept {
    scope_->joiner_ = h;
    scope_->joiner_promise_ = detail::SuspendOn(h, this);
  }
  void await_resume() const {
    if (scope_->error_) std::rethrow_exception(std::exchange(scope_->error_, nullptr));
  }

 private:
  static size_t Detach(detail::Suspension* self, detail::PromiseBase*) {
    Scope* scope = static_cast<JoinAwaiter*>(self)->scope_;
    scope->joiner_ = nullptr;
    scope->joiner_promise_ = nullptr;
    return 0;
  }
  Scope* scope_;
};

inline Scope::JoinAwaiter Scope::Join() { return JoinAwaiter(this); }

}  // namespace zcnet
