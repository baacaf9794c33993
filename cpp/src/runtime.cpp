// Runtime: threads, one Ring each, and messages between them (MSG_RING).
#include "zcnet/runtime.hpp"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <absl/strings/str_cat.h>

#include "zcnet/status.hpp"

// A post's node is written by the sender and read by the target: the
// kernel's MSG_RING orders the two, which ThreadSanitizer cannot see. The
// target's side is in Ring::Handle (an acquire on the CQE's operation).
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_release(void* addr);
#define ZCNET_HANDED_OVER(p) __tsan_release(p)
#else
#define ZCNET_HANDED_OVER(p) ((void)(p))
#endif

namespace zcnet {

struct Runtime::Shard {
  Runtime* rt = nullptr;
  size_t index = 0;
  std::unique_ptr<Ring> ring;  // created, driven and destroyed by the thread
  int ring_fd = -1;
  std::thread thread;
  std::stop_source stop;
  std::stop_token token = stop.get_token();
  Scope* scope = nullptr;  // on the thread's stack while it runs
  bool stopping = false;   // the thread's own view: stop reached it
  // Posts accepted and not yet run. Post() adds before it checks
  // `accepting`, the thread clears `accepting` before it reads `pending`:
  // a post either sees the ring stopping or is waited for.
  std::atomic<size_t> pending{0};
  std::atomic<bool> accepting{true};
  std::atomic<size_t> load{0};
  std::atomic<uint64_t> received{0};
};

thread_local Runtime::Shard* Runtime::current_shard = nullptr;

// One posted function. `deliver` is the target's CQE (the MSG_RING's data,
// or a NOP when a ring posts to itself); `failed` the sender's CQE, which
// comes only if the MSG_RING failed (IOSQE_CQE_SKIP_SUCCESS).
struct Runtime::PostNode {
  struct Deliver : Operation {
    Deliver(Ring& r, PostNode* n) : Operation(r, &Deliver::OnCqe), node(n) { counted_ = false; }
    static void OnCqe(Operation* op, const io_uring_cqe*);
    PostNode* node;
  };
  struct Failed : Operation {
    Failed(Ring& r, PostNode* n) : Operation(r, &Failed::OnCqe), node(n) { counted_ = false; }
    static void OnCqe(Operation* op, const io_uring_cqe* cqe);
    PostNode* node;
  };

  PostNode(Shard& t, Ring& sender, Fn f)
      : target(&t), deliver(*t.ring, this), failed(sender, this), fn(std::move(f)) {}

  uint64_t deliver_data() { return Ring::kUserDataTag | reinterpret_cast<uint64_t>(&deliver); }

  Shard* target;
  Deliver deliver;
  Failed failed;
  Fn fn;
};

void Runtime::PostNode::Deliver::OnCqe(Operation* op, const io_uring_cqe*) {
  PostNode* node = static_cast<Deliver*>(op)->node;
  Shard* target = node->target;
  target->received.fetch_add(1, std::memory_order_relaxed);
  [&]() noexcept { std::move(node->fn)(); }();
  delete node;
  target->pending.fetch_sub(1);
}

void Runtime::PostNode::Failed::OnCqe(Operation* op, const io_uring_cqe* cqe) {
  PostNode* node = static_cast<Failed*>(op)->node;
  // The target has not seen it. It is still running (its pending count
  // includes this post): send again without the ring.
  int first = cqe->res;
  absl::Status st = node->target->rt->SendWithoutRing(*node->target, node);
  if (!st.ok()) {
    std::fprintf(stderr, "zcnet: Runtime: a post to ring %zu failed (IORING_OP_MSG_RING: %s), "
                 "and again without a ring: %s\n", node->target->index, std::strerror(-first),
                 st.ToString().c_str());
    std::abort();
  }
}

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Create(const Options& options) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed)) return ErrnoStatus("sched_getaffinity", errno);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  unsigned n = options.threads ? options.threads : static_cast<unsigned>(cpus.size());
  if (n == 0) return absl::InvalidArgumentError("Runtime: no CPU in the affinity mask");
  if (options.pin && n > cpus.size())
    return absl::InvalidArgumentError(absl::StrCat("Runtime: pin asks for ", n, " rings on ",
                                                   cpus.size(), " CPUs this process may run on"));

  auto rt = std::unique_ptr<Runtime>(new Runtime());
  for (unsigned i = 0; i < n; i++) {
    auto shard = std::make_unique<Shard>();
    shard->rt = rt.get();
    shard->index = i;
    std::promise<absl::Status> started;
    std::future<absl::Status> ready = started.get_future();
    int cpu = options.pin ? cpus[i] : -1;
    Shard* s = shard.get();
    rt->shards_.push_back(std::move(shard));
    s->thread = std::thread([r = rt.get(), s, options, cpu, &started] {
      r->ThreadMain(*s, options, cpu, &started);
    });
    absl::Status st = ready.get();
    if (!st.ok()) {
      s->thread.join();
      rt->shards_.pop_back();
      return st;  // ~Runtime stops the rings already running
    }
  }
  return rt;
}

