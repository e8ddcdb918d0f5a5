#include "pcap_writer.hpp"

#include <pcap/pcap.h>

#include <algorithm>
#include <ctime>

#include "synack/impair/checksum.hpp"
#include "synack/link/error.hpp"

namespace synack::tools {

namespace {
constexpr int snaplen = 262144;
}

pcap_writer::pcap_writer(const std::string& path) {
  pcap_ = ::pcap_open_dead_with_tstamp_precision(DLT_EN10MB, snaplen, PCAP_TSTAMP_PRECISION_NANO);
  if (pcap_ == nullptr) throw link::setup_error(link::setup_errc::system, "--pcap: libpcap failed to start");
  dumper_ = ::pcap_dump_open(pcap_, path.c_str());
  if (dumper_ == nullptr) {
    std::string why = ::pcap_geterr(pcap_);
    ::pcap_close(pcap_);
    throw link::setup_error(link::setup_errc::invalid_argument,
                            "--pcap: cannot write '" + path + "': " + why + " (check the path and its directory)");
  }
}

pcap_writer::~pcap_writer() {
  if (dumper_ != nullptr) ::pcap_dump_close(dumper_);
  if (pcap_ != nullptr) ::pcap_close(pcap_);
}

std::chrono::nanoseconds pcap_writer::realtime_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::chrono::seconds{ts.tv_sec} + std::chrono::nanoseconds{ts.tv_nsec};
}

void pcap_writer::write(std::chrono::nanoseconds realtime, std::span<const std::byte> frame, bool complete_checksum) {
  std::span<const std::byte> data = frame;
  if (complete_checksum) {
    scratch_.assign(frame.begin(), frame.end());
    impair::complete_l4_checksum(scratch_);
    data = scratch_;
  }
  pcap_pkthdr h{};
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(realtime);
  h.ts.tv_sec = static_cast<time_t>(secs.count());
  // With nanosecond precision the dumper stores tv_usec as nanoseconds.
  h.ts.tv_usec = static_cast<suseconds_t>((realtime - secs).count());
  h.caplen = static_cast<bpf_u_int32>(std::min<std::size_t>(data.size(), snaplen));
  h.len = static_cast<bpf_u_int32>(data.size());
  ::pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, reinterpret_cast<const u_char*>(data.data()));
  ++frames_;
}

void pcap_writer::on_frame(const engine::engine& eng, engine::direction dir, std::span<const std::byte> frame) {
  const link::rx_frame* rx = dir == engine::direction::in ? eng.current_rx_frame() : nullptr;
  if (rx != nullptr) {
    write(rx->kernel_timestamp, frame, rx->checksum_unverified);
  } else {
    write(realtime_now(), frame);
  }
}

void pcap_writer::flush() {
  if (dumper_ != nullptr) ::pcap_dump_flush(dumper_);
}

}  // namespace synack::tools
