// Scope: children are self-destroying wrapper coroutines linked into the scope.
#include "zcnet/scope.hpp"

namespace zcnet {

namespace detail {

std::coroutine_handle<> ScopeChild::promise_type::FinalAwaiter::await_suspend(
    std::coroutine_handle<promise_type> h) noexcept {
  Scope* scope = h.promise().scope;
  scope->Unlink(&h.promise());
  h.destroy();
  if (scope->active_ == 0 && scope->joiner_) {
    if (auto* p = std::exchange(scope->joiner_promise_, nullptr)) p->suspended_on = nullptr;
    return std::exchange(scope->joiner_, nullptr);
  }
  return std::noop_coroutine();
}

void ScopeChild::promise_type::unhandled_exception() noexcept {
  if (!scope->error_) scope->error_ = std::current_exception();
}

}  // namespace detail

namespace {

detail::ScopeChild RunChild(Task<void> task) { co_await std::move(task); }

}  // namespace

void Scope::Spawn(Task<void> task) {
  auto child = RunChild(std::move(task));
  ChildPromise& p = child.handle.promise();
  p.scope = this;
  p.next = head_;
  if (head_) head_->prev = &p;
  head_ = &p;
  active_++;
  child.handle.resume();
}

void Scope::Unlink(ChildPromise* p) noexcept {
  if (p->prev) p->prev->next = p->next;
  else head_ = p->next;
  if (p->next) p->next->prev = p->prev;
  active_--;
}

Scope::~Scope() {
  // Each child still running is abandoned as a whole chain (see task.hpp).
  while (head_) {
    ChildPromise* p = head_;
    Unlink(p);
    detail::DestroyOrAbandon(p->self, *p);
  }
}

}  // namespace zcnet
