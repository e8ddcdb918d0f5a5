// The Internet checksum (RFC 1071) over buffers of common sizes, and the TCP checksum with its
// pseudo-header.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <vector>

#include "synack/wire/checksum.hpp"

namespace {

using namespace synack;

std::vector<std::byte> data_of(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 131 + 7);
  return v;
}

void BM_internet_checksum(benchmark::State& state) {
  const auto data = data_of(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    std::uint16_t c = wire::internet_checksum(data);
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
// An IPv4 header, a pure ACK with options, a small request, a full segment, a jumbo, a GSO/GRO
// super-segment.
BENCHMARK(BM_internet_checksum)->Arg(20)->Arg(32)->Arg(64)->Arg(576)->Arg(1480)->Arg(9000)->Arg(65535);

// Odd length: the last byte is padded.
BENCHMARK(BM_internet_checksum)->Name("BM_internet_checksum_odd")->Arg(1481);

void BM_tcp_checksum(benchmark::State& state) {
  const auto data = data_of(static_cast<std::size_t>(state.range(0)));
  const auto src = wire::ipv4_addr::from_octets(10, 0, 0, 1), dst = wire::ipv4_addr::from_octets(10, 0, 0, 2);
  for (auto _ : state) {
    std::uint16_t c = wire::tcp_checksum(src, dst, data);
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_tcp_checksum)->Arg(32)->Arg(1480);

}  // namespace
