// Pending asynchronous operations of the Asio front end: a type-erased base the (non-template)
// socket state queues, and the typed operation that owns the handler.
//
// Rules every operation follows (field notes, "Asio facts"):
// - memory comes from the handler's associated allocator (default: Asio's recycling allocator)
//   and is freed before the handler runs;
// - while pending it holds work on the I/O executor and on the handler's associated executor;
// - completion is always posted (asio::post to the handler's associated executor, the socket's
//   executor as fallback), never invoked inline, so a handler never runs inside the initiating
//   call nor inside the stack's packet processing;
// - a connected cancellation slot gets a handler that removes the operation and completes it with
//   operation_aborted; the slot is cleared before completion.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/system/error_code.hpp>

namespace synack::asio::detail {

namespace net = boost::asio;
using boost::system::error_code;

enum class op_kind : unsigned char { connect, read, write, accept };

class op_base {
public:
  // Frees the operation and posts handler(ec, n) (handler(ec) for a connect). The operation must
  // not be in a queue.
  void complete(const error_code& ec, std::size_t n) { complete_(this, ec, n); }
  op_kind kind() const noexcept { return kind_; }

  op_base* next_ = nullptr;  // op_queue link
  net::cancellation_slot slot_;

protected:
  using complete_fn = void (*)(op_base*, const error_code&, std::size_t);
  op_base(complete_fn f, op_kind k) noexcept : complete_(f), kind_(k) {}
  ~op_base() = default;

private:
  complete_fn complete_;
  op_kind kind_;
};

// A FIFO of operations, intrusive.
class op_queue {
public:
  bool empty() const noexcept { return head_ == nullptr; }
  op_base* front() const noexcept { return head_; }
  void push(op_base* op) noexcept {
    op->next_ = nullptr;
    if (tail_)
      tail_->next_ = op;
    else
      head_ = op;
    tail_ = op;
  }
  op_base* pop() noexcept {
    op_base* op = head_;
    if (op) {
      head_ = op->next_;
      if (!head_) tail_ = nullptr;
      op->next_ = nullptr;
    }
    return op;
  }
  // Removes `op` if queued; returns whether it was.
  bool remove(op_base* op) noexcept {
    op_base* prev = nullptr;
    for (op_base* p = head_; p; prev = p, p = p->next_) {
      if (p != op) continue;
      if (prev)
        prev->next_ = p->next_;
      else
        head_ = p->next_;
      if (tail_ == p) tail_ = prev;
      p->next_ = nullptr;
      return true;
    }
    return false;
  }

private:
  op_base* head_ = nullptr;
  op_base* tail_ = nullptr;
};

// read_some/write_some look at no more than this many buffers of a sequence (as Asio's own
// buffer_sequence_adapter does with 64): a partial operation is allowed to do less.
inline constexpr std::size_t max_buffers = 16;

template <class Buffer>
struct buffer_list {
  std::array<Buffer, max_buffers> items{};
  std::size_t count = 0;

  std::size_t total() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count; ++i) n += items[i].size();
    return n;
  }

  template <class Sequence>
  static buffer_list from(const Sequence& seq) {
    buffer_list l;
    for (auto it = net::buffer_sequence_begin(seq), end = net::buffer_sequence_end(seq);
         it != end && l.count < max_buffers; ++it) {
      Buffer b(*it);
      if (b.size() != 0) l.items[l.count++] = b;
    }
    return l;
  }
};

class connect_op_base : public op_base {
protected:
  using op_base::op_base;
};

class read_op_base : public op_base {
public:
  buffer_list<net::mutable_buffer> buffers;
  bool empty_request = false;  // the caller passed only zero-length buffers
protected:
  using op_base::op_base;
};

class write_op_base : public op_base {
public:
  buffer_list<net::const_buffer> buffers;
  bool empty_request = false;
protected:
  using op_base::op_base;
};

template <class Handler>
auto op_allocator(const Handler& h) {
  return net::get_associated_allocator(h, net::recycling_allocator<void>());
}

// The typed operation: Base is connect_op_base, read_op_base or write_op_base.
template <class Base, class Handler, class IoExecutor>
class io_op final : public Base {
public:
  using handler_executor = net::associated_executor_t<Handler, IoExecutor>;

  template <class H>
  io_op(H&& h, const IoExecutor& ex, op_kind k)
      : Base(&io_op::do_complete, k),
        handler_(std::forward<H>(h)),
        io_ex_(ex),
        io_work_(ex),
        handler_work_(net::get_associated_executor(handler_, ex)) {}

  Handler& handler() noexcept { return handler_; }

  // Allocates with the handler's associated allocator.
  template <class H>
  static io_op* create(H&& h, const IoExecutor& ex, op_kind k) {
    auto alloc = op_allocator(h);
    using alloc_t = typename std::allocator_traits<decltype(alloc)>::template rebind_alloc<io_op>;
    alloc_t a(alloc);
    io_op* p = std::allocator_traits<alloc_t>::allocate(a, 1);
    try {
      ::new (static_cast<void*>(p)) io_op(std::forward<H>(h), ex, k);
    } catch (...) {
      std::allocator_traits<alloc_t>::deallocate(a, p, 1);
      throw;
    }
    return p;
  }

private:
  static void do_complete(op_base* base, const error_code& ec, std::size_t n) {
    io_op* self = static_cast<io_op*>(base);
    if (self->slot_.is_connected()) self->slot_.clear();
    auto alloc = op_allocator(self->handler_);
    using alloc_t = typename std::allocator_traits<decltype(alloc)>::template rebind_alloc<io_op>;
    alloc_t a(alloc);
    // Move everything out, free the operation, then post: the memory is back before the handler runs.
    Handler handler(std::move(self->handler_));
    IoExecutor io_ex(self->io_ex_);
    auto io_work(std::move(self->io_work_));
    auto handler_work(std::move(self->handler_work_));
    self->~io_op();
    std::allocator_traits<alloc_t>::deallocate(a, self, 1);
    if constexpr (std::is_same_v<Base, connect_op_base>) {
      (void)n;
      net::post(io_ex, net::append(std::move(handler), ec));
    } else {
      net::post(io_ex, net::append(std::move(handler), ec, n));
    }
    // post() holds its own work until the handler runs; ours ends here.
  }

  Handler handler_;
  IoExecutor io_ex_;
  net::executor_work_guard<IoExecutor> io_work_;
  net::executor_work_guard<handler_executor> handler_work_;
};

}  // namespace synack::asio::detail
