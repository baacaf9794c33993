// zcnet/ring.hpp - the io_uring zcnet runs on, owned or borrowed.
//
// Owning: Ring::Create() sets up the ring (SINGLE_ISSUER | DEFER_TASKRUN by
// default, SQPOLL on request) and Ring::Run(task) drives it until the task
// completes: one io_uring_enter per pass submits everything the resumed
// coroutines queued and waits for the next completions.
//
// Borrowed: Ring::Borrow(io_uring*) attaches to a ring the application owns
// and keeps running. zcnet then never waits on it and never submits: its SQEs
// sit in the SQ next to the application's until the application's next
// io_uring_submit*(); the application's loop passes each CQE to Handle(),
// which returns false for CQEs that are not zcnet's.
//
// Tag contract: every SQE zcnet prepares has user_data with the top 16 bits
// equal to Ring::kUserDataTag (0x7A63, "zc"); the low 48 bits are an address
// inside zcnet. The application must not use user_data values with those top
// bits on a shared ring; any other value is left to it.
//
// Threading: one thread drives a Ring (it is single-issuer). Stop requests
// for operations on it must come from that thread.
//
// Re-entrancy: RunOnce() copies every ready CQE out of the completion queue
// and advances the queue before it dispatches the first one, so a handler
// (a resumed coroutine) may destroy anything, throw, or even drive the ring
// itself: no CQE is handled twice, none is lost, and CQEs are dispatched in
// the order the kernel posted them.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <vector>

#include <absl/status/statusor.h>

#include "zcnet/detail/deadline_queue.hpp"
#include "zcnet/operation.hpp"
#include "zcnet/task.hpp"

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
#endif

namespace zcnet {

class Ring {
 public:
  static constexpr uint64_t kUserDataTag = 0x7a63ULL << 48;
  static constexpr uint64_t kUserDataTagMask = 0xffffULL << 48;

