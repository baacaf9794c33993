// zcnet/task.hpp - Task<T>: a lazily started coroutine.
//
// A Task does nothing until awaited (or handed to Ring::Run / Scope::Spawn).
// On completion it resumes its awaiter by symmetric transfer, so chains of
// tasks never grow the stack. Results are plain values (use
// absl::StatusOr<T> for expected failures); an exception escaping the
// coroutine is rethrown at the co_await.
//
// Lifetimes (the rule every zcnet awaitable follows):
//   Destroying a Task that has not finished abandons it. An abandoned frame
//   is never resumed again, and it is freed only once nothing beneath it can
//   still be written by the kernel: every request that the frame, or any Task,
//   WhenAll/WhenAny child it is suspended on, is waiting for is cancelled,
//   and the whole chain is freed, outermost frame first, at the last of those
//   requests' final CQEs. Waits that the kernel does not write into (a
//   RecvStream::Next, an AcceptStream::Next, a TxPool::Acquire) are simply
//   detached. So buffers that live in an abandoned chain's frames stay valid
//   as long as the kernel may use them. Memory a task borrows from outside
//   its chain (a buffer owned by an object or by a Scope's parent) must
//   outlive the task: await it (Scope::Join, WhenAll) before freeing that.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace zcnet {

class Operation;

namespace detail {

struct PromiseBase;

// What a suspended zcnet frame is waiting on. When the frame's Task is
// destroyed, @abandon detaches the frame from the wait (cancelling the
// request if the kernel may write into the frame) and returns how many
// completions will still arrive; each of them calls AbandonedCompletion(root).
struct Suspension {
  using AbandonFn = size_t (*)(Suspension* self, PromiseBase* root);
  AbandonFn abandon = nullptr;
};

// State every zcnet coroutine promise shares with what it awaits.
struct PromiseBase {
  std::coroutine_handle<> self;
  std::coroutine_handle<> continuation;
  std::exception_ptr exception;
  // What this frame is suspended on, if it is a zcnet awaitable.
  Suspension* suspended_on = nullptr;
  // Set on every frame of an abandoned chain: never resume it again.
  PromiseBase* abandon_root = nullptr;
  // On the root of an abandoned chain: completions still to come.
  size_t abandon_pending = 0;
  // Called once the abandoned chain rooted here is freed (WhenAny's losers).
  void (*on_freed)(void* ctx) = nullptr;
  void* on_freed_ctx = nullptr;
  // The suspension a parent awaiting this frame's Task records.
  struct AwaitedBy : Suspension {
    PromiseBase* child = nullptr;
  } awaited_by;

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

// Marks @p and everything it is suspended on as abandoned with @root, and
// returns the completions still to come (defined in ring.cpp).
size_t AbandonFrame(PromiseBase& p, PromiseBase* root) noexcept;
// Abandons the frame @p heads: frees it now when nothing beneath it is in
// flight (true), else at the last completion (false). @p must not be done.
bool AbandonRoot(PromiseBase& p) noexcept;
// One completion beneath an abandoned chain came in; frees the chain at the last.
void AbandonedCompletion(PromiseBase* root) noexcept;
// Destroys a finished or never-started frame, abandons a suspended one.
void DestroyOrAbandon(std::coroutine_handle<> handle, PromiseBase& promise) noexcept;

// Records on a zcnet frame @h what it is suspended on (no-op for other frames).
template <typename Promise>
PromiseBase* SuspendOn(std::coroutine_handle<Promise> h, Suspension* s) noexcept {
  if constexpr (std::is_base_of_v<PromiseBase, Promise>) {
    h.promise().suspended_on = s;
    return &h.promise();
  } else {
    return nullptr;
  }
}

}  // namespace detail

namespace detail {

// co_await of a Task: starts it by symmetric transfer and records on the
// awaiting frame that it waits for this child.
template <typename ChildPromise, typename T>
struct TaskAwaiter {
  std::coroutine_handle<ChildPromise> handle;
  PromiseBase* parent = nullptr;
  bool await_ready() const noexcept { return !handle || handle.done(); }
  template <typename Promise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> awaiting) noexcept {
    auto& child = handle.promise();
    child.continuation = awaiting;
    child.awaited_by.child = &child;
    child.awaited_by.abandon = [](Suspension* s, PromiseBase* root) {
      return AbandonFrame(*static_cast<PromiseBase::AwaitedBy*>(s)->child, root);
    };
    parent = SuspendOn(awaiting, &child.awaited_by);
    return handle;
  }
  T await_resume() {
    if (parent) parent->suspended_on = nullptr;
    auto& p = handle.promise();
    if (p.exception) std::rethrow_exception(p.exception);
    return p.take();
  }
};

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
      auto h = std::coroutine_handle<promise_type>::from_promise(*this);
      this->self = h;
      return Task(h);
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
  // Abandons the task if it is suspended (see the lifetime rule above).
  ~Task() { Reset(); }

  bool done() const { return !handle_ || handle_.done(); }
  explicit operator bool() const { return static_cast<bool>(handle_); }

  auto operator co_await() && noexcept { return detail::TaskAwaiter<promise_type, T>{handle_}; }

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
