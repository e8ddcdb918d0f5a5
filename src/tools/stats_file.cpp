#include "stats_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace synack::tools {

nlohmann::json stats_json(const engine::engine& eng, const engine::listener_stats* listener) {
  const engine::engine_stats& s = eng.stats();
  nlohmann::json dropped = nlohmann::json::object();
  for (std::size_t i = 1; i < wire::parse_error_count; ++i) {
    const auto e = static_cast<wire::parse_error>(i);
    dropped[std::string(wire::to_string(e))] = s.dropped[e];
  }
  nlohmann::json j;
  j["engine"] = {{"frames_received", s.frames_received},
                 {"frames_sent", s.frames_sent},
                 {"send_errors", s.send_errors},
                 {"rx_ring_drops", s.rx_ring_drops},
                 {"segments_no_connection", s.segments_no_connection},
                 {"arp_requests_sent", s.arp_requests_sent},
                 {"arp_replies_sent", s.arp_replies_sent},
                 {"connections_reset", s.connections_reset},
                 {"connections_timed_out", s.connections_timed_out},
                 {"connections_refused", s.connections_refused},
                 {"connections_failed_other", s.connections_failed_other},
                 {"icmp_received", s.icmp_received},
                 {"icmp_matched", s.icmp_matched},
                 {"icmp_no_connection", s.icmp_no_connection},
                 {"icmp_out_of_window", s.icmp_out_of_window},
                 {"icmp_rate_limited", s.icmp_rate_limited},
                 {"icmp_ignored", s.icmp_ignored},
                 {"pmtu_lowered", s.pmtu_lowered},
                 {"pmtu_clamped", s.pmtu_clamped},
                 {"dropped", dropped},
                 {"dropped_total", s.dropped.total()}};
  const engine::tcp_totals t = eng.tcp_statistics();
  j["tcp"] = {{"connections", t.connections},
              {"retransmits", t.retransmits},
              {"syn_retransmits", t.syn_retransmits},
              {"rto_expirations", t.rto_expirations},
              {"fast_retransmits", t.fast_retransmits},
              {"challenge_acks", t.challenge_acks},
              {"challenge_acks_limited", t.challenge_acks_limited},
              {"invalid_acks_limited", t.invalid_acks_limited},
              {"rst_out_of_window", t.rst_out_of_window},
              {"rst_in_window", t.rst_in_window},
              {"syn_challenged", t.syn_challenged},
              {"out_of_window", t.out_of_window},
              {"bad_acks", t.bad_acks},
              {"no_ack_dropped", t.no_ack_dropped},
              {"paws_rejected", t.paws_rejected},
              {"ooo_segments", t.ooo_segments},
              {"ooo_dropped", t.ooo_dropped},
              {"dup_acks", t.dup_acks},
              {"bytes_beyond_window", t.bytes_beyond_window},
              {"zero_window_probes", t.zero_window_probes},
              {"keepalive_probes", t.keepalive_probes},
              {"events_dropped", t.events_dropped},
              {"bytes_sent", t.bytes_sent},
              {"bytes_received", t.bytes_received},
              {"mtu_probes_sent", t.mtu_probes_sent},
              {"mtu_probes_succeeded", t.mtu_probes_succeeded},
              {"mtu_probes_failed", t.mtu_probes_failed},
              {"blackholes_detected", t.blackholes_detected}};
  if (listener) {
    const engine::listener_stats& l = *listener;
    j["listener"] = {{"syn_received", l.syn_received},
                     {"half_open_created", l.half_open_created},
                     {"half_open_dropped", l.half_open_dropped},
                     {"syn_dropped", l.syn_dropped},
                     {"cookies_sent", l.cookies_sent},
                     {"cookies_validated", l.cookies_validated},
                     {"cookies_rejected", l.cookies_rejected},
                     {"accept_queue_overflows", l.accept_queue_overflows},
                     {"accepted", l.accepted},
                     {"half_open", l.half_open},
                     {"accept_queue", l.accept_queue}};
  } else {
    j["listener"] = nullptr;
  }
  j["connections"] = eng.connection_count();
  // Resource limits (engine::options; 0 = unlimited) and what reaching them did.
  j["limits"] = {{"max_connections", eng.settings().max_connections},
                 {"max_buffered_bytes", eng.settings().max_buffered_bytes},
                 {"buffered_bytes_reserved", eng.buffered_bytes_reserved()},
                 {"buffer_memory", eng.buffer_memory()},
                 {"syn_dropped_table_full", s.syn_dropped_table_full},
                 {"syn_dropped_buffers_full", s.syn_dropped_buffers_full},
                 {"buffers_shrunk", s.buffers_shrunk},
                 {"link_down", s.link_down}};
  return j;
}

bool write_stats_file(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "synack: cannot write --stats file %s: %s\n", tmp.c_str(), std::strerror(errno));
    return false;
  }
  const std::string text = j.dump() + "\n";
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "synack: cannot write --stats file %s: %s\n", path.c_str(), std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace synack::tools
