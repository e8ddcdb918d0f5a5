// wire::parse_frame: Ethernet + IPv4 + TCP with options, checksums verified or vouched for.
#include <benchmark/benchmark.h>

#include "frame_util.hpp"
#include "synack/wire/frame.hpp"

namespace {

using namespace synack;

void parse(benchmark::State& state, const std::vector<std::byte>& frame, bool verify) {
  const wire::parse_options opts{verify};
  for (auto _ : state) {
    wire::parsed_frame p = wire::parse_frame(frame, opts);
    if (p.kind != wire::frame_kind::tcp) state.SkipWithError("frame did not parse as TCP");
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}

// SYN-ACK: MSS, SACK-permitted, timestamps, window scale (78-byte frame).
void BM_parse_syn_ack(benchmark::State& state) {
  static const auto frame = bench::make_frame(bench::syn_ack_repr());
  parse(state, frame, state.range(0) != 0);
}
BENCHMARK(BM_parse_syn_ack)->ArgName("verify")->Arg(0)->Arg(1);

// Pure ACK with timestamps and 3 SACK blocks (the longest option area in practice).
void BM_parse_ack_sack(benchmark::State& state) {
  static const std::vector<std::byte> none;
  static const auto frame = bench::make_frame(bench::data_repr(none, 3));
  parse(state, frame, state.range(0) != 0);
}
BENCHMARK(BM_parse_ack_sack)->ArgName("verify")->Arg(0)->Arg(1);

// A full-sized data segment with timestamps (1448 bytes of payload, 1514-byte frame).
void BM_parse_data_1448(benchmark::State& state) {
  static const std::vector<std::byte> payload(1448, std::byte{0x5a});
  static const auto frame = bench::make_frame(bench::data_repr(payload));
  parse(state, frame, state.range(0) != 0);
}
BENCHMARK(BM_parse_data_1448)->ArgName("verify")->Arg(0)->Arg(1);

// The emit side of the same path: a SYN-ACK's headers, options and checksums into a frame.
void BM_emit_syn_ack(benchmark::State& state) {
  const auto repr = bench::syn_ack_repr();
  std::vector<std::byte> out(128);
  for (auto _ : state) {
    const std::size_t n = repr.emit(out, bench::frame_src, bench::frame_dst);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_emit_syn_ack);

}  // namespace