Runtime::~Runtime() {
  RequestStop();
  try {
    Join();
  } catch (...) {
  }
}

void Runtime::ThreadMain(Shard& s, const Options& options, int cpu,
                         std::promise<absl::Status>* started) {
  if (cpu >= 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (int err = pthread_setaffinity_np(pthread_self(), sizeof(one), &one)) {
      started->set_value(ErrnoStatus(absl::StrCat("Runtime: pin ring ", s.index, " to CPU ", cpu), err));
      return;
    }
  }
  // Created here: the ring's single issuer is the thread that drives it.
  absl::StatusOr<std::unique_ptr<Ring>> ring = Ring::Create(options.ring);
  if (!ring.ok()) {
    started->set_value(absl::Status(ring.status().code(),
                                    absl::StrCat("Runtime ring ", s.index, ": ", ring.status().message())));
    return;
  }
  s.ring = std::move(*ring);
  s.ring_fd = s.ring->raw()->ring_fd;
  current_shard = &s;
  Scope scope;
  s.scope = &scope;
  started->set_value(absl::OkStatus());  // `started` is gone from here on

  while (!(s.stopping && scope.active() == 0 && s.pending.load() == 0)) s.ring->RunOnce();

  s.scope = nullptr;
  current_shard = nullptr;
  s.ring.reset();  // cancels what abandoned frames still wait on, then closes
}

absl::Status Runtime::Post(size_t ring, Fn fn) {
  if (ring >= shards_.size())
    return absl::InvalidArgumentError(absl::StrCat("Runtime::Post: ring ", ring, " of ", shards_.size()));
  Shard& t = *shards_[ring];
  t.pending.fetch_add(1);
  if (!t.accepting.load()) {
    t.pending.fetch_sub(1);
    return absl::FailedPreconditionError(absl::StrCat("Runtime::Post: ring ", ring, " is stopping"));
  }
  Shard* self = current_shard;
  auto* node = new PostNode(t, self ? *self->ring : *t.ring, std::move(fn));
  absl::Status st = Send(t, node);
  if (!st.ok()) {
    delete node;
    t.pending.fetch_sub(1);
  }
  return st;
}

absl::Status Runtime::Call(size_t ring, Fn fn) {
  if (current_shard)
    return absl::FailedPreconditionError(absl::StrCat(
        "Runtime::Call(", ring, "): called on a ring's thread (ring ", CurrentIndex(),
        "); waiting there would stop its loop: use Post"));
  std::promise<void> done;
  absl::Status st = Post(ring, [&fn, &done] {
    std::move(fn)();
    done.set_value();
  });
  if (!st.ok()) return st;
  done.get_future().wait();
  return absl::OkStatus();
}

