// The connection table's hashes (wire::ip_addr_hash, wire::four_tuple_hash): one hash, and one
// lookup in a table of 4096 connections as the engine makes for every received segment. IPv4
// (v4-mapped) and IPv6 tuples. Fixed iteration counts, so callgrind's instruction counts of a run
// compare between builds; the setup (make_tuples, make_table, built once) is left out by toggling
// collection off inside it:
//   valgrind --tool=callgrind --toggle-collect='*BM_four_tuple_hash*' --toggle-collect='*make_t*'
//     build/bench/micro/synack_micro --benchmark_filter='^BM_four_tuple_hash/v6:0/'
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "synack/wire/address.hpp"

namespace {

using namespace synack;

constexpr std::int64_t iterations = 1 << 20;
constexpr std::size_t table_size = 4096;

using table_type = std::unordered_map<wire::four_tuple, std::size_t, wire::four_tuple_hash>;

// `n` tuples to one local address and port from distinct remote addresses and ports, as a server
// holds them.
[[gnu::noinline]] std::vector<wire::four_tuple> make_tuples(bool v6, std::size_t n) {
  std::vector<wire::four_tuple> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    wire::four_tuple t;
    t.local_port = 443;
    t.remote_port = static_cast<std::uint16_t>(32768 + i * 7 % 28000);
    if (v6) {
      t.local_addr = *wire::ipv6_addr::parse("2001:db8::1");
      wire::ipv6_addr r = *wire::ipv6_addr::parse("2001:db8:1::");
      r.octets[13] = static_cast<std::uint8_t>(i >> 16);
      r.octets[14] = static_cast<std::uint8_t>(i >> 8);
      r.octets[15] = static_cast<std::uint8_t>(i);
      t.remote_addr = r;
    } else {
      t.local_addr = wire::ipv4_addr::from_octets(10, 0, 0, 1);
      t.remote_addr = wire::ipv4_addr{static_cast<std::uint32_t>(0x0a010000u + i)};
    }
    out.push_back(t);
  }
  return out;
}

const std::vector<wire::four_tuple>& tuples(bool v6) {
  static const std::vector<wire::four_tuple> v4s = make_tuples(false, table_size), v6s = make_tuples(true, table_size);
  return v6 ? v6s : v4s;
}

[[gnu::noinline]] table_type make_table(bool v6) {
  table_type table;
  const auto& ts = tuples(v6);
  for (std::size_t i = 0; i < ts.size(); ++i) table.emplace(ts[i], i);
  return table;
}

// One wire::ip_addr_hash of a remote address.
void BM_ip_addr_hash(benchmark::State& state) {
  const auto& ts = tuples(state.range(0) != 0);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(wire::ip_addr_hash{}(ts[i].remote_addr));
    i = (i + 1) % table_size;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ip_addr_hash)->ArgName("v6")->Arg(0)->Arg(1)->Iterations(iterations);

// One wire::four_tuple_hash.
void BM_four_tuple_hash(benchmark::State& state) {
  const auto& ts = tuples(state.range(0) != 0);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(wire::four_tuple_hash{}(ts[i]));
    i = (i + 1) % table_size;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_four_tuple_hash)->ArgName("v6")->Arg(0)->Arg(1)->Iterations(iterations);

// One find in a table of 4096 connections keyed as the engine's (hash, bucket walk, compare).
void BM_conn_table_find_hash(benchmark::State& state) {
  const auto& ts = tuples(state.range(0) != 0);
  static const table_type v4_table = make_table(false), v6_table = make_table(true);
  const table_type& table = state.range(0) != 0 ? v6_table : v4_table;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.find(ts[i]));
    i = (i + 1) % table_size;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_conn_table_find_hash)->ArgName("v6")->Arg(0)->Arg(1)->Iterations(iterations);

}  // namespace
