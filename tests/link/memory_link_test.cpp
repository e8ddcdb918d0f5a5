#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <memory>
#include <vector>

#include "synack/link/memory_link.hpp"

using namespace synack::link;

namespace {
std::vector<std::byte> frame_of(std::size_t n, unsigned fill) {
  return std::vector<std::byte>(n, static_cast<std::byte>(fill));
}
}  // namespace

BOOST_AUTO_TEST_SUITE(memory_link_tests)

BOOST_AUTO_TEST_CASE(sent_frames_reach_the_peer_after_forward_in_order) {
  memory_link a, b;
  frame_io& io = a;  // the engine's view
  BOOST_TEST(!io.send(frame_of(60, 1)));
  BOOST_TEST(!io.queue(frame_of(61, 2)));
  std::size_t sent = 9;
  BOOST_TEST(!io.flush(&sent));
  BOOST_TEST(sent == 1u);  // the queued one
  BOOST_TEST(io.fd() == -1);
  BOOST_TEST(!b.ready());
  BOOST_TEST(forward(a, b) == 2u);
  BOOST_TEST(b.ready());
  std::vector<std::size_t> sizes;
  frame_io& rx = b;
  BOOST_TEST(rx.receive([&](const rx_frame& f) { sizes.push_back(f.data.size()); }, 1) == 1u);
  BOOST_TEST(rx.receive([&](const rx_frame& f) { sizes.push_back(f.data.size()); }, 64) == 1u);
  BOOST_TEST((sizes == std::vector<std::size_t>{60, 61}));
  BOOST_TEST(!rx.ready());
  BOOST_TEST(!rx.wait_readable(std::chrono::seconds{1}));  // never blocks
  BOOST_TEST(b.counts().received == 2u);
}

BOOST_AUTO_TEST_CASE(a_full_inbox_drops_and_reports_it_as_ring_drops) {
  memory_link::options o;
  o.rx_capacity = 1;
  memory_link b(o);
  BOOST_TEST(b.deliver(frame_of(60, 1)));
  BOOST_TEST(!b.deliver(frame_of(60, 2)));
  bool losing = false;
  b.receive([&](const rx_frame& f) { losing = f.losing; }, 8);
  BOOST_TEST(losing);
  const packet_stats s = b.stats();
  BOOST_TEST(s.dropped == 1u);
  BOOST_TEST(b.stats().dropped == 0u);  // reset on read
}

BOOST_AUTO_TEST_CASE(a_full_outbox_or_an_oversized_frame_is_refused) {
  memory_link::options o;
  o.tx_capacity = 1;
  o.max_frame = 100;
  memory_link a(o);
  BOOST_TEST(a.send(frame_of(101, 1)).value() == EMSGSIZE);
  BOOST_TEST(!a.send(frame_of(60, 1)));
  BOOST_TEST(a.send(frame_of(60, 1)).value() == ENOBUFS);
  BOOST_TEST(a.counts().send_errors == 2u);
  std::size_t n = 0;
  a.take_sent([&](std::span<const std::byte> f) { n += f.size(); });
  BOOST_TEST(n == 60u);
  BOOST_TEST(a.pending_sent() == 0u);
}

BOOST_AUTO_TEST_CASE(a_frame_is_released_even_when_the_handler_throws) {
  memory_link b;
  b.deliver(frame_of(60, 1));
  b.deliver(frame_of(60, 2));
  BOOST_CHECK_THROW(b.receive([](const rx_frame&) { throw std::runtime_error("x"); }, 8), std::runtime_error);
  BOOST_TEST(b.pending_received() == 1u);  // the first one is gone, the second still waits
}

BOOST_AUTO_TEST_SUITE_END()