  struct Options {
    unsigned entries = 256;
    // Completion queue size (IORING_SETUP_CQSIZE; the kernel rounds it up to
    // a power of two). 0: the kernel's default, twice @entries. Multishot
    // receives and accepts post many CQEs per SQE: a larger CQ keeps a busy
    // pass from overflowing into the kernel's backlog list. Create refuses
    // fewer than @entries or more than 65536 (InvalidArgument).
    unsigned cq_entries = 0;
    // Extra io_uring_setup flags; SINGLE_ISSUER|DEFER_TASKRUN unless sqpoll.
    unsigned flags = 0;
    bool sqpoll = false;
    unsigned sqpoll_idle_ms = 50;
    // CQEs big enough for zcrx receive (32 bytes). With cqe_mixed, where the
    // kernel has IORING_SETUP_CQE_MIXED (Linux 6.18+), only the CQEs that
    // need it are 32 bytes and every other is 16, half the completion
    // queue's memory traffic; on older kernels, or with cqe_mixed false,
    // every CQE is 32 bytes (IORING_SETUP_CQE32). cqe32 false: 16 bytes
    // always, and zcrx is unavailable on this ring.
    bool cqe32 = true;
    bool cqe_mixed = true;
    // Registers the ring's descriptor with the kernel (io_uring_register_ring_fd)
    // so every io_uring_enter skips the file table lookup. Per thread: done for
    // SINGLE_ISSUER rings (not sqpoll), which one thread creates and drives
    // anyway; where the kernel refuses (before 5.18, or 16 rings registered by
    // the thread already) the ring works as without it.
    bool register_ring_fd = true;
    // Batched waits: while completions arrive fast enough to fill half a
    // batch within the time bound (their rate over the last passes, a moving
    // average, times @wait_min_usec reaches @wait_batch / 2), RunOnce waits
    // until @wait_batch CQEs are ready or @wait_min_usec has passed with at
    // least one (IORING_FEAT_MIN_TIMEOUT, Linux 6.12+); otherwise it waits
    // for one, so a lone request/response is not held back. Fewer
    // wakeups and io_uring_enter calls per completion when many connections
    // trickle, at up to @wait_min_usec of latency while engaged.
    // kWaitBatchAuto (default): a batch of kAutoWaitBatch within
    // @wait_min_usec (0: kAutoWaitMinUsec) where the kernel has the feature
    // and the ring is not sqpoll, else plain waits; 1: plain waits always.
    // An explicit batch of 2 or more needs @wait_min_usec, and Create fails
    // naming the feature where the kernel lacks it.
    static constexpr unsigned kWaitBatchAuto = 0;
    static constexpr unsigned kAutoWaitBatch = 16;
    static constexpr unsigned kAutoWaitMinUsec = 50;
    unsigned wait_batch = kWaitBatchAuto;
    unsigned wait_min_usec = 0;
    // NAPI busy polling (IORING_REGISTER_NAPI, Linux 6.9+): a waiting ring
    // polls the NIC queues of its sockets for up to @napi_busy_poll_usec
    // instead of sleeping for the interrupt, trading CPU for latency; with
    // @napi_prefer_busy_poll the queues' interrupts stay masked while it
    // polls. Only sockets on a NIC with NAPI gain (not loopback). Off (0) by
    // default; Create fails naming the registration where the kernel refuses.
    unsigned napi_busy_poll_usec = 0;
    bool napi_prefer_busy_poll = false;
    // OpOptions::timeout of Socket and Listener requests, of SendZc (TxPool
    // sends and forwarding) and of stream waits on the ring's one kernel
    // timer (detail/deadline_queue.hpp; default): a deadline that is not
    // reached costs no SQE or CQE. false: a kernel timer per operation
    // (IORING_OP_LINK_TIMEOUT, or IORING_OP_TIMEOUT and its cancel for a
    // stream wait), as a borrowed ring always does.
    bool deadline_queue = true;
    // Registered files (io_uring_register_files_sparse): a table of this
    // many slots, and every Socket made on the ring (accepted, opened, or
    // constructed from a descriptor on the ring's thread) is entered in a
    // free slot, so its requests name the slot (IOSQE_FIXED_FILE) and the
    // kernel skips the file table lookup and the reference count per
    // request. The Socket keeps its descriptor for everything else. A full
    // table leaves new sockets on their descriptors. Such a Socket must be
    // closed or destroyed on the ring's thread and before the Ring. 0 (the
    // default): none; measured in docs/benchmarks.md. Create fails naming
    // the registration where the kernel refuses.
    unsigned fixed_files = 0;
  };

  // Create sets up an io_uring of its own. Errors name the flags refused.
  static absl::StatusOr<std::unique_ptr<Ring>> Create(const Options& options);
  static absl::StatusOr<std::unique_ptr<Ring>> Create() { return Create(Options{}); }
  // Borrow attaches to @ring, which the caller keeps owning and driving.
  static std::unique_ptr<Ring> Borrow(io_uring* ring);

  // An owning Ring cancels every request still in flight, waits for their
  // final CQEs (operations awaited then complete with Cancelled, and new ones
  // complete with Cancelled at once), then closes the ring. Pools and
  // buffers must be gone by then: one still alive aborts with a message.
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Run starts @task and drives the ring until it completes (owning mode).
  template <typename T>
  T Run(Task<T> task);

  // Drives the ring until no zcnet request is in flight (owning mode).
  void Drain();
  // One pass of the loop: submit, wait for a CQE, handle every ready CQE
  // (owning mode).
  void RunOnce();

  // Handle processes one CQE: false if it is not zcnet's (left to the caller).
  bool Handle(const io_uring_cqe* cqe) {
    if ((cqe->user_data & kUserDataTagMask) != kUserDataTag) return false;
    auto* op = reinterpret_cast<Operation*>(cqe->user_data & ~kUserDataTagMask);
#if defined(__SANITIZE_THREAD__)
    // A CQE may bring an object another thread handed over (Runtime::Post,
    // over MSG_RING): the kernel orders the two, ThreadSanitizer cannot see it.
    if (op) __tsan_acquire(op);
#endif
    if (!(cqe->flags & IORING_CQE_F_MORE) && (!op || op->counted()) && in_flight_) in_flight_--;
    if (op) op->Complete(cqe);
    return true;
  }

