// zcnet/operation.hpp - one in-flight io_uring request, as an awaitable.
//
// An Operation owns exactly the state of its SQE(s). Its address, tagged, is
// the SQE's user_data; Ring::Handle() routes each CQE to it through a plain
// function pointer (no virtual call per CQE). The awaiting coroutine is
// resumed directly from the CQE loop.
//
// Cancellation: a std::stop_token (stop requested on the ring's thread)
// submits IORING_OP_ASYNC_CANCEL for the request; so does a timeout once it
// passes (an entry of the owning ring's deadline queue, one kernel timer for
// all; on a borrowed ring an IORING_OP_LINK_TIMEOUT linked to the request).
// Either way the operation completes with -ECANCELED (or the result it had
// already reached).
#pragma once

#include <liburing.h>

#include <coroutine>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <utility>

#include <absl/time/time.h>

#include "zcnet/task.hpp"

namespace zcnet {

class Ring;

// Per-operation knobs: cancellation and a deadline relative to submission.
//
// Trivially destructible on purpose: GCC 12 destroys some temporaries of a
// co_await full-expression twice (a prvalue argument such as
// `co_await s.Recv(buf, OpOptions{...})`), which is harmless only for types
// like this one. @stop points at a token that outlives the co_await.
struct OpOptions {
  const std::stop_token* stop = nullptr;
  std::optional<absl::Duration> timeout = std::nullopt;

  bool stop_requested() const { return stop && stop->stop_requested(); }
  bool stop_possible() const { return stop && stop->stop_possible(); }
};

class Operation : public detail::Suspension {
 public:
  using CompleteFn = void (*)(Operation* op, const io_uring_cqe* cqe);

  Operation(Ring& ring, CompleteFn complete) : ring_(&ring), complete_(complete) {
    abandon = &Operation::AbandonByCancel;
  }
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

  // Routes a CQE to the operation (Ring::Handle does this).
  void Complete(const io_uring_cqe* cqe) { complete_(this, cqe); }
  // False for requests that never end on their own (e.g. a zcrx event
  // sink): their CQEs do not count against Ring::in_flight().
  bool counted() const { return counted_; }
  // Asks the kernel to cancel this operation's request(s).
  void Cancel();
  // Cancel() as a Ring deadline's callback.
  static void CancelOnDeadline(void* op) { static_cast<Operation*>(op)->Cancel(); }
  Ring& ring() const { return *ring_; }

 protected:
  // Records the coroutine suspending on this operation.
  template <typename Promise>
  void SetWaiter(std::coroutine_handle<Promise> h) {
    waiter_ = h;
    waiter_promise_ = detail::SuspendOn(h, this);
  }
  // Resumes the waiter; for an abandoned one, counts the completion instead.
  void ResumeWaiter();
  bool HasWaiter() const { return static_cast<bool>(waiter_); }
  // Forgets the waiter without resuming it.
  void DropWaiter() {
    waiter_ = nullptr;
    waiter_promise_ = nullptr;
  }
  // Abandoning a frame waiting on a request the kernel may write into the
  // frame: cancel it; its CQE completes the abandonment.
  static size_t AbandonByCancel(detail::Suspension* s, detail::PromiseBase* root);

  Ring* ring_;
  CompleteFn complete_;
  bool counted_ = true;
  std::coroutine_handle<> waiter_;
  detail::PromiseBase* waiter_promise_ = nullptr;
};

// A one-shot wake-up owned by a long-lived state (a stream): a timer
// (IORING_OP_TIMEOUT) or an immediate NOP, whose CQE calls @fn(owner, res).
// Used to time out or interrupt a wait on a multishot request without
// touching that request.
class Wakeup : public Operation {
 public:
  using Fn = void (*)(void* owner, int res);
  Wakeup(Ring& ring, void* owner, Fn fn) : Operation(ring, &Wakeup::OnCqe), owner_(owner), fn_(fn) {}

  // Completes with -ETIME after @d. Called while a disarmed timer's cancel
  // is still in flight, it arms once that timer's CQE is in, for @d from then.
  void ArmTimer(absl::Duration d);
  void ArmNow();  // completes with 0 at the next CQE pass
  // Cancels it if armed: its CQE then reaches @fn as -ECANCELED, even when
  // the timer fired before the cancel got to it.
  void Disarm();
  // A request is in flight (the owner must not be freed before its CQE).
  bool armed() const { return armed_; }

 private:
  static void OnCqe(Operation* op, const io_uring_cqe* cqe);

  void* owner_;
  Fn fn_;
  __kernel_timespec ts_{};
  bool armed_ = false;
  bool cancelling_ = false;                  // Disarm()ed, CQE not in yet
  std::optional<absl::Duration> rearm_;      // ArmTimer() while cancelling
};

namespace detail {

// @d as an io_uring timespec; negative durations are zero.
inline __kernel_timespec ToTimespec(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  int64_t sec = absl::ToInt64Seconds(d);
  return __kernel_timespec{sec, absl::ToInt64Nanoseconds(d - absl::Seconds(sec))};
}

// Cancels an operation when a stop is requested.
struct CancelOnStop {
  Operation* op;
  void operator()() const noexcept { op->Cancel(); }
};

}  // namespace detail

// A single-shot request: @Prep fills the SQE, @Result turns (res, flags)
// into what co_await returns. Both are small function objects stored inline.
template <typename Prep, typename Result>
class [[nodiscard]] IoAwaitable : public Operation {
 public:
  IoAwaitable(Ring& ring, OpOptions options, Prep prep, Result result)
      : Operation(ring, &IoAwaitable::OnCqe),
        options_(std::move(options)),
        prep_(std::move(prep)),
        result_(std::move(result)) {}

  bool await_ready() const noexcept { return false; }

  // Submits the request; on a closing Ring completes at once with -ECANCELED.
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h);

  auto await_resume() { return result_(res_, flags_); }

 private:
  static void OnCqe(Operation* op, const io_uring_cqe* cqe) {
    auto* self = static_cast<IoAwaitable*>(op);
    self->res_ = cqe->res;
    self->flags_ = cqe->flags;
    self->on_stop_.reset();
    if (self->deadline_handle_) self->ring().RemoveDeadline(std::exchange(self->deadline_handle_, 0));
    self->ResumeWaiter();
  }

  OpOptions options_;
  Prep prep_;
  Result result_;
  __kernel_timespec deadline_{};  // a borrowed ring's linked timeout
  uint64_t deadline_handle_ = 0;   // an owning ring's deadline queue entry
  std::optional<std::stop_callback<detail::CancelOnStop>> on_stop_;
  int res_ = 0;
  uint32_t flags_ = 0;
};

}  // namespace zcnet
