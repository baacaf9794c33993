// zcnet/task.hpp - Task<T>: a lazily started coroutine.
//
// A Task does nothing until awaited (or handed to Ring::Run / Scope::Spawn).
// On completion it resumes its awaiter by symmetric transfer, so chains of
// tasks never grow the stack. Results are plain values (use
// absl::StatusOr<T> for expected failures); an exception escaping the
// coroutine is rethrown at the co_await.
//
// Destroying a Task that is suspended on an io_uring operation does not free
// its frame under the kernel: the operation is cancelled and the frame is
// freed when the operation's last CQE arrives (see operation.hpp).
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace zcnet {

class Operation;

namespace detail {

// State every zcnet coroutine promise shares with the operations it awaits.
struct PromiseBase {
  std::coroutine_handle<> continuation;
  std::exception_ptr exception;
  // The io_uring operation this coroutine is suspended on, if any.
  Operation* pending_op = nullptr;
  // Set when the Task was destroyed while pending_op was in flight: the
  // operation destroys the frame at its final CQE instead of resuming it.
  bool abandoned = false;

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
      auto next = h.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

// Abandons or destroys a coroutine frame; defined in ring.cpp.
void DestroyOrAbandon(std::coroutine_handle<> handle, PromiseBase& promise) noexcept;

}  // namespace detail

template <typename T>
struct TaskPromise : detail::PromiseBase {
  std::optional<T> value;
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() { return std::move(*value); }
};

template <>
struct TaskPromise<void> : detail::PromiseBase {
  void return_void() noexcept {}
  void take() {}
};

template <typename T = void>
class [[nodiscard]] Task {
 public:
  struct promise_type : TaskPromise<T> {
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };

  Task() = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      Reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { Reset(); }

  bool done() const { return !handle_ || handle_.done(); }
  explicit operator bool() const { return static_cast<bool>(handle_); }

  auto operator co_await() && noexcept {
    struct Awaiter {
      std::coroutine_handle<promise_type> handle;
      bool await_ready() const noexcept { return !handle || handle.done(); }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        handle.promise().continuation = awaiting;
        return handle;
      }
      T await_resume() {
        auto& p = handle.promise();
        if (p.exception) std::rethrow_exception(p.exception);
        return p.take();
      }
    };
    return Awaiter{handle_};
  }

  // The frame, for Ring::Run and Scope (ownership stays with the Task).
  std::coroutine_handle<promise_type> handle() const { return handle_; }
  // Takes the result of a finished task (rethrows its exception).
  T Result() {
    auto& p = handle_.promise();
    if (p.exception) std::rethrow_exception(p.exception);
    return p.take();
  }

 private:
  explicit Task(std::coroutine_handle<promise_type> h) : handle_(h) {}
  void Reset() {
    if (handle_) {
      auto h = std::exchange(handle_, nullptr);
      detail::DestroyOrAbandon(h, h.promise());
    }
  }

  std::coroutine_handle<promise_type> handle_;
};

}  // namespace zcnet