absl::Status Runtime::Send(Shard& t, PostNode* node) {
  ZCNET_HANDED_OVER(&node->deliver);
  Shard* self = current_shard;
  if (!self) return SendWithoutRing(t, node);
  io_uring_sqe* sqe = self->ring->GetSqe();
  if (self == &t) {
    io_uring_prep_nop(sqe);  // to itself: a NOP's CQE is the delivery
    Ring::SetOp(sqe, &node->deliver);
    return absl::OkStatus();
  }
  // Goes out with this ring's next io_uring_enter; the target's CQE
  // carries deliver_data() as user_data.
  io_uring_prep_msg_ring(sqe, t.ring_fd, 0, node->deliver_data(), 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  Ring::SetOp(sqe, &node->failed);
  return absl::OkStatus();
}

absl::Status Runtime::SendWithoutRing(Shard& t, PostNode* node) {
  io_uring_sqe msg{};
  io_uring_prep_msg_ring(&msg, t.ring_fd, 0, node->deliver_data(), 0);
  std::lock_guard<std::mutex> lock(sender_mu_);
  if (sync_msg_) {
    int ret = io_uring_register_sync_msg(&msg);
    if (ret != -EINVAL) return ret < 0 ? ErrnoStatus("IORING_REGISTER_SEND_MSG_RING", ret) : absl::OkStatus();
    sync_msg_ = 0;  // before Linux 6.13: through a ring of our own
  }
  if (!sender_) {
    auto r = std::make_unique<io_uring>();
    if (int ret = io_uring_queue_init(4, r.get(), 0)) return ErrnoStatus("io_uring_queue_init (Runtime sender)", ret);
    sender_ = std::move(r);
  }
  io_uring_sqe* sqe = io_uring_get_sqe(sender_.get());
  *sqe = msg;
  int ret = io_uring_submit_and_wait(sender_.get(), 1);
  if (ret < 0) return ErrnoStatus("io_uring_submit_and_wait (Runtime sender)", ret);
  io_uring_cqe* cqe;
  ret = io_uring_wait_cqe(sender_.get(), &cqe);
  if (ret < 0) return ErrnoStatus("io_uring_wait_cqe (Runtime sender)", ret);
  int res = cqe->res;
  io_uring_cqe_seen(sender_.get(), cqe);
  return res < 0 ? ErrnoStatus("IORING_OP_MSG_RING", res) : absl::OkStatus();
}

Task<void> Runtime::RunSpawned(Runtime* rt, Shard* s, TaskFactory make) {
  // @make lives in this frame until the task is done: a coroutine lambda's
  // captures stay valid while it runs.
  try {
    co_await make(*s->ring);
  } catch (...) {
    rt->KeepError(std::current_exception());
  }
  s->load.fetch_sub(1);
}

absl::Status Runtime::Spawn(size_t ring, TaskFactory make) {
  if (ring >= shards_.size())
    return absl::InvalidArgumentError(absl::StrCat("Runtime::Spawn: ring ", ring, " of ", shards_.size()));
  Shard* s = shards_[ring].get();
  s->load.fetch_add(1);
  absl::Status st = Post(ring, [this, s, make = std::move(make)]() mutable {
    s->scope->Spawn(RunSpawned(this, s, std::move(make)));
  });
  if (!st.ok()) s->load.fetch_sub(1);
  return st;
}

size_t Runtime::LeastLoaded() const {
  size_t best = 0;
  for (size_t i = 1; i < shards_.size(); i++)
    if (shards_[i]->load.load(std::memory_order_relaxed) <
        shards_[best]->load.load(std::memory_order_relaxed))
      best = i;
  return best;
}

size_t Runtime::load(size_t ring) const {
  return ring < shards_.size() ? shards_[ring]->load.load() : 0;
}

uint64_t Runtime::posts_received(size_t ring) const {
  return ring < shards_.size() ? shards_[ring]->received.load() : 0;
}

void Runtime::RequestStop() {
  if (stop_requested_.exchange(true)) return;
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    absl::Status st = Post(s->index, [s] {
      s->accepting.store(false);
      s->stopping = true;
      s->stop.request_stop();  // its callbacks cancel on this thread
    });
    if (!st.ok())
      std::fprintf(stderr, "zcnet: Runtime::RequestStop: ring %zu: %s\n", s->index, st.ToString().c_str());
  }
}

void Runtime::Join() {
  for (auto& shard : shards_)
    if (shard->thread.joinable()) shard->thread.join();
  std::exception_ptr e;
  {
    std::lock_guard<std::mutex> lock(error_mu_);
    e = std::exchange(error_, nullptr);
  }
  if (e) std::rethrow_exception(e);
}

void Runtime::KeepError(std::exception_ptr e) {
  std::lock_guard<std::mutex> lock(error_mu_);
  if (!error_) error_ = e;
}

Ring* Runtime::CurrentRing() { return current_shard ? current_shard->ring.get() : nullptr; }

size_t Runtime::CurrentIndex() {
  return current_shard ? current_shard->index : std::numeric_limits<size_t>::max();
}

const std::stop_token& Runtime::StopToken() {
  static const std::stop_token never;
  return current_shard ? current_shard->token : never;
}

}  // namespace zcnet
