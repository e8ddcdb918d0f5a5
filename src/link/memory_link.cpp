#include "synack/link/memory_link.hpp"

#include <cerrno>

namespace synack::link {

std::vector<std::byte> memory_link::take_buffer(std::span<const std::byte> frame) {
  std::vector<std::byte> buf;
  if (!spare_.empty()) {
    buf = std::move(spare_.back());
    spare_.pop_back();
  }
  buf.assign(frame.begin(), frame.end());
  return buf;
}

void memory_link::recycle(std::vector<std::byte>&& buf) {
  if (spare_.size() < 1024) spare_.push_back(std::move(buf));
}

std::size_t memory_link::receive(frame_handler on_frame, std::size_t max_frames) {
  std::size_t n = 0;
  while (n < max_frames && !inbox_.empty()) {
    // Off the queue before the call: a handler that sends (or a harness that delivers) cannot
    // move it, and it is recycled however the call ends.
    std::vector<std::byte> buf = std::move(inbox_.front());
    inbox_.pop_front();
    struct give_back {
      memory_link& self;
      std::vector<std::byte>& buf;
      ~give_back() { self.recycle(std::move(buf)); }
    } guard{*this, buf};
    ++n;
    ++counts_.received;
    ++stats_received_;
    rx_frame f;
    f.data = buf;
    f.original_length = buf.size();
    f.losing = stats_dropped_ > 0;  // the engine reads stats() for the count
    on_frame(f);
  }
  return n;
}

std::error_code memory_link::send(std::span<const std::byte> frame) noexcept {
  if (frame.size() > opts_.max_frame) {
    ++counts_.send_errors;
    return std::error_code{EMSGSIZE, std::system_category()};
  }
  if (opts_.tx_capacity != 0 && outbox_.size() >= opts_.tx_capacity) {
    ++counts_.send_errors;
    return std::error_code{ENOBUFS, std::system_category()};
  }
  try {
    outbox_.push_back(take_buffer(frame));
  } catch (const std::bad_alloc&) {
    ++counts_.send_errors;
    return std::error_code{ENOBUFS, std::system_category()};
  }
  ++counts_.sent;
  return {};
}

std::error_code memory_link::queue(std::span<const std::byte> frame) {
  std::error_code ec = send(frame);
  if (!ec) ++batch_sent_;
  return ec;
}

std::error_code memory_link::flush(std::size_t* sent) noexcept {
  if (sent) *sent = batch_sent_;
  batch_sent_ = 0;
  return {};
}

packet_stats memory_link::stats() noexcept {
  packet_stats s{stats_received_, stats_dropped_};
  stats_received_ = 0;
  stats_dropped_ = 0;
  return s;
}

bool memory_link::deliver(std::span<const std::byte> frame) {
  if (frame.size() > opts_.max_frame || (opts_.rx_capacity != 0 && inbox_.size() >= opts_.rx_capacity)) {
    ++counts_.rx_dropped;
    ++stats_dropped_;
    return false;
  }
  inbox_.push_back(take_buffer(frame));
  ++counts_.delivered;
  return true;
}

std::size_t memory_link::take_sent(const std::function<void(std::span<const std::byte>)>& on_frame) {
  std::size_t n = 0;
  while (!outbox_.empty()) {
    std::vector<std::byte> buf = std::move(outbox_.front());
    outbox_.pop_front();
    struct give_back {
      memory_link& self;
      std::vector<std::byte>& buf;
      ~give_back() { self.recycle(std::move(buf)); }
    } guard{*this, buf};
    ++n;
    on_frame(buf);
  }
  return n;
}

std::size_t forward(memory_link& from, memory_link& to) {
  return from.take_sent([&](std::span<const std::byte> f) { to.deliver(f); });
}

}  // namespace synack::link
