// Memory per connection: an idle ESTABLISHED connection is what a server holding 100,000 of them
// pays for each (issue 7: at most 1 KiB of synack memory per idle connection, engine included).
// sizeof(connection) was 1,864 bytes before the event queue, timers, RST reply, RTT estimator and
// CUBIC state became compact values and the members were ordered to leave no padding (now 840).
// The arithmetic behind the bound: the engine's entry adds 112 bytes (tuple, timer hook, flags,
// timestamps, buffer budget) = 952, which malloc serves from a 960-byte chunk; the hash map's node
// (48) and bucket (~10) bring it to ~1,020 bytes a connection. Eight bytes more and the entry
// takes a 976-byte chunk: over 1 KiB. This bound makes such a regression fail here instead of in
// the 100k-connection benchmark; a new member needs a byte found elsewhere.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "synack/tcp/connection.hpp"
#include "tcp/script.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc{};
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace synack::tcp::test {

BOOST_AUTO_TEST_SUITE(footprint)

// The whole object. Raise it only with a reason written here (and the 1 KiB target in mind).
// 840 -> 864 (issue 14): the 4-tuple holds two 16-byte addresses (IPv4 stored v4-mapped), +24.
inline constexpr std::size_t connection_size_bound = 864;

BOOST_AUTO_TEST_CASE(connection_object_stays_small) {
  BOOST_TEST_MESSAGE("sizeof(tcp::connection) = " << sizeof(connection) << " (bound " << connection_size_bound
                                                  << "), config " << sizeof(config) << ", stats "
                                                  << sizeof(connection_stats));
  BOOST_TEST(sizeof(connection) <= connection_size_bound);
  // The parts that once dominated: keep them compact.
  BOOST_TEST(sizeof(timer_set) <= timer_kind_count * sizeof(instant));
  BOOST_TEST(sizeof(byte_ring) <= 32u);
}

// An idle connection allocates nothing: the buffers and the range arrays come with the first byte
// or the first out-of-order segment. (Counted by the operator new below, which serves the whole
// test binary.)
BOOST_AUTO_TEST_CASE(handshake_to_idle_established_allocates_nothing) {
  const isn_generator isns(siphash_key{});
  const std::size_t before = allocations.load();
  {
    connection c(config{}, isns, test_tuple);
    c.connect(at(0ms), seq{1000});
    auto syn = c.poll_transmit(at(0ms));
    BOOST_REQUIRE(syn);
    segment sa;
    sa.seq_num = seq{5000};
    sa.ack_num = seq{1001};
    sa.syn = true;
    sa.window = 65535;
    sa.options.mss = 1460;
    sa.options.sack_permitted = true;
    sa.options.window_scale = 7;
    sa.options.timestamps = wire::tcp_timestamps{1, syn->options.timestamps->tsval};
    c.on_segment(at(1ms), sa);
    while (c.poll_transmit(at(1ms))) {
    }
    while (c.poll_event()) {
    }
    BOOST_REQUIRE(c.current_state() == state::established);
  }
  BOOST_TEST(allocations.load() - before == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace synack::tcp::test
