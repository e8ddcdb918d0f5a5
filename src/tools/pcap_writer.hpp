// --pcap FILE: every frame synack sends and receives, as a classic pcap file (libpcap's dumper,
// Ethernet link type, nanosecond timestamps) that tcpdump, tshark and Wireshark read.
//
// Timestamps are CLOCK_REALTIME: the ring's kernel timestamp for received frames, the time just
// before the send for transmitted ones. A received frame whose TCP checksum the kernel left partial
// (veth, CHECKSUM_PARTIAL: field notes, trap 3) is written with the checksum completed, as it would
// have been on a real wire, so a checksum-validating reader reports no error on a clean run.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "synack/engine/engine.hpp"

struct pcap;
struct pcap_dumper;

namespace synack::tools {

class pcap_writer {
 public:
  // Throws link::setup_error (invalid_argument) when the file cannot be created.
  explicit pcap_writer(const std::string& path);
  ~pcap_writer();
  pcap_writer(const pcap_writer&) = delete;
  pcap_writer& operator=(const pcap_writer&) = delete;

  // One frame; `realtime` since the epoch. `complete_checksum`: the TCP/UDP checksum is partial.
  void write(std::chrono::nanoseconds realtime, std::span<const std::byte> frame, bool complete_checksum = false);
  // The engine's frame observer, forwarded here (the engine has one observer slot; a tool that
  // also wants the frames calls this from its own).
  void on_frame(const engine::engine& eng, engine::direction dir, std::span<const std::byte> frame);
  void flush();
  std::uint64_t frames() const { return frames_; }

  // CLOCK_REALTIME now.
  static std::chrono::nanoseconds realtime_now();

 private:
  ::pcap* pcap_ = nullptr;
  ::pcap_dumper* dumper_ = nullptr;
  std::vector<std::byte> scratch_;
  std::uint64_t frames_ = 0;
};

}  // namespace synack::tools