  // An SQE to fill; submits first if the SQ is full (owning mode) or fails
  // loudly in borrowed mode when the application left no room.
  io_uring_sqe* GetSqe();
  // Marks @sqe as @op's (nullptr: a CQE to ignore, e.g. a cancel's own).
  static void SetOp(io_uring_sqe* sqe, Operation* op) {
    io_uring_sqe_set_data64(sqe, kUserDataTag | reinterpret_cast<uint64_t>(op));
  }
  // Counts a request whose final CQE will come (multishot: one for all).
  void AddInFlight() { in_flight_++; }
  // Links an IORING_OP_LINK_TIMEOUT of @options.timeout, if there is one,
  // to @sqe, the request just prepared; @ts holds the deadline until the
  // timeout's CQE (it lives in the operation).
  void LinkTimeout(io_uring_sqe* sqe, const OpOptions& options, __kernel_timespec* ts) {
    if (!options.timeout) return;
    sqe->flags |= IOSQE_IO_LINK;
    *ts = detail::ToTimespec(*options.timeout);
    io_uring_sqe* t = GetSqe();
    io_uring_prep_link_timeout(t, ts, 0);
    SetOp(t, nullptr);
    AddInFlight();
  }
  // A deadline of OpOptions::timeout (a request's, or a stream wait's) on
  // the ring's one timer (detail/deadline_queue.hpp): @fn(@arg) runs from
  // the CQE loop once @timeout has passed, unless RemoveDeadline(handle)
  // came first. Owning rings only: a borrowed ring returns 0 and the caller
  // arms a timer of its own (LinkTimeout, Wakeup), since zcnet does not see
  // a borrowed ring's CQEs after it is gone.
  uint64_t AddDeadline(absl::Duration timeout, void (*fn)(void* arg), void* arg);
  void RemoveDeadline(uint64_t handle);
  // SQEs the deadline timer took (arms and moves) and its CQEs, for tests
  // and benchmarks; 0 on a borrowed ring.
  uint64_t deadline_timer_sqes() const;
  uint64_t deadline_timer_fires() const;
  // Turns the not yet submitted SQEs of @user_data into NOPs completing with
  // -ECANCELED; false if none was still in the SQ (Operation::Cancel).
  bool CancelUnsubmitted(uint64_t user_data);

  io_uring* raw() { return ring_; }
  bool owning() const { return owning_; }
  size_t in_flight() const { return in_flight_; }
  // True while ~Ring cancels: new requests complete with -ECANCELED at once.
  bool closing() const { return closing_; }
  // Pools (and their buffers) count themselves here; ~Ring checks it is 0.
  void AttachResource() { resources_++; }
  void DetachResource() { resources_--; }
  // Fixed-buffer slots held by zcnet's pools (a destroyed TxPool holds its
  // slot until its last send's notification). ClaimFreeBufferSlot registers
  // a sparse table of kBufferSlots on first use and returns a free slot, or
  // -1 when the ring has a table of the application's (then pools name
  // their slot) or every slot is held.
  static constexpr unsigned kBufferSlots = 64;
  int ClaimFreeBufferSlot();
  bool ClaimBufferSlot(uint16_t index);
  void ReleaseBufferSlot(uint16_t index);
  // Registered files (Options::fixed_files): RegisterFile enters @fd in a
  // free slot and returns it, or -1 (no table, table full, or the kernel
  // refused); UnregisterFile empties a slot. Socket calls these.
  int RegisterFile(int fd);
  void UnregisterFile(int slot);
  unsigned fixed_files() const { return static_cast<unsigned>(file_slots_.size()); }
  unsigned fixed_files_in_use() const { return files_in_use_; }
  // io_uring_enter calls made by Run/Drain, and the CQEs they handed to
  // handlers (owning mode; for benchmarks).
  uint64_t enter_calls() const { return enter_calls_; }
  uint64_t cqes_handled() const { return cqes_handled_; }
  // Whether io_uring_enter goes through the registered ring descriptor.
  bool ring_fd_registered() const { return ring_fd_registered_; }
  // The batched wait in force: the batch (1: plain waits) and its bound.
  unsigned wait_batch() const { return wait_batch_; }
  unsigned wait_min_usec() const { return wait_min_usec_; }
  // Whether NAPI busy polling is registered (Options::napi_busy_poll_usec).
  bool napi_busy_polling() const { return napi_; }

