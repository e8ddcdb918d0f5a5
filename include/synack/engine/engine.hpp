// The engine: one thread that ties a link (packet socket, netlink, ARP, RST guard, ports) to a
// table of sans-I/O TCP connections and their timers.
//
// Threading: an engine and its connections belong to the thread that calls run_once(); nothing in
// it is locked. Data path of one received frame: packet ring -> wire::parse_frame -> connection
// lookup by 4-tuple -> tcp::connection::on_segment -> poll_transmit -> wire emit -> packet socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"
#include "synack/link/packet_socket.hpp"
#include "synack/link/ports.hpp"
#include "synack/link/rst_guard.hpp"
#include "synack/tcp/config.hpp"
#include "synack/tcp/connection.hpp"
#include "synack/tcp/isn.hpp"
#include "synack/wire/address.hpp"
#include "synack/wire/arp.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/tcp.hpp"
#include "synack/wire/parse_error.hpp"

namespace synack::engine {

struct options {
  std::string interface;                  // empty: the interface of the route to the destination
  std::optional<wire::ipv4_addr> source;  // empty: the route's preferred source address
  std::optional<link::port_range> ports;  // empty: outside the kernel's ephemeral range
  bool rst_guard = true;                  // install the iptables rule that silences kernel RSTs
  bool qdisc_bypass = false;
  tcp::config tcp;
  // Neighbour resolution when the kernel's table has no entry: our own ARP requests.
  std::chrono::milliseconds arp_interval{500};
  unsigned arp_tries = 3;  // then host_unreachable
};

enum class direction : std::uint8_t { in, out };

struct engine_stats {
  std::uint64_t frames_received = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t segments_no_connection = 0;  // answered with RST as a closed port would
  std::uint64_t arp_requests_sent = 0;
  std::uint64_t arp_replies_sent = 0;
  wire::parse_counters dropped;  // frames dropped or ignored, by reason
};

class engine {
public:
  using clock = std::chrono::steady_clock;
  // Called after processing, never from inside a connection: (tuple, event).
  using event_handler = std::function<void(const wire::four_tuple&, const tcp::event&)>;
  // Every segment in and out, with our state after it (for --trace and captures).
  using segment_observer =
      std::function<void(direction, tcp::instant, const wire::four_tuple&, const tcp::segment&, tcp::state)>;
  // Every frame in and out, raw (for --pcap).
  using frame_observer = std::function<void(direction, tcp::instant, std::span<const std::byte>)>;

  // Resolves the interface and source address (from `destination`'s route unless the options
  // say), opens the packet socket and installs the RST guard. Throws link::setup_error.
  engine(const options& opts, wire::ipv4_addr destination);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  static tcp::instant now() { return tcp::instant{clock::now().time_since_epoch()}; }

  // Active open to dst:port from a free local port. The SYN goes out at once if the next hop's
  // MAC is known, else after ARP. Throws std::runtime_error when no local port is free.
  wire::four_tuple connect(wire::ipv4_addr dst, std::uint16_t port);
  tcp::connection* find(const wire::four_tuple& t);
  // When the connection's first segment (the SYN) left, if it did.
  std::optional<tcp::instant> first_sent(const wire::four_tuple& t) const;
  // When the segment that completed the handshake was received (its ring wake-up time).
  std::optional<tcp::instant> connected_at(const wire::four_tuple& t) const;
  void close(const wire::four_tuple& t);
  void abort(const wire::four_tuple& t);
  std::size_t send(const wire::four_tuple& t, std::span<const std::byte> data);

  // Wait for a frame, a timer or `max_wait` (whichever first), process, send, deliver events.
  // Returns early (after processing) when a signal interrupts the wait.
  void run_once(std::chrono::nanoseconds max_wait);

  void on_event(event_handler h) { on_event_ = std::move(h); }
  void on_segment(segment_observer o) { on_segment_ = std::move(o); }
  void on_frame(frame_observer o) { on_frame_ = std::move(o); }

  std::size_t connection_count() const { return conns_.size(); }
  const engine_stats& stats() const { return stats_; }
  const link::interface_info& interface() const { return iface_; }
  wire::ipv4_addr local_address() const { return local_; }
  link::port_range ports() const { return ports_; }
  const link::rst_guard* guard() const { return guard_ ? &*guard_ : nullptr; }

private:
  struct entry;
  struct neighbour;

  void handle_frame(const link::rx_frame& frame, tcp::instant now);
  void handle_arp(const wire::arp_repr& arp);
  void handle_tcp(const wire::ipv4_repr& ip, const wire::tcp_repr& seg, tcp::instant now);
  void reply_rst(const wire::ipv4_repr& ip, const wire::tcp_repr& seg, tcp::instant now);
  void fire_timers(tcp::instant now);
  std::optional<tcp::instant> next_deadline() const;
  void mark_dirty(entry& e);
  void flush(tcp::instant now);
  void transmit(entry& e, tcp::instant now);
  void emit_segment(const wire::four_tuple& t, const wire::mac_addr& dst_mac, const tcp::segment& seg,
                    tcp::state st, tcp::instant now);
  void send_frame(std::span<const std::byte> frame, tcp::instant now);
  void resolve(wire::ipv4_addr next_hop, tcp::instant now);
  void send_arp_request(wire::ipv4_addr target);
  void neighbour_resolved(wire::ipv4_addr next_hop, wire::mac_addr mac, tcp::instant now);
  void neighbour_failed(wire::ipv4_addr next_hop);
  wire::ipv4_addr next_hop_for(wire::ipv4_addr dst);

  options opts_;
  link::netlink netlink_;
  link::interface_info iface_;
  wire::mac_addr mac_;
  wire::ipv4_addr local_;
  bool local_is_kernel_address_ = true;
  link::port_range ports_;
  link::port_allocator port_alloc_;
  std::optional<link::packet_socket> socket_;
  std::optional<link::rst_guard> guard_;
  tcp::isn_generator isns_;
  tcp::config tcp_cfg_;
  std::uint16_t ip_id_ = 0;

  std::unordered_map<wire::four_tuple, std::unique_ptr<entry>, wire::four_tuple_hash> conns_;
  std::vector<entry*> dirty_;
  std::unordered_map<std::uint32_t, neighbour> neighbours_;   // by next-hop address
  std::unordered_map<std::uint32_t, wire::ipv4_addr> next_hops_;  // destination -> next hop
  std::vector<std::byte> tx_buf_;
  std::vector<std::pair<wire::four_tuple, tcp::event>> events_;

  event_handler on_event_;
  segment_observer on_segment_;
  frame_observer on_frame_;
  engine_stats stats_;
};

}  // namespace synack::engine