 private:
  Ring(io_uring* ring, bool owning) : ring_(ring), owning_(owning) {}
  // Copies the ready CQEs into reaped_ and advances the completion queue.
  void Reap();
  // Handles reaped CQEs in order until none is left (nested calls share them).
  void DispatchReaped();

  // One CQE, copied out of the ring (32 bytes: big enough for CQE32).
  struct ReapedCqe {
    alignas(io_uring_cqe) unsigned char bytes[2 * sizeof(io_uring_cqe)];
  };

  io_uring* ring_;
  std::unique_ptr<io_uring> own_;
  bool owning_;
  bool closing_ = false;
  size_t cqe_bytes_ = sizeof(io_uring_cqe);  // every CQE's (CQE32: 32); mixed: 0
  bool ring_fd_registered_ = false;
  bool napi_ = false;
  unsigned wait_batch_ = 1;
  unsigned wait_min_usec_ = 0;
  bool busy_ = false;  // completions come fast enough: batched waits engage
  double cqe_rate_ = 0;  // CQEs per nanosecond, moving average over passes
  int64_t last_pass_ns_ = 0;
  void JudgeCompletionRate(size_t reaped, bool batched);
  size_t in_flight_ = 0;
  size_t resources_ = 0;
  uint64_t enter_calls_ = 0;
  uint64_t cqes_handled_ = 0;
  std::vector<uint16_t> buffer_slots_;
  std::vector<int> file_slots_;  // free slots of the registered file table (a stack)
  unsigned files_in_use_ = 0;
  int sparse_table_ = 0;  // 1: zcnet registered a sparse table; -1: could not
  std::vector<ReapedCqe> reaped_;
  size_t reaped_head_ = 0;
  std::unique_ptr<detail::DeadlineQueue> deadlines_;  // owning rings
};

template <typename T>
T Ring::Run(Task<T> task) {
  auto h = task.handle();
  h.resume();
  while (!h.done()) RunOnce();
  return task.Result();
}

template <typename Prep, typename Result>
template <typename Promise>
bool IoAwaitable<Prep, Result>::await_suspend(std::coroutine_handle<Promise> h) {
  if (options_.stop_requested() || ring_->closing()) {
    res_ = -ECANCELED;
    return false;
  }
  SetWaiter(h);
  io_uring_sqe* sqe = ring_->GetSqe();
  prep_(sqe);
  Ring::SetOp(sqe, this);
  ring_->AddInFlight();
  if (options_.timeout) {
    deadline_handle_ = ring_->AddDeadline(*options_.timeout, &Operation::CancelOnDeadline, this);
    if (!deadline_handle_) ring_->LinkTimeout(sqe, options_, &deadline_);
  }
  if (options_.stop_possible()) on_stop_.emplace(*options_.stop, detail::CancelOnStop{this});
  return true;
}

// MakeIo builds a single-shot awaitable on @ring.
template <typename Prep, typename Result>
IoAwaitable<Prep, Result> MakeIo(Ring& ring, OpOptions options, Prep prep, Result result) {
  return IoAwaitable<Prep, Result>(ring, std::move(options), std::move(prep), std::move(result));
}

}  // namespace zcnet
